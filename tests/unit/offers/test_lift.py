"""The lift report folds decisions, feedback and purchases per experiment arm and segment."""

from __future__ import annotations

from models.offers import lift_report
from schemas.decode import decode_event
from schemas.outputs import Decision, ExperimentAssignment
from tests.factories import at, event, purchase, raw


def dec(i: int, user: str, arm: str, segments: list[str]) -> Decision:
    kind = "control" if arm == "control" else "personalized"
    return Decision(decision_id=f"d{i}", user_id=user, event_id=f"e{i}", event_type="page_view",
                    event_time=at(0), placement="home", kind=kind,
                    segments=segments, recommendations=[], reasons=[], policy="p",
                    experiment=ExperimentAssignment(experiment_id="x", arm=arm))


def test_lift_per_arm_and_segment_with_revenue():
    decisions = [
        dec(0, "t1", "treatment", ["fans"]), dec(1, "t1", "treatment", ["fans"]),
        dec(2, "t2", "treatment", []), dec(3, "c1", "control", ["fans"]),
        dec(4, "c2", "control", []),
    ]
    evs = [event("feedback", "t1", at(0), decision_id="d0", action="click"),
           event("feedback", "t1", at(0), decision_id="d0", action="click"),  # counted once
           event("feedback", "t1", at(0), decision_id="d1", action="conversion", value=30.0),
           event("feedback", "c1", at(0), decision_id="d3", action="click"),
           event("feedback", "zz", at(0), decision_id="nope", action="click"),
           purchase("c2", at(1), [("s", "x", 10.0)]), purchase("stranger", at(1), [("s", "x", 99.0)])]
    rep = lift_report(decisions, [decode_event(raw(e)) for e in evs])
    x = rep["experiments"]["x"]
    assert x["treatment"]["decisions"] == 3 and x["treatment"]["users"] == 2
    assert x["treatment"]["clicks"] == 1 and x["treatment"]["conversions"] == 1
    assert x["treatment"]["revenue"] == 30.0 and x["control"]["revenue"] == 10.0
    assert x["control"]["click_rate"] == 0.5 and x["treatment"]["click_rate"] == round(1 / 3, 6)
    assert x["lift"]["click_rate"] == round((1 / 3) / 0.5 - 1, 6)
    assert x["lift"]["revenue_per_user"] == 2.0  # 15 per user vs 5
    assert x["segments"]["fans"]["control"]["clicks"] == 1
    assert x["segments"]["(none)"]["control"]["revenue"] == 10.0
    assert rep["unmatched_feedback"] == 1


def test_decisions_without_experiment_are_ignored():
    d = dec(0, "u", "treatment", [])
    plain = Decision(**{**{f: getattr(d, f) for f in d.__struct_fields__}, "experiment": None})
    assert lift_report([plain], [])["experiments"] == {}

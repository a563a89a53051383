"""Reward attribution: feedback joined by decision id within the window, in the engine."""

from __future__ import annotations

from models.offers import Attribution, Pending
from tests.factories import at
from tests.unit.offers.conftest import click, feed, home, make_engine


def pending(user: str = "u1", deadline: float = 100.0) -> Pending:
    return Pending(user=user, placement="home", context="home|*", arm="a", propensity=0.5,
                   deadline=deadline)


def test_click_in_window_is_learned_as_reward_one(engine):
    d = feed(engine, home("u1", at(0))).decisions[0]
    assert d.variant is not None and 0 < d.variant.propensity <= 1
    out = feed(engine, click("u1", at(hours=2), d.decision_id))
    assert out.outcomes["feedback_attributed"] == 1
    b = engine.offers.bandit("home|*")
    assert b.count(d.variant.variant_id) == 1 and b.value(d.variant.variant_id) == 1.0
    assert engine.offers.pending() == 0


def test_window_close_learns_the_default_reward_zero(engine):
    d = feed(engine, home("u1", at(0))).decisions[0]
    out = feed(engine, home("u2", at(hours=23)))
    assert "attribution_closed" not in out.outcomes
    out = feed(engine, home("u2", at(days=1, hours=1)))  # the watermark passes the window
    assert out.outcomes["attribution_closed"] == 1
    b = engine.offers.bandit("home|*")
    assert b.count(d.variant.variant_id) >= 1 and b.value(d.variant.variant_id) == 0.0


def test_advance_to_closes_windows_on_an_idle_partition(engine):
    feed(engine, home("u1", at(0)))
    out = engine.advance_to(engine.watermark + 2 * 86400)
    assert out.outcomes == {"attribution_closed": 1}


def test_late_click_is_counted_not_learned(engine):
    d = feed(engine, home("u1", at(0))).decisions[0]
    out = feed(engine, click("u1", at(days=2), d.decision_id))
    assert out.outcomes["attribution_closed"] == 1  # closed by this event's time first
    assert out.outcomes["feedback_late"] == 1
    b = engine.offers.bandit("home|*")
    assert b.value(d.variant.variant_id) == 0.0 and b.count(d.variant.variant_id) == 1


def test_unknown_repeat_foreign_and_impression_feedback(engine):
    d = feed(engine, home("u1", at(0))).decisions[0]
    assert feed(engine, click("u1", at(hours=1), "no-such-decision")).outcomes["feedback_unknown"] == 1
    assert feed(engine, click("u2", at(hours=1), d.decision_id)).outcomes["feedback_unknown"] == 1
    out = feed(engine, click("u1", at(hours=1), d.decision_id, "impression"))
    assert out.outcomes["feedback_impression"] == 1 and engine.offers.pending() == 1
    assert feed(engine, click("u1", at(hours=2), d.decision_id)).outcomes["feedback_attributed"] == 1
    out = feed(engine, click("u1", at(hours=3), d.decision_id, "conversion"))
    assert out.outcomes["feedback_repeat"] == 1
    assert engine.offers.bandit("home|*").count(d.variant.variant_id) == 1


def test_feedback_without_a_catalogue_keeps_todays_outcomes():
    from models.engine import Engine
    from models.segments import parse_rules
    from tests.unit.offers.conftest import RULES

    eng = Engine(parse_rules(RULES))
    d = feed(eng, home("u1", at(0))).decisions[0]
    assert d.variant is None and d.experiment is None
    assert feed(eng, click("u1", at(hours=1), d.decision_id)).outcomes == {"ok": 1}


def test_pending_is_bounded_oldest_closed_first():
    eng = make_engine(offer_max_pending=3)
    ids = [feed(eng, home(f"u{i}", at(hours=i))).decisions[0].decision_id for i in range(5)]
    assert eng.offers.pending() == 3
    # the two oldest were closed (reward 0): their clicks are late, the newest still count
    assert feed(eng, click("u0", at(hours=6), ids[0])).outcomes["feedback_late"] == 1
    assert feed(eng, click("u4", at(hours=6), ids[4])).outcomes["feedback_attributed"] == 1


def test_attribution_pure_order_and_bounds():
    a = Attribution(window_s=10.0, max_pending=2, max_closed=1)
    assert a.remember("d1", pending(deadline=10)) == []
    assert a.remember("d2", pending(deadline=20)) == []
    evicted = a.remember("d3", pending(deadline=30))
    assert [p.deadline for p in evicted] == [10]
    assert [p.deadline for p in a.close_due(25)] == [20]
    assert a.feedback("d1", "u1", "click")[0] == "feedback_unknown"  # fell out of the closed memory
    assert a.feedback("d2", "u1", "click")[0] == "feedback_late"
    assert a.forget_user("u1") == 2 and len(a) == 0

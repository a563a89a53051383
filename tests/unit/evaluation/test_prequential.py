"""Prequential evaluation: predictions before learning, baseline, report shape."""

from __future__ import annotations

from pathlib import Path

from models.engine import Engine, InputRecord
from models.evaluation import PrequentialEvaluator, predict_before
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.generator import generate
from streams.replay.sources import iter_jsonl_records


def test_predict_before_changes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    generate(users=100, events=1500, seed=2, out=log, malformed_fraction=0.0, erase_fraction=0.0)
    records = [InputRecord(r, p) for r, p in iter_jsonl_records(log)]
    a, b = Engine(load_rules(DEFAULT_RULES_PATH)), Engine(load_rules(DEFAULT_RULES_PATH))
    outs_a, outs_b = [], []
    for i in range(0, len(records), 100):
        outs_a.append(a.process_many(records[i:i + 100]).decisions)
        outs_b.append(b.process_many(records[i:i + 100]).decisions)
        for user, _ in list(b.store.items())[:20]:  # ask b for predictions all the time
            pred = predict_before(b, user, b.watermark or 0.0)
            assert len(pred.model) <= b.config.recommendations
            assert not set(pred.model) & pred.excluded and not set(pred.baseline) & pred.excluded
    assert outs_a == outs_b
    assert a.export_state() == b.export_state()


def test_hits_eligibility_coverage_and_sections() -> None:
    ev = PrequentialEvaluator(k=2, bucket="day")
    day = 86400.0
    # day 0: model hits, baseline misses; day 1: both miss; day 1: nothing recommendable
    ev.observe_purchase(10.0, ["a"], 5.0, ("vip",), ["a", "b"], ["c", "d"], frozenset())
    ev.observe_purchase(day + 1, ["z"], 7.0, (), ["a", "b"], ["c", "d"], frozenset())
    ev.observe_purchase(day + 2, ["a"], 1.0, ("vip",), ["b", "c"], ["c", "d"], frozenset({"a"}))
    r = ev.report()
    s = r["summary"]
    assert s["purchases"] == 3 and s["eligible"] == 2
    assert s["model"]["hits"] == 1 and s["baseline"]["hits"] == 0
    assert s["model"]["hit_rate_eligible"] == 0.5
    assert [row["bucket"] for row in r["over_time"]] == ["1970-01-01", "1970-01-02"]
    assert s["catalogue_items"] == 5  # a b c d z
    assert s["model"]["coverage"] == 0.6 and s["baseline"]["coverage"] == 0.4
    seg = {row["segment"]: row for row in r["per_segment"]}
    assert seg["vip"]["purchases"] == 2 and seg["vip"]["revenue"] == 6.0
    assert seg["(none)"]["purchases"] == 1
    assert r["sections"]["policy_value"] == {
        "title": "Bandit policy value (IPS / DR)", "available": False,
        "reason": "not available: no logged propensities"}
    assert r["sections"]["experiment_lift"]["available"] is False

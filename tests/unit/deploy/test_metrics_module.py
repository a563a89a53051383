"""streams/metrics.py: names per the Prometheus naming guide, bounded labels, record helpers."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

from models.engine.batch import BatchOutput
from schemas.outputs import (
    DeadLetter,
    Decision,
    ExperimentAssignment,
    SegmentChange,
    VariantChoice,
)
from streams import metrics
from tests.unit.deploy.metric_names import exported_series_names, promql_metric_names

#: Labels allowed on our metrics: every one comes from a bounded set.
BOUNDED_LABELS = {"topic", "partition", "outcome", "reason", "placement", "kind", "segment",
                  "change", "experiment", "arm", "policy", "model", "version", "python"}


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def collectors() -> dict[str, object]:
    return {k: v for k, v in vars(metrics).items() if isinstance(v, Counter | Gauge | Histogram)}


def test_names_follow_the_naming_guide() -> None:
    for attr, c in collectors().items():
        name = c._name  # type: ignore[attr-defined]
        assert re.fullmatch(r"personalizer_[a-z0-9_]+", name), attr
        if isinstance(c, Histogram):
            assert name.endswith(("_seconds", "_records", "_bytes")), f"{name}: histograms carry a base unit"
        if isinstance(c, Gauge | Histogram):
            assert not name.endswith("_total"), name
        assert not re.search(r"_(ms|milliseconds|minutes|bytes_kb)$", name), f"{name}: not a base unit"


def test_labels_are_bounded() -> None:
    for attr, c in collectors().items():
        labels = set(c._labelnames)  # type: ignore[attr-defined]
        assert labels <= BOUNDED_LABELS, f"{attr}: {labels - BOUNDED_LABELS}"
        assert not {"user", "user_id", "anonymous_id", "event_id", "decision_id"} & labels


def test_existing_metric_names_are_kept() -> None:
    # the data plane and the dashboard use these; renaming one breaks both
    names = exported_series_names()
    for name in ("personalizer_events_consumed_total", "personalizer_dead_letters_total",
                 "personalizer_decisions_total", "personalizer_segment_transitions_total",
                 "personalizer_batch_duration_seconds_bucket", "personalizer_batch_records_count",
                 "personalizer_event_to_decision_seconds_sum", "personalizer_in_worker_latency_seconds_count",
                 "personalizer_checkpoint_duration_seconds_count", "personalizer_checkpoint_bytes_count",
                 "personalizer_assigned_partitions",
                 "personalizer_rebalances_total", "personalizer_state_users", "personalizer_ready",
                 "personalizer_build_info"):
        assert name in names, name


def test_build_info_has_the_version() -> None:
    from streams import __version__

    samples = [s for m in REGISTRY.collect() if m.name == "personalizer_build" for s in m.samples]
    assert samples and samples[0].labels["version"] == __version__


def _decision(user: str, n: int, *, experiment: bool = False, variant: bool = False) -> Decision:
    return Decision(
        decision_id=f"d{n}", user_id=user, event_id=f"e{n}", event_type="page_view",
        event_time="2024-01-01T00:00:00+00:00", placement="home", kind="personalized",
        segments=[], recommendations=[], reasons=[], policy="popularity",
        experiment=ExperimentAssignment(experiment_id="exp-ops-test", arm="control") if experiment else None,
        variant=VariantChoice(placement="home", variant_id="offer-ops-test", propensity=0.5,
                              policy="eps-ops-test", reason="r") if variant else None,
    )


def _change(user: str, segment: str, change: str, n: int) -> SegmentChange:
    return SegmentChange(change_id=f"c{n}", user_id=user, segment_id=segment, segment_kind="rule",
                         change=change, reason="r", event_time="2024-01-01T00:00:00+00:00")  # type: ignore[arg-type]


def test_record_outputs_counts_everything_once() -> None:
    seg = "ops_test_segment"
    before = {
        "decisions": value("personalizer_decisions_total", {"placement": "home", "kind": "personalized"}),
        "latency": value("personalizer_event_to_decision_seconds_count"),
        "entered": value("personalizer_segment_transitions_total", {"segment": seg, "change": "entered"}),
        "members": value("personalizer_segment_members", {"segment": seg}),
        "dlq": value("personalizer_dead_letters_total", {"reason": "malformed_json"}),
        "ok": value("personalizer_events_consumed_total", {"topic": "ops-test", "outcome": "ok"}),
        "exp": value("personalizer_experiment_assignments_total",
                     {"experiment": "exp-ops-test", "arm": "control"}),
        "pulls": value("personalizer_bandit_pulls_total",
                       {"policy": "eps-ops-test", "placement": "home", "arm": "offer-ops-test"}),
    }
    out = BatchOutput(
        decisions=[_decision("u1", 1, experiment=True), _decision("u2", 2, variant=True)],
        segment_changes=[_change("u1", seg, "entered", 1), _change("u2", seg, "entered", 2),
                         _change("u1", seg, "exited", 3)],
        dead_letters=[DeadLetter(reason="malformed_json", detail="x", raw=b"{", error_class="E")],
        outcomes={"ok": 2, "invalid": 1},
    )
    metrics.record_outputs(out, "ops-test", now=1704067200.5)
    assert value("personalizer_decisions_total",
                 {"placement": "home", "kind": "personalized"}) - before["decisions"] == 2
    assert value("personalizer_event_to_decision_seconds_count") - before["latency"] == 1
    assert value("personalizer_segment_transitions_total",
                 {"segment": seg, "change": "entered"}) - before["entered"] == 2
    assert value("personalizer_segment_members", {"segment": seg}) - before["members"] == 1
    assert value("personalizer_dead_letters_total", {"reason": "malformed_json"}) - before["dlq"] == 1
    assert value("personalizer_events_consumed_total",
                 {"topic": "ops-test", "outcome": "ok"}) - before["ok"] == 2
    assert value("personalizer_experiment_assignments_total",
                 {"experiment": "exp-ops-test", "arm": "control"}) - before["exp"] == 1
    pulls = {"policy": "eps-ops-test", "placement": "home", "arm": "offer-ops-test"}
    assert value("personalizer_bandit_pulls_total", pulls) - before["pulls"] == 1
    # no label value of any of our series is a user id of the batch
    for family in REGISTRY.collect():
        for sample in family.samples:
            assert not {"u1", "u2"} & set(sample.labels.values()), sample


def test_record_core_time_and_restore() -> None:
    count = value("personalizer_event_processing_seconds_count")
    total = value("personalizer_event_processing_seconds_sum")
    metrics.record_core_time(100, 0.002)
    metrics.record_core_time(0, 1.0)  # an empty batch is no sample
    assert value("personalizer_event_processing_seconds_count") - count == 1
    assert abs(value("personalizer_event_processing_seconds_sum") - total - 2e-5) < 1e-12
    restored = value("personalizer_state_restored_records_total")
    metrics.record_restore(42, 0.5)
    assert value("personalizer_state_restored_records_total") - restored == 42


def test_promql_name_extraction() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, topic) (rate(foo_seconds_bucket{job="a b"}[5m]))) '
            "/ ignoring(kind) group_left sum(rate(bar_total[1m] offset 5m)) > 1e-3 "
            "and time() - baz_timestamp_seconds unless up == 0")
    assert promql_metric_names(expr) == {"foo_seconds_bucket", "bar_total", "baz_timestamp_seconds", "up"}

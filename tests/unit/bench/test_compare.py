"""The regression guard's arithmetic: ratios of a new bench run against the baseline's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.compare import RatioChange, compare_ratios, format_changes, main
from benchmarks.report import compute_ratios

BASELINE = Path(__file__).resolve().parents[3] / "benchmarks" / "baseline.json"


def test_change_is_new_over_baseline_for_every_ratio_in_either_run() -> None:
    base = {"ratios": {"worker_all_to_raw": 0.02, "replay_all_to_raw": 0.05, "gone": 1.0}}
    new = {"ratios": {"worker_all_to_raw": 0.03, "replay_all_to_raw": 0.04, "added": 2.0}}
    changes = {c.name: c for c in compare_ratios(base, new)}
    assert sorted(changes) == ["added", "gone", "replay_all_to_raw", "worker_all_to_raw"]
    assert changes["worker_all_to_raw"].change == pytest.approx(1.5)
    assert changes["replay_all_to_raw"].change == pytest.approx(0.8)
    assert changes["gone"].new is None and changes["gone"].change is None
    assert changes["added"].baseline is None and changes["added"].change is None


def test_non_numeric_nan_and_zero_baselines_give_no_change() -> None:
    base = {"ratios": {"a": 0.0, "b": "fast", "c": float("nan"), "d": True}}
    new = {"ratios": {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}}
    changes = {c.name: c for c in compare_ratios(base, new)}
    assert changes["a"].change is None  # zero baseline: no ratio
    assert changes["b"].baseline is None and changes["c"].baseline is None and changes["d"].baseline is None
    assert compare_ratios({}, {"ratios": "nope"}) == []


def test_format_lists_each_ratio_with_its_change() -> None:
    text = format_changes([RatioChange("worker_all_to_raw", 0.02, 0.03), RatioChange("x", None, 1.0)])
    lines = text.splitlines()
    assert lines[1].split() == ["worker_all_to_raw", "0.0200", "0.0300", "1.50x"]
    assert lines[2].split() == ["x", "-", "1.0000", "-"]


def test_ratios_are_computed_only_from_measured_rates() -> None:
    results = {"raw": {"events_per_core_s": 200.0}, "worker_all": {"events_per_core_s": 50.0},
               "worker_default": {"events_per_core_s": 100.0}, "faust": {"events_per_core_s": 25.0},
               "quix": {"skipped": "not installed"}, "replay_rules": {"events_per_core_s": 0.0},
               "scaling": [{"workers": 1, "events_per_s": 10.0}, {"workers": 2, "events_per_s": 18.0}]}
    assert compute_ratios(results) == pytest.approx({
        "worker_all_to_raw": 0.25, "worker_default_to_raw": 0.5, "worker_all_to_faust": 2.0,
        "worker_default_to_faust": 4.0, "scaling_2_workers_to_1": 1.8})


def test_the_kept_baseline_compares_with_itself_as_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    baseline = json.loads(BASELINE.read_text())
    changes = compare_ratios(baseline, baseline)
    assert {"worker_all_to_raw", "worker_default_to_raw", "replay_all_to_raw"} <= {c.name for c in changes}
    assert all(c.change == pytest.approx(1.0) for c in changes)
    assert main([str(BASELINE), str(BASELINE)]) == 0
    assert "worker_all_to_raw" in capsys.readouterr().out

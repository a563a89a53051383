"""Small-scale versions of the quality report's checks (benchmarks/quality_report.py).

Targets asserted where meaningful at this scale (2,000 users, 40,000 events); the full
numbers come from the report at 100k users / 2M events.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from models.config import EngineConfig
from streams.generator import generate, truth_path

_spec = importlib.util.spec_from_file_location(
    "quality_report", Path(__file__).parents[2] / "benchmarks" / "quality_report.py"
)
assert _spec and _spec.loader
qr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qr)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[bytes], Path]:
    out = tmp_path_factory.mktemp("gen") / "gen.jsonl"
    generate(2000, 40_000, 11, out)
    return out.read_bytes().splitlines(), truth_path(out)


def test_behavioural_segments_recover_groups_follow_shifts_without_flapping(stream):
    lines, truth = stream
    res = qr.segment_quality(lines, truth, EngineConfig(seed=11, behavioural_segments=True, policy="hybrid"))
    assert res["ari_users_ge20_interactions"] >= 0.75  # 0.83 here; the full-scale target is 0.8
    assert res["median_reassignment_events"] <= 20
    assert res["reverted_flip_rate_per_event"] < 0.01


def test_recommendations_beat_popularity_prequentially_on_the_generator(stream):
    lines, truth = stream
    res = qr.rec_quality(
        lines, EngineConfig(rebuy_after_days=0.0, behavioural_segments=True, policy="hybrid"), truth)
    assert res["purchases_scored"] > 200
    # 1.68 measured at this scale (seed 11); the 2x full-scale target is NOT reached yet
    assert res["lift"] >= 1.45
    # the oracle (true groups + bought items, streams/generator/oracle.py) bounds every model
    # under this protocol: a model above it would be reading something it should not
    assert res["hit_rate_at_10"] <= res["oracle_hit_rate_at_10"], res
    assert res["oracle_group_only_hit_rate_at_10"] <= res["oracle_hit_rate_at_10"], res
    assert res["share_of_oracle_hit_rate"] >= 0.65, res  # 0.70 here

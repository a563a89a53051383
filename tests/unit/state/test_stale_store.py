"""A local store too old to restore on top of is deleted when its partition is assigned:
the changelog may no longer hold the tombstones (erased users, dropped model parts) that
it missed."""

from __future__ import annotations

from pathlib import Path

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.dataplane.loop import DataPlane, DataPlaneConfig
from streams.state.memory import MemoryPartitionStore
from streams.state.partition import META_CHECKPOINT_WALL_MS, META_SOURCE_OFFSET, stale_reason, wall_stamp
from streams.state.rocksdb import RocksPartitionStore

NOW = 1_800_000_000.0
HOUR = 3600.0


def _store(offset: bytes | None, wall_s: float | None) -> MemoryPartitionStore:
    s = MemoryPartitionStore()
    meta: dict[str, bytes | None] = {}
    if offset is not None:
        meta[META_SOURCE_OFFSET] = offset
    if wall_s is not None:
        meta[META_CHECKPOINT_WALL_MS] = wall_stamp(wall_s)
    s.apply({"u1": b"p"}, meta)
    return s


def test_stale_reasons() -> None:
    assert stale_reason(MemoryPartitionStore(), 12 * HOUR, NOW) is None  # empty: nothing to keep
    assert stale_reason(_store(b"10", NOW - 11 * HOUR), 12 * HOUR, NOW) is None
    old = stale_reason(_store(b"10", NOW - 13 * HOUR), 12 * HOUR, NOW)
    assert old is not None and "13.0 h ago" in old
    legacy = stale_reason(_store(b"10", None), 12 * HOUR, NOW)
    assert legacy is not None and "older release" in legacy


def _plane(state_dir: Path) -> DataPlane:
    cfg = DataPlaneConfig(
        input_topics=["t"], decisions_topic="d", latest_decisions_topic=None, segment_changes_topic="c",
        dlq_topic="q", group_id="g", consumer_config={}, producer_config={}, state_backend="rocksdb",
        state_dir=state_dir, state_max_age_s=12 * HOUR,
    )
    return DataPlane(cfg, load_rules(DEFAULT_RULES_PATH), clock=lambda: NOW)


def test_worker_opens_a_recent_store_and_deletes_a_stale_one(tmp_path: Path) -> None:
    plane = _plane(tmp_path)
    for partition, age in ((0, 1 * HOUR), (1, 30 * HOUR)):
        store = RocksPartitionStore(tmp_path / "g" / f"t-{partition}")
        store.apply({"erased-long-ago": b"profile"}, {
            META_SOURCE_OFFSET: b"42", META_CHECKPOINT_WALL_MS: wall_stamp(NOW - age)})
        store.close()
    recent = plane._open_store("t", 0)
    stale = plane._open_store("t", 1)
    try:
        assert recent.get("erased-long-ago") == b"profile" and recent.get_meta(META_SOURCE_OFFSET) == b"42"
        assert stale.get("erased-long-ago") is None and stale.get_meta(META_SOURCE_OFFSET) is None
        assert stale.count() == 0
    finally:
        recent.close()
        stale.close()

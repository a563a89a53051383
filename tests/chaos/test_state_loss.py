"""State loss: the worker's local state directory is deleted; the restarted worker rebuilds
it from the changelog, and what it rebuilt equals the reference replay.

(``tests/integration/test_durable_state.py`` covers a restart with the local store intact
— only the missing tail is read — and the memory backend; this is the RocksDB store gone.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.commands.produce import iter_jsonl
from streams.dataplane.loop import DataPlane
from streams.generator import generate
from streams.state.rocksdb import RocksPartitionStore
from tests.integration.conftest import unique_name
from tests.integration.planes import (
    all_committed,
    assert_decisions_equal_reference,
    assert_state_equals_reference,
    make_topics,
    plane_config,
    produce,
    reference_replay,
    running,
    wait_for,
)

RULES = load_rules(DEFAULT_RULES_PATH)


def test_deleted_state_dir_is_rebuilt_from_the_changelog(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    topics = make_topics(topic_factory, partitions=3)
    events = tmp_path / "events.jsonl"
    generate(users=300, events=6000, seed=17, out=events)
    lines = list(iter_jsonl(events))
    group = unique_name("g")
    state_dir = tmp_path / "state"
    cfg = plane_config(topics, broker_settings, group, state_backend="rocksdb", state_dir=state_dir)

    produce(producer_factory, topics.input, lines[:4000])
    with running(DataPlane(cfg, RULES)):
        wait_for(lambda: all_committed(broker_settings, topics, group, 4000), 60, "first part committed")
    stores = sorted((state_dir / group).iterdir())
    assert len(stores) == topics.partitions, "one local store per partition"

    shutil.rmtree(state_dir)  # the volume is gone
    produce(producer_factory, topics.input, lines[4000:])
    second = DataPlane(cfg, RULES)
    with running(second):
        wait_for(lambda: all_committed(broker_settings, topics, group, len(lines)), 60, "all committed")
    assert second.error is None
    assert second.restored_records > 0, "the state came back from the changelog"

    ref = reference_replay(broker_settings, topics, RULES)
    assert_decisions_equal_reference(broker_settings, topics, ref)
    # the rebuilt local stores (as the worker left them) hold exactly the replay's state
    local = {p: RocksPartitionStore(state_dir / group / f"{topics.input}-{p}")
             for p in range(topics.partitions)}
    try:
        assert_state_equals_reference(local, ref.engines)  # type: ignore[arg-type]
    finally:
        for store in local.values():
            store.close()

"""Durable per-user state: changelog, restore, checkpoint order, crashes, erasure."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from models.segments import DEFAULT_RULES_PATH, load_rules, parse_rules
from streams.broker import find_free_port
from streams.commands.produce import iter_jsonl
from streams.dataplane.loop import DataPlane
from streams.generator import generate
from streams.process import stop_process
from streams.service import check_tombstone_retention
from streams.settings import ConfigError, Settings
from streams.state.partition import META_CHECKPOINT_WALL_MS, wall_stamp
from streams.state.rocksdb import RocksPartitionStore
from streams.topics import changelog_topic, compacted_config
from tests.factories import at, event, purchase, raw
from tests.integration.conftest import unique_name
from tests.integration.planes import (
    all_committed,
    assert_decisions_equal_reference,
    assert_state_equals_reference,
    make_topics,
    plane_config,
    produce,
    read_all,
    reference_replay,
    restored_state,
    running,
    start_worker,
    wait_for,
    worker_env,
    worker_ready,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(DEFAULT_RULES_PATH)


def test_restart_restores_from_changelog_and_equals_replay(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    topics = make_topics(topic_factory)
    events = tmp_path / "events.jsonl"
    generate(users=200, events=6000, seed=11, out=events)
    lines = list(iter_jsonl(events))
    group = unique_name("g")

    produce(producer_factory, topics.input, lines[:3000])
    with running(DataPlane(plane_config(topics, broker_settings, group), RULES)):
        wait_for(lambda: all_committed(broker_settings, topics, group, 3000), 60, "first half committed")

    produce(producer_factory, topics.input, lines[3000:])
    second = DataPlane(plane_config(topics, broker_settings, group), RULES)
    with running(second):
        wait_for(lambda: all_committed(broker_settings, topics, group, len(lines)), 60, "all committed")
    assert second.restored_records > 0, "the second run restored state from the changelog"

    assert_state_equals_reference(restored_state(broker_settings, topics, group),
                                  reference_replay(broker_settings, topics, RULES).engines)



def test_a_rules_swap_with_no_new_input_reaches_the_changelog(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    """Segment definitions applied live re-evaluate every stored user with no input to
    commit: those profile changes still go to the changelog, so a new owner restoring from
    it alone has them (the state equals a replay followed by the same swap)."""
    topics = make_topics(topic_factory, partitions=2)
    events = tmp_path / "events.jsonl"
    generate(users=100, events=2000, seed=5, out=events)
    lines = list(iter_jsonl(events))
    group = unique_name("g")
    swapped = parse_rules(RULES.text + """
  - id: any_buyer
    name: Bought anything
    when: count(purchase) >= 1
""", "swapped")
    produce(producer_factory, topics.input, lines)
    plane = DataPlane(plane_config(topics, broker_settings, group), RULES)
    with running(plane):
        wait_for(lambda: all_committed(broker_settings, topics, group, len(lines)), 60, "all committed")
        plane.set_rules(swapped)
        wait_for(lambda: plane.rules is swapped, 30, "the new definitions applied")
        time.sleep(1.5)  # a few 0.5 s checkpoints with nothing new to commit

    engines = reference_replay(broker_settings, topics, RULES).engines
    for engine in engines.values():
        engine.set_rules(swapped)
    buyers = sum(1 for e in engines.values() for _, prof in e.store.items() if "any_buyer" in prof.segments)
    assert buyers > 0, "the swap changed some profiles"
    assert_state_equals_reference(restored_state(broker_settings, topics, group), engines)

def test_rocksdb_restart_reads_only_the_missing_tail(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    topics = make_topics(topic_factory, partitions=2)
    group = unique_name("g")
    records = [raw(event("page_view", f"u{i % 50}", at(i / 100))) for i in range(2000)]
    produce(producer_factory, topics.input, records[:1000])
    cfg = plane_config(topics, broker_settings, group, state_backend="rocksdb", state_dir=tmp_path)
    with running(DataPlane(cfg, RULES)):
        wait_for(lambda: all_committed(broker_settings, topics, group, 1000), 60, "first half")
    produce(producer_factory, topics.input, records[1000:])
    second = DataPlane(cfg, RULES)
    with running(second):
        wait_for(lambda: all_committed(broker_settings, topics, group, 2000), 60, "second half")
        assert second.lookup("u7") is not None
    # the local store was at the committed offset: nothing needed from the changelog
    assert second.restored_records == 0
    assert_state_equals_reference(restored_state(broker_settings, topics, group),
                                  reference_replay(broker_settings, topics, RULES).engines)


def test_a_stale_local_store_is_not_restored_on_top_of(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    topics = make_topics(topic_factory, partitions=2)
    group = unique_name("g")
    records = [raw(event("page_view", f"u{i % 40}", at(i / 100))) for i in range(600)]
    produce(producer_factory, topics.input, records)
    cfg = plane_config(topics, broker_settings, group, state_backend="rocksdb", state_dir=tmp_path)
    with running(DataPlane(cfg, RULES)):
        wait_for(lambda: all_committed(broker_settings, topics, group, len(records)), 60, "committed")
    paths = [tmp_path / group / f"{topics.input}-{p}" for p in range(2)]
    two_days_ago = wall_stamp(time.time() - 2 * 86400)
    for path in paths:  # as if the worker had been away for two days
        store = RocksPartitionStore(path)
        assert store.get_meta(META_CHECKPOINT_WALL_MS) is not None, "checkpoints stamp their time"
        store.apply({}, {META_CHECKPOINT_WALL_MS: two_days_ago})
        store.close()
    again = DataPlane(cfg, RULES)
    with running(again):
        wait_for(lambda: again.ready and len(again.partitions) == 2, 30, "restart ready")
        assert again.lookup("u7") is not None
    # deleted and restored from the changelog in full, not just its tail (which is empty)
    assert again.restored_records > 0
    for path in paths:
        store = RocksPartitionStore(path)
        try:
            assert int(store.get_meta(META_CHECKPOINT_WALL_MS) or b"0") > int(two_days_ago)
        finally:
            store.close()
    assert_state_equals_reference(restored_state(broker_settings, topics, group),
                                  reference_replay(broker_settings, topics, RULES).engines)


def test_erase_tombstones_state_changelog_and_latest_decision(
    topic_factory, broker_settings, producer_factory
):
    topics = make_topics(topic_factory, partitions=2)
    group = unique_name("g")
    records = [raw(event("page_view", "erin", at(0))),
               raw(purchase("erin", at(0, 1), [("tent", "outdoor", 99.0)])),
               raw(event("page_view", "other", at(0, 2))),
               raw(event("erase", "erin", at(1)))]
    produce(producer_factory, topics.input, records)
    plane = DataPlane(plane_config(topics, broker_settings, group), RULES)
    with running(plane):
        wait_for(lambda: all_committed(broker_settings, topics, group, len(records)), 60, "committed")
        assert plane.lookup("erin") is None and plane.lookup("other") is not None

    changelog = [m for m in read_all(broker_settings, topics.changelog, 2) if m.key() == b"u:erin"]
    assert changelog and changelog[-1].value() is None, "latest changelog record is a tombstone"
    latest = [m for m in read_all(broker_settings, topics.latest, 2) if m.key() == b"erin"]
    assert latest and latest[-1].value() is None, "latest-decision topic tombstoned"

    again = DataPlane(plane_config(topics, broker_settings, group), RULES)
    with running(again):
        wait_for(lambda: again.ready, 30, "restart ready")
        assert again.lookup("erin") is None, "a restart does not bring an erased user back"
        assert again.lookup("other") is not None


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~2 min alone on 2 cores; more when the machine is shared
def test_kill_9_three_times_loses_nothing_and_duplicates_are_identical(
    tmp_path: Path, topic_factory, broker_settings, producer_factory, bootstrap_servers
):
    topics = make_topics(topic_factory)
    events = tmp_path / "events.jsonl"
    generate(users=5000, events=200_000, seed=5, out=events)
    lines = list(iter_jsonl(events))
    group = unique_name("g")
    port = find_free_port()
    env = worker_env(topics, bootstrap_servers, group, tmp_path / "state", port, "at_least_once")
    log = tmp_path / "worker.log"
    produce(producer_factory, topics.input, lines)

    rng = random.Random(42)
    kills = 0
    while True:
        worker = start_worker(env, log)
        try:
            if kills < 3:
                wait_for(lambda: worker_ready(port), 60, "worker ready")
                time.sleep(rng.uniform(1.0, 4.0))  # mid-stream
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
                kills += 1
                continue
            wait_for(lambda: all_committed(broker_settings, topics, group, len(lines)), 240,
                     "everything committed after the last restart")
        finally:
            stop_process(worker, timeout=30)
        break
    assert kills == 3

    ref = reference_replay(broker_settings, topics, RULES)
    assert_decisions_equal_reference(broker_settings, topics, ref)
    assert_state_equals_reference(restored_state(broker_settings, topics, group), ref.engines)


def test_worker_refuses_a_changelog_that_drops_tombstones_before_stores_count_as_stale(
    topic_factory, broker_settings
):
    def settings(input_topic: str, **overrides: object) -> Settings:
        return Settings(bootstrap_servers=broker_settings.bootstrap_servers, input_topics=[input_topic],
                        _env_file=None, **overrides)  # type: ignore[call-arg]

    short, default = unique_name("short"), unique_name("default")
    topic_factory(name=changelog_topic(broker_settings, short),
                  config={**compacted_config(), "delete.retention.ms": str(3600 * 1000)})
    topic_factory(name=changelog_topic(broker_settings, default), config=compacted_config())
    with pytest.raises(ConfigError, match=r"delete.retention.ms 3600000"):
        check_tombstone_retention(settings(short))  # stores count as stale after 12 h only
    check_tombstone_retention(settings(short, state_max_age_s=1800))  # below the hour: fine
    check_tombstone_retention(settings(short, state_backend="memory"))  # no local store kept
    check_tombstone_retention(settings(default))  # a day of tombstones against 12 h
    check_tombstone_retention(settings(unique_name("none")))  # no changelog yet: created right

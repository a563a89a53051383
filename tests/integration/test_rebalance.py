"""Two workers, one leaves and rejoins while events flow: same invariants, one owner."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.commands.produce import iter_jsonl, produce_records
from streams.dataplane.loop import DataPlane
from streams.generator import generate
from tests.integration.conftest import unique_name
from tests.integration.planes import (
    all_committed,
    assert_decisions_equal_reference,
    assert_state_equals_reference,
    make_topics,
    plane_config,
    reference_replay,
    restored_state,
    running,
    wait_for,
)

RULES = load_rules(DEFAULT_RULES_PATH)


def _owners_never_overlap(logs: list[list[tuple[float, str, int, str]]]) -> None:
    events = sorted((t, w, p, kind) for w, log in enumerate(logs) for t, _, p, kind in log)
    owner: dict[int, int] = {}
    for _, worker, partition, kind in events:
        if kind == "assigned":
            assert partition not in owner, (
                f"partition {partition} assigned to {worker} while owned by {owner[partition]}")
            owner[partition] = worker
        elif owner.get(partition) == worker:
            del owner[partition]


def test_leave_and_rejoin_while_events_flow(tmp_path: Path, topic_factory, broker_settings, producer_factory):
    topics = make_topics(topic_factory, partitions=6)
    events = tmp_path / "events.jsonl"
    generate(users=600, events=12_000, seed=21, out=events)
    lines = list(iter_jsonl(events))
    group = unique_name("g")

    def feed() -> None:  # ~8 s of traffic, so the rebalances happen mid-stream
        producer = producer_factory()
        for i in range(0, len(lines), 1000):
            produce_records(producer, topics.input, iter(lines[i:i + 1000]))
            producer.poll(0)
            time.sleep(0.5)
        producer.flush(30)

    feeder = threading.Thread(target=feed, name="feeder")
    a = DataPlane(plane_config(topics, broker_settings, group), RULES)
    b1 = DataPlane(plane_config(topics, broker_settings, group), RULES)
    b2 = DataPlane(plane_config(topics, broker_settings, group), RULES)
    with running(a):
        wait_for(lambda: a.ready and a.partitions, 30, "first worker owns partitions")
        feeder.start()
        with running(b1):
            wait_for(lambda: b1.processed > 0, 30, "second worker gets a share and processes it")
        # b1 left: a takes everything back
        wait_for(lambda: len(a.partitions) == topics.partitions, 30, "first worker owns all again")
        with running(b2):
            wait_for(lambda: len(b2.partitions) > 0, 30, "rejoined worker gets a share")
            wait_for(lambda: b2.processed > 0 or not feeder.is_alive(), 30, "rejoined worker processes")
            feeder.join(60)
            wait_for(lambda: all_committed(broker_settings, topics, group, len(lines)), 90,
                     "everything committed")
    assert a.processed > 0 and b1.processed > 0
    _owners_never_overlap([list(a.ownership_log), list(b1.ownership_log), list(b2.ownership_log)])

    ref = reference_replay(broker_settings, topics, RULES)
    assert_decisions_equal_reference(broker_settings, topics, ref)
    assert_state_equals_reference(restored_state(broker_settings, topics, group), ref.engines)

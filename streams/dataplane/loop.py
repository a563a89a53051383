"""The clickstream data plane: confluent-kafka in batches, the pure core, outputs out.

One thread runs :meth:`DataPlane.run`. Per batch: ``consume(batch_size)``, group the
records by partition (order kept), run that partition's :class:`~models.engine.Engine`
over them with no per-event await or callback, and queue the outputs. Every
``checkpoint_interval_s`` (and on revoke and stop) a checkpoint makes it durable.

Checkpoint order, at-least-once (tested in tests/integration/test_durable_state.py):

1. outputs of the batches since the last checkpoint are already queued;
2. produce the changelog: every changed profile (or tombstone) and the engine state,
   each tagged with the input offset this checkpoint commits;
3. wait until the producer has every record queued so far acknowledged, none failed;
4. commit the input offsets;
5. write the same profiles and the offset to the local partition store in one batch
   (when the loop is next idle, before the partition's next checkpoint at the latest).

Steps 3-5 do not stop the loop: it goes on consuming and processing while the records
are in flight, and whenever its input queue is empty checks whether the producer's queue
is too (steps 4-5 then run). At-least-once checkpoints take one partition at a time in
turn, each partition once per ``checkpoint_interval_s``: the loop stops for one
partition's share of the work, not all of it at once. A partition taken while another's
checkpoint is still in flight joins it (one flush, one commit for both); a partition's
next take waits for its last one (``flush``), so each has one checkpoint in flight at
most, and under steady traffic (the producer's queue is never empty) the loop waits for a
flush about once per ``checkpoint_interval_s``, not once per partition. While the input
queue is empty, the loop writes committed checkpoints to the local stores and encodes
held profile writes ahead of their checkpoint (``DataPlane._idle_work``), so a take
mostly encodes only what changed since.

A crash anywhere before 4 re-delivers the input since the last commit; the restored
state is the one of that commit (changelog records of the failed checkpoint are skipped
by their offset), so the core re-makes byte-identical outputs with the same ids.

Exactly-once: steps 1-4 happen in one Kafka transaction (outputs, changelog and
``send_offsets_to_transaction``); consumers of the outputs read with read_committed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from models.config import EngineConfig
from models.engine import BatchOutput, Engine, InputRecord
from models.offers import OfferCatalog
from models.profiles.profile import Profile
from models.segments import RuleSet
from schemas.outputs import SourcePosition
from streams import metrics
from streams.dataplane.produce import OutputWriter
from streams.gc_tuning import batch_gc
from streams.state.changelog import (
    changelog_topic,
    produce_checkpoint,
    restore_partition,
    stored_source_offset,
)
from streams.state.checkpointed import CheckpointedStore
from streams.state.memory import MemoryPartitionStore
from streams.state.partition import (
    META_CHECKPOINT_WALL_MS,
    META_ENGINE_PART,
    META_ENGINE_STATE,
    META_SOURCE_OFFSET,
    PartitionStore,
    engine_state_of,
    stale_reason,
    wall_stamp,
)
from streams.state.rocksdb import RocksPartitionStore

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    pass


class PartitionsLost(RuntimeError):
    """Exactly-once: partitions were lost while a transaction held their outputs."""


#: Commit errors that mean "the broker or the group went away for a while", not "this
#: worker is broken": the checkpoint is kept pending and retried (see ``_checkpoint``).
RETRIABLE_COMMIT_ERRORS = frozenset({
    KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._TIMED_OUT,
    KafkaError._WAIT_COORD, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS, KafkaError._ASSIGNMENT_LOST,
})

#: Held profile writes encoded per idle slice (~10 us each: the slice stays well under a
#: millisecond, what a record arriving meanwhile may wait; see DataPlane._idle_work).
IDLE_ENCODE_PROFILES = 32


@dataclass
class PartitionRuntime:
    engine: Engine
    store: CheckpointedStore
    backing: PartitionStore
    changelog: tuple[str, int] | None
    #: Wall clock and watermark when event time last moved, to advance an idle partition.
    wall_at_watermark: float = 0.0
    watermark_seen: float | None = None
    #: Next input offset to commit (None: nothing new since the last checkpoint).
    pending_offset: int | None = None
    #: Members per rule segment among this partition's users (for the segment-size gauge,
    #: which is the sum over the partitions a worker owns).
    segment_counts: dict[str, int] = field(default_factory=dict)
    #: When this partition was last checkpointed (``clock``), for the round robin.
    checkpointed_at: float = 0.0

    def count_changes(self, out: BatchOutput) -> None:
        for c in out.segment_changes:
            self.segment_counts[c.segment_id] = (
                self.segment_counts.get(c.segment_id, 0) + (1 if c.change == "entered" else -1))


@dataclass
class TakenPartition:
    """One partition's part of a checkpoint: its writes (encoded), models, offset."""

    runtime: PartitionRuntime
    writes: dict[str, bytes | None]
    #: The engine's checkpoint core and the parts changed since its last checkpoint
    #: (models.engine.checkpoint); None and empty when there is no new input.
    state: bytes | None
    parts: dict[str, bytes | None]
    #: The input offset this checkpoint commits (None: no new input, only profile writes).
    offset: int | None
    #: Its share of the loop's time on the checkpoint so far (for the metric).
    loop_seconds: float = 0.0


@dataclass
class TakenCheckpoint:
    """A checkpoint whose changelog is queued; committed and applied by ``_settle``."""

    parts: dict[tuple[str, int], TakenPartition] = field(default_factory=dict)
    #: Time the loop spent on it (taking, committing, applying), for the metric.
    loop_seconds: float = 0.0

    @property
    def offsets(self) -> list[TopicPartition]:
        """The input offsets this checkpoint commits (the parts with new input)."""
        return [TopicPartition(topic, partition, part.offset)
                for (topic, partition), part in self.parts.items() if part.offset is not None]


@dataclass
class DataPlaneConfig:
    input_topics: list[str]
    decisions_topic: str
    latest_decisions_topic: str | None
    segment_changes_topic: str
    dlq_topic: str
    group_id: str
    consumer_config: dict[str, object]
    producer_config: dict[str, object]
    batch_size: int = 5000
    batch_timeout_s: float = 0.2
    tick_interval_s: float = 5.0
    flush_timeout_s: float = 30.0
    #: Prefix of the changelog topics; None keeps state in memory only (not recoverable).
    changelog_prefix: str | None = None
    state_backend: str = "memory"
    state_dir: Path = Path("var/state")
    checkpoint_interval_s: float = 1.0
    #: A local store last checkpointed longer ago is deleted on assignment (see
    #: streams.state.partition.stale_reason); below the changelog's tombstone retention.
    state_max_age_s: float = 43_200.0
    exactly_once: bool = False
    transactional_id: str | None = None
    engine_config: EngineConfig = field(default_factory=EngineConfig)
    #: How long checkpoints may keep failing to commit (broker or group away) before the
    #: data plane gives up and stops (crash-only: the restarted worker re-processes).
    commit_retry_s: float = 120.0


class DataPlane:
    """Consume -> core -> produce -> checkpoint, in a loop, until :meth:`stop`."""

    def __init__(self, cfg: DataPlaneConfig, rules: RuleSet,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.rules = rules
        self.clock = clock
        self.partitions: dict[tuple[str, int], PartitionRuntime] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._delivery_errors: list[str] = []
        self._new_rules: RuleSet | None = None
        #: The offer catalogue in force (given to every partition engine) and one pending.
        self.offers: OfferCatalog = OfferCatalog()
        self._new_offers: OfferCatalog | None = None
        self._lock = threading.Lock()
        self._in_txn = False
        self._last_checkpoint = 0.0
        #: At-least-once: the checkpoint taken and not yet committed (see ``_settle``).
        self._taken: TakenCheckpoint | None = None
        #: At-least-once: partitions' checkpoints committed and not yet written to their
        #: local stores (written when the loop is idle, or before their next take).
        self._committed: dict[tuple[str, int], TakenPartition] = {}
        #: Set while librdkafka reports every broker down; cleared by a metadata probe.
        self._brokers_down = threading.Event()
        self._last_probe = 0.0
        #: Monotonic time of the first commit failure of the current run of failures.
        self._commit_failing_since: float | None = None
        self.processed = 0
        self.restored_records = 0
        self.error: BaseException | None = None
        #: Partition count per input topic (for routing a user id to its partition).
        self.partition_counts: dict[str, int] = {}
        #: Recent (monotonic time, topic, partition, "assigned"|"revoked"|"lost"), for
        #: operators and for tests that check a partition never has two owners.
        self.ownership_log: deque[tuple[float, str, int, str]] = deque(maxlen=10_000)
        #: perf_counter time the consumer's queue was last seen empty, and the earliest
        #: time the records of the batch in hand can have arrived (see _consume_batch).
        self._drained_at = time.perf_counter()
        self._arrived_after = self._drained_at
        #: When a list: (perf_counter at handoff, in-worker latency bound s, decisions) per
        #: partition batch (the bench reads the per-decision distribution from it).
        self.latency_probe: list[tuple[float, float, int]] | None = None

    # -- lifecycle -----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Owns its partitions, not rebalancing, brokers reachable, checkpoints committing."""
        return (self._ready.is_set() and not self._brokers_down.is_set()
                and self._commit_failing_since is None)

    def stop(self) -> None:
        self._stop.set()

    def set_rules(self, rules: RuleSet) -> None:
        """Swap segment definitions; applied at the next batch boundary (thread-safe)."""
        with self._lock:
            self._new_rules = rules

    def set_offers(self, catalog: OfferCatalog) -> None:
        """Swap the offer catalogue; applied at the next batch boundary (thread-safe)."""
        with self._lock:
            self._new_offers = catalog

    def lookup(self, user_id: str) -> Profile | None:
        """The profile of ``user_id`` if one of this worker's partitions holds it."""
        for rt in list(self.partitions.values()):
            p = rt.engine.lookup(user_id)
            if p is not None:
                return p
        return None

    def owns(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self.partitions

    def _on_delivery_error(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._delivery_errors.append(f"{msg.topic()}: {err.str()}")

    def _on_client_error(self, err: KafkaError) -> None:
        """librdkafka's error_cb (consumer and producer): it retries by itself; we only
        report not-ready while no broker is reachable."""
        if err.code() == KafkaError._ALL_BROKERS_DOWN and not self._brokers_down.is_set():
            self._brokers_down.set()
            metrics.READY.set(0)
            log.warning("all brokers are down: not ready until one answers (%s)", err.str())

    def _probe_brokers(self, consumer: Consumer) -> None:
        """While the brokers are down, ask for metadata once a second; clear when answered."""
        now = time.monotonic()
        if now - self._last_probe < 1.0:
            return
        self._last_probe = now
        try:
            consumer.list_topics(timeout=1.0)
        except KafkaException:
            return
        self._brokers_down.clear()
        metrics.READY.set(1 if self.ready else 0)
        log.info("brokers reachable again")

    def _open_store(self, topic: str, partition: int) -> PartitionStore:
        if self.cfg.state_backend == "rocksdb":
            path = self.cfg.state_dir / self.cfg.group_id / f"{topic}-{partition}"
            store = RocksPartitionStore(path)
            reason = stale_reason(store, self.cfg.state_max_age_s, self.clock())
            if reason is not None:
                log.warning("local state of %s[%d] %s: deleted; the partition is restored from "
                            "the changelog alone", topic, partition, reason)
                store.destroy()
                store = RocksPartitionStore(path)
            return store
        return MemoryPartitionStore()

    def _on_assign(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        self._ready.clear()
        metrics.READY.set(0)
        metrics.RESTORE_REMAINING.set(len(tps))
        committed = {(tp.topic, tp.partition): tp.offset
                     for tp in consumer.committed(tps, timeout=30)} if tps else {}
        for topic in sorted({tp.topic for tp in tps} - set(self.partition_counts)):
            md = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if md is not None and md.partitions:
                self.partition_counts[topic] = len(md.partitions)
        for tp in tps:
            key = (tp.topic, tp.partition)
            backing = self._open_store(tp.topic, tp.partition)
            changelog = None
            if self.cfg.changelog_prefix is not None:
                changelog = (changelog_topic(self.cfg.changelog_prefix, tp.topic), tp.partition)
                result = restore_partition(self.cfg.consumer_config, changelog[0], changelog[1],
                                           backing, max(committed.get(key, -1), -1))
                self.restored_records += result.records_applied
                metrics.record_restore(result.records_applied, result.seconds)
                log.info("restored %s[%d]: %d/%d changelog records applied in %.2fs",
                         tp.topic, tp.partition, result.records_applied, result.records_read,
                         result.seconds)
            store = CheckpointedStore(backing)
            engine = Engine(self.rules, self.cfg.engine_config, store=store, offers=self.offers)
            state = engine_state_of(backing)
            if state is not None:  # the engine just indexed the store: no reindex
                engine.import_state(state[0], reindex=False, changed=not state[1])
            rt = self.partitions[key] = PartitionRuntime(engine, store, backing, changelog)
            rt.segment_counts.update(engine.stored_segment_counts)  # restored members join the gauge
            for seg, n in rt.segment_counts.items():
                metrics.SEGMENT_MEMBERS.labels(seg).inc(n)
            metrics.RESTORE_REMAINING.dec()
            self.ownership_log.append((time.monotonic(), tp.topic, tp.partition, "assigned"))
        metrics.REBALANCES.labels("assigned").inc()
        metrics.ASSIGNED_PARTITIONS.set(len(self.partitions))
        self._ready.set()
        log.info("assigned %d partitions", len(tps))

    def _on_revoke(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        self._ready.clear()
        if self.error is None:  # after a failure nothing is committed: the next owner redoes it
            try:
                self._checkpoint(consumer)
            except KafkaException as exc:  # the group moved on: the next owner re-processes
                log.warning("checkpoint on revoke failed: %s", exc)
        self._drop_partitions(tps, "revoked")
        self._ready.set()

    # -- the loop ------------------------------------------------------------------

    def run(self) -> None:
        with batch_gc():  # see streams/gc_tuning.py
            self._run()

    def _run(self) -> None:
        cfg = self.cfg
        producer_conf = dict(cfg.producer_config)
        producer_conf["delivery.report.only.error"] = True
        producer_conf["on_delivery"] = self._on_delivery_error
        producer_conf["error_cb"] = self._on_client_error
        if cfg.exactly_once:
            producer_conf["transactional.id"] = cfg.transactional_id or f"{cfg.group_id}-worker"
        producer = Producer(producer_conf)
        if cfg.exactly_once:
            producer.init_transactions(30)
        consumer = Consumer({**cfg.consumer_config, "error_cb": self._on_client_error})
        self.writer = OutputWriter(
            producer, decisions_topic=cfg.decisions_topic,
            latest_decisions_topic=cfg.latest_decisions_topic,
            segment_changes_topic=cfg.segment_changes_topic, dlq_topic=cfg.dlq_topic,
            group_id=cfg.group_id, clock=self.clock,
        )
        self.producer = producer
        consumer.subscribe(cfg.input_topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_lost)
        last_tick = self._last_checkpoint = self.clock()
        try:
            while not self._stop.is_set():
                self._apply_new_rules()
                self._apply_new_offers()
                if self._brokers_down.is_set():
                    self._probe_brokers(consumer)
                msgs = self._consume_batch(consumer)
                if self._taken is not None and not msgs:  # outputs had the wait to be delivered
                    self._settle(consumer, block=False)
                if msgs:
                    self._process(msgs)
                now = self.clock()
                if now - last_tick >= cfg.tick_interval_s:
                    self._tick(now)
                    last_tick = now
                self._checkpoint_due(consumer, now)
            self._checkpoint(consumer)
        except BaseException as exc:
            self.error = exc
            log.error("data plane stopped: %s: %s", type(exc).__name__, exc)
            if self._in_txn:
                with contextlib.suppress(KafkaException):
                    producer.abort_transaction(10)
                # nothing may commit now: the revoke that closing the consumer triggers
                # must not checkpoint offsets for the aborted work (see _on_revoke)
                self._in_txn = False
            raise
        finally:
            self._ready.clear()
            metrics.READY.set(0)
            try:
                consumer.close()  # leaves the group; the revoke callback checkpoints
            finally:
                producer.flush(cfg.flush_timeout_s)
                for rt in self.partitions.values():
                    rt.backing.close()
                self.partitions.clear()

    def _consume_batch(self, consumer: Consumer) -> list[Message]:
        """What is already fetched, up to ``batch_size``; if nothing, wait for the first record
        (up to ``batch_timeout_s``) and take what came with it. Full batches under load,
        no waiting for a full batch when traffic is light (latency).

        It also bounds when the batch arrived, for ``personalizer_in_worker_latency_seconds``:
        records returned at once were queued after the queue was last seen empty (a consume
        that returned less than a full batch, or a poll that timed out); records that a poll
        waited for arrived as it woke. Upper bounds of the time spent in the worker, with no
        clock but this process's."""
        size = self.cfg.batch_size
        called = time.perf_counter()
        msgs = consumer.consume(size, 0)
        while not msgs and self._idle_work(consumer):
            self._drained_at = called  # seen empty then: what comes next arrived after it
            called = time.perf_counter()
            msgs = consumer.consume(size, 0)
        if msgs:
            # queued since the queue was last seen empty, at the earliest
            self._arrived_after = self._drained_at
            if len(msgs) < size:  # the queue ran dry during this call: later records came after
                self._drained_at = called
            return msgs
        first = consumer.poll(self.cfg.batch_timeout_s)
        woke = time.perf_counter()
        if first is None:
            self._drained_at = woke
            return []
        # the queue was empty and the poll returned with the first record: the queue is
        # FIFO, so this batch arrived as the poll woke (less the thread's wake-up) or after
        self._arrived_after = woke
        msgs = [first, *consumer.consume(size - 1, 0)]
        if len(msgs) < size:
            self._drained_at = woke
        return msgs

    def _idle_work(self, consumer: Consumer) -> bool:
        """One slice of work that would otherwise pause the loop at the next checkpoint,
        done while the input queue is empty; False when there is none left.

        In order: writing the committed checkpoint to the local stores (a few ms, mostly
        freeing the taken profiles' objects), settling the checkpoint in flight (its
        commit, once the producer has delivered everything), encoding held profile writes
        ahead of the next checkpoint (:meth:`CheckpointedStore.encode_ahead`,
        ``IDLE_ENCODE_PROFILES`` at a time: well under a millisecond). Records that arrive
        meanwhile wait for one slice at most. Under full load the queue is never empty and
        this never runs: the next checkpoint does the same work, once."""
        if self._committed:
            self._apply_committed(consumer, limit=1)
            return True
        if self._taken is not None:
            self._settle(consumer, block=False)
            if self._taken is None:
                return True
        left = IDLE_ENCODE_PROFILES
        for rt in self.partitions.values():
            left -= rt.store.encode_ahead(left)
            if left <= 0:
                break
        return left < IDLE_ENCODE_PROFILES

    def _commit(self, consumer: Consumer, offsets: list[TopicPartition],
                taken: dict[tuple[str, int], TakenPartition]) -> bool:
        """Commit ``offsets``; on a retriable failure (broker restarting, group membership
        lost) keep the checkpoint pending and return False.

        Kept pending means: the profile writes go back to the store's pending set and the
        offsets are pending again (unless newer input moved them on), so the next
        checkpoint produces them to the changelog again (same values, newer source offset)
        and commits. Changelog records of the failed attempt carry an offset that was never
        committed, so a restore skips them. If the group moves the partitions meanwhile,
        they are dropped without a commit and their next owner re-processes from the last
        commit (at-least-once, same bytes).
        """
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
            return True
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            code = err.code() if isinstance(err, KafkaError) else None
            if code not in RETRIABLE_COMMIT_ERRORS:
                raise
            now = time.monotonic()
            if self._commit_failing_since is None:
                self._commit_failing_since = now
            elif now - self._commit_failing_since > self.cfg.commit_retry_s:
                raise
            metrics.READY.set(0)
            log.warning("commit failed (%s): checkpoint kept pending and retried", exc)
            for part in taken.values():
                part.runtime.store.return_in_flight()
                part.runtime.engine.return_checkpoint(part.parts)
                if part.runtime.pending_offset is None:
                    part.runtime.pending_offset = part.offset
            return False

    def _on_lost(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        """Partitions lost without a clean revoke: drop uncommitted work, do not commit.

        Exactly-once with a transaction open: that transaction holds outputs of the lost
        partitions, which their new owner makes again; committing it with the remaining
        partitions' offsets would show them twice to read_committed readers. So the worker
        stops (``run`` aborts the transaction) and its restart re-joins the group."""
        self._drop_partitions(tps, "lost")
        if self.cfg.exactly_once and self._in_txn:
            raise PartitionsLost("partitions lost with a transaction open (exactly-once): aborting")

    def _drop_partitions(self, tps: list[TopicPartition], kind: str) -> None:
        for tp in tps:
            rt = self.partitions.pop((tp.topic, tp.partition), None)
            if rt is not None:
                rt.backing.close()
                for seg, n in rt.segment_counts.items():  # the new owner counts them now
                    metrics.SEGMENT_MEMBERS.labels(seg).dec(n)
            self.ownership_log.append((time.monotonic(), tp.topic, tp.partition, kind))
        metrics.REBALANCES.labels(kind).inc()
        metrics.ASSIGNED_PARTITIONS.set(len(self.partitions))

    def _begin(self) -> None:
        if self.cfg.exactly_once and not self._in_txn:
            self.producer.begin_transaction()
            self._in_txn = True

    def _apply_new_rules(self) -> None:
        with self._lock:
            rules, self._new_rules = self._new_rules, None
        if rules is None:
            return
        self.rules = rules
        self._begin()
        for (topic, _), rt in self.partitions.items():
            out = rt.engine.set_rules(rules)
            rt.count_changes(out)
            self.writer.write(out, topic, {})
        log.info("segment definitions %s applied (%d segments)", rules.version, len(rules.segments))

    def _apply_new_offers(self) -> None:
        with self._lock:
            catalog, self._new_offers = self._new_offers, None
        if catalog is None:
            return
        self.offers = catalog
        for rt in self.partitions.values():
            metrics.record_outcomes(rt.engine.set_offers(catalog).outcomes)
        log.info("offer catalogue %s applied (%d placements)", catalog.version, len(catalog))

    def _process(self, msgs: list[Message]) -> None:
        started = time.perf_counter()
        by_partition: dict[tuple[str, int], list[Message]] = {}
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", err.str())
                continue
            by_partition.setdefault((m.topic(), m.partition()), []).append(m)  # type: ignore[arg-type]
        self._begin()
        for key, part_msgs in by_partition.items():
            rt = self.partitions.get(key)
            if rt is None:  # revoked while the batch was in flight: the new owner redoes it
                continue
            topic, partition = key
            records = []
            keys: dict[int, bytes | None] = {}
            for m in part_msgs:
                offset = cast(int, m.offset())  # a consumed record always has one
                keys[offset] = m.key()
                _, ts_ms = m.timestamp()
                records.append(InputRecord(m.value() or b"", SourcePosition(
                    topic=topic, partition=partition, offset=offset, timestamp_ms=ts_ms,
                )))
            core_started = time.perf_counter()
            out = rt.engine.process_many(records)
            metrics.record_core_time(len(records), time.perf_counter() - core_started)
            rt.count_changes(out)
            self.writer.write(out, topic, keys)
            in_worker = time.perf_counter() - self._arrived_after
            metrics.IN_WORKER_LATENCY.observe(in_worker)
            if self.latency_probe is not None:
                self.latency_probe.append((time.perf_counter(), in_worker, len(out.decisions)))
            if rt.engine.watermark != rt.watermark_seen:
                rt.watermark_seen = rt.engine.watermark
                rt.wall_at_watermark = self.clock()
            rt.pending_offset = cast(int, part_msgs[-1].offset()) + 1
            self.processed += len(part_msgs)
        metrics.BATCH_SIZE.observe(len(msgs))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    def _tick(self, now: float) -> None:
        """Let event time flow on idle partitions, so time-based exits happen without events."""
        for (topic, _), rt in list(self.partitions.items()):
            if rt.watermark_seen is None or now - rt.wall_at_watermark < self.cfg.tick_interval_s:
                continue  # never seen an event, or not idle: event time is moved by events
            target = rt.watermark_seen + (now - rt.wall_at_watermark)
            self._begin()
            out = rt.engine.advance_to(target)
            if out.segment_changes:
                rt.count_changes(out)
                self.writer.write(out, topic, {})

    def _checkpoint_due(self, consumer: Consumer, now: float) -> None:
        """Checkpoint what is due at ``now``.

        At-least-once: one partition at a time, round robin, so that each partition still
        checkpoints every ``checkpoint_interval_s`` but the loop stops for one partition's
        share of the work at a time (encoding its changed profiles, its models' state,
        producing them) instead of all partitions' at once. Exactly-once: every partition
        together, as one transaction holds the outputs of all of them."""
        if self.cfg.exactly_once:
            if now - self._last_checkpoint >= self.cfg.checkpoint_interval_s:
                self._checkpoint(consumer)
            return
        if not self.partitions or (
                now - self._last_checkpoint < self.cfg.checkpoint_interval_s / len(self.partitions)):
            return
        key = min(self.partitions, key=lambda k: (self.partitions[k].checkpointed_at, k))
        self._checkpoint(consumer, keys=[key], wait=False)

    def _checkpoint(self, consumer: Consumer, keys: list[tuple[str, int]] | None = None,
                    wait: bool = True) -> None:
        """Make everything since the last checkpoint of ``keys`` (default: every owned
        partition) durable (order: see module doc).

        At-least-once with ``wait=False``, the loop goes on once the changelog is queued;
        :meth:`_settle` commits the offsets as soon as the producer has every record
        acknowledged (checked whenever the input queue is empty, and waited for before the
        next take of one of its partitions at the latest); the local stores get it next."""
        wanted = None if keys is None else set(keys)
        inflight = self._taken
        if inflight is not None and (wait or wanted is None or not wanted.isdisjoint(inflight.parts)):
            self._settle(consumer, block=True)  # a partition has one checkpoint in flight at most
        self._apply_committed(consumer, wanted)  # a store takes its next writes once it has the last
        started = time.perf_counter()
        self._last_checkpoint = self.clock()
        taken = self._take(keys)
        if not self._in_txn:
            if taken.parts:
                taken.loop_seconds += time.perf_counter() - started
                if self._taken is None:
                    self._taken = taken
                else:  # joins the one in flight: one flush and one commit for both
                    self._taken.parts.update(taken.parts)
                    self._taken.loop_seconds += taken.loop_seconds
                self._settle(consumer, block=wait)
            if wait:
                self._apply_committed(consumer)
            return
        if taken.offsets:
            self.producer.send_offsets_to_transaction(
                taken.offsets, consumer.consumer_group_metadata(), 30)
        self.producer.commit_transaction(self.cfg.flush_timeout_s)
        self._in_txn = False
        if self._delivery_errors:
            raise DeliveryFailed("; ".join(self._delivery_errors[:3]))
        taken.loop_seconds += time.perf_counter() - started
        self._apply_parts(consumer, list(taken.parts.values()), taken.loop_seconds)

    def _take(self, keys: list[tuple[str, int]] | None) -> TakenCheckpoint:
        """Take the held writes and the models' state of ``keys``; queue their changelog."""
        now = self.clock()
        taken = TakenCheckpoint()
        for key in sorted(self.partitions if keys is None else keys):
            rt = self.partitions.get(key)
            if rt is None:
                continue
            rt.checkpointed_at = now
            if rt.pending_offset is None and not rt.store.pending:
                continue
            offset, rt.pending_offset = rt.pending_offset, None
            updates = rt.store.take_pending()
            state, parts = rt.engine.export_checkpoint() if offset is not None else (None, {})
            taken.parts[key] = TakenPartition(rt, updates, state, parts, offset)
            if rt.changelog is not None and offset is not None:
                self._begin()
                produce_checkpoint(self.producer, rt.changelog[0], rt.changelog[1], updates,
                                   state, offset, parts)
                metrics.record_checkpoint_bytes(updates, state, parts)
            elif rt.changelog is not None and updates:
                # profile changes with no new input (a rules swap, time passing on an idle
                # partition): stamped with the offset the store already holds, so a restore
                # from the changelog alone has them too
                self._begin()
                produce_checkpoint(self.producer, rt.changelog[0], rt.changelog[1], updates,
                                   None, stored_source_offset(rt.backing))
        return taken

    def _settle(self, consumer: Consumer, block: bool) -> None:
        """At-least-once: once every record queued so far is acknowledged (waiting for it
        if ``block``), commit the taken checkpoint's offsets; the local stores get it next
        (:meth:`_apply_committed`: when the loop is idle, or before that partition's next
        take)."""
        taken = self._taken
        if taken is None:
            return
        started = time.perf_counter()
        if block:
            remaining = self.producer.flush(self.cfg.flush_timeout_s)
            if remaining:
                errors = "; ".join(self._delivery_errors[:3])
                raise DeliveryFailed(
                    f"{remaining} records undelivered after {self.cfg.flush_timeout_s}s; "
                    f"errors: {errors or 'none reported'}; offsets NOT committed"
                )
        else:
            self.producer.poll(0)  # serves the delivery reports (errors only)
            if len(self.producer):
                return  # records of this checkpoint (or outputs before it) still in flight
        if self._delivery_errors:
            raise DeliveryFailed("; ".join(self._delivery_errors[:3]) + "; offsets NOT committed")
        self._taken = None
        taken.parts = {key: part for key, part in taken.parts.items()
                       if self.partitions.get(key) is part.runtime}  # dropped meanwhile: not ours
        offsets = taken.offsets
        if offsets and not self._commit(consumer, offsets, taken.parts):
            return  # kept pending: retried at the next checkpoint
        if self._commit_failing_since is not None:
            log.info("checkpoint committed again")
            self._commit_failing_since = None
        share = (taken.loop_seconds + time.perf_counter() - started) / max(len(taken.parts), 1)
        for key, part in taken.parts.items():
            part.loop_seconds = share
            self._committed[key] = part

    def _apply_committed(self, consumer: Consumer, keys: set[tuple[str, int]] | None = None,
                         limit: int | None = None) -> None:
        """Write committed checkpoints (of ``keys``, default all; at most ``limit``
        partitions) to the local stores of the partitions still owned (a lost partition's
        store is closed; its next owner restores)."""
        todo = [key for key in self._committed if keys is None or key in keys][:limit]
        if not todo:
            return
        parts = []
        for key in todo:
            part = self._committed.pop(key)
            if self.partitions.get(key) is part.runtime:
                parts.append(part)
        self._apply_parts(consumer, parts, sum(part.loop_seconds for part in parts))

    def _apply_parts(self, consumer: Consumer, parts: list[TakenPartition], loop_seconds: float) -> None:
        """Committed: write these partitions' checkpoints to their local stores."""
        started = time.perf_counter()
        wall_ms = wall_stamp(self.clock())
        for part in parts:
            meta: dict[str, bytes | None] = {}
            if part.offset is not None:
                meta[META_SOURCE_OFFSET] = str(part.offset).encode()
                meta[META_CHECKPOINT_WALL_MS] = wall_ms
                meta[META_ENGINE_STATE] = cast(bytes, part.state)
                for name, value in part.parts.items():
                    meta[META_ENGINE_PART + name] = value
            part.runtime.store.apply_taken(part.writes, meta)
        metrics.CHECKPOINT_SECONDS.observe(loop_seconds + time.perf_counter() - started)
        metrics.STATE_USERS.set(sum(rt.backing.count() for rt in self.partitions.values()))
        metrics.record_lag(consumer, list(self.partitions))
        metrics.READY.set(1 if self.ready else 0)

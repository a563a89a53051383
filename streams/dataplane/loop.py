"""The clickstream data plane: confluent-kafka in batches, the pure core, outputs out.

One thread runs :meth:`DataPlane.run`. Per batch: ``consume(batch_size)``, group the
records by partition (order kept), run that partition's :class:`~models.engine.Engine`
over them with no per-event await or callback, queue the outputs, then checkpoint.

Checkpoint order (at-least-once): outputs queued -> ``producer.flush()`` -> all delivered
-> ``commit(offsets)``. A crash before the commit re-delivers the batch; the core makes
the same records with the same ids again (idempotent outputs). A delivery failure stops
the data plane *without* committing, so nothing is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.profiles.profile import Profile
from models.segments import RuleSet
from schemas.outputs import SourcePosition
from streams import metrics
from streams.dataplane.produce import OutputWriter

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    pass


@dataclass
class PartitionRuntime:
    engine: Engine
    #: Wall clock and watermark when event time last moved, to advance an idle partition.
    wall_at_watermark: float = 0.0
    watermark_seen: float | None = None


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
    engine_config: EngineConfig = field(default_factory=EngineConfig)


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
        self.processed = 0
        self.error: BaseException | None = None
        self._consumer: Consumer | None = None
        self._pending: dict[tuple[str, int], int] = {}

    # -- lifecycle -----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def stop(self) -> None:
        self._stop.set()

    def lookup(self, user_id: str) -> Profile | None:
        """The profile of ``user_id`` if one of this worker's partitions holds it."""
        for rt in list(self.partitions.values()):
            p = rt.engine.lookup(user_id)
            if p is not None:
                return p
        return None

    def _on_delivery_error(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._delivery_errors.append(f"{msg.topic()}: {err.str()}")

    def _on_assign(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.partitions[(tp.topic, tp.partition)] = PartitionRuntime(
                Engine(self.rules, self.cfg.engine_config)
            )
        metrics.REBALANCES.labels("assigned").inc()
        metrics.ASSIGNED_PARTITIONS.set(len(self.partitions))
        self._ready.set()
        log.info("assigned %d partitions", len(tps))

    def _on_revoke(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        self._ready.clear()
        try:
            self._checkpoint(consumer)
        except KafkaException as exc:  # the group moved on: the next owner re-processes
            log.warning("commit on revoke failed: %s", exc)
        for tp in tps:
            self.partitions.pop((tp.topic, tp.partition), None)
            self._pending.pop((tp.topic, tp.partition), None)
        metrics.REBALANCES.labels("revoked").inc()
        metrics.ASSIGNED_PARTITIONS.set(len(self.partitions))
        self._ready.set()

    # -- the loop ------------------------------------------------------------------

    def run(self) -> None:
        cfg = self.cfg
        producer_conf = dict(cfg.producer_config)
        producer_conf["delivery.report.only.error"] = True
        producer_conf["on_delivery"] = self._on_delivery_error
        producer = Producer(producer_conf)
        consumer = Consumer(dict(cfg.consumer_config))
        self._consumer = consumer
        self.writer = OutputWriter(
            producer, decisions_topic=cfg.decisions_topic,
            latest_decisions_topic=cfg.latest_decisions_topic,
            segment_changes_topic=cfg.segment_changes_topic, dlq_topic=cfg.dlq_topic,
            group_id=cfg.group_id, clock=self.clock,
        )
        self.producer = producer
        consumer.subscribe(cfg.input_topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_revoke)
        last_tick = self.clock()
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(cfg.batch_size, cfg.batch_timeout_s)
                if msgs:
                    self._process(msgs)
                    self._checkpoint(consumer)
                now = self.clock()
                if now - last_tick >= cfg.tick_interval_s:
                    self._tick(now)
                    self._checkpoint(consumer)
                    last_tick = now
            self._checkpoint(consumer)
        except BaseException as exc:
            self.error = exc
            log.error("data plane stopped: %s: %s", type(exc).__name__, exc)
            raise
        finally:
            self._ready.clear()
            metrics.READY.set(0)
            try:
                consumer.close()  # leaves the group; the revoke callback checkpoints
            finally:
                producer.flush(cfg.flush_timeout_s)

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
        for key, part_msgs in by_partition.items():
            rt = self.partitions.get(key)
            if rt is None:  # revoked while the batch was in flight: the new owner redoes it
                continue
            topic, partition = key
            records = []
            keys: dict[int, bytes | None] = {}
            for m in part_msgs:
                offset = m.offset()
                keys[offset] = m.key()
                _, ts_ms = m.timestamp()
                records.append(InputRecord(m.value() or b"", SourcePosition(
                    topic=topic, partition=partition, offset=offset, timestamp_ms=ts_ms,
                )))
            out = rt.engine.process_many(records)
            self.writer.write(out, topic, keys)
            if rt.engine.watermark != rt.watermark_seen:
                rt.watermark_seen = rt.engine.watermark
                rt.wall_at_watermark = self.clock()
            self._pending[key] = part_msgs[-1].offset() + 1
            self.processed += len(part_msgs)
        metrics.BATCH_SIZE.observe(len(msgs))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.STATE_USERS.set(sum(len(rt.engine.store) for rt in self.partitions.values()))

    def _tick(self, now: float) -> None:
        """Let event time flow on idle partitions, so time-based exits happen without events."""
        for (topic, _), rt in list(self.partitions.items()):
            if rt.watermark_seen is None:
                continue
            target = rt.watermark_seen + (now - rt.wall_at_watermark)
            out = rt.engine.advance_to(target)
            if out.segment_changes:
                self.writer.write(out, topic, {})

    def _checkpoint(self, consumer: Consumer) -> None:
        started = time.perf_counter()
        remaining = self.producer.flush(self.cfg.flush_timeout_s)
        if remaining or self._delivery_errors:
            errors = "; ".join(self._delivery_errors[:3])
            raise DeliveryFailed(
                f"{remaining} records undelivered after {self.cfg.flush_timeout_s}s; "
                f"errors: {errors or 'none reported'}; offsets NOT committed"
            )
        self._checkpoint_positions(consumer)
        metrics.CHECKPOINT_SECONDS.observe(time.perf_counter() - started)
        metrics.READY.set(1 if self.ready else 0)

    def _checkpoint_positions(self, consumer: Consumer) -> None:
        if not self._pending:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self._pending.items())]
        consumer.commit(offsets=offsets, asynchronous=False)
        self._pending.clear()

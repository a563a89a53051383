"""Read a range of a Kafka topic for replay, with ``assign()`` only.

The consumer never subscribes and never commits: it joins no consumer group, so reading
production topics cannot disturb their consumers (librdkafka still wants a ``group.id``;
a throwaway one is used and no offset is ever stored under it).

The range, per partition: from ``start_offset`` (or the first offset at/after
``start_ms``, or the beginning) up to, excluding, ``end_offset`` (or the first offset
at/after ``end_ms``, or the end of the partition when the read started). Partitions are
read one after another, each in offset order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, TopicPartition

from schemas.outputs import SourcePosition
from streams.replay.errors import ReplayInputError
from streams.replay.sources import RawRecord

__all__ = ["TopicRange", "iter_topic_records"]


@dataclass(frozen=True)
class TopicRange:
    topic: str
    partitions: tuple[int, ...] | None = None
    start_offset: int | None = None
    end_offset: int | None = None
    start_ms: int | None = None
    end_ms: int | None = None


def _reader_config(consumer_config: dict[str, Any]) -> dict[str, Any]:
    conf = {k: v for k, v in consumer_config.items()
            if k not in ("group.instance.id", "partition.assignment.strategy")}
    conf.update({
        "group.id": f"personalizer-replay-{uuid.uuid4().hex}",  # never joined, never committed
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    return conf


def _offsets_for_time(consumer: Consumer, topic: str, parts: list[int], ms: int) -> dict[int, int]:
    found = consumer.offsets_for_times([TopicPartition(topic, p, ms) for p in parts], timeout=30)
    out: dict[int, int] = {}
    for tp in found:
        if tp.error is not None:
            raise ReplayInputError(f"{topic}[{tp.partition}]: cannot look up offset for time {ms}: "
                                   f"{tp.error}")
        out[tp.partition] = tp.offset  # -1: no record at/after that time
    return out


def iter_topic_records(consumer_config: dict[str, Any], rng: TopicRange,
                       timeout_s: float = 30.0) -> Iterator[RawRecord]:
    consumer = Consumer(_reader_config(consumer_config))
    try:
        md = consumer.list_topics(rng.topic, timeout=timeout_s)
        tmd = md.topics.get(rng.topic)
        if tmd is None or tmd.error is not None or not tmd.partitions:
            reason = tmd.error.str() if tmd is not None and tmd.error is not None else "no such topic"
            raise ReplayInputError(f"topic {rng.topic}: cannot read: {reason}")
        parts = sorted(tmd.partitions) if rng.partitions is None else list(rng.partitions)
        unknown = [p for p in parts if p not in tmd.partitions]
        if unknown:
            raise ReplayInputError(f"topic {rng.topic}: no partition(s) {unknown} "
                                   f"(it has {len(tmd.partitions)})")
        starts = {p: rng.start_offset if rng.start_offset is not None else OFFSET_BEGINNING
                  for p in parts}
        if rng.start_ms is not None:
            for p, off in _offsets_for_time(consumer, rng.topic, parts, rng.start_ms).items():
                starts[p] = off if off >= 0 else OFFSET_END
        ends: dict[int, int | None] = {p: rng.end_offset for p in parts}
        if rng.end_ms is not None:
            for p, off in _offsets_for_time(consumer, rng.topic, parts, rng.end_ms).items():
                if off >= 0:
                    ends[p] = off if ends[p] is None else min(off, ends[p])  # type: ignore[type-var]
        for p in parts:
            if starts[p] == OFFSET_END:
                continue
            yield from _read_partition(consumer, rng.topic, p, starts[p], ends[p], timeout_s)
    finally:
        consumer.close()


def _read_partition(consumer: Consumer, topic: str, partition: int, start: int, end: int | None,
                    timeout_s: float) -> Iterator[RawRecord]:
    if end is not None and start >= 0 and start >= end:
        return
    consumer.assign([TopicPartition(topic, partition, start)])
    idle = 0.0
    while True:
        msgs = consumer.consume(5000, 0.5)
        if not msgs:
            idle += 0.5
            if idle >= timeout_s:
                raise ReplayInputError(f"{topic}[{partition}]: no data and no end of partition "
                                       f"within {timeout_s:.0f} s")
            continue
        idle = 0.0
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    consumer.unassign()
                    return
                raise ReplayInputError(f"{topic}[{partition}]: {err.str()}")
            offset = m.offset()
            if end is not None and offset >= end:  # type: ignore[operator]
                consumer.unassign()
                return
            _, ts_ms = m.timestamp()
            yield m.value() or b"", SourcePosition(topic=topic, partition=partition,
                                                  offset=offset, timestamp_ms=ts_ms)

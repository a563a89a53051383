"""Reading the DLQ topic from given offsets to its end, without joining any group.

:class:`DlqReader` ``assign()``\\ s every partition of the DLQ topic (it never
``subscribe()``\\ s, so reading moves no group's offsets and triggers no rebalance) and
stops at the end of each partition, detected by librdkafka's partition-EOF events
(``enable.partition.eof=true``). It does not trust ListOffsets answers for the end or for
times: the embedded Tansu broker answers them loosely (a high watermark of 1 for a
partition of 15 records, ``offsets_for_times`` -> 0 for any time), so the offsets from
``offsets_for_times`` are only a starting point and the commands filter on each record's
own timestamp.

Records below the requested start offset are dropped client-side too, and a start offset
is first lowered to the partition's high watermark, so a start past the end of a partition
reads nothing (Kafka would answer OFFSET_OUT_OF_RANGE and reset to the beginning; Tansu
answers empty fetches forever and never reports the end).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from uuid import uuid4

from confluent_kafka import (
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from streams.dlq.records import DlqRecord, parse_dlq_record
from streams.settings import KafkaConfig, Settings

__all__ = ["DlqReadError", "DlqReader", "dlq_consumer_config", "inspect_group_id"]


# Errors that will not go away by waiting.
_FATAL_CODES = frozenset({
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
})


class DlqReadError(RuntimeError):
    """The DLQ topic could not be read (missing topic, broker error, no end reached)."""


def inspect_group_id(settings: Settings) -> str:
    """A throw-away group id for read-only scans: confluent-kafka requires one, but the
    reader only ``assign()``\\ s and never commits, so the group never exists on the broker.
    """
    return f"{settings.group_id}-dlq-inspect-{uuid4().hex[:12]}"


def dlq_consumer_config(settings: Settings, group_id: str) -> KafkaConfig:
    """The service's consumer settings plus partition-EOF events, for a :class:`DlqReader`."""
    config = settings.consumer_config(group_id=group_id)
    # Short fetch waits: the end of a partition shows as an empty fetch, which a broker
    # holds for up to fetch.wait.max.ms (500 ms by default) before answering.
    config.update({"enable.partition.eof": True, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50})
    return config


class DlqReader:
    """Scans one DLQ topic, all partitions, from start offsets to the end of each.

    Callers track their own progress (a redrive commits the offset after the last
    record it handled, which is not always the last one yielded).
    """

    def __init__(
        self, consumer: Consumer, topic: str, *, idle_timeout_s: float = 30.0, batch_size: int = 500
    ) -> None:
        self.consumer = consumer
        self.topic = topic
        self.idle_timeout_s = idle_timeout_s
        self.batch_size = batch_size
        self._stopped: set[int] = set()

    def partitions(self, timeout: float = 10.0) -> list[int]:
        """The DLQ topic's partitions, sorted; :class:`DlqReadError` if it does not exist."""
        try:
            metadata = self.consumer.list_topics(self.topic, timeout=timeout)
        except KafkaException as exc:
            raise DlqReadError(f"cannot read metadata of {self.topic}: {exc}") from None
        info = metadata.topics.get(self.topic)
        if info is None or info.error is not None or not info.partitions:
            why = info.error if info is not None and info.error is not None else "no partitions"
            raise DlqReadError(
                f"DLQ topic {self.topic!r} is not available ({why}); "
                "check PERSONALIZER_DLQ_TOPIC and PERSONALIZER_BOOTSTRAP_SERVERS"
            )
        return sorted(info.partitions)

    def offsets_since(self, since_ms: int, partitions: list[int], timeout: float = 10.0) -> dict[int, int]:
        """First offset per partition whose record time is >= ``since_ms`` (``OFFSET_END``
        when the broker knows of none). A lower bound only: see the module docstring."""
        query = [TopicPartition(self.topic, p, since_ms) for p in partitions]
        try:
            found = self.consumer.offsets_for_times(query, timeout=timeout)
        except KafkaException as exc:
            raise DlqReadError(f"cannot look up offsets by time in {self.topic}: {exc}") from None
        result: dict[int, int] = {}
        for tp in found:
            if tp.error is not None:
                raise DlqReadError(f"offsets_for_times on {self.topic}[{tp.partition}]: {tp.error}")
            result[tp.partition] = tp.offset if tp.offset >= 0 else OFFSET_END
        return result

    def committed(self, partitions: list[int], timeout: float = 10.0) -> dict[int, int | None]:
        """This consumer's group's committed offset per partition (None: never committed)."""
        try:
            found = self.consumer.committed([TopicPartition(self.topic, p) for p in partitions],
                                            timeout=timeout)
        except KafkaException as exc:
            raise DlqReadError(f"cannot read committed offsets for {self.topic}: {exc}") from None
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in found}

    def _clamp(self, partition: int, offset: int) -> int:
        """``offset``, or the high watermark if that is lower.

        A fetch past the end gets OFFSET_OUT_OF_RANGE from Kafka, but empty answers and
        no EOF from Tansu, whose high watermark is itself at or below the true end: starting
        at min(offset, high watermark) and dropping records below ``offset`` is right on both.
        """
        if offset < 0:
            return offset
        try:
            _low, high = self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=10, cached=False
            )
        except KafkaException:
            return offset
        return min(offset, high) if high >= 0 else offset

    def stop_partition(self, partition: int) -> None:
        """Read no more of ``partition`` in the running scan (its position stays put)."""
        self._stopped.add(partition)
        self.consumer.pause([TopicPartition(self.topic, partition)])

    def scan(self, starts: Mapping[int, int]) -> Iterator[DlqRecord]:
        """Yield the records from ``starts`` (offset, or ``OFFSET_BEGINNING``/``OFFSET_END``,
        per partition) to the end of every partition, in offset order per partition."""
        if not starts:
            return
        floor = {p: (off if off >= 0 else 0) for p, off in starts.items()}
        assign = [TopicPartition(self.topic, p, self._clamp(p, off)) for p, off in sorted(starts.items())]
        self.consumer.assign(assign)
        self._stopped = set()
        at_end: set[int] = set()
        pending = set(starts)
        last_event = time.monotonic()
        try:
            while pending - at_end - self._stopped:
                # consume() waits the whole timeout unless batch_size records arrive: keep it short
                messages = self.consumer.consume(self.batch_size, timeout=0.1)
                if messages:
                    last_event = time.monotonic()
                elif time.monotonic() - last_event > self.idle_timeout_s:
                    left = sorted(pending - at_end - self._stopped)
                    raise DlqReadError(
                        f"partitions {left} of {self.topic} did not report their end within "
                        f"{self.idle_timeout_s:g} s; is the broker reachable?"
                    )
                for msg in messages:
                    partition = msg.partition()
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF and partition is not None:
                            at_end.add(partition)
                            continue
                        if err.fatal() or err.code() in _FATAL_CODES:
                            raise DlqReadError(f"reading {self.topic}: {err.str()}")
                        continue  # transient (disconnects...): the idle timeout catches lasting ones
                    offset = msg.offset()
                    if partition is None or offset is None:
                        continue  # a record always has both; keeps the types honest
                    if partition in at_end or partition in self._stopped:
                        continue  # arrived after the end we stop at, or the caller stopped it
                    if offset < floor.get(partition, 0):
                        continue
                    ts_type, ts = msg.timestamp()
                    record = parse_dlq_record(
                        partition, offset, ts if ts_type != 0 and ts >= 0 else None,
                        msg.key(), msg.value(), msg.headers(),
                    )
                    yield record
        finally:
            self.consumer.unassign()

"""Read whole compacted control topics from the beginning: :class:`ControlReader`.

Every worker needs every definition, so the reader belongs to no consumer group: it
assigns itself all partitions of the control topics at the earliest offset and never
commits. It knows when it has caught up with what the topics held when it started
(every partition reached its end once), so a worker can apply the backlog as one
version instead of one per record.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from streams.settings import KafkaConfig

__all__ = ["ControlReader", "ControlRecord", "TopicMissingError"]

log = logging.getLogger(__name__)


class TopicMissingError(RuntimeError):
    """A control topic does not exist (yet)."""


@dataclass(frozen=True, slots=True)
class ControlRecord:
    """One record of a control topic; ``value`` None is a tombstone."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class ControlReader:
    """A group-less consumer of whole topics. Not thread-safe: one thread at a time.

    ``consumer_config`` is :meth:`Settings.consumer_config` (its ``group.id`` is replaced
    by a unique one that never joins or commits).
    """

    def __init__(self, consumer_config: KafkaConfig, topics: Sequence[str]) -> None:
        config = dict(consumer_config)
        config.update(
            {
                "group.id": f"personalizer-control-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
        self.topics = tuple(topics)
        self._consumer = Consumer(config)
        self._pending: set[tuple[str, int]] = set()
        self._started = False
        self._closed = False

    def start(self, timeout: float = 10.0) -> None:
        """Assign every partition of the topics from the beginning.

        Raises :class:`TopicMissingError` naming the missing topics, and
        ``KafkaException`` when the broker does not answer within ``timeout``.
        """
        metadata = self._consumer.list_topics(timeout=timeout)
        missing = [t for t in self.topics if t not in metadata.topics or metadata.topics[t].error is not None]
        if missing:
            raise TopicMissingError(f"control topic(s) {', '.join(missing)} do not exist")
        assignment: list[TopicPartition] = []
        pending: set[tuple[str, int]] = set()
        for topic in self.topics:
            for partition in sorted(metadata.topics[topic].partitions):
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout
                )
                if high > low:
                    pending.add((topic, partition))
                assignment.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
        self._consumer.assign(assignment)
        self._pending = pending
        self._started = True

    @property
    def caught_up(self) -> bool:
        """Every partition was read to the end it had when :meth:`start` ran."""
        return self._started and not self._pending

    def poll(self, timeout: float = 0.5, max_records: int = 1000) -> list[ControlRecord]:
        """The next records (possibly none), in partition order."""
        out: list[ControlRecord] = []
        for msg in self._consumer.consume(max_records, timeout):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self._pending.discard((msg.topic(), msg.partition()))
                    continue
                if err.fatal():
                    raise KafkaException(err)
                log.warning("control topic read error: %s", err.str())
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            assert topic is not None and partition is not None and offset is not None
            value = msg.value()
            out.append(ControlRecord(topic, partition, offset, msg.key(), value))
        return out

    def read_to_end(self, timeout: float = 30.0) -> list[ControlRecord]:
        """Start, then every record up to the end the topics had at the start."""
        import time

        self.start(timeout=timeout)
        deadline = time.monotonic() + timeout
        records: list[ControlRecord] = []
        while not self.caught_up:
            if time.monotonic() > deadline:
                topics = ", ".join(self.topics)
                raise TimeoutError(f"control topics {topics} not read to the end in {timeout:g}s")
            records += self.poll(0.5)
        return records

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()

"""The benchmark workload (the generator, fixed seed) and the topics each phase uses."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from streams.commands.produce import iter_jsonl, produce_records
from streams.generator import generate
from streams.settings import Settings
from streams.state.changelog import changelog_topic
from streams.topics import TopicSpec, compacted_config, delete_config, ensure_topics

__all__ = ["WorkerTopics", "count_records", "create_topics", "fill_topic", "make_workload", "unique"]

_RETENTION_MS = 86_400_000


def unique(prefix: str) -> str:
    """A topic or group name no other run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_workload(users: int, events: int, seed: int, directory: Path) -> tuple[Path, list[bytes]]:
    """Generate ``events`` clickstream lines for ``users`` users (no malformed lines, so
    every phase does the same work per record); returns the file and its lines."""
    path = directory / f"events-{users}-{events}-{seed}.jsonl"
    generate(users=users, events=events, seed=seed, out=path, malformed_fraction=0.0)
    return path, list(iter_jsonl(path))


def create_topics(settings: Settings, partitions: dict[str, int], compacted: tuple[str, ...] = ()) -> None:
    """Create topics with explicit configs (Tansu describes only the configs given at creation)."""
    specs = [TopicSpec(name, n, compacted_config() if name in compacted else delete_config(_RETENTION_MS))
             for name, n in partitions.items()]
    ensure_topics(settings.admin_config(), specs)


def topic_env(input_topic: str, decisions: str, latest: str, changes: str, dlq: str, prefix: str
              ) -> dict[str, str]:
    """The PERSONALIZER_* variables naming a worker's input and output topics."""
    return {
        "PERSONALIZER_INPUT_TOPICS": input_topic,
        "PERSONALIZER_DECISIONS_TOPIC": decisions,
        "PERSONALIZER_LATEST_DECISIONS_TOPIC": latest,
        "PERSONALIZER_SEGMENT_CHANGES_TOPIC": changes,
        "PERSONALIZER_DLQ_TOPIC": dlq,
        "PERSONALIZER_CHANGELOG_TOPIC_PREFIX": prefix,
    }


@dataclass(frozen=True)
class WorkerTopics:
    """The input and output topics of one data-plane run, uniquely named."""

    input: str
    decisions: str
    latest: str
    changes: str
    dlq: str
    prefix: str
    partitions: int

    @property
    def changelog(self) -> str:
        return changelog_topic(self.prefix, self.input)

    @classmethod
    def create(cls, settings: Settings, name: str, partitions: int, input_topic: str | None = None
               ) -> WorkerTopics:
        """New outputs (and a changelog) for ``input_topic``; a new input topic when None."""
        tag = unique(name)
        topics = cls(input=input_topic or f"{tag}.in", decisions=f"{tag}.decisions",
                     latest=f"{tag}.latest", changes=f"{tag}.changes", dlq=f"{tag}.dlq",
                     prefix=f"{tag}.state", partitions=partitions)
        create_topics(settings, {topics.input: partitions, topics.decisions: partitions,
                                 topics.latest: partitions, topics.changes: partitions,
                                 topics.dlq: 1, topics.changelog: partitions},
                      compacted=(topics.latest, topics.changelog))
        return topics

    def env(self) -> dict[str, str]:
        """The PERSONALIZER_* variables that point a worker process at these topics."""
        return {**topic_env(self.input, self.decisions, self.latest, self.changes, self.dlq, self.prefix),
                "PERSONALIZER_PARTITIONS": str(self.partitions)}


def fill_topic(settings: Settings, topic: str, lines: list[bytes], rate: float | None = None) -> int:
    """Produce every line, keyed by user (murmur2, like any producer of the service)."""
    producer = Producer(settings.producer_config())
    if rate is not None:
        _warm_up(settings, producer, topic)
    n = produce_records(producer, topic, iter(lines), rate=rate)
    left = producer.flush(120)
    if left:
        raise RuntimeError(f"{left} records to {topic} undelivered after 120 s")
    return n


def _warm_up(settings: Settings, producer: Producer, topic: str) -> None:
    """A paced run measures latency from the records' create times: the producer connects,
    learns the leaders and gets its idempotent producer id first, with one record to a
    scratch topic, so the first timed records do not carry its start-up (the producer id
    alone sometimes took ~0.5 s on the embedded broker, and the first fifth of the run
    then showed a p99 of 500 ms)."""
    scratch = f"{topic}.warm-up"
    create_topics(settings, {scratch: 1})
    producer.list_topics(topic, timeout=30)
    producer.produce(scratch, b"warm-up")
    if producer.flush(30):
        raise RuntimeError(f"the paced producer could not deliver a record to {scratch} in 30 s")


def count_records(settings: Settings, topic: str, partitions: int, expected: int, timeout: float) -> int:
    """Records on ``topic`` (read from the start), stopping at ``expected`` or ``timeout``."""
    consumer = Consumer(settings.consumer_config(group_id=unique("count")))
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    n = 0
    deadline = time.monotonic() + timeout
    try:
        while n < expected and time.monotonic() < deadline:
            n += sum(1 for m in consumer.consume(10_000, 0.5) if m.error() is None)
    finally:
        consumer.close()
    return n


def produce_due(producer: Producer, topic: str, source: Iterator[tuple[bytes, bytes]], rate: float,
                elapsed_s: float, produced: int) -> int:
    """Produce from ``source`` what a steady ``rate`` owes after ``elapsed_s`` seconds,
    given ``produced`` so far (waiting on a full local queue); returns the new total."""
    due = max(int(elapsed_s * rate) - produced, 0)
    produce_n(producer, topic, source, due)
    producer.poll(0)
    return produced + due


def produce_n(producer: Producer, topic: str, source: Iterator[tuple[bytes, bytes]], n: int) -> None:
    """Produce the next ``n`` records of ``source``, waiting whenever the local queue is full."""
    for _ in range(n):
        key, value = next(source)
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)

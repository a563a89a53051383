"""Sending dead letters back to their original topic, once.

A redrive reads the DLQ from its own consumer group's committed position (group
``<group_id>-dlq-redrive`` by default, joined by ``assign()`` only), re-sends each
selected record to its original topic (``kafka_dlt-original-topic``, or the ``to``
override) with the same key and value, its headers plus ``x-personalizer-redrive-count``
(incremented) and ``x-personalizer-redriven-from`` (``dlq-topic@partition:offset``).
Every chunk is flushed and every delivery checked before the group's position moves
past it; a failed delivery stops the run without committing that chunk.

What the committed position means: the run has dealt with every record before it.
Records the reason or ``since`` filter leaves out, and records that cannot be routed, are
passed over (counted and reported, never silent): a later run with the same group will
not look at them again (use another ``--group`` for that). ``until`` is a stopping point,
not a filter: each partition stops at its first record at or after ``until`` and the
position stays there, so a later run picks those records up.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from streams.dlq.reader import DlqReader
from streams.dlq.records import REDRIVE_COUNT, REDRIVEN_FROM, DlqFilter, DlqRecord

__all__ = ["RedriveError", "RedriveReport", "Skipped", "redrive", "redrive_headers"]

_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class RedriveError(RuntimeError):
    """Records could not be delivered, or progress could not be committed."""


def redrive_headers(record: DlqRecord, dlq_topic: str) -> list[tuple[str, str | bytes | None]]:
    """``record``'s headers with the redrive count incremented and where it came from.

    >>> r = DlqRecord(2, 41, None, b"k", b"v", redrive_count=1,
    ...               headers=(("x-personalizer-reason", b"empty"),
    ...                        ("x-personalizer-redrive-count", b"1")))
    >>> redrive_headers(r, "dlq")  # doctest: +NORMALIZE_WHITESPACE
    [('x-personalizer-reason', b'empty'), ('x-personalizer-redrive-count', b'2'),
     ('x-personalizer-redriven-from', b'dlq@2:41')]
    """
    kept: list[tuple[str, str | bytes | None]] = [
        (k, v) for k, v in record.headers if k not in (REDRIVE_COUNT, REDRIVEN_FROM)
    ]
    kept.append((REDRIVE_COUNT, str(record.redrive_count + 1).encode()))
    kept.append((REDRIVEN_FROM, f"{dlq_topic}@{record.dlq_partition}:{record.dlq_offset}".encode()))
    return kept


@dataclass(frozen=True, slots=True)
class Skipped:
    """A selected record that was not sent, and why."""

    partition: int
    offset: int
    why: str


@dataclass
class RedriveReport:
    """What one redrive run did (or, with ``dry_run``, would do)."""

    dry_run: bool
    group: str
    sent: int = 0
    by_target: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    passed_over: int = 0  # left out by the reason/since filters
    skipped: list[Skipped] = field(default_factory=list)
    stopped_at_until: int = 0  # partitions that stopped at --until
    committed: dict[int, int] = field(default_factory=dict)
    limit_reached: bool = False


def _target(record: DlqRecord, to: str | None, existing: set[str]) -> tuple[str | None, str]:
    topic = to or record.original_topic
    if topic is None:
        return None, "no kafka_dlt-original-topic header (use --to TOPIC)"
    if not _TOPIC_RE.fullmatch(topic):
        return None, f"original topic {topic[:80]!r} is not a valid topic name (use --to TOPIC)"
    if topic not in existing:
        return None, f"topic {topic!r} does not exist"
    return topic, ""


def redrive(
    reader: DlqReader,
    producer: Producer | None,
    *,
    select: DlqFilter,
    to: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    group: str,
    on_record: Callable[[DlqRecord, str], None] | None = None,
    chunk_size: int = 5000,
    flush_timeout_s: float = 60.0,
) -> RedriveReport:
    """Redrive the selected records of ``reader``'s topic; see the module docstring.

    ``reader.consumer`` must belong to ``group`` (its committed offsets are the starting
    point and the progress is committed with it). ``producer`` may be None for a dry run.
    ``on_record(record, target)`` is called for every record sent (or that would be).
    """
    if not dry_run and producer is None:
        raise ValueError("a producer is needed unless dry_run")
    consumer: Consumer = reader.consumer
    report = RedriveReport(dry_run=dry_run, group=group)
    partitions = reader.partitions()
    committed = reader.committed(partitions)
    starts: dict[int, int] = {p: (off if off is not None else OFFSET_BEGINNING)
                              for p, off in committed.items()}
    if select.since_ms is not None:
        for p, since_off in reader.offsets_since(select.since_ms, partitions).items():
            start = starts.get(p, OFFSET_BEGINNING)
            starts[p] = since_off if since_off == OFFSET_END or start < 0 else max(start, since_off)
    try:
        existing = set(consumer.list_topics(timeout=10).topics)
    except KafkaException as exc:
        raise RedriveError(f"cannot list topics: {exc}") from None

    progress: dict[int, int] = {}
    failures: list[str] = []
    pending = 0

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(f"{msg.topic()}: {err.str()}")

    def checkpoint() -> None:
        nonlocal pending
        if dry_run:
            return
        assert producer is not None
        left = producer.flush(flush_timeout_s)
        if left or failures:
            problem = (f"{left} record(s) not acknowledged within {flush_timeout_s:g} s"
                       if left else f"{len(failures)} delivery failure(s), first: {failures[0]}")
            raise RedriveError(
                f"{problem}; progress NOT committed (records of this chunk may be sent again "
                "by the next run)"
            )
        pending = 0
        moved = {p: off for p, off in progress.items() if report.committed.get(p) != off}
        if not moved:
            return
        try:
            offsets = [TopicPartition(reader.topic, p, off) for p, off in sorted(moved.items())]
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise RedriveError(f"records delivered but committing progress failed: {exc}") from None
        report.committed.update(moved)

    for record in reader.scan(starts):
        p = record.dlq_partition
        ts = record.dlq_timestamp_ms
        if select.until_ms is not None and ts is not None and ts >= select.until_ms:
            reader.stop_partition(p)
            report.stopped_at_until += 1
            continue
        progress[p] = record.dlq_offset + 1
        if not select.matches(record):
            report.passed_over += 1
            continue
        target, why = _target(record, to, existing)
        if target is None:
            report.skipped.append(Skipped(p, record.dlq_offset, why))
            continue
        if on_record is not None:
            on_record(record, target)
        report.sent += 1
        report.by_target[target] += 1
        report.by_reason[record.reason or "(no reason header)"] += 1
        if not dry_run:
            assert producer is not None
            while True:
                try:
                    producer.produce(target, value=record.value, key=record.key,
                                     headers=redrive_headers(record, reader.topic), on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.05)
                except KafkaException as exc:  # refused before sending (e.g. larger than allowed)
                    producer.purge()  # what this chunk queued is not committed: do not send it either
                    producer.poll(0)
                    raise RedriveError(
                        f"cannot send {reader.topic} {p}:{record.dlq_offset} to {target}: {exc}; "
                        "progress NOT committed for the current chunk"
                    ) from None
            pending += 1
            if pending >= chunk_size:
                checkpoint()
        if limit is not None and report.sent >= limit:
            report.limit_reached = True
            break
    checkpoint()
    return report

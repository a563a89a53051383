"""``personalizer dlq inspect`` and ``personalizer dlq redrive``: look at and re-send dead letters.

Both read the DLQ topic (``PERSONALIZER_DLQ_TOPIC``) with ``assign()``: ``inspect``
never commits anything (its throw-away group id never exists on the broker);
``redrive`` commits its own progress in ``<PERSONALIZER_GROUP_ID>-dlq-redrive``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager

import click
import orjson
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, Producer

from schemas.decode import REJECTION_REASONS
from streams.dlq.reader import DlqReader, DlqReadError, dlq_consumer_config, inspect_group_id
from streams.dlq.records import NO_REASON, DlqFilter, DlqRecord, parse_time
from streams.dlq.redrive import RedriveError, redrive
from streams.dlq.summary import DlqSummary, escape_text, format_ms, record_json, record_line
from streams.settings import ConfigError, Settings, load_settings

__all__ = ["dlq_command"]

_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from None


def _time(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _filter(reasons: tuple[str, ...], since: str | None, until: str | None, *, strict: bool) -> DlqFilter:
    for reason in reasons:
        if reason != NO_REASON and reason not in REJECTION_REASONS:
            known = f"{', '.join(REJECTION_REASONS)}, or '{NO_REASON}'"
            if strict:  # a typo would pass over every record: refuse
                raise click.BadParameter(f"{reason!r} is not a known reason ({known})", param_hint="--reason")
            # inspect: other producers may use other reasons, so only a note
            click.echo(f"note: --reason {reason!r} is not one of the worker's reasons ({known})", err=True)
    since_ms, until_ms = _time(since, "--since"), _time(until, "--until")
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise click.BadParameter(f"--since ({since}) must be before --until ({until})")
    return DlqFilter(reasons=frozenset(reasons), since_ms=since_ms, until_ms=until_ms)


@contextmanager
def _consumer(settings: Settings, group_id: str) -> Iterator[Consumer]:
    consumer = Consumer(dlq_consumer_config(settings, group_id))
    try:
        yield consumer
    finally:
        consumer.close()


_reason_option = click.option(
    "--reason", "reasons", multiple=True, metavar="REASON",
    help=f"Only records with this x-personalizer-reason (repeatable; '{NO_REASON}' = no reason header).",
)
_since_option = click.option(
    "--since", default=None, metavar="TIME",
    help="Only records dead-lettered at or after TIME: ISO 8601 (UTC if no offset) or an age (30m, 6h, 2d).",
)
_until_option = click.option(
    "--until", default=None, metavar="TIME", help="Only records dead-lettered before TIME (same forms).",
)
_timeout_option = click.option(
    "--timeout", "timeout_s", type=click.FloatRange(min=1), default=30.0, show_default=True,
    help="Give up when the broker sends nothing for this many seconds before every partition's end.",
)


@click.group("dlq")
def dlq_command() -> None:
    """Inspect and redrive dead letters (the DLQ topic, PERSONALIZER_DLQ_TOPIC)."""


@dlq_command.command("inspect")
@_reason_option
@_since_option
@_until_option
@click.option("--from-offset", type=click.IntRange(min=0), default=None,
              help="Start at this offset in every partition (default: the beginning).")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="List at most N records (the oldest first); the summary still counts all.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per record instead.")
@click.option("--show-payload", is_flag=True,
              help="Also show keys and payloads (personal data!): 200 bytes escaped, base64 in --json.")
@_timeout_option
def inspect_command(
    reasons: tuple[str, ...], since: str | None, until: str | None, from_offset: int | None,
    limit: int | None, as_json: bool, show_payload: bool, timeout_s: float,
) -> None:
    """Summarize and list dead letters, without moving any consumer group's offsets.

    The summary counts records per reason and per original topic; each record line is
    `partition:offset  time  reason  topic@partition:offset  detail`.
    """
    settings = _settings()
    select = _filter(reasons, since, until, strict=False)
    summary = DlqSummary()
    records: list[DlqRecord] = []
    with _consumer(settings, inspect_group_id(settings)) as consumer:
        reader = DlqReader(consumer, settings.dlq_topic, idle_timeout_s=timeout_s)
        try:
            partitions = reader.partitions()
            first = from_offset if from_offset is not None else OFFSET_BEGINNING
            starts = dict.fromkeys(partitions, first)
            if select.since_ms is not None:
                for p, off in reader.offsets_since(select.since_ms, partitions).items():
                    starts[p] = off if off == OFFSET_END or starts[p] < 0 else max(starts[p], off)
            for record in reader.scan(starts):
                if not select.matches(record):
                    continue
                summary.add(record)
                records.append(record if show_payload else dataclasses.replace(record, value=None, key=None))
        except DlqReadError as exc:
            raise click.ClickException(str(exc)) from None
    records.sort(key=lambda r: (r.dlq_timestamp_ms or 0, r.dlq_partition, r.dlq_offset))
    shown = records if limit is None else records[:limit]
    if as_json:
        for record in shown:
            click.echo(orjson.dumps(record_json(record, show_payload)).decode())
        return
    for line in summary.lines(settings.dlq_topic):
        click.echo(line)
    if shown:
        more = f" (the oldest {len(shown)} of {len(records)})" if len(shown) < len(records) else ""
        click.echo(f"\nrecords{more}: dlq partition:offset  time  reason  original  detail")
        for record in shown:
            click.echo(record_line(record, show_payload))


@dlq_command.command("redrive")
@_reason_option
@_since_option
@click.option("--until", default=None, metavar="TIME",
              help="Stop each partition at its first record dead-lettered at or after TIME "
                   "(a later run picks those up).")
@click.option("--to", "to", default=None, metavar="TOPIC",
              help="Send to TOPIC instead of each record's original topic.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send and commit nothing.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most N records.")
@click.option("--group", default=None, metavar="GROUP",
              help="Consumer group that keeps this redrive's progress "
                   "[default: <PERSONALIZER_GROUP_ID>-dlq-redrive].")
@_timeout_option
def redrive_command(
    reasons: tuple[str, ...], since: str | None, until: str | None, to: str | None,
    dry_run: bool, limit: int | None, group: str | None, timeout_s: float,
) -> None:
    """Re-send dead letters to their original topic (same key and value), once.

    Starts where the last redrive with the same --group stopped. --reason must be
    one of the worker's reasons (or 'none'): a typo would pass over everything. Records left out by
    --reason/--since, or that cannot be routed, are counted and passed over: a later
    run with the same group does not see them again (use another --group for that).
    Every record is acknowledged by the broker before progress is committed.
    """
    settings = _settings()
    select = _filter(reasons, since, until, strict=True)
    if to is not None and not _TOPIC_RE.fullmatch(to):
        raise click.BadParameter(f"{to!r} is not a valid Kafka topic name", param_hint="--to")
    group_id = group or f"{settings.group_id}-dlq-redrive"
    verb = "would send" if dry_run else "sending"

    def show(record: DlqRecord, target: str) -> None:
        click.echo(
            f"{verb} {record.dlq_partition}:{record.dlq_offset} -> {escape_text(target, 249)}  "
            f"{escape_text(record.reason or '-', 64)}  from {escape_text(record.origin)}  "
            f"{record.size} bytes  dead-lettered {format_ms(record.dlq_timestamp_ms)}"
        )

    producer = None if dry_run else Producer(settings.producer_config())
    with _consumer(settings, group_id) as consumer:
        reader = DlqReader(consumer, settings.dlq_topic, idle_timeout_s=timeout_s)
        try:
            report = redrive(reader, producer, select=select, to=to, limit=limit, dry_run=dry_run,
                             group=group_id, on_record=show)
        except (DlqReadError, RedriveError) as exc:
            raise click.ClickException(str(exc)) from None
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.partition}:{skipped.offset}: {skipped.why}", err=True)
    done = "would redrive" if dry_run else "redrove"
    targets = ", ".join(f"{n} to {escape_text(t, 249)}" for t, n in sorted(report.by_target.items()))
    where = f" ({targets})" if targets else ""
    click.echo(f"{done} {report.sent} record(s) from {settings.dlq_topic}{where}")
    if report.skipped:
        n = len(report.skipped)
        click.echo(f"{n} selected record(s) skipped: they could not be routed (listed above)", err=True)
    if report.passed_over:
        were = "would be" if dry_run else "were"
        click.echo(f"{report.passed_over} record(s) did not match --reason/--since and {were} passed over")
    if report.stopped_at_until:
        click.echo(f"{report.stopped_at_until} partition(s) stopped at --until; "
                   "their later records stay for a later run")
    if report.limit_reached:
        click.echo(f"stopped at --limit {limit}; run again for more")
    if dry_run:
        click.echo(f"dry run: nothing sent, nothing committed (group {group_id})")
    elif report.committed:
        where = ", ".join(f"{p}:{off}" for p, off in sorted(report.committed.items()))
        click.echo(f"progress committed in group {group_id} (next offsets {where})")
    else:
        click.echo(f"nothing new to commit in group {group_id}")

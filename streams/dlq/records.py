"""A parsed, read-only view of one dead-letter record, and the filters over it.

The worker (:mod:`streams.dataplane.produce`) writes dead letters with the original
bytes as the value, the original key, and Spring Kafka's ``kafka_dlt-*`` headers plus
``x-personalizer-*`` ones. Records written by other tools may lack headers or carry
garbled ones: parsing never fails, it keeps what it can and lists the problems.

>>> r = parse_dlq_record(0, 7, 1_700_000_000_000, b"u1", b"{",
...                      [("x-personalizer-reason", b"malformed_json"),
...                       ("kafka_dlt-original-topic", b"clicks"),
...                       ("kafka_dlt-original-partition", b"3"),
...                       ("kafka_dlt-original-offset", b"oops")])
>>> r.reason, r.original_topic, r.original_partition, r.original_offset, r.problems
('malformed_json', 'clicks', 3, None, ("kafka_dlt-original-offset is not an integer: 'oops'",))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = [
    "EXCEPTION_CAUSE_FQCN",
    "EXCEPTION_FQCN",
    "EXCEPTION_MESSAGE",
    "NO_REASON",
    "ORIGINAL_CONSUMER_GROUP",
    "ORIGINAL_OFFSET",
    "ORIGINAL_PARTITION",
    "ORIGINAL_TIMESTAMP",
    "ORIGINAL_TOPIC",
    "REASON",
    "REDRIVEN_FROM",
    "REDRIVE_COUNT",
    "SOURCE_FILE",
    "SOURCE_LINE",
    "DlqFilter",
    "DlqRecord",
    "Headers",
    "parse_dlq_record",
    "parse_time",
]

ORIGINAL_TOPIC = "kafka_dlt-original-topic"
ORIGINAL_PARTITION = "kafka_dlt-original-partition"
ORIGINAL_OFFSET = "kafka_dlt-original-offset"
ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
ORIGINAL_CONSUMER_GROUP = "kafka_dlt-original-consumer-group"
EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
EXCEPTION_CAUSE_FQCN = "kafka_dlt-exception-cause-fqcn"
REASON = "x-personalizer-reason"
SOURCE_FILE = "x-personalizer-source-file"
SOURCE_LINE = "x-personalizer-source-line"
REDRIVE_COUNT = "x-personalizer-redrive-count"
REDRIVEN_FROM = "x-personalizer-redriven-from"

#: Kafka record headers as confluent-kafka returns them (values may be None).
Headers = Sequence[tuple[str, bytes | str | None]]


@dataclass(frozen=True, slots=True)
class DlqRecord:
    """One record of the DLQ topic, with its headers parsed.

    Header fields are ``None`` when the header is missing or unreadable; ``problems``
    says which headers were garbled (missing ones are not problems: older or foreign
    producers may not write them). ``headers`` keeps the raw headers for a redrive.
    ``size`` is the value's length in bytes, kept when a command drops ``value`` so as
    not to hold payloads it will not show.
    """

    dlq_partition: int
    dlq_offset: int
    dlq_timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    reason: str | None = None
    detail: str | None = None
    error_class: str | None = None
    cause_class: str | None = None
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    original_timestamp_ms: int | None = None
    group: str | None = None
    source_file: str | None = None
    source_line: int | None = None
    redrive_count: int = 0
    size: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def origin(self) -> str:
        """``topic@partition:offset`` of the original record (``?`` where unknown)."""
        if self.original_topic is None and self.source_file is not None:
            line = "?" if self.source_line is None else str(self.source_line)
            return f"file:{self.source_file}:{line}"

        def show(value: object) -> str:
            return "?" if value is None else str(value)

        return f"{show(self.original_topic)}@{show(self.original_partition)}:{show(self.original_offset)}"


def _text(name: str, raw: bytes, problems: list[str]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{name} is not valid UTF-8")
        return raw.decode("utf-8", errors="replace")


def _int(name: str, raw: bytes, problems: list[str]) -> int | None:
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        return int(text)
    except ValueError:
        problems.append(f"{name} is not an integer: {text[:40]!r}")
        return None


def parse_dlq_record(
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None] | None,
) -> DlqRecord:
    """Parse one DLQ record; never raises on bad headers (see :attr:`DlqRecord.problems`).

    A header given twice counts once: the last one wins, like the worker's decoder does
    for duplicate JSON keys.
    """
    raw_headers: list[tuple[str, bytes]] = []
    last: dict[str, bytes] = {}
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, raw in pairs:
        data = raw.encode("utf-8") if isinstance(raw, str) else (raw if raw is not None else b"")
        raw_headers.append((name, data))
        last[name] = data
    problems: list[str] = []

    def text(name: str) -> str | None:
        return _text(name, last[name], problems) if name in last else None

    def integer(name: str) -> int | None:
        return _int(name, last[name], problems) if name in last else None

    redrives = integer(REDRIVE_COUNT)
    reason = text(REASON)
    return DlqRecord(
        dlq_partition=partition,
        dlq_offset=offset,
        dlq_timestamp_ms=timestamp_ms,
        key=key,
        value=value,
        reason=reason or None,
        detail=text(EXCEPTION_MESSAGE),
        error_class=text(EXCEPTION_FQCN),
        cause_class=text(EXCEPTION_CAUSE_FQCN),
        original_topic=text(ORIGINAL_TOPIC) or None,
        original_partition=integer(ORIGINAL_PARTITION),
        original_offset=integer(ORIGINAL_OFFSET),
        original_timestamp_ms=integer(ORIGINAL_TIMESTAMP),
        group=text(ORIGINAL_CONSUMER_GROUP),
        source_file=text(SOURCE_FILE),
        source_line=integer(SOURCE_LINE),
        redrive_count=redrives if redrives is not None and redrives >= 0 else 0,
        size=len(value) if value is not None else 0,
        headers=tuple(raw_headers),
        problems=tuple(problems),
    )


#: The reason filter value that selects records without an ``x-personalizer-reason``.
NO_REASON = "none"


@dataclass(frozen=True, slots=True)
class DlqFilter:
    """Which records a command selects: by reason and by DLQ record time.

    ``reasons`` empty means every reason; ``"none"`` selects records without a reason
    header. Times are epoch milliseconds, ``since`` inclusive and ``until`` exclusive.
    A record without a timestamp never matches a time filter.

    >>> f = DlqFilter(reasons=frozenset({"empty"}), since_ms=10)
    >>> r = DlqRecord(0, 0, 10, None, b"", reason="empty")
    >>> f.matches(r), f.matches(DlqRecord(0, 1, 9, None, b"", reason="empty"))
    (True, False)
    """

    reasons: frozenset[str] = frozenset()
    since_ms: int | None = None
    until_ms: int | None = None

    def matches_reason(self, record: DlqRecord) -> bool:
        if not self.reasons:
            return True
        return (record.reason if record.reason is not None else NO_REASON) in self.reasons

    def matches_time(self, record: DlqRecord) -> bool:
        ts = record.dlq_timestamp_ms
        if self.since_ms is not None and (ts is None or ts < self.since_ms):
            return False
        return not (self.until_ms is not None and (ts is None or ts >= self.until_ms))

    def matches(self, record: DlqRecord) -> bool:
        return self.matches_reason(record) and self.matches_time(record)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now: datetime | None = None) -> int:
    """Epoch milliseconds of an ISO 8601 time (UTC if no offset) or of ``<N><s|m|h|d|w>`` ago.

    >>> parse_time("2026-01-01T00:00:00Z")
    1767225600000
    >>> parse_time("2026-01-01")
    1767225600000
    >>> parse_time("2h", now=datetime(2026, 1, 1, 2, tzinfo=UTC))
    1767225600000
    """
    value = text.strip()
    unit = value[-1:].lower()
    if unit in _UNITS and value[:-1].isdigit():
        base = now if now is not None else datetime.now(UTC)
        return int((base - timedelta(seconds=int(value[:-1]) * _UNITS[unit])).timestamp() * 1000)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-01-31T12:00:00Z, 2026-01-31) "
            "or an age such as 30m, 6h, 2d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)

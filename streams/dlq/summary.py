"""What ``personalizer dlq inspect`` prints: a summary, one line per record, JSON lines.

Payloads and keys are personal data: they appear only when the caller asks
(``show_payload``), truncated to :data:`PAYLOAD_PREVIEW_BYTES` and escaped so that no
control character reaches the terminal. Header text (detail, topic names) is escaped too.

>>> escape_bytes(b'{"a":"\\x1b[31m"}')
'{"a":"\\\\x1b[31m"}'
>>> escape_bytes(b"x" * 205, limit=3)
'xxx...(+202 bytes)'
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.dlq.records import DlqRecord

__all__ = [
    "PAYLOAD_PREVIEW_BYTES",
    "DlqSummary",
    "escape_bytes",
    "escape_text",
    "format_ms",
    "record_json",
    "record_line",
]

#: How many bytes of a payload ``--show-payload`` prints.
PAYLOAD_PREVIEW_BYTES = 200

NO_REASON_LABEL = "(no reason header)"
NO_TOPIC_LABEL = "(no original topic)"


def escape_bytes(data: bytes, limit: int = PAYLOAD_PREVIEW_BYTES) -> str:
    """Printable ASCII as is, everything else (and backslash) as ``\\xNN``; cut at ``limit``."""
    out = []
    for byte in data[:limit]:
        if byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    if len(data) > limit:
        out.append(f"...(+{len(data) - limit} bytes)")
    return "".join(out)


def escape_text(text: str, limit: int = 300) -> str:
    """``text`` with non-printable characters escaped, cut at ``limit`` characters.

    >>> escape_text("bad\\nline\\x1b")
    'bad\\\\nline\\\\x1b'
    """
    cut = text[:limit]
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in cut)
    return shown + ("..." if len(text) > limit else "")


def format_ms(ms: int | None) -> str:
    """An epoch-milliseconds time as ISO 8601 UTC (``-`` when unknown).

    >>> format_ms(1767225600000)
    '2026-01-01T00:00:00.000Z'
    """
    if ms is None:
        return "-"
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return str(ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class DlqSummary:
    """Counts per reason and per original topic, and the oldest and newest record."""

    total: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    garbled: int = 0
    oldest: DlqRecord | None = None
    newest: DlqRecord | None = None

    def add(self, record: DlqRecord) -> None:
        self.total += 1
        self.by_reason[record.reason if record.reason is not None else NO_REASON_LABEL] += 1
        self.by_topic[record.original_topic if record.original_topic is not None else NO_TOPIC_LABEL] += 1
        if record.problems:
            self.garbled += 1
        ts = record.dlq_timestamp_ms
        if ts is not None:
            if self.oldest is None or ts < (self.oldest.dlq_timestamp_ms or 0):
                self.oldest = record
            if self.newest is None or ts > (self.newest.dlq_timestamp_ms or 0):
                self.newest = record

    def lines(self, topic: str) -> list[str]:
        """The summary as text lines (counts sorted by count, then name: deterministic)."""
        out = [f"{self.total} dead letter(s) in {topic}"]
        if not self.total:
            return out

        def where(record: DlqRecord | None) -> str:
            if record is None:
                return "-"
            return f"{format_ms(record.dlq_timestamp_ms)} (offset {record.dlq_partition}:{record.dlq_offset})"

        out.append(f"  oldest: {where(self.oldest)}")
        out.append(f"  newest: {where(self.newest)}")
        for title, counts in (("by reason", self.by_reason), ("by original topic", self.by_topic)):
            out.append(f"  {title}:")
            for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(f"    {n:>8}  {escape_text(name, 120)}")
        if self.garbled:
            out.append(f"  {self.garbled} record(s) have unreadable headers (see 'problems' in --json)")
        return out


def record_line(record: DlqRecord, show_payload: bool = False) -> str:
    """``partition:offset  time  reason  origin  detail`` (+ key and payload when asked)."""
    parts = [
        f"{record.dlq_partition}:{record.dlq_offset}",
        format_ms(record.dlq_timestamp_ms),
        escape_text(record.reason or "-", 64),
        escape_text(record.origin, 300),
        escape_text(record.detail or "-", 300),
    ]
    line = "  ".join(parts)
    if record.problems:
        line += f"  [headers: {escape_text('; '.join(record.problems), 200)}]"
    if show_payload:
        key = "-" if record.key is None else escape_bytes(record.key, 128)
        value = "null" if record.value is None else escape_bytes(record.value)
        line += f"\n    key={key} size={record.size} payload={value}"
    return line


def record_json(record: DlqRecord, show_payload: bool = False) -> dict[str, Any]:
    """A JSON-ready dict of the record; key and value (base64) only with ``show_payload``."""
    doc: dict[str, Any] = {
        "dlq_partition": record.dlq_partition,
        "dlq_offset": record.dlq_offset,
        "dlq_timestamp": format_ms(record.dlq_timestamp_ms) if record.dlq_timestamp_ms is not None else None,
        "reason": record.reason,
        "detail": record.detail,
        "error_class": record.error_class,
        "original_topic": record.original_topic,
        "original_partition": record.original_partition,
        "original_offset": record.original_offset,
        "original_timestamp_ms": record.original_timestamp_ms,
        "group": record.group,
        "source_file": record.source_file,
        "source_line": record.source_line,
        "redrive_count": record.redrive_count,
        "size": record.size,
        "problems": list(record.problems),
    }
    if show_payload:
        doc["key_b64"] = base64.b64encode(record.key).decode() if record.key is not None else None
        doc["value_b64"] = base64.b64encode(record.value).decode() if record.value is not None else None
    return doc

"""Output helpers: fast RFC 3339 timestamps, output files (plain or gzip), truth path.

>>> fmt = TimeFormatter()
>>> fmt(0)
'1970-01-01T00:00:00.000Z'
>>> fmt(1_767_225_600_123)
'2026-01-01T00:00:00.123Z'
>>> truth_path(Path("data/events.jsonl.gz")).as_posix()
'data/events.truth.jsonl'
>>> truth_path(Path("events.jsonl")).as_posix()
'events.truth.jsonl'
>>> from_rfc3339(fmt(1_767_225_600_123))
1767225600.123
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson

DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimeFormatter:
    """Milliseconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (cached per day)."""

    __slots__ = ("_days",)

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, ms: int) -> str:
        day, rem = divmod(ms, DAY_MS)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
            self._days[day] = prefix
        s, milli = divmod(rem, 1000)
        h, s = divmod(s, 3600)
        m, s = divmod(s, 60)
        return f"{prefix}{h:02d}:{m:02d}:{s:02d}.{milli:03d}Z"


def to_ms(dt: datetime) -> int:
    """A datetime as integer milliseconds since the epoch (naive means UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def truth_path(out: Path) -> Path:
    """``events.jsonl`` / ``events.jsonl.gz`` -> ``events.truth.jsonl`` beside it."""
    p = out.with_suffix("") if out.suffix == ".gz" else out
    p = p.with_suffix("")
    return p.with_name(p.name + ".truth.jsonl")


def from_rfc3339(text: str) -> float:
    """A time as :class:`TimeFormatter` (and the truth file) writes it -> epoch seconds."""
    return datetime.fromisoformat(text).timestamp()


def read_truth(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A truth file: its meta line (seed, sizes, groups) and each user's record
    (``{"user_id", "groups": [{"group", "from"}, ...]}``) by user id."""
    meta: dict[str, Any] = {}
    users: dict[str, dict[str, Any]] = {}
    for line in path.read_bytes().splitlines():
        record = orjson.loads(line)
        if record.get("kind") == "meta":
            meta = record
        elif "user_id" in record:
            users[record["user_id"]] = record
    return meta, users


class OutputFile:
    """A binary line writer; ``.gz`` paths are gzip-compressed reproducibly (mtime 0)."""

    def __init__(self, path: Path, *, compresslevel: int = 6) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self._gz: gzip.GzipFile | None = None
        self._stream: BinaryIO = self._raw
        if path.suffix == ".gz":
            self._gz = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=compresslevel
            )
            self._stream = self._gz  # type: ignore[assignment]

    def write_lines(self, lines: list[bytes]) -> None:
        if lines:
            self._stream.write(b"\n".join(lines))
            self._stream.write(b"\n")

    def close(self) -> None:
        if self._gz is not None:
            self._gz.close()
        self._raw.close()

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The few envelope fields a replay needs before the engine runs: key, event time, type.

Read with a lenient msgspec struct (everything else in the record is skipped), never
raising: a record that cannot be read has no key and no time, and the engine will
dead-letter it with the exact reason.

>>> read_head(b'{"type":"page_view","user_id":"u1","event_time":"1970-01-01T00:00:01Z"}')
Head(key='u1', ts=1.0, type='page_view')
>>> read_head(b'{"anonymous_id":"a1"}').key, read_head(b'not json')
('a1', Head(key=None, ts=None, type=None))
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import msgspec

__all__ = ["Head", "parse_event_time", "read_head"]


class _Envelope(msgspec.Struct):
    type: Any = None
    user_id: Any = None
    anonymous_id: Any = None
    event_time: Any = None


class Head(NamedTuple):
    #: Partition key: ``user_id`` else ``anonymous_id`` (as :func:`streams.commands.produce.user_key`).
    key: str | None
    #: Event time, POSIX seconds (None: missing or unparseable).
    ts: float | None
    type: str | None


_decoder = msgspec.json.Decoder(_Envelope)
_NONE = Head(None, None, None)


def parse_event_time(value: object) -> float | None:
    """RFC 3339 with an offset -> POSIX seconds; anything else -> None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.timestamp()


def read_head(raw: bytes) -> Head:
    try:
        env = _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return _NONE
    k = env.user_id or env.anonymous_id
    etype = env.type
    return Head(
        k if isinstance(k, str) else None,
        parse_event_time(env.event_time),
        etype if isinstance(etype, str) else None,
    )

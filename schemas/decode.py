"""Strict, bounded decoding of input events, with a machine-readable reason on rejection.

Decoding never raises for bad input: :func:`decode_event` returns an event, or a
:class:`Rejection` whose ``reason`` is one of :data:`REJECTION_REASONS` (a small, fixed
set, safe to use as a metric label) and whose ``detail`` says what and where.

>>> decode_event(b'{"type":"page_view"}').reason
'missing_field'
>>> decode_event(b'{"type":"\\xff"}').reason
'invalid_utf8'
>>> decode_event(b'{"type":"teleport","event_id":"e","event_time":"2026-01-01T00:00:00Z"}').reason
'unknown_type'

Hostile input policy (tested in ``tests/unit/hostile/``; fuzzed with hypothesis):

- **Numbers**: NaN, ``Infinity``, ``1e999`` (overflows to inf) and integers past the
  bounds of :mod:`schemas.limits` are ``out_of_range``; ``-0`` / ``-0.0`` is a valid zero.
  Nothing non-finite reaches the core.
- **Size**: records over 64 KiB are ``too_large`` before any parsing (a 1 MB string, or
  10^5 levels of nesting, never reach the parser); an empty record is ``empty``.
- **Nesting**: events are flat (``extra`` traits are scalars); a nested value where a
  scalar is expected is ``wrong_type``; nesting past the parser's depth limit is
  ``too_deep``, even inside an unknown field (shallower unknown fields are ignored).
- **Encoding**: a record that is not valid UTF-8 anywhere (ignored fields included) is
  ``invalid_utf8``; a lone UTF-16 surrogate escape (``"\\ud800"``) is ``malformed_json``.
- **Duplicate keys**: the last occurrence wins (``{"user_id":"a","user_id":"b"}`` is
  user ``b``), as in most JSON parsers; producers must not rely on it.
- **Event time** (checked by the engine, which knows the record's broker timestamp and
  the partition's watermark; deterministic, never the wall clock): an event stamped
  more than ``EngineConfig.max_future_s`` (1 day) after its record's broker timestamp is
  ``future_event``; one more than ``max_past_s`` (400 days, the profile retention)
  behind the partition's watermark is ``too_old``. ``erase`` is never refused for time.

Whatever the input, :func:`decode_event` returns an event or a :class:`Rejection` with a
reason from :data:`REJECTION_REASONS`, and the engine dead-letters the record with it.
"""

from __future__ import annotations

import re

import msgspec

from schemas.events import Event, EventBase
from schemas.limits import MAX_EVENT_BYTES

#: Every reason a record can be rejected or dead-lettered for.
REJECTION_REASONS: tuple[str, ...] = (
    "too_large",
    "empty",
    "invalid_utf8",
    "malformed_json",
    "too_deep",
    "not_an_object",
    "unknown_type",
    "missing_field",
    "wrong_type",
    "out_of_range",
    "too_long",
    "invalid_value",
    "missing_user",
    "unsupported_schema_version",
    "processing_error",
    "future_event",
    "too_old",
)


class Rejection(msgspec.Struct, frozen=True):
    reason: str
    detail: str
    error_class: str = "ValidationError"


_decoder = msgspec.json.Decoder(Event)

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(missing_user|unsupported_schema_version): "), ""),
    (re.compile(r"Object missing required field"), "missing_field"),
    (re.compile(r"Invalid value .* - at `\$\.type`"), "unknown_type"),
    (re.compile(r"Expected `object`, got `\w+`$"), "not_an_object"),
    (re.compile(r"Number out of range|Expected `(int|float)` [<>]="), "out_of_range"),
    (re.compile(r"of length <="), "too_long"),
    (re.compile(r"Invalid enum value|Expected `str` matching|Invalid (RFC3339|datetime)"
                r"|Expected `datetime` with a timezone"), "invalid_value"),
    (re.compile(r"Expected `"), "wrong_type"),
)


def classify_validation_error(message: str) -> str:
    """Map a msgspec validation message to a reason code (see :data:`REJECTION_REASONS`)."""
    for pattern, reason in _RULES:
        m = pattern.search(message)
        if m:
            return reason or m.group(1)
    return "invalid_value"


def decode_event(raw: bytes) -> EventBase | Rejection:
    """Decode and validate one event. Never raises for bad input."""
    if len(raw) > MAX_EVENT_BYTES:
        return Rejection("too_large", f"{len(raw)} bytes > {MAX_EVENT_BYTES}", "SizeError")
    if not raw:
        return Rejection("empty", "empty record", "DecodeError")
    if not raw.isascii():  # ASCII (the usual case) is valid UTF-8: skip the full check
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejection("invalid_utf8", f"invalid UTF-8 at byte {exc.start}", "UnicodeDecodeError")
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        reason = classify_validation_error(msg)
        if reason in ("missing_user", "unsupported_schema_version"):
            msg = msg.split(": ", 1)[1]
        return Rejection(reason, msg, "ValidationError")
    except msgspec.DecodeError as exc:
        return Rejection("malformed_json", str(exc), "DecodeError")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", f"invalid UTF-8 at byte {exc.start}", "UnicodeDecodeError")
    except RecursionError:
        return Rejection("too_deep", "nesting too deep", "RecursionError")

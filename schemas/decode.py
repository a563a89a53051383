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

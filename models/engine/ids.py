"""Deterministic ids: the same input always yields the same output ids.

>>> decision_id("u1", "e1", "home") == decision_id("u1", "e1", "home")
True
>>> len(decision_id("u1", "e1", "home"))
32
"""

from __future__ import annotations

from datetime import UTC, datetime
from hashlib import blake2b


def _digest(*parts: str) -> str:
    return blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def decision_id(user_id: str, event_id: str, placement: str) -> str:
    return _digest("decision", user_id, event_id, placement)


def change_id(user_id: str, segment_id: str, change: str, cause: str) -> str:
    """``cause`` is the triggering event id, or the due time of a time-based change."""
    return _digest("segment-change", user_id, segment_id, change, cause)


def iso(ts: float) -> str:
    """RFC 3339 in UTC for POSIX seconds.

    >>> iso(0.0)
    '1970-01-01T00:00:00+00:00'
    """
    return datetime.fromtimestamp(ts, UTC).isoformat()

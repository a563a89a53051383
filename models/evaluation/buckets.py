"""Time buckets for reports over time: UTC days or ISO weeks (starting Monday).

>>> day_bucket(86400.0 * 3 + 5), week_bucket(86400.0 * 3 + 5)
('1970-01-04', '1969-12-29')
>>> choose_bucket(0.0, 86400.0 * 90), choose_bucket(0.0, 86400.0 * 365)
('day', 'week')
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["bucket_function", "choose_bucket", "day_bucket", "week_bucket"]


def day_bucket(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def week_bucket(ts: float) -> str:
    when = datetime.fromtimestamp(ts, UTC)
    return (when - timedelta(days=when.weekday())).strftime("%Y-%m-%d")


def choose_bucket(min_ts: float | None, max_ts: float | None, max_days: int = 120) -> str:
    """``day`` for spans up to ``max_days`` days, else ``week`` (keeps plots readable)."""
    if min_ts is None or max_ts is None:
        return "day"
    return "day" if (max_ts - min_ts) <= max_days * 86400.0 else "week"


def bucket_function(name: str) -> Callable[[float], str]:
    if name == "day":
        return day_bucket
    if name == "week":
        return week_bucket
    raise ValueError(f"unknown bucket {name!r}: use day or week")

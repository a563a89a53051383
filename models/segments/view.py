"""What rules read: the :class:`ProfileView` protocol (implemented by the profile side).

Window semantics: a window of ``N`` days evaluated at time ``now`` covers the UTC calendar
days ``[day(now) - N + 1, day(now)]`` where ``day(t) = floor(t / 86400)``; ``window_days``
``None`` means all time. The profile implements this; rules only pass ``N``. Consequently
an event on day ``d`` leaves an ``N``-day window at ``(d + N) * 86400`` (the start of day
``d + N``), which is what :meth:`RuleSet.next_due <models.segments.rule_set.RuleSet.next_due>`
schedules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

#: Seconds per day.
DAY_SECONDS = 86400.0


@runtime_checkable
class ProfileView(Protocol):
    """A read-only view of one user's profile at an evaluation time."""

    @property
    def now(self) -> float:
        """Evaluation time, POSIX seconds (event time)."""
        ...

    def count(self, event_type: str, window_days: int | None) -> float:
        """Events of ``event_type`` in the window (None = all time)."""
        ...

    def revenue(self, window_days: int | None) -> float:
        """Purchase revenue net of returns in the window (None = all time)."""
        ...

    def category_count(self, event_type: str, category: str, window_days: int | None) -> float:
        """Events of ``event_type`` on items of ``category`` in the window."""
        ...

    def last_time(self, event_type: str) -> float | None:
        """POSIX seconds of the last event of ``event_type``, None if never."""
        ...

    def field(self, path: str) -> str | int | float | bool | None:
        """A field such as ``traits.age``; None when unknown."""
        ...

    def affinity(self, category: str) -> float:
        """Time-decayed affinity for ``category`` at ``now``."""
        ...

    def affinity_at(self, category: str, value: float) -> float | None:
        """When :meth:`affinity`, decaying with no new event, falls through ``value``
        (POSIX seconds; it may be before ``now``; an affinity equal to ``value`` falls
        through it at once); None if it never does: it is below ``value`` for good, or
        ``value`` <= 0."""
        ...

    def bucket_days(self) -> Iterable[int]:
        """Day indices ``floor(ts / 86400)`` (UTC) holding windowed activity."""
        ...

    def day_has(self, day: int, event_types: tuple[str, ...]) -> bool:
        """True when day ``day`` (a :meth:`bucket_days` index) holds an event of one of
        ``event_types``."""
        ...

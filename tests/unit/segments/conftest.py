"""A dict-backed fake ProfileView for rule tests, implementing the documented window semantics."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import pytest

DAY = 86400.0


@dataclass(frozen=True)
class Ev:
    """One event: type, time (POSIX seconds), optional category, optional amount."""

    type: str
    ts: float
    category: str | None = None
    amount: float = 0.0


@dataclass(frozen=True)
class FakeView:
    now: float
    events: tuple[Ev, ...] = ()
    fields: dict[str, object] = field(default_factory=dict)
    affinities: dict[str, float] = field(default_factory=dict)

    def _in_window(self, ts: float, window_days: int | None) -> bool:
        if window_days is None:
            return True
        today = math.floor(self.now / DAY)
        return today - window_days + 1 <= math.floor(ts / DAY) <= today

    def count(self, event_type: str, window_days: int | None) -> float:
        return float(
            sum(1 for e in self.events if e.type == event_type and self._in_window(e.ts, window_days))
        )

    def revenue(self, window_days: int | None) -> float:
        total = 0.0
        for e in self.events:
            if self._in_window(e.ts, window_days):
                if e.type == "purchase":
                    total += e.amount
                elif e.type == "return":
                    total -= e.amount
        return total

    def category_count(self, event_type: str, category: str, window_days: int | None) -> float:
        return float(
            sum(
                1
                for e in self.events
                if e.type == event_type and e.category == category and self._in_window(e.ts, window_days)
            )
        )

    def last_time(self, event_type: str) -> float | None:
        times = [e.ts for e in self.events if e.type == event_type]
        return max(times) if times else None

    def field(self, path: str):  # type: ignore[no-untyped-def]
        return self.fields.get(path)

    def affinity(self, category: str) -> float:
        return self.affinities.get(category, 0.0)

    def affinity_at(self, category: str, value: float) -> float | None:
        return None  # the fake's affinities do not decay

    def bucket_days(self) -> Iterable[int]:
        return sorted({math.floor(e.ts / DAY) for e in self.events})

    def day_has(self, day: int, event_types: tuple[str, ...]) -> bool:
        return any(math.floor(e.ts / DAY) == day and e.type in event_types for e in self.events)

    def at(self, now: float) -> FakeView:
        """The same profile seen at another time."""
        return replace(self, now=now)


#: A fixed, whole "today" (day 20000 = 2024-10-04 UTC) at noon.
T0 = 20000 * DAY + 12 * 3600


class Fakes:
    """What the tests need from here (conftest modules cannot be imported by name)."""

    View = FakeView
    Ev = Ev
    DAY = DAY
    T0 = T0


@pytest.fixture(scope="session")
def fake() -> type[Fakes]:
    return Fakes

"""A read-only view of a profile at an evaluation time, as the rule language sees it."""

from __future__ import annotations

import math
from collections.abc import Iterable

from models.profiles.profile import REVENUE_KEY, Profile, category_key
from models.profiles.update import DAY, decayed

Scalar = str | int | float | bool | None


class ProfileAt:
    """``profile`` seen at time ``now`` (POSIX seconds); implements the rules' ProfileView."""

    __slots__ = ("_hl", "_now", "_today", "_windows", "profile")

    def __init__(self, profile: Profile, now: float, affinity_half_life_days: float = 14.0):
        self.profile = profile
        self._now = now
        self._today = int(now // DAY)
        self._hl = affinity_half_life_days
        #: window (days, None = all) -> the day buckets inside it, found once per view
        self._windows: dict[int | None, list[dict[str, float]]] = {}

    @property
    def now(self) -> float:
        return self._now

    def _window_sum(self, key: str, window_days: int | None) -> float:
        buckets = self._windows.get(window_days)
        if buckets is None:
            today = self._today
            first = today - window_days + 1 if window_days is not None else None
            buckets = self._windows[window_days] = [
                b for day, b in self.profile.days.items()
                if (first is None or day >= first) and day <= today
            ]
        total = 0.0
        for bucket in buckets:
            total += bucket.get(key, 0.0)
        return total

    def count(self, event_type: str, window_days: int | None) -> float:
        if window_days is None:
            return float(self.profile.counts.get(event_type, 0))
        return self._window_sum(event_type, window_days)

    def revenue(self, window_days: int | None) -> float:
        if window_days is None:
            return self.profile.revenue - self.profile.refunded
        return self._window_sum(REVENUE_KEY, window_days)

    def category_count(self, event_type: str, category: str, window_days: int | None) -> float:
        return self._window_sum(category_key(event_type, category), window_days)

    def last_time(self, event_type: str) -> float | None:
        return self.profile.last_at.get(event_type)

    def affinity(self, category: str) -> float:
        entry = self.profile.affinity.get(category)
        if entry is None:
            return 0.0
        return decayed(entry[0], entry[1], self._now, self._hl)

    def affinity_at(self, category: str, value: float) -> float | None:
        entry = self.profile.affinity.get(category)
        if entry is None or value <= 0.0 or entry[0] < value:
            return None
        # score * 2 ** (-(t - ref) / (half_life * DAY)) == value (see decayed)
        return entry[1] + self._hl * DAY * math.log2(entry[0] / value)

    def bucket_days(self) -> Iterable[int]:
        return self.profile.days.keys()

    def day_has(self, day: int, event_types: tuple[str, ...]) -> bool:
        bucket = self.profile.days.get(day)
        if bucket is None:
            return False
        # every event counts its type in its day's bucket; a loop, not any(): no generator
        for event_type in event_types:  # noqa: SIM110
            if event_type in bucket:
                return True
        return False

    def field(self, path: str) -> Scalar:
        p = self.profile
        if path.startswith("traits."):
            return p.traits.get(path[7:])
        if path.startswith("consent."):
            return p.consent.get(path[8:])
        if path == "profile.days_since_first_seen":
            return (self._now - p.first_seen) / DAY
        if path == "profile.sessions":
            return p.sessions
        if path == "profile.events":
            return sum(p.counts.values())
        if path == "profile.avg_order_value":
            return (p.revenue - p.refunded) / p.orders if p.orders else None
        if path == "profile.cart_items":
            return sum(p.cart.values())
        return None

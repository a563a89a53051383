"""Due times for time-based segment changes ("no purchase for 60 days").

A min-heap of ``(due, user_id)``. Entries are never removed in place: when one pops,
the caller checks it against the profile's current ``next_due`` and drops stale ones.

>>> s = Schedule()
>>> s.add(20.0, "b"); s.add(10.0, "a"); s.add(10.0, "c")
>>> s.pop_due(15.0)
[(10.0, 'a'), (10.0, 'c')]
"""

from __future__ import annotations

import heapq


class Schedule:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def add(self, due: float, user_id: str) -> None:
        heapq.heappush(self._heap, (due, user_id))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[float, str]]:
        out = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap))
        return out

    def __len__(self) -> int:
        return len(self._heap)

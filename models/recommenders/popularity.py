"""Per-segment item popularity with exponential time decay (forward decay).

The ranked list per segment (its best ``cache_size`` items) is cached: it is rebuilt from
every score when an item outside it overtakes its last entry; otherwise only the cached
items are re-sorted, every ``refresh_every`` updates (the order *inside* the cached list may
lag that many updates). Stored scores only grow, so an item outside the list that has not
passed the last entry's score at the rebuild (the ``floor``) cannot belong in it.

Scores are stored forward-decayed: an interaction of weight ``w`` at time ``t`` adds
``w * 2 ** ((t - anchor) / half_life)``. Ranking by stored score equals ranking by
decayed score at any later time, so nothing is rewritten as time passes; the anchor
moves (and all scores are rescaled) only when the exponent grows large.

>>> pop = SegmentPopularity(half_life_days=7.0, max_items=10)
>>> pop.learn_one(("a",), "sku-1", "outdoor", 1.0, 0.0)
>>> pop.learn_one(("a",), "sku-2", "outdoor", 2.0, 0.0)
>>> [item for item, _, _ in pop.top("a", 5)]
['sku-2', 'sku-1']
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Sequence

import msgspec

from models.recommenders.decay import forward_gain

#: Pseudo-segment holding global popularity (every interaction counts there too).
GLOBAL = "*"

#: ``stale`` value meaning "an outsider overtook the cached list: rebuild from all scores"
#: (kept in the serialized ``stale`` map so a restored engine ranks exactly as a live one).
OVERTAKEN = 1 << 40



class PopularityState(msgspec.Struct, kw_only=True):
    """Serializable learned state of :class:`SegmentPopularity` (msgpack, no pickle)."""

    anchor: float | None
    scores: dict[str, dict[str, float]]
    totals: dict[str, float]
    category: dict[str, str | None]
    top: dict[str, list[str]]
    floor: dict[str, float]
    stale: dict[str, int]


class SegmentPopularity:
    def __init__(
        self, half_life_days: float = 7.0, max_items: int = 500, refresh_every: int = 256,
        cache_size: int = 100,
    ) -> None:
        self.half_life_days = half_life_days
        self.max_items = max_items
        self.refresh_every = refresh_every
        self.cache_size = cache_size
        self._anchor: float | None = None
        self._scores: dict[str, dict[str, float]] = {}
        self._totals: dict[str, float] = {}
        self._category: dict[str, str | None] = {}
        self._top: dict[str, list[str]] = {}
        self._top_set: dict[str, set[str]] = {}
        self._floor: dict[str, float] = {}
        self._stale: dict[str, int] = {}

    def _gain(self, ts: float) -> float:
        self._anchor, gain, factor = forward_gain(self._anchor, ts, self.half_life_days)
        if factor != 1.0:
            for scores in self._scores.values():
                for item in scores:
                    scores[item] *= factor
            for seg in self._totals:
                self._totals[seg] *= factor
            for seg in self._floor:
                self._floor[seg] *= factor
        return gain

    def learn_one(
        self, segments: Sequence[str], item_id: str, category: str | None, weight: float, ts: float
    ) -> None:
        """Count an interaction with ``item_id`` for each of ``segments`` and globally."""
        gain = weight * self._gain(ts)
        if category is not None or item_id not in self._category:
            self._category[item_id] = category
        for seg in (GLOBAL, *segments):
            scores = self._scores.get(seg)
            if scores is None:
                scores = self._scores[seg] = {}
            score = scores[item_id] = scores.get(item_id, 0.0) + gain
            self._totals[seg] = self._totals.get(seg, 0.0) + gain
            top_set = self._top_set.get(seg)
            if top_set is not None and item_id not in top_set:
                if len(top_set) < self.cache_size:  # room in the cached top: join it now
                    top_set.add(item_id)
                    self._top[seg].append(item_id)
                elif score > self._floor.get(seg, 0.0):  # a newcomer overtook the last entry
                    self._stale[seg] = OVERTAKEN
            self._stale[seg] = self._stale.get(seg, self.refresh_every) + 1
            if len(scores) > 2 * self.max_items:
                self._prune(seg)

    def _prune(self, seg: str) -> None:
        scores = self._scores[seg]
        keep = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_items]
        self._scores[seg] = dict(keep)
        live = set()
        for s in self._scores.values():
            live.update(s)
        self._category = {k: v for k, v in self._category.items() if k in live}

    def _ranked(self, seg: str) -> list[str]:
        stale = self._stale.get(seg, 0)
        if stale < self.refresh_every and seg in self._top:
            return self._top[seg]
        scores = self._scores.get(seg, {})
        if stale >= OVERTAKEN or seg not in self._top:
            # ties keep the scores' insertion order (deterministic: event order, kept by
            # the msgpack state), which spares a Python key function over every item
            top = heapq.nlargest(self.cache_size, scores, key=scores.__getitem__)
            self._top_set[seg] = set(top)
            self._floor[seg] = scores[top[-1]] if len(top) == self.cache_size else 0.0
        else:  # only the order inside the list may have changed
            top = sorted(self._top[seg], key=lambda item: scores.get(item, 0.0), reverse=True)
        self._top[seg] = top
        self._stale[seg] = 0
        return top

    def top(
        self, segment: str, k: int, exclude: Container[str] = ()
    ) -> list[tuple[str, float, str | None]]:
        """Up to ``k`` items of ``segment``, best first: (item, share of the segment, category)."""
        scores = self._scores.get(segment)
        if not scores:
            return []
        total = self._totals[segment] or 1.0
        out = []
        for item in self._ranked(segment):
            if item in exclude or item not in scores:
                continue
            out.append((item, scores[item] / total, self._category.get(item)))
            if len(out) == k:
                break
        return out

    def to_state(self) -> PopularityState:
        return PopularityState(
            anchor=self._anchor, scores=self._scores, totals=self._totals,
            category=self._category, top=self._top, floor=self._floor, stale=self._stale,
        )

    def load_state(self, state: PopularityState) -> None:
        self._anchor = state.anchor
        self._scores = state.scores
        self._totals = state.totals
        self._category = state.category
        self._top = state.top
        self._top_set = {seg: set(items) for seg, items in state.top.items()}
        self._floor = state.floor
        self._stale = state.stale

    def category_of(self, item_id: str) -> str | None:
        return self._category.get(item_id)

    def segments(self) -> list[str]:
        return sorted(self._scores)

    def forget_item(self, item_id: str) -> None:
        """Drop an item everywhere (e.g. removed from the catalogue)."""
        for seg, scores in self._scores.items():
            if item_id in scores:
                self._totals[seg] -= scores.pop(item_id)
                self._stale[seg] = OVERTAKEN
        self._category.pop(item_id, None)

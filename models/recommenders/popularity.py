"""Per-segment item popularity with exponential time decay (forward decay).

Each segment keeps its best ``cache_size`` items as a list sorted by score, maintained
exactly as interactions arrive: stored scores only grow, so an interaction moves its item
up the list (a few swaps), and an item outside the list enters it only by passing the
last entry, which it then replaces. Every item outside the list scores at most the last
entry, so the list always is the top of the segment. Reading a ranking changes nothing;
ties keep the order in which items reached the score (event order), so a restored engine
ranks exactly as a live one.

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
from bisect import bisect_left, bisect_right
from collections.abc import Container, Sequence

from models.recommenders.decay import forward_gain
from models.recommenders.state import PopularityState

#: Pseudo-segment holding global popularity (every interaction counts there too).
GLOBAL = "*"

_NONE: list[str] = []


class SegmentPopularity:
    def __init__(self, half_life_days: float = 7.0, max_items: int = 500, cache_size: int = 100) -> None:
        self.half_life_days = half_life_days
        self.max_items = max_items
        self.cache_size = cache_size
        self._anchor: float | None = None
        self._scores: dict[str, dict[str, float]] = {}
        self._totals: dict[str, float] = {}
        self._category: dict[str, str | None] = {}
        self._top: dict[str, list[str]] = {}
        self._top_set: dict[str, set[str]] = {}
        #: Per segment, minus the scores of its top list, in list order (ascending), so an
        #: item's place is found by bisection, not by a scan of the list; derived, not state.
        self._neg: dict[str, list[float]] = {}
        self._cat_totals: dict[str, dict[str, float]] = {}
        #: Sorted segment ids, derived (None: to rebuild); not state.
        self._segment_ids: list[str] | None = None

    def _gain(self, ts: float) -> float:
        self._anchor, gain, factor = forward_gain(self._anchor, ts, self.half_life_days)
        if factor != 1.0:
            for scores in self._scores.values():
                for item in scores:
                    scores[item] *= factor
            for seg in self._totals:
                self._totals[seg] *= factor
            for cats in self._cat_totals.values():
                for cat in cats:
                    cats[cat] *= factor
            for seg, scores in self._scores.items():
                self._neg[seg] = [-scores[item] for item in self._top[seg]]
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
                self._segment_ids = None
                self._top[seg] = []
                self._top_set[seg] = set()
                self._neg[seg] = []
            old = scores.get(item_id, 0.0)
            score = scores[item_id] = old + gain
            self._totals[seg] = self._totals.get(seg, 0.0) + gain
            if category is not None:
                cats = self._cat_totals.get(seg)
                if cats is None:
                    cats = self._cat_totals[seg] = {}
                cats[category] = cats.get(category, 0.0) + gain
            top, top_set, neg = self._top[seg], self._top_set[seg], self._neg[seg]
            # the list is sorted by score, best first; ties in the order items reached the
            # score: an item moves up past strictly lower scores only
            if item_id in top_set:
                i = bisect_left(neg, -old)
                while top[i] != item_id:  # past the items that tie with its old score
                    i += 1
                j = bisect_right(neg, -score, 0, i)
                if j == i:
                    neg[i] = -score
                    j = -1
                else:
                    del top[i], neg[i]
            elif len(top) < self.cache_size:
                top_set.add(item_id)
                j = bisect_right(neg, -score)
            elif score > scores[top[-1]]:  # it passed the last entry: it takes its place
                top_set.discard(top.pop())
                neg.pop()
                top_set.add(item_id)
                j = bisect_right(neg, -score)
            else:
                j = -1
            if j >= 0:
                top.insert(j, item_id)
                neg.insert(j, -score)
            if len(scores) > 2 * self.max_items:
                self._prune(seg)

    def _prune(self, seg: str) -> None:
        """Keep the segment's top list and its best other items, ``max_items`` in all."""
        scores = self._scores[seg]
        top_set = self._top_set[seg]
        rest = sorted(((-s, k) for k, s in scores.items() if k not in top_set))
        keep = set(top_set)
        keep.update(k for _, k in rest[: max(0, self.max_items - len(top_set))])
        self._scores[seg] = {k: s for k, s in scores.items() if k in keep}
        live: set[str] = set()
        for s in self._scores.values():
            live.update(s)
        self._category = {k: v for k, v in self._category.items() if k in live}

    def _rebuild(self, seg: str) -> None:
        """The top list from every score (state from an older release, a forgotten item)."""
        scores = self._scores.get(seg, {})
        # ties keep the scores' insertion order (deterministic: event order, kept by msgpack)
        top = heapq.nlargest(self.cache_size, scores, key=scores.__getitem__)
        self._top[seg] = top
        self._top_set[seg] = set(top)
        self._neg[seg] = [-scores[item] for item in top]

    def top(
        self, segment: str, k: int, exclude: Container[str] = ()
    ) -> list[tuple[str, float, str | None]]:
        """Up to ``k`` items of ``segment``, best first: (item, share of the segment, category)."""
        scores = self._scores.get(segment)
        if not scores:
            return []
        total = self._totals[segment] or 1.0
        category = self._category
        out = []
        for item in self._top[segment]:
            if item in exclude:
                continue
            out.append((item, scores[item] / total, category.get(item)))
            if len(out) == k:
                break
        return out

    def to_state(self) -> PopularityState:
        return PopularityState(
            anchor=self._anchor, scores=self._scores, totals=self._totals,
            category=self._category, top=self._top, exact=True, category_totals=self._cat_totals,
        )

    def load_state(self, state: PopularityState) -> None:
        self._segment_ids = None
        self._anchor = state.anchor
        self._scores = state.scores
        self._totals = state.totals
        self._category = state.category
        self._top = state.top
        self._top_set = {seg: set(items) for seg, items in state.top.items()}
        self._cat_totals = state.category_totals
        for seg, scores in self._scores.items():
            if seg not in self._cat_totals:  # state from an older release
                cats: dict[str, float] = {}
                for item, score in scores.items():
                    cat = self._category.get(item)
                    if cat is not None:
                        cats[cat] = cats.get(cat, 0.0) + score
                self._cat_totals[seg] = cats
        for seg in self._scores:
            if not state.exact or seg not in self._top:
                self._rebuild(seg)
        self._neg = {seg: [-scores[item] for item in self._top[seg]]
                     for seg, scores in self._scores.items()}

    def ranking(self, segment: str) -> list[str]:
        """The segment's best items, best first (the :meth:`top` order; a read-only view,
        empty for an unknown segment)."""
        return self._top.get(segment, _NONE)

    def top_items(self, segment: str, k: int) -> list[str]:
        """The ids of :meth:`top` with no exclusion (no shares, no categories: cheaper)."""
        if not self._scores.get(segment):
            return []
        return self._top[segment][:k]

    def shares(self, segment: str) -> tuple[dict[str, float], float]:
        """``(item -> decayed score, divisor)``: ``scores.get(item, 0.0) / divisor`` is
        :meth:`share` of every item (read-only view; for loops over many items)."""
        scores = self._scores.get(segment)
        if not scores:
            return {}, 1.0
        return scores, self._totals[segment] or 1.0

    def share(self, segment: str, item_id: str) -> float:
        """The item's share of the segment's (decayed) interactions; 0 if unseen."""
        scores = self._scores.get(segment)
        if not scores:
            return 0.0
        return scores.get(item_id, 0.0) / (self._totals[segment] or 1.0)

    def category_totals(self, segment: str) -> tuple[dict[str, float], float]:
        """``(category -> decayed score, segment total)``: read-only views."""
        return self._cat_totals.get(segment, {}), self._totals.get(segment, 0.0)

    def item_scores(self, segment: str) -> dict[str, float]:
        """Item -> decayed score in ``segment`` (a read-only view)."""
        return self._scores.get(segment, {})

    def categories(self) -> dict[str, str | None]:
        """Item -> category (a read-only view; ``categories().get`` is :meth:`category_of`)."""
        return self._category

    def category_of(self, item_id: str) -> str | None:
        return self._category.get(item_id)

    def segments(self) -> list[str]:
        """Every segment with interactions, sorted (a read-only list: the same object until
        a segment is added)."""
        if self._segment_ids is None:
            self._segment_ids = sorted(self._scores)
        return self._segment_ids

    def forget_item(self, item_id: str) -> None:
        """Drop an item everywhere (e.g. removed from the catalogue)."""
        for seg, scores in self._scores.items():
            if item_id in scores:
                score = scores.pop(item_id)
                self._totals[seg] -= score
                cat = self._category.get(item_id)
                cats = self._cat_totals.get(seg)
                if cat is not None and cats is not None and cat in cats:
                    cats[cat] -= score
                if item_id in self._top_set[seg]:
                    self._rebuild(seg)
        self._category.pop(item_id, None)

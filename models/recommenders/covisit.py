"""Item co-occurrence (co-visitation) in sessions and baskets, time-decayed and bounded.

Two items viewed or carted close together in a session, or bought together, count as a
pair (both directions). Weights are forward-decayed like :mod:`models.recommenders.popularity`
(an interaction at ``t`` adds ``w * 2 ** ((t - anchor) / half_life)``), so ranking a
neighbour list at any later time needs no rewrite. Memory is bounded: at most
``max_items`` items (least recently updated dropped first) with at most
``max_neighbors`` neighbours each (weakest dropped).

>>> cv = CoVisitation(half_life_days=7.0)
>>> cv.learn_pair("tent", "stove", 1.0, 0.0)
>>> cv.learn_pair("tent", "mat", 2.0, 0.0)
>>> [item for item, _ in cv.neighbors("tent", 5)]
['mat', 'stove']
"""

from __future__ import annotations

from models.recommenders.decay import forward_gain
from models.recommenders.state import CoVisitationState


class CoVisitation:
    def __init__(
        self, half_life_days: float = 14.0, max_items: int = 20_000, max_neighbors: int = 30
    ) -> None:
        self.half_life_days = half_life_days
        self.max_items = max_items
        self.max_neighbors = max_neighbors
        self._anchor: float | None = None
        self._nbrs: dict[str, dict[str, float]] = {}
        # derived caches, not state: per item its strongest neighbours in order (kept up to
        # date as weights grow), and the shares last read (until its weights change)
        self._order: dict[str, list[str]] = {}
        self._top: dict[str, tuple[int, list[tuple[str, float]]]] = {}

    def _gain(self, ts: float) -> float:
        self._anchor, gain, factor = forward_gain(self._anchor, ts, self.half_life_days)
        if factor != 1.0:
            self._order.clear()  # rescaled weights may tie where they did not
            self._top.clear()
            for nb in self._nbrs.values():
                for k in nb:
                    nb[k] *= factor
        return gain

    def _add(self, a: str, b: str, g: float) -> None:
        self._top.pop(a, None)
        nb = self._nbrs.pop(a, None)  # re-insert: dict order is update recency
        if nb is None:
            nb = {}
        self._nbrs[a] = nb
        old = nb.get(b)
        w = nb[b] = (0.0 if old is None else old) + g
        if len(nb) > 2 * self.max_neighbors:
            self._nbrs[a] = {i: nb[i] for i in _strongest(nb)[: self.max_neighbors]}
            self._order.pop(a, None)
        else:
            order = self._order.get(a)
            if order is not None:
                if g >= 0.0:
                    self._promote(order, nb, b, w)
                else:
                    del self._order[a]
        while len(self._nbrs) > self.max_items:
            gone = next(iter(self._nbrs))
            del self._nbrs[gone]
            self._order.pop(gone, None)
            self._top.pop(gone, None)

    def _promote(self, order: list[str], nb: dict[str, float], b: str, w: float) -> None:
        """Keep ``order`` the strongest ``max_neighbors`` of ``nb`` (ties by id) after the
        weight of ``b`` grew to ``w`` (no other weight changed)."""
        if b in order:
            i = order.index(b)
        elif len(order) < self.max_neighbors:  # ``order`` held every neighbour: b is new
            order.append(b)
            i = len(order) - 1
        else:
            last = order[-1]
            wl = nb[last]
            if w < wl or (w == wl and b > last):
                return
            i = len(order) - 1
        while i > 0:
            prev = order[i - 1]
            wp = nb[prev]
            if wp > w or (wp == w and prev < b):
                break
            order[i] = prev
            i -= 1
        order[i] = b

    def learn_pair(self, a: str, b: str, weight: float, ts: float) -> None:
        """Count ``a`` and ``b`` seen together (both directions)."""
        if a == b:
            return
        g = weight * self._gain(ts)
        self._add(a, b, g)
        self._add(b, a, g)

    def neighbors(self, item: str, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` items seen with ``item``, strongest first, with the weight relative
        to the item's total (a share in [0, 1])."""
        cached = self._top.get(item)
        if cached is not None and cached[0] >= k:
            return cached[1][:k]
        nb = self._nbrs.get(item)
        if not nb:
            return []
        order = self._order.get(item)
        if order is None:
            order = self._order[item] = _strongest(nb)[: self.max_neighbors]
        total = sum(nb.values()) or 1.0
        top = [(i, nb[i] / total) for i in order[:k]]
        self._top[item] = (k, top)
        return top[:]

    def forget_item(self, item_id: str) -> None:
        self._order.clear()
        self._top.clear()
        self._nbrs.pop(item_id, None)
        for nb in self._nbrs.values():
            nb.pop(item_id, None)

    def __len__(self) -> int:
        return len(self._nbrs)

    def to_state(self) -> CoVisitationState:
        return CoVisitationState(anchor=self._anchor, neighbors=self._nbrs)

    def load_state(self, state: CoVisitationState) -> None:
        self._anchor = state.anchor
        self._nbrs = {k: dict(v) for k, v in state.neighbors.items()}
        self._order = {}
        self._top = {}


def _strongest(weights: dict[str, float]) -> list[str]:
    """Keys by weight, strongest first, ties by id (two C sorts: the second is stable)."""
    order = sorted(weights)
    order.sort(key=weights.__getitem__, reverse=True)
    return order

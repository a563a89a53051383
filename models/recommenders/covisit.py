"""Item co-occurrence (co-visitation) in sessions and baskets, time-decayed and bounded.

Two items viewed or carted close together in a session, or bought together, count as a
pair (both directions). Weights are forward-decayed like :mod:`models.recommenders.popularity`
(an interaction at ``t`` adds ``w * 2 ** ((t - anchor) / half_life)``), so ranking a
neighbour list at any later time needs no rewrite. Memory is bounded: at most
``max_items`` items (least recently updated dropped first) with at most
``max_neighbors`` neighbours each (weakest dropped).

Checkpoints need not carry the whole table: it grows with the catalogue (up to
``max_items`` lists of up to ``2 * max_neighbors`` weights, megabytes), while a second of
traffic changes a few hundred lists. :meth:`take_changes` gives the lists changed since
the last take (``None`` for a list dropped), each with a sequence number that orders the
lists by their last update; the table is rebuilt from the latest of every list in that
order (:func:`neighbors_from_parts`), so the least recently updated list is still the
first dropped after a restore.

>>> cv = CoVisitation(half_life_days=7.0)
>>> cv.learn_pair("tent", "stove", 1.0, 0.0)
>>> cv.learn_pair("tent", "mat", 2.0, 0.0)
>>> [item for item, _ in cv.neighbors("tent", 5)]
['mat', 'stove']
"""

from __future__ import annotations

from collections.abc import Iterable

from models.recommenders.decay import forward_gain
from models.recommenders.state import CoVisitationState

#: A list as a checkpoint part: (sequence number, neighbour weights in insertion order).
Part = tuple[int, dict[str, float]]


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
        #: Items whose list changed (or was dropped) since the last take_changes, in the
        #: order of their last change (as ``_nbrs``: a take need not walk the whole table);
        #: every item after a rescale. ``_seq``: the last sequence number given to a list.
        self._dirty: dict[str, None] = {}
        self._all_dirty = True
        self._seq = 0

    def _gain(self, ts: float) -> float:
        self._anchor, gain, factor = forward_gain(self._anchor, ts, self.half_life_days)
        if factor != 1.0:
            self._order.clear()  # rescaled weights may tie where they did not
            self._top.clear()
            self._all_dirty = True
            for nb in self._nbrs.values():
                for k in nb:
                    nb[k] *= factor
        return gain

    def _add(self, a: str, b: str, g: float) -> None:
        self._top.pop(a, None)
        dirty = self._dirty
        if a in dirty:
            del dirty[a]  # re-insert: the same order as _nbrs
        dirty[a] = None
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
            self._dirty[gone] = None
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
        if self._nbrs.pop(item_id, None) is not None:
            self._dirty[item_id] = None
        for nb in self._nbrs.values():
            nb.pop(item_id, None)
        # lists changed where they stand, not moved to the end of the update order: only
        # a take of every list keeps the parts' sequence in that order (rare: an item
        # leaving the catalogue)
        self._all_dirty = True

    def take_changes(self) -> dict[str, Part | None]:
        """The lists changed since the last take (all of them after a rescale or a load
        of a whole table), in update order with new sequence numbers, and ``None`` for the
        lists dropped meanwhile. What was taken counts as unchanged from now on (see
        :meth:`return_changes`)."""
        out: dict[str, Part | None] = {}
        nbrs = self._nbrs
        seq = self._seq
        if self._all_dirty:
            for item, nb in nbrs.items():
                seq += 1
                out[item] = (seq, nb)
        for item in self._dirty:  # in the order of _nbrs (see _add)
            changed = nbrs.get(item)
            if changed is None:
                out[item] = None
            elif not self._all_dirty:
                seq += 1
                out[item] = (seq, changed)
        self._seq = seq
        self._dirty = {}
        self._all_dirty = False
        return out

    def return_changes(self, items: Iterable[str]) -> None:
        """Lists taken by a checkpoint that did not commit (``items`` in the order taken):
        taken again by the next one. They changed before every list changed since, so they
        go first, as they stand in ``_nbrs``."""
        dirty = self._dirty
        self._dirty = {**{item: None for item in items if item not in dirty}, **dirty}

    def __len__(self) -> int:
        return len(self._nbrs)

    def to_state(self, *, lists: bool = True) -> CoVisitationState:
        """The whole table, or with ``lists=False`` all but the lists (checkpoints carry
        those as parts: :meth:`take_changes`)."""
        if lists:
            return CoVisitationState(anchor=self._anchor, neighbors=self._nbrs, seq=self._seq)
        return CoVisitationState(anchor=self._anchor, neighbors={}, seq=self._seq, in_parts=True)

    def load_state(self, state: CoVisitationState, *, changed: bool = True) -> None:
        """Load a whole table. ``changed=False``: it was rebuilt from the parts a
        checkpoint store holds, which need not be written again."""
        self._anchor = state.anchor
        self._nbrs = {k: dict(v) for k, v in state.neighbors.items()}
        self._order = {}
        self._top = {}
        self._seq = state.seq
        self._dirty = {}
        self._all_dirty = changed


def neighbors_from_parts(parts: Iterable[tuple[str, Part]]) -> dict[str, dict[str, float]]:
    """The table from the latest part of every list (dropped lists left out), in the
    order of their sequence numbers: the order of their last update."""
    ordered = sorted(parts, key=lambda part: part[1][0])
    return {item: nb for item, (_, nb) in ordered}


def _strongest(weights: dict[str, float]) -> list[str]:
    """Keys by weight, strongest first, ties by id (two C sorts: the second is stable)."""
    order = sorted(weights)
    order.sort(key=weights.__getitem__, reverse=True)
    return order

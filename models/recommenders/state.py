"""The recommenders' checkpointed state (msgpack, no pickle).

Kept apart from the classes that learn it: those are compiled with mypyc (setup.py), and a
msgspec Struct must stay a plain Python class.
"""

from __future__ import annotations

import msgspec


class CoVisitationState(msgspec.Struct, kw_only=True):
    anchor: float | None
    neighbors: dict[str, dict[str, float]]
    #: The last sequence number given to a list in a checkpoint part.
    seq: int = 0
    #: True in a checkpoint's core state: the lists are in parts of their own, not here
    #: (see models.engine.checkpoint).
    in_parts: bool = False


class PopularityState(msgspec.Struct, kw_only=True):
    """Serializable learned state of :class:`SegmentPopularity` (msgpack, no pickle)."""

    anchor: float | None
    scores: dict[str, dict[str, float]]
    totals: dict[str, float]
    category: dict[str, str | None]
    #: Per segment, its best items in rank order (exact when ``exact``).
    top: dict[str, list[str]]
    #: Written by releases before the exact top lists (lagging order); ignored now.
    floor: dict[str, float] = {}
    stale: dict[str, int] = {}
    #: False for state written before the top lists were exact: rebuilt on load.
    exact: bool = False
    #: Per segment, the decayed score of each category (absent in older state: rebuilt
    #: from the item scores on load).
    category_totals: dict[str, dict[str, float]] = {}


class RankerState(msgspec.Struct, kw_only=True):
    weights: dict[str, float]
    intercept: float
    updates: int

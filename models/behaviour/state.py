"""The behavioural segmenter's checkpointed state (msgpack, no pickle).

Kept apart from :mod:`models.behaviour.segmenter`, which is compiled with mypyc (setup.py):
a msgspec Struct must stay a plain Python class.
"""

from __future__ import annotations

import msgspec


class DetectorState(msgspec.Struct, kw_only=True):
    n: float
    mean: float
    sum_increase: float
    sum_decrease: float
    min_increase: float
    max_decrease: float


class SegmenterState(msgspec.Struct, kw_only=True):
    """Serializable learned state of :class:`BehaviouralSegmenter`."""

    vocab: list[str]
    buffer: list[dict[str, float]]
    centers: list[dict[str, float]] | None
    halflife: float
    boost_left: int
    learned: int
    drifts: int
    detector: DetectorState
    labels: list[str]

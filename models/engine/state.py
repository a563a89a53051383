"""The checkpointed, non-profile state of one partition engine (msgpack, no pickle).

Kept apart from :mod:`models.engine.engine`, which is compiled with mypyc (setup.py): a
msgspec Struct must stay a plain Python class.
"""

from __future__ import annotations

import msgspec

from models.behaviour.state import SegmenterState
from models.offers.chooser import OfferState
from models.recommenders.state import CoVisitationState, PopularityState, RankerState

#: Name prefix of a checkpoint part holding one item's co-visitation list.
COVISIT_PART = "cv:"


class EngineState(msgspec.Struct, kw_only=True):
    """The checkpointed, non-profile state of one partition engine."""

    watermark: float | None
    popularity: PopularityState
    segmenter: SegmenterState | None = None
    trending: PopularityState | None = None
    steady: PopularityState | None = None
    covisit: CoVisitationState | None = None
    ranker: RankerState | None = None
    offers: OfferState | None = None

"""Behavioural segments: per-user behaviour vectors clustered online, with hysteresis."""

from models.behaviour.segmenter import SEGMENT_PREFIX, BehaviouralSegmenter, Move, SegmenterState
from models.behaviour.vector import SPEND_KEY, category_mix, fold_interaction

__all__ = [
    "SEGMENT_PREFIX",
    "SPEND_KEY",
    "BehaviouralSegmenter",
    "Move",
    "SegmenterState",
    "category_mix",
    "fold_interaction",
]

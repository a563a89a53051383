"""Recommenders: candidate generation and ranking of items."""

from models.recommenders.popularity import GLOBAL, SegmentPopularity

__all__ = ["GLOBAL", "SegmentPopularity"]

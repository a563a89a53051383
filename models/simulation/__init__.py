"""Offline evaluation helpers: quality metrics and the prequential recommendation protocol."""

from models.simulation.metrics import adjusted_rand_index, median
from models.simulation.prequential import HitRate, prequential_hit_rate

__all__ = ["HitRate", "adjusted_rand_index", "median", "prequential_hit_rate"]

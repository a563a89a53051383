"""Record sources: real data sets turned into event records for replay.

- :mod:`streams.sources.online_retail`: the UCI "Online Retail" purchase log (CSV) as
  ``purchase`` / ``return`` / ``identify`` events, losing no row.
- :mod:`streams.sources.categories`: the keyword categorizer for product descriptions.
"""

from streams.sources.categories import CATEGORIES as SOURCE_CATEGORIES
from streams.sources.categories import categorize
from streams.sources.online_retail import (
    OnlineRetailSummary,
    iter_online_retail,
    load_online_retail,
)
from streams.sources.record import SourceRecord

__all__ = [
    "SOURCE_CATEGORIES",
    "OnlineRetailSummary",
    "SourceRecord",
    "categorize",
    "iter_online_retail",
    "load_online_retail",
]

"""Synthetic clickstream generator with a known ground truth.

:func:`generate` writes a JSONL file of events (every line decodes with
:func:`schemas.decode.decode_event`, except a chosen fraction of deliberately malformed
lines) sorted by event time, plus a truth file naming each user's latent taste group and
when it changed. See :mod:`streams.generator.engine` for how it stays fast and bounded.
"""

from streams.generator.catalog import CATEGORIES, Catalog, build_catalog
from streams.generator.engine import DEFAULT_START, GenerateSummary, generate
from streams.generator.malformed import KINDS as MALFORMED_KINDS
from streams.generator.population import GROUPS, TasteGroup
from streams.generator.writer import truth_path

__all__ = [
    "CATEGORIES",
    "DEFAULT_START",
    "GROUPS",
    "MALFORMED_KINDS",
    "Catalog",
    "GenerateSummary",
    "TasteGroup",
    "build_catalog",
    "generate",
    "truth_path",
]

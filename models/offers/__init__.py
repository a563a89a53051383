"""Offers: the validated, immutable catalogue of placements, variants and experiments.

Pure: built from validated control records (:mod:`schemas.control`), no I/O. The worker
folds the ``personalization.offers`` control topic into an :class:`OfferCatalog`
(``streams.control``); the decision policy reads it.
"""

from models.offers.catalog import (
    MAX_PLACEMENTS,
    Experiment,
    OfferCatalog,
    Placement,
    Variant,
    catalog_version,
)

__all__ = ["MAX_PLACEMENTS", "Experiment", "OfferCatalog", "Placement", "Variant", "catalog_version"]

"""Offers: the validated, immutable catalogue of placements, variants and experiments, and
the policy that chooses a variant per decision (bandits per segment, reward attribution,
experiments and holdouts, frequency caps, cooldowns), with the offline lift report.

Pure: built from validated control records (:mod:`schemas.control`), no I/O. The worker
folds the ``personalization.offers`` control topic into an :class:`OfferCatalog`
(``streams.control``) and hands it to each engine (``Engine.set_offers``).
"""

from models.offers.attribution import Attribution, AttributionState, Pending
from models.offers.caps import CapRule, capped, record_exposure, record_response
from models.offers.catalog import (
    MAX_PLACEMENTS,
    Experiment,
    OfferCatalog,
    Placement,
    Variant,
    catalog_version,
)
from models.offers.chooser import GLOBAL_CONTEXT, OfferDecision, OfferState, VariantChooser
from models.offers.experiments import assign, bucket
from models.offers.lift import LiftReport, lift_report

__all__ = [
    "GLOBAL_CONTEXT",
    "MAX_PLACEMENTS",
    "Attribution",
    "AttributionState",
    "CapRule",
    "Experiment",
    "LiftReport",
    "OfferCatalog",
    "OfferDecision",
    "OfferState",
    "Pending",
    "Placement",
    "Variant",
    "VariantChooser",
    "assign",
    "bucket",
    "capped",
    "catalog_version",
    "lift_report",
    "record_exposure",
    "record_response",
]

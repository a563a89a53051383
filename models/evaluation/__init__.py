"""Offline evaluation of the core, prequential (predict, then learn), pure: no I/O.

- :class:`PrequentialEvaluator`: hit-rate@k and coverage vs. a global-popularity
  baseline over time, segment sizes and transitions, revenue and conversion per segment.
- :func:`predict_before`: what the engine (and the baseline, same candidate rules)
  would recommend to a user before an event is learned, without changing anything.
- :class:`Section`: pluggable report sections (policy value, experiment lift), which
  say "not available" with the reason until their estimators land.
"""

from models.evaluation.buckets import bucket_function, choose_bucket
from models.evaluation.predict import Prediction, predict_before
from models.evaluation.prequential import PROTOCOL, PrequentialEvaluator
from models.evaluation.sections import (
    DEFAULT_SECTIONS,
    ExperimentLiftSection,
    PolicyValueSection,
    Section,
)

__all__ = [
    "DEFAULT_SECTIONS",
    "PROTOCOL",
    "ExperimentLiftSection",
    "PolicyValueSection",
    "Prediction",
    "PrequentialEvaluator",
    "Section",
    "bucket_function",
    "choose_bucket",
    "predict_before",
]

"""Offline evaluation of the core, prequential (predict, then learn), pure: no I/O.

- :class:`PrequentialEvaluator`: hit-rate@k and coverage vs. a global-popularity
  baseline over time, segment sizes and transitions, revenue and conversion per segment.
- :func:`predict_before`: what the engine (and the baseline, same candidate rules)
  would recommend to a user before an event is learned, without changing anything.
- :class:`Section`: pluggable report sections: :class:`PolicyValueSection` (IPS, SNIPS,
  DM and DR value of the uniform, logging and current bandit policies from the logged
  propensities) and :class:`ExperimentLiftSection` (treatment vs control with intervals).
- :mod:`models.evaluation.policy_value`: the off-policy estimators;
  :class:`RewardJoin`: logged decisions joined to their attributed rewards.
"""

from models.evaluation.buckets import bucket_function, choose_bucket
from models.evaluation.policy_value import (
    Estimate,
    Logged,
    RewardModel,
    TargetPolicy,
    direct_method,
    doubly_robust,
    estimate_all,
    greedy_policy,
    ips,
    on_policy,
    snips,
    uniform_policy,
)
from models.evaluation.predict import Prediction, predict_before
from models.evaluation.prequential import PROTOCOL, PrequentialEvaluator, final_state
from models.evaluation.rewards import RewardJoin, context_of
from models.evaluation.sections import (
    DEFAULT_SECTIONS,
    ExperimentLiftSection,
    FinalState,
    PolicyValueSection,
    Section,
)

__all__ = [
    "DEFAULT_SECTIONS",
    "PROTOCOL",
    "Estimate",
    "ExperimentLiftSection",
    "FinalState",
    "Logged",
    "PolicyValueSection",
    "Prediction",
    "PrequentialEvaluator",
    "RewardJoin",
    "RewardModel",
    "Section",
    "TargetPolicy",
    "bucket_function",
    "choose_bucket",
    "context_of",
    "direct_method",
    "doubly_robust",
    "estimate_all",
    "final_state",
    "greedy_policy",
    "ips",
    "on_policy",
    "predict_before",
    "snips",
    "uniform_policy",
]

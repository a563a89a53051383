"""Deterministic experiment assignment: a stable hash of (experiment id, user key).

The same user is in the same arm of an experiment on every worker, in every replay and
after every restart: no state, no Python ``hash()`` (randomized per process). Different
experiments hash independently, so holdouts of two experiments are not the same users.

>>> exp = Experiment("banner-test", holdout_fraction=0.25)
>>> assign("u1", exp) == assign("u1", exp)
True
>>> assign("u1", Experiment("x", 0.0)).arm, assign("u1", Experiment("x", 1.0)).arm
('treatment', 'control')
"""

from __future__ import annotations

from hashlib import sha256

from models.offers.catalog import Experiment
from schemas.outputs import ExperimentAssignment

_SCALE = float(2**64)


def bucket(user_key: str, experiment_id: str) -> float:
    """The user's position in ``[0, 1)`` for ``experiment_id`` (first 8 bytes of sha256)."""
    digest = sha256(f"experiment\x1f{experiment_id}\x1f{user_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign(user_key: str, experiment: Experiment) -> ExperimentAssignment:
    """Control when the user's bucket falls below ``holdout_fraction``, else treatment."""
    if bucket(user_key, experiment.id) < experiment.holdout_fraction:
        return ExperimentAssignment(experiment_id=experiment.id, arm="control")
    return ExperimentAssignment(experiment_id=experiment.id, arm="treatment")


__all__ = ["assign", "bucket"]

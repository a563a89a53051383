"""The online ranker: river logistic regression of purchase/click propensity.

Each candidate item gets a small dense feature vector (:data:`FEATURES`) built from the
candidate sources (co-visitation, buy-again, segment and global popularity, trending)
and the user's behaviour. Scoring reads the river model's weights once per update and
does the dot products itself, so ranking 50 candidates costs one pass, not 50 model
calls; learning goes through river's ``learn_one``. The model starts from a prior
(a warm start: the weights a person would guess), then follows the feedback.

>>> r = Ranker()
>>> hi = r.score_many([{"covisit": 1.0, "rebuy": 1.0}, {"global": 0.1}])
>>> hi[0] > hi[1]
True
>>> r.learn_one({"global": 1.0}, True)
>>> r.to_state().weights["global"] > PRIOR["global"]
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from river import linear_model, optim, utils

from models.recommenders.state import RankerState

#: Feature names, in a fixed order.
FEATURES: tuple[str, ...] = (
    "covisit", "rebuy", "rebuy_few", "segment", "global", "trend", "steady", "affinity", "viewed",
    "taste", "rebuy_rate", "propensity",
)
#: Warm-start weights (log-odds per unit of feature), roughly what the purchase logs
#: teach it (a segment list's leader ~10% per session, a sole past purchase ~30%).
#: ``propensity`` (the calibrated log of expected purchases, see models/recommenders/hybrid.py)
#: at 3.0: measured best of 3, 6 and 12 with the old features kept (generator and retail).
PRIOR: dict[str, float] = {
    "covisit": 0.3, "rebuy": 2.0, "rebuy_few": 2.0, "segment": 3.0, "global": 0.3,
    "trend": 0.3, "steady": 0.3, "affinity": 0.3, "viewed": 0.0, "taste": 0.0, "rebuy_rate": 0.0,
    "propensity": 3.0,
}
PRIOR_INTERCEPT = -5.0
_KNOWN = frozenset(FEATURES)


class Ranker:
    def __init__(self, learning_rate: float = 0.02, l2: float = 0.0) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self._model = self._new_model()
        self._updates = 0
        self.load_weights(dict(PRIOR), PRIOR_INTERCEPT)

    def _new_model(self) -> linear_model.LogisticRegression:
        return linear_model.LogisticRegression(optimizer=optim.SGD(self.learning_rate), l2=self.l2)

    def load_weights(self, weights: dict[str, float], intercept: float) -> None:
        self._model._weights = utils.VectorDict(dict(weights))
        self._model.intercept = intercept
        self._scoring: tuple[dict[str, float], float] | None = None

    def _weights_now(self) -> tuple[dict[str, float], float]:
        """The weights and intercept as plain floats, read from the model once per change."""
        scoring = getattr(self, "_scoring", None)  # absent in a ranker pickled by an older release
        if scoring is None:
            weights = self._model._weights
            scoring = self._scoring = (
                {k: weights[k] for k in FEATURES}, float(self._model.intercept))
        return scoring

    def score_many(self, xs: Sequence[dict[str, float]]) -> list[float]:
        """Propensity of each candidate (sigmoid of the linear score)."""
        weights, b = self._weights_now()
        w = weights.get
        exp = math.exp
        out = []
        for x in xs:
            z = b
            for k, v in x.items():
                z += w(k, 0.0) * v
            if z > 30.0:
                z = 30.0
            elif z < -30.0:
                z = -30.0
            out.append(1.0 / (1.0 + exp(-z)))
        return out

    def learn_one(self, x: dict[str, float], y: bool) -> None:
        self._model.learn_one({k: v for k, v in x.items() if k in _KNOWN}, y)
        self._scoring = None
        self._updates += 1

    def to_state(self) -> RankerState:
        return RankerState(
            weights={k: float(self._model._weights[k]) for k in FEATURES},
            intercept=float(self._model.intercept), updates=self._updates,
        )

    def load_state(self, state: RankerState) -> None:
        self._model = self._new_model()
        # a feature the checkpoint predates starts from its prior
        self.load_weights({k: state.weights.get(k, PRIOR[k]) for k in FEATURES}, state.intercept)
        self._updates = state.updates

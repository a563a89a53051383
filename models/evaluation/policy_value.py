"""Off-policy value of a bandit policy from logged (context, arm, propensity, reward) tuples.

The estimators, for a target policy ``pi(arm | context)`` and logged tuples
``(x_i, a_i, p_i, r_i)`` where ``p_i`` is the probability the logging policy had of
choosing ``a_i`` (weights ``w_i = pi(a_i | x_i) / p_i``):

- **IPS** (inverse propensity scoring): ``mean(w_i r_i)``; unbiased when every arm the
  target can choose had a positive logged propensity (epsilon-greedy guarantees it).
- **SNIPS** (self-normalised IPS): ``sum(w_i r_i) / sum(w_i)``; a little biased, much less
  variance when weights are uneven.
- **DM** (direct method): ``mean(sum_a pi(a | x_i) q(x_i, a))`` with a reward model ``q``,
  here the mean logged reward per (context, arm) (:class:`RewardModel`).
- **DR** (doubly robust): ``mean(DM_i + w_i (r_i - q(x_i, a_i)))``: unbiased when either
  the propensities or the reward model are right, with less variance than IPS.

Intervals are 95 % normal approximations: IPS and DR over their per-decision terms,
SNIPS by the delta method, DM from the reward model's per-cell standard errors plus the
spread over contexts. The reward model is fitted on the same logs it evaluates (so DM/DR
lean towards the logged data; DR's correction term keeps it honest).

>>> logs = [Logged("home|*", "a", 0.9, 1.0, ("a", "b")), Logged("home|*", "b", 0.1, 0.0, ("a", "b")),
...         Logged("home|*", "a", 0.9, 0.0, ("a", "b")), Logged("home|*", "b", 0.1, 1.0, ("a", "b"))]
>>> round(ips(logs, uniform_policy).value, 4), round(snips(logs, uniform_policy).value, 4)
(1.3889, 0.5)
>>> est = estimate_all(logs, uniform_policy, RewardModel.fit(logs))
>>> est["dm"].value, est["dr"].value
(0.5, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from models.offers.lift import Z95, mean_and_se

__all__ = [
    "Estimate",
    "Logged",
    "RewardModel",
    "TargetPolicy",
    "direct_method",
    "doubly_robust",
    "estimate_all",
    "greedy_policy",
    "ips",
    "on_policy",
    "snips",
    "uniform_policy",
]


class Logged(NamedTuple):
    """One logged bandit decision whose reward is known."""

    context: str
    arm: str
    propensity: float
    reward: float
    #: The arms the logging policy chose among (the placement's variants).
    arms: tuple[str, ...]


#: A target policy: (context, arms) -> probability of each arm (summing to 1).
TargetPolicy = Callable[[str, tuple[str, ...]], Mapping[str, float]]


class Estimate(NamedTuple):
    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int | list[float]]:
        return {"value": round(self.value, 6), "ci": [round(self.low, 6), round(self.high, 6)],
                "n": self.n}


def _normal(n: int, mean: float, se: float, z: float = Z95) -> Estimate:
    return Estimate(mean, mean - z * se, mean + z * se, n)


def uniform_policy(context: str, arms: tuple[str, ...]) -> Mapping[str, float]:
    """Every arm with probability ``1 / K``."""
    return dict.fromkeys(arms, 1.0 / len(arms))


def greedy_policy(values: Mapping[str, Mapping[str, float]]) -> TargetPolicy:
    """The greedy policy of per-context arm values (``context -> arm -> mean``): the arms
    tied at the best value share the probability; an arm with no value counts as best (as
    :class:`~models.bandits.EpsilonGreedy` tries untried arms first), so an unknown context
    is uniform."""

    def pi(context: str, arms: tuple[str, ...]) -> Mapping[str, float]:
        known = values.get(context, {})
        v = [known.get(a, math.inf) for a in arms]
        best = max(v)
        top = [a for a, x in zip(arms, v, strict=True) if x == best]
        return dict.fromkeys(top, 1.0 / len(top))

    return pi


class RewardModel:
    """Mean logged reward per (context, arm); falls back to the arm's mean over contexts,
    then to the overall mean, for cells with no data."""

    def __init__(self, cells: Mapping[tuple[str, str], tuple[int, float, float]],
                 arms: Mapping[str, tuple[int, float]], overall: float) -> None:
        #: (context, arm) -> (n, mean, variance of the mean)
        self.cells = dict(cells)
        self.arm_means = {a: m for a, (_, m) in arms.items()}
        self.overall = overall

    @classmethod
    def fit(cls, logs: Iterable[Logged]) -> RewardModel:
        acc: dict[tuple[str, str], list[float]] = {}
        arm_acc: dict[str, list[float]] = {}
        total, n = 0.0, 0
        for lg in logs:
            for acc_ in (acc.setdefault((lg.context, lg.arm), [0.0, 0.0, 0.0]),
                         arm_acc.setdefault(lg.arm, [0.0, 0.0, 0.0])):
                acc_[0] += 1
                acc_[1] += lg.reward
                acc_[2] += lg.reward * lg.reward
            total += lg.reward
            n += 1
        cells: dict[tuple[str, str], tuple[int, float, float]] = {}
        for key, (k, total_k, s2) in acc.items():
            mean = total_k / k
            var = max(0.0, (s2 - k * mean * mean) / (k - 1)) if k > 1 else mean * (1 - mean)
            cells[key] = (int(k), mean, max(var, 0.0) / k)
        arms = {a: (int(k), t / k) for a, (k, t, _) in arm_acc.items()}
        return cls(cells, arms, total / n if n else 0.0)

    def predict(self, context: str, arm: str) -> float:
        cell = self.cells.get((context, arm))
        if cell is not None:
            return cell[1]
        return self.arm_means.get(arm, self.overall)

    def variance(self, context: str, arm: str) -> float:
        """Variance of :meth:`predict` (0 for fallbacks: their error is not modelled)."""
        cell = self.cells.get((context, arm))
        return cell[2] if cell is not None else 0.0

    def values(self) -> dict[str, dict[str, float]]:
        """``context -> arm -> mean`` for the cells with data (sorted)."""
        out: dict[str, dict[str, float]] = {}
        for (ctx, arm) in sorted(self.cells):
            out.setdefault(ctx, {})[arm] = self.cells[(ctx, arm)][1]
        return out


def _weights(logs: Sequence[Logged], target: TargetPolicy) -> list[float]:
    cache: dict[tuple[str, tuple[str, ...]], Mapping[str, float]] = {}
    out: list[float] = []
    for lg in logs:
        key = (lg.context, lg.arms)
        pi = cache.get(key)
        if pi is None:
            pi = cache[key] = target(lg.context, lg.arms)
        out.append(pi.get(lg.arm, 0.0) / lg.propensity)
    return out


def on_policy(logs: Sequence[Logged]) -> Estimate:
    """The logging policy's own value: the mean logged reward."""
    n, mean, se = mean_and_se(lg.reward for lg in logs)
    return _normal(n, mean, se)


def ips(logs: Sequence[Logged], target: TargetPolicy) -> Estimate:
    w = _weights(logs, target)
    n, mean, se = mean_and_se(wi * lg.reward for wi, lg in zip(w, logs, strict=True))
    return _normal(n, mean, se)


def snips(logs: Sequence[Logged], target: TargetPolicy) -> Estimate:
    w = _weights(logs, target)
    wsum = sum(w)
    if not logs or wsum <= 0:
        return Estimate(0.0, 0.0, 0.0, len(logs))
    value = sum(wi * lg.reward for wi, lg in zip(w, logs, strict=True)) / wsum
    se = math.sqrt(sum((wi * (lg.reward - value)) ** 2 for wi, lg in zip(w, logs, strict=True))) / wsum
    return _normal(len(logs), value, se)


def _dm_terms(logs: Sequence[Logged], target: TargetPolicy, model: RewardModel) -> list[float]:
    cache: dict[tuple[str, tuple[str, ...]], float] = {}
    out: list[float] = []
    for lg in logs:
        key = (lg.context, lg.arms)
        v = cache.get(key)
        if v is None:
            pi = target(lg.context, lg.arms)
            v = cache[key] = sum(p * model.predict(lg.context, a) for a, p in sorted(pi.items()))
        out.append(v)
    return out


def direct_method(logs: Sequence[Logged], target: TargetPolicy, model: RewardModel) -> Estimate:
    terms = _dm_terms(logs, target, model)
    n, mean, se_contexts = mean_and_se(terms)
    if not n:
        return Estimate(0.0, 0.0, 0.0, 0)
    # the reward model's own error: each cell's mean enters with weight share(context) * pi
    shares: dict[tuple[str, tuple[str, ...]], int] = {}
    for lg in logs:
        shares[(lg.context, lg.arms)] = shares.get((lg.context, lg.arms), 0) + 1
    var_model = 0.0
    for (ctx, arms), k in sorted(shares.items()):
        for a, p in sorted(target(ctx, arms).items()):
            var_model += (k / n * p) ** 2 * model.variance(ctx, a)
    return _normal(n, mean, math.sqrt(se_contexts ** 2 + var_model))


def doubly_robust(logs: Sequence[Logged], target: TargetPolicy, model: RewardModel) -> Estimate:
    w = _weights(logs, target)
    dm = _dm_terms(logs, target, model)
    n, mean, se = mean_and_se(
        d + wi * (lg.reward - model.predict(lg.context, lg.arm))
        for d, wi, lg in zip(dm, w, logs, strict=True))
    return _normal(n, mean, se)


def estimate_all(logs: Sequence[Logged], target: TargetPolicy, model: RewardModel) -> dict[str, Estimate]:
    """IPS, SNIPS, DM and DR of ``target``."""
    return {"ips": ips(logs, target), "snips": snips(logs, target),
            "dm": direct_method(logs, target, model), "dr": doubly_robust(logs, target, model)}

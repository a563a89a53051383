"""Epsilon-greedy with exact propensities and hash-derived draws.

river's :class:`river.bandit.EpsilonGreedy` draws from an internal ``random.Random``, so
its choices depend on the draws before them (not reproducible from a checkpoint unless the
RNG state is checkpointed too) and it does not report the probability it had of choosing an
arm. This one keeps river's contract (``pull(arm_ids) -> arm``, ``update(arm, reward)``,
hyperparameters under their constructor names, learned state in underscored attributes)
and adds what an offline evaluation needs:

- ``pull(arm_ids, key)`` derives its uniform draw from ``(seed, key)`` (the decision id),
  so the choice is a pure function of the key and the learned state;
- ``propensities(arm_ids)`` gives each arm's exact selection probability: with greedy set
  ``T`` (arms tied at the best mean; never-rewarded arms count as best, so each is tried),
  ``p(a) = epsilon / K + (1 - epsilon) / |T|`` for ``a`` in ``T``, else ``epsilon / K``.

Exploration never stops (no burn-in, no decay to zero): every arm keeps a propensity of at
least ``epsilon / K``, which keeps inverse-propensity estimates unbiased with bounded weights.

>>> b = EpsilonGreedy(epsilon=0.2, seed=1)
>>> arms = ["a", "b"]
>>> b.update("a", 1.0); b.update("b", 0.0)
>>> b.propensities(arms)
{'a': 0.9, 'b': 0.1}
>>> arm, p = b.pull_with_propensity(arms, "decision-1")
>>> p == b.propensities(arms)[arm]
True
>>> b.pull(arms, "decision-1") == arm
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from models.bandits.draw import uniform


class Choice(NamedTuple):
    """One pull: the arm, its propensity, and whether it came from exploration."""

    arm: str
    propensity: float
    explored: bool


class BanditState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Serializable learned state of :class:`EpsilonGreedy` (msgpack, no pickle)."""

    counts: dict[str, int] = {}
    sums: dict[str, float] = {}
    pulls: int = 0


class EpsilonGreedy:
    """Per-arm mean reward; explore uniformly with probability ``epsilon``, else the best mean."""

    name = "epsilon-greedy"

    def __init__(self, epsilon: float = 0.1, seed: int = 0) -> None:
        if not 0.0 <= epsilon <= 1.0 or math.isnan(epsilon):
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
        self.epsilon = epsilon
        self.seed = seed
        self._counts: dict[str, int] = {}
        self._sums: dict[str, float] = {}
        self._pulls = 0

    # -- learned values ----------------------------------------------------------------

    def value(self, arm: str) -> float:
        """Mean reward of ``arm``; ``inf`` before its first reward (optimistic: it gets tried)."""
        n = self._counts.get(arm, 0)
        return self._sums[arm] / n if n else math.inf

    def count(self, arm: str) -> int:
        """Rewards learned for ``arm``."""
        return self._counts.get(arm, 0)

    def greedy(self, arm_ids: Sequence[str]) -> list[str]:
        """The arms tied at the best value, in ``arm_ids`` order."""
        if not arm_ids:
            raise ValueError("no arms to choose from")
        values = [self.value(a) for a in arm_ids]
        best = max(values)
        return [a for a, v in zip(arm_ids, values, strict=True) if v == best]

    def propensities(self, arm_ids: Sequence[str]) -> dict[str, float]:
        """Probability of each arm at the next pull (sums to 1)."""
        k = len(arm_ids)
        top = self.greedy(arm_ids)
        explore = self.epsilon / k
        exploit = (1.0 - self.epsilon) / len(top)
        tied = set(top)
        return {a: explore + (exploit if a in tied else 0.0) for a in arm_ids}

    # -- river contract ----------------------------------------------------------------

    def choose(self, arm_ids: Sequence[str], key: str | None = None) -> Choice:
        """Choose an arm with the draw of ``key`` (an internal pull counter when None): the
        arm, the probability this policy had of choosing it, and whether it explored."""
        if key is None:
            key = f"pull-{self._pulls}"
            self._pulls += 1
        arm_ids = list(arm_ids)
        k = len(arm_ids)
        top = self.greedy(arm_ids)
        eps = self.epsilon
        u = uniform(self.seed, key)
        explored = u < eps
        if explored:
            arm = arm_ids[min(int(u / eps * k), k - 1)]
        else:
            v = (u - eps) / (1.0 - eps)
            arm = top[min(int(v * len(top)), len(top) - 1)]
        p = eps / k + ((1.0 - eps) / len(top) if arm in top else 0.0)
        return Choice(arm, p, explored)

    def pull_with_propensity(self, arm_ids: Sequence[str], key: str | None = None) -> tuple[str, float]:
        """The chosen arm and its propensity (see :meth:`choose`)."""
        c = self.choose(arm_ids, key)
        return c.arm, c.propensity

    def pull(self, arm_ids: Sequence[str], key: str | None = None) -> str:
        """river's ``pull``: the chosen arm (see :meth:`choose`)."""
        return self.choose(arm_ids, key).arm

    def update(self, arm: str, reward: float) -> None:
        """Learn one reward for ``arm``."""
        self._counts[arm] = self._counts.get(arm, 0) + 1
        self._sums[arm] = self._sums.get(arm, 0.0) + float(reward)

    def forget_arms(self, keep: Sequence[str]) -> None:
        """Drop the statistics of arms not in ``keep`` (a variant left the catalogue)."""
        kept = set(keep)
        for arm in [a for a in self._counts if a not in kept]:
            del self._counts[arm]
            del self._sums[arm]

    # -- state -------------------------------------------------------------------------

    def to_state(self) -> BanditState:
        return BanditState(counts=dict(self._counts), sums=dict(self._sums), pulls=self._pulls)

    def load_state(self, state: BanditState) -> None:
        self._counts = dict(state.counts)
        self._sums = dict(state.sums)
        self._pulls = state.pulls

    def __repr__(self) -> str:
        arms = ", ".join(f"{a}: {self._sums[a] / n:.3f}/{n}" for a, n in sorted(self._counts.items()))
        return f"EpsilonGreedy(epsilon={self.epsilon}, seed={self.seed}) {{{arms}}}"

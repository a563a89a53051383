"""Bandit policies with river's contract (``pull(arm_ids) -> arm``, ``update(arm, reward)``)
that also report the chosen arm's propensity, and draw from a hash of the decision id so a
replay makes the same choices as the live worker."""

from models.bandits.draw import uniform
from models.bandits.epsilon_greedy import BanditState, Choice, EpsilonGreedy

__all__ = ["BanditState", "Choice", "EpsilonGreedy", "uniform"]

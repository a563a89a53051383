"""Epsilon-greedy: exact propensities, hash-derived draws, state round trips."""

from __future__ import annotations

import math
import pickle

import msgspec
import pytest

from models.bandits import BanditState, EpsilonGreedy, uniform

ARMS = ["a", "b", "c", "d"]


def trained(eps: float = 0.2) -> EpsilonGreedy:
    b = EpsilonGreedy(epsilon=eps, seed=3)
    for arm, r in [("a", 0.0), ("b", 1.0), ("c", 0.0), ("d", 0.0), ("b", 0.0), ("a", 1.0), ("b", 1.0)]:
        b.update(arm, r)
    return b


def test_propensities_sum_to_one_and_follow_the_formula():
    b = trained(0.2)  # b has the best mean (2/3)
    p = b.propensities(ARMS)
    assert math.isclose(sum(p.values()), 1.0)
    assert math.isclose(p["b"], 1 - 0.2 + 0.2 / 4)
    assert all(math.isclose(p[a], 0.2 / 4) for a in "acd")


def test_ties_share_the_greedy_mass_and_untried_arms_count_as_best():
    b = EpsilonGreedy(epsilon=0.1)
    assert b.propensities(ARMS) == pytest.approx({a: 0.25 for a in ARMS})
    b.update("a", 1.0)
    b.update("b", 1.0)  # c, d untried -> optimistic: tied best with each other
    p = b.propensities(ARMS)
    assert p["c"] == pytest.approx(0.025 + 0.45) and p["a"] == pytest.approx(0.025)
    assert math.isclose(sum(p.values()), 1.0)


def test_logged_propensity_is_the_chosen_arms_and_frequencies_match():
    b = trained(0.3)
    expected = b.propensities(ARMS)
    counts = dict.fromkeys(ARMS, 0)
    n = 20_000
    for i in range(n):
        c = b.choose(ARMS, f"decision-{i}")
        assert c.propensity == pytest.approx(expected[c.arm])
        counts[c.arm] += 1
    for arm in ARMS:  # 5 standard errors
        p = expected[arm]
        assert abs(counts[arm] / n - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_the_draw_depends_on_seed_and_key_only():
    assert uniform(1, "k") == uniform(1, "k")
    a, b = trained(), trained()
    b.pull(ARMS)  # an internal-counter pull does not change keyed draws
    assert [a.pull(ARMS, f"d{i}") for i in range(200)] == [b.pull(ARMS, f"d{i}") for i in range(200)]
    other = EpsilonGreedy(epsilon=0.2, seed=4)
    other.load_state(a.to_state())
    assert [a.pull(ARMS, f"d{i}") for i in range(200)] != [other.pull(ARMS, f"d{i}") for i in range(200)]


def test_epsilon_is_validated():
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(epsilon=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(epsilon=float("nan"))


def test_pickle_and_msgpack_round_trips_keep_choices():
    b = trained()
    clone = pickle.loads(pickle.dumps(b))
    restored = EpsilonGreedy(epsilon=0.2, seed=3)
    restored.load_state(msgspec.msgpack.decode(msgspec.msgpack.encode(b.to_state()), type=BanditState))
    keys = [f"k{i}" for i in range(100)]
    assert [clone.choose(ARMS, k) for k in keys] == [b.choose(ARMS, k) for k in keys]
    assert [restored.choose(ARMS, k) for k in keys] == [b.choose(ARMS, k) for k in keys]


def test_forget_arms_drops_removed_variants():
    b = trained()
    b.forget_arms(["a", "b"])
    assert b.count("c") == 0 and b.count("b") == 3

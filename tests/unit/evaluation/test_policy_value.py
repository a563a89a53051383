"""Off-policy estimators, the reward join and the policy-value section, on small logs whose
answers are known."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from models.evaluation import (
    FinalState,
    Logged,
    PolicyValueSection,
    RewardJoin,
    RewardModel,
    context_of,
    direct_method,
    doubly_robust,
    estimate_all,
    greedy_policy,
    ips,
    on_policy,
    snips,
    uniform_policy,
)
from schemas.decode import decode_event
from schemas.outputs import Decision, ExperimentAssignment, VariantChoice
from tests.factories import at, event, raw

ARMS = ("a", "b", "c")
RATES = {"x": {"a": 0.1, "b": 0.5, "c": 0.3}, "y": {"a": 0.6, "b": 0.2, "c": 0.2}}


def _epsilon_greedy_log(n: int, seed: int = 3, eps: float = 0.3) -> list[Logged]:
    """A logging policy that prefers 'a' everywhere (greedy), exploring with ``eps``."""
    rng = random.Random(seed)
    logs = []
    for _ in range(n):
        ctx = rng.choice(("x", "y"))
        arm = "a" if rng.random() >= eps else rng.choice(ARMS)
        p = eps / 3 + (1 - eps if arm == "a" else 0.0)
        logs.append(Logged(ctx, arm, p, float(rng.random() < RATES[ctx][arm]), ARMS))
    return logs


def test_estimators_recover_the_uniform_and_best_policy_values() -> None:
    logs = _epsilon_greedy_log(20_000)
    model = RewardModel.fit(logs)
    shares = {c: sum(lg.context == c for lg in logs) / len(logs) for c in RATES}
    uniform_truth = sum(shares[c] * sum(RATES[c].values()) / 3 for c in RATES)
    best = greedy_policy({"x": {"b": 1.0, "a": 0.0, "c": 0.0}, "y": {"a": 1.0, "b": 0.0, "c": 0.0}})
    best_truth = shares["x"] * 0.5 + shares["y"] * 0.6
    for target, truth in ((uniform_policy, uniform_truth), (best, best_truth)):
        for name, est in estimate_all(logs, target, model).items():
            assert est.low <= truth <= est.high, (name, est, truth)
            assert est.n == len(logs) and est.low < est.value < est.high
    logging_truth = sum(shares[c] * (0.8 * RATES[c]["a"] + 0.1 * RATES[c]["b"] + 0.1 * RATES[c]["c"])
                        for c in RATES)
    own = on_policy(logs)
    assert own.low <= logging_truth <= own.high
    # IPS of the logging policy with its own propensities is the on-policy mean
    assert ips(logs, lambda c, arms: {"a": 0.8, "b": 0.1, "c": 0.1}).value == pytest.approx(own.value)


def test_known_small_values_and_the_dr_identities() -> None:
    logs = [Logged("x", "a", 0.5, 1.0, ("a", "b")), Logged("x", "b", 0.5, 0.0, ("a", "b"))]
    model = RewardModel.fit(logs)
    assert ips(logs, uniform_policy).value == 0.5 and snips(logs, uniform_policy).value == 0.5
    always_a = greedy_policy({"x": {"a": 1.0, "b": 0.0}})
    assert ips(logs, always_a).value == 1.0  # (1/0.5 * 1 + 0) / 2
    assert direct_method(logs, always_a, model).value == 1.0
    # a perfect reward model: DR = DM whatever the propensities
    assert doubly_robust(logs, always_a, model).value == 1.0


def test_greedy_policy_splits_ties_and_tries_untried_arms_first() -> None:
    pi = greedy_policy({"x": {"a": 0.2, "b": 0.2}, "y": {"a": 0.1, "b": 0.3, "c": 0.9}})
    assert pi("x", ("a", "b")) == {"a": 0.5, "b": 0.5}
    assert pi("x", ("a", "b", "c")) == {"c": 1.0}  # c never learned: infinite, like EpsilonGreedy
    assert pi("unknown", ("a", "b")) == {"a": 0.5, "b": 0.5}
    assert pi("y", ("a", "b", "c")) == {"c": 1.0}


def _decision(i: int, user: str, arm: str, p: float, t: float, ctx: str = "home|vip",
              control: bool = False) -> Decision:
    return Decision(
        decision_id=f"d{i}", user_id=user, event_id=f"e{i}", event_type="page_view", event_time=iso(t),
        placement="home", kind="control" if control else "personalized", segments=[], recommendations=[],
        reasons=[], policy="p",
        variant=VariantChoice(
            placement="home", variant_id=arm, propensity=1.0 if control else p, reason="",
            policy="holdout-default" if control else f"epsilon-greedy eps=0.1 context={ctx}"),
        experiment=ExperimentAssignment(experiment_id="x", arm="control" if control else "treatment"),
    )


def test_reward_join_follows_the_attribution_rules() -> None:
    j = RewardJoin()
    day = 86_400.0
    j.add_decision(_decision(0, "u1", "a", 0.9, 0))        # clicked within the window: 1
    j.add_decision(_decision(1, "u1", "b", 0.1, 0))        # clicked too late: 0
    j.add_decision(_decision(2, "u2", "a", 0.9, 0))        # someone else's click: 0
    j.add_decision(_decision(3, "u2", "a", 0.9, 10 * day))  # window still open: left out
    j.add_decision(_decision(4, "u3", "a", 1.0, 0, control=True))  # control: left out
    j.add_decision(_decision(5, "u3", "z", 0.5, 0))        # variant no longer in the catalogue
    for did, user, t, variant in (("d0", "u1", 60.0, "a"), ("d1", "u1", day + 1, None),
                                  ("d2", "u9", 60.0, None), ("d3", "u2", 10 * day + 5, "b")):
        j.add_feedback(did, user, "click", at_ts(t), variant)
    j.add_feedback("d0", "u1", "impression", at_ts(30.0), None)
    logs, stats = j.logged(day, at_ts(10 * day + 3600), {"home": ("a", "b")})
    assert [(lg.arm, lg.reward, lg.context) for lg in logs] == [
        ("a", 1.0, "home|vip"), ("b", 0.0, "home|vip"), ("a", 0.0, "home|vip")]
    assert stats["attributed"] == 1 and stats["feedback_late"] == 1 and stats["feedback_other_user"] == 1
    assert stats["open"] == 1 and stats["arm_not_in_catalogue"] == 1
    assert j.counts == {"variant_decisions": 6, "control": 1, "unusable": 0}
    assert context_of("epsilon-greedy eps=0.1 context=home|*") == "home|*"
    assert context_of("holdout-default") is None


def iso(seconds: float) -> str:
    return at(days=seconds / 86_400.0)


def at_ts(seconds: float) -> float:
    return datetime.fromisoformat(iso(seconds)).timestamp()


def test_policy_value_section_reports_estimates_and_says_why_not() -> None:
    s = PolicyValueSection()
    assert s.result() == {"available": False, "reason": "not available: no logged propensities"}
    s.observe_decision(_decision(0, "u1", "a", 0.9, 0))
    s.observe_final(FinalState(end_time=at_ts(60.0), window_s=3600.0, arms={"home": ("a", "b")}))
    r = s.result()
    assert r["available"] is False and r["reason"] == "not available: no attribution window has closed yet"
    rng = random.Random(1)
    for i in range(1, 400):
        arm = "a" if rng.random() < 0.8 else "b"
        s.observe_decision(_decision(i, f"u{i}", arm, 0.85 if arm == "a" else 0.15, i))
        if rng.random() < (0.2 if arm == "a" else 0.6):
            s.observe_event(decode_event(raw(event("feedback", f"u{i}", iso(i + 30), decision_id=f"d{i}",
                                                   action="click"))), f"u{i}")
    s.observe_final(FinalState(end_time=at_ts(10_000.0), window_s=3600.0, arms={"home": ("a", "b")},
                               bandit_means={"home|vip": {"a": 0.2, "b": 0.6}}))
    r = s.result()
    assert r["available"] is True and r["logged_decisions"] == 400
    assert set(r["policies"]) == {"uniform", "logging", "current"}
    assert r["current_policy"]["greedy"] == {"home|vip": ["b"]}
    assert r["current_policy"]["source"] == "final bandit means, pooled over partitions"
    for name in ("uniform", "current"):
        for est in ("ips", "snips", "dm", "dr"):
            e = r["policies"][name][est]
            assert e["ci"][0] <= e["value"] <= e["ci"][1] and e["n"] == 400
    assert r["policies"]["current"]["dr"]["value"] > r["policies"]["uniform"]["dr"]["value"]
    assert r["policies"]["logging"]["dm"] is None
    assert r["rewards"]["attributed"] > 50

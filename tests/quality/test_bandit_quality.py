"""The bandit targets on the closed-loop simulation (models/simulation/bandit.py).

Known click rates per latent group x variant (a different best variant per group); the
engine sees the group only through behaviour-derived rule segments. 12,000 users x 8
decisions (~96k decisions, ~86k logged treatment decisions), about 20 s.
"""

from __future__ import annotations

import pytest

from models.simulation.bandit import BanditSimulation, simulate_bandit


@pytest.fixture(scope="module")
def report() -> dict:
    return simulate_bandit(BanditSimulation(users=12_000, sessions=8, seed=7))


def test_chosen_variants_reach_90_percent_of_best_in_hindsight_per_group(report):
    groups = report["click_rate_vs_best"]
    assert len(groups) == 3
    for name, g in groups.items():
        assert g["decisions"] > 5_000, name
        assert g["ratio"] >= 0.9, (name, g)  # known rates of the chosen variants
        assert g["realized_ratio"] >= 0.9, (name, g)  # clicks actually drawn


def test_ips_estimate_of_uniform_policy_within_10_percent(report):
    ips = report["ips"]  # models.evaluation.policy_value, the estimators of `personalizer evaluate`
    assert ips["logged_decisions"] > 50_000
    assert abs(ips["uniform_policy_estimate"] - ips["truth"]) <= 0.1 * ips["truth"], ips
    assert abs(ips["dr_estimate"] - ips["truth"]) <= 0.1 * ips["truth"], ips
    # seed 7: IPS 0.1765 [0.1697, 0.1832], DR 0.1761 [0.1698, 0.1825], truth 0.1750
    assert ips["uniform_policy_ci"][0] <= ips["truth"] <= ips["uniform_policy_ci"][1], ips
    assert ips["dr_ci"][0] <= ips["truth"] <= ips["dr_ci"][1], ips


def test_holdout_shows_positive_lift_and_everything_is_attributed(report):
    h = report["holdout"]
    assert 0.08 < h["control_decisions"] / (h["control_decisions"] + h["treatment_decisions"]) < 0.12
    assert h["treatment_click_rate"] > h["control_click_rate"] and h["lift"] > 0.1
    outcomes = report["outcomes"]
    assert "feedback_unknown" not in outcomes and "feedback_late" not in outcomes
    # every variant decision was closed: by a click (attributed / control) or by its window
    assert (outcomes["feedback_attributed"] + outcomes["feedback_control"] + outcomes["attribution_closed"]
            == report["decisions"]["total"])

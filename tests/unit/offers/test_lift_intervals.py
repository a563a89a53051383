"""Lift intervals: Wilson for rates, normal approximation for revenue per user, log-ratio
(delta method) for the relative lift; per-user conversion and revenue."""

from __future__ import annotations

import math
import random

from models.offers.lift import (
    LiftReport,
    mean_and_se,
    relative_lift_interval,
    wilson_interval,
)
from schemas.outputs import Decision, ExperimentAssignment


def dec(i: int, user: str, arm: str) -> Decision:
    return Decision(decision_id=f"d{i}", user_id=user, event_id=f"e{i}", event_type="page_view",
                    event_time="2026-01-01T00:00:00+00:00", placement="home",
                    kind="control" if arm == "control" else "personalized", segments=[],
                    recommendations=[], reasons=[], policy="p",
                    experiment=ExperimentAssignment(experiment_id="x", arm=arm))


def test_wilson_known_values_and_edges() -> None:
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(0, 20)  # type: ignore[misc]
    assert lo == 0.0 and 0.15 < hi < 0.17  # 0.161 (rule of three is 0.15)
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson score)
    assert wilson_interval(81, 263) == (0.255289, 0.36621)  # 0.2553-0.3662
    assert wilson_interval(15, 148) == (0.062386, 0.160487)  # 0.0624-0.1605


def test_relative_lift_interval_covers_a_known_ratio_most_of_the_time() -> None:
    rng = random.Random(5)
    covered = 0
    for _ in range(400):
        t = [rng.random() < 0.3 for _ in range(800)]
        c = [rng.random() < 0.2 for _ in range(800)]
        _, mt, st = mean_and_se(float(x) for x in t)
        _, mc, sc = mean_and_se(float(x) for x in c)
        ci = relative_lift_interval(mt, st, mc, sc)
        assert ci is not None and ci[0] < mt / mc - 1 < ci[1]
        covered += ci[0] <= 0.5 <= ci[1]
    assert 0.92 <= covered / 400 <= 0.98  # a 95% interval
    assert relative_lift_interval(0.1, 0.01, 0.0, 0.0) is None


def test_per_user_conversion_revenue_and_lift_intervals() -> None:
    r = LiftReport()
    i = 0
    for u in range(200):
        arm = "control" if u % 2 else "treatment"
        for _ in range(2):
            r.add_decision(dec(i, f"u{u}", arm))
            i += 1
        if (arm == "treatment" and u % 4 == 0) or (arm == "control" and u % 8 == 1):
            r.add_purchase(f"u{u}", 10.0 + u % 3)
    r.add_feedback("d0", "click", user="someone-else")  # not the decision's user: unmatched
    r.add_feedback("d0", "click", user="u0")
    rep = r.report()
    x = rep["experiments"]["x"]
    t, c = x["treatment"], x["control"]
    assert t["users"] == 100 and c["users"] == 100 and t["decisions"] == 200
    assert t["converted_users"] == 50 and c["converted_users"] == 25
    assert t["user_conversion_rate"] == 0.5 and c["user_conversion_rate"] == 0.25
    lo, hi = t["user_conversion_rate_ci"]
    assert lo < 0.5 < hi and hi - lo < 0.2
    assert t["revenue_per_user"] == round(sum(10.0 + u % 3 for u in range(0, 200, 4)) / 100, 6)
    lo, hi = t["revenue_per_user_ci"]
    assert lo < t["revenue_per_user"] < hi
    assert x["lift"]["user_conversion_rate"] == 1.0
    lo, hi = x["lift"]["user_conversion_rate_ci"]
    assert lo < 1.0 < hi and lo > 0.2
    assert t["clicks"] == 1 and rep["unmatched_feedback"] == 1
    assert all(math.isfinite(v) for v in x["lift"]["revenue_per_user_ci"])

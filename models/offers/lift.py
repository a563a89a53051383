"""Experiment lift: fold decisions, feedback and purchases into per-arm, per-segment counts,
with confidence intervals.

Pure and offline (a replay's or a simulation's outputs and inputs): every decision that
carries an :class:`~schemas.outputs.ExperimentAssignment` counts for its experiment and
arm, overall and for each of the decision's segments (``(none)`` when it has none).
Feedback joins its decision by ``decision_id`` (a click or conversion counts once per
decision; a conversion's ``value`` is revenue); a purchase counts as revenue for every
experiment arm its user had been assigned before it. Lift is treatment over control - 1.

The unit of an experiment is the user (assignment hashes the user), so the per-user
figures are the ones to read: ``user_conversion_rate`` (users with a conversion feedback
or a purchase after assignment / users assigned, Wilson interval) and ``revenue_per_user``
(normal approximation over users, zeros included). ``click_rate`` and ``conversion_rate``
are per decision (Wilson intervals that treat decisions as independent: a user's
decisions are not, so read them as optimistic). The relative lift's interval is the
normal approximation of the log ratio (delta method; Katz for proportions), None when
either side's rate is 0. All intervals are 95 %.

>>> from schemas.outputs import Decision, ExperimentAssignment
>>> def dec(i, arm):
...     return Decision(decision_id=f"d{i}", user_id=f"u{i}", event_id="e", event_type="page_view",
...                     event_time="2026-01-01T00:00:00+00:00", placement="home", kind="control",
...                     segments=[], recommendations=[], reasons=[], policy="p",
...                     experiment=ExperimentAssignment(experiment_id="x", arm=arm))
>>> r = LiftReport()
>>> for i, arm in enumerate(["treatment", "treatment", "control", "control"]):
...     r.add_decision(dec(i, arm))
>>> r.add_feedback("d0", "click"); r.add_feedback("d2", "click"); r.add_feedback("d1", "click")
>>> rep = r.report()["experiments"]["x"]
>>> rep["treatment"]["click_rate"], rep["control"]["click_rate"], rep["lift"]["click_rate"]
(1.0, 0.5, 1.0)
>>> wilson_interval(5, 10)
(0.236593, 0.763407)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.events import EventBase, Feedback, Purchase
from schemas.outputs import Decision

NO_SEGMENT = "(none)"

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054

Interval = tuple[float, float]


def _r(x: float) -> float:
    return round(x, 6)


def wilson_interval(successes: int, n: int, z: float = Z95) -> Interval | None:
    """Wilson score interval of a proportion (None when ``n`` is 0)."""
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (_r(max(0.0, centre - half)), _r(min(1.0, centre + half)))


def normal_interval(estimate: float, se: float, z: float = Z95) -> Interval:
    """``estimate ± z·se``."""
    return (_r(estimate - z * se), _r(estimate + z * se))


def mean_and_se(values: Iterable[float]) -> tuple[int, float, float]:
    """``(n, mean, standard error of the mean)`` with the sample variance (n - 1)."""
    n, total, total2 = 0, 0.0, 0.0
    for v in values:
        n += 1
        total += v
        total2 += v * v
    if n == 0:
        return 0, 0.0, 0.0
    mean = total / n
    var = max(0.0, (total2 - n * mean * mean) / (n - 1)) if n > 1 else 0.0
    return n, mean, math.sqrt(var / n)


def relative_lift_interval(t: float, se_t: float, c: float, se_c: float,
                           z: float = Z95) -> Interval | None:
    """Interval of ``t / c - 1`` from the normal approximation of ``log(t / c)`` (delta
    method); None when either mean is not positive."""
    if t <= 0 or c <= 0:
        return None
    se_log = math.sqrt((se_t / t) ** 2 + (se_c / c) ** 2)
    centre = math.log(t / c)
    return (_r(math.exp(centre - z * se_log) - 1.0), _r(math.exp(centre + z * se_log) - 1.0))


def _ci(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]


@dataclass(slots=True)
class ArmCounts:
    """Counts of one experiment arm (overall or within one segment)."""

    #: user -> revenue after their assignment (every assigned user, zeros included)
    users: dict[str, float] = field(default_factory=dict)
    #: users with a conversion feedback or a purchase after their assignment
    converted: set[str] = field(default_factory=set)
    decisions: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0

    def _per_user_revenue(self) -> tuple[int, float, float]:
        return mean_and_se(self.users[u] for u in sorted(self.users))

    def _user_conversion(self) -> tuple[float, float]:
        u = len(self.users)
        p = len(self.converted) / u if u else 0.0
        return p, math.sqrt(p * (1 - p) / u) if u else 0.0

    def summary(self) -> dict[str, Any]:
        n, u = self.decisions, len(self.users)
        _, rpu, _rpu_se = self._per_user_revenue()
        rpu_ci = normal_interval(rpu, _rpu_se) if u else None
        return {
            "users": u, "decisions": n, "clicks": self.clicks, "conversions": self.conversions,
            "converted_users": len(self.converted),
            "revenue": round(self.revenue, 6),
            "click_rate": _r(self.clicks / n) if n else 0.0,
            "click_rate_ci": _ci(wilson_interval(self.clicks, n)),
            "conversion_rate": _r(self.conversions / n) if n else 0.0,
            "conversion_rate_ci": _ci(wilson_interval(self.conversions, n)),
            "user_conversion_rate": _r(len(self.converted) / u) if u else 0.0,
            "user_conversion_rate_ci": _ci(wilson_interval(len(self.converted), u)),
            "revenue_per_user": _r(rpu) if u else 0.0,
            "revenue_per_user_ci": _ci(rpu_ci),
        }


def _rates(c: ArmCounts) -> dict[str, tuple[float, float]]:
    """Rate -> (estimate, standard error)."""
    n = c.decisions
    _, rpu, rpu_se = c._per_user_revenue()

    def prop(k: int, m: int) -> tuple[float, float]:
        p = k / m if m else 0.0
        return p, math.sqrt(p * (1 - p) / m) if m else 0.0

    return {"click_rate": prop(c.clicks, n), "conversion_rate": prop(c.conversions, n),
            "user_conversion_rate": c._user_conversion(), "revenue_per_user": (rpu, rpu_se)}


def _lift(treatment: ArmCounts, control: ArmCounts) -> dict[str, Any]:
    """Treatment over control - 1 per rate (None when control's rate is 0), and its interval
    under ``<rate>_ci``."""
    t, c = _rates(treatment), _rates(control)
    out: dict[str, Any] = {}
    for m in t:
        (tv, tse), (cv, cse) = t[m], c[m]
        out[m] = _r(tv / cv - 1.0) if cv else None
        out[f"{m}_ci"] = _ci(relative_lift_interval(tv, tse, cv, cse))
    return out


class LiftReport:
    """Accumulates one pass over decisions and events (in any order for feedback; a
    purchase counts only for arms assigned before it is added)."""

    def __init__(self) -> None:
        #: decision id -> (experiment, arm, segments, user)
        self._decisions: dict[str, tuple[str, str, tuple[str, ...], str]] = {}
        self._user_arms: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
        self._counts: dict[tuple[str, str, str | None], ArmCounts] = {}
        self._clicked: set[str] = set()
        self._converted: set[str] = set()
        self.unmatched_feedback = 0

    def _cells(self, exp: str, arm: str, segments: tuple[str, ...]) -> list[ArmCounts]:
        keys: list[tuple[str, str, str | None]] = [(exp, arm, None)]
        keys += [(exp, arm, s) for s in (segments or (NO_SEGMENT,))]
        return [self._counts.setdefault(k, ArmCounts()) for k in keys]

    def add_decision(self, d: Decision) -> None:
        if d.experiment is None:
            return
        exp, arm, segs = d.experiment.experiment_id, d.experiment.arm, tuple(d.segments)
        self._decisions[d.decision_id] = (exp, arm, segs, d.user_id)
        self._user_arms.setdefault(d.user_id, {})[exp] = (arm, segs)
        for cell in self._cells(exp, arm, segs):
            cell.decisions += 1
            cell.users.setdefault(d.user_id, 0.0)

    def add_feedback(self, decision_id: str, action: str, value: float | None = None,
                     user: str | None = None) -> None:
        """Feedback on ``decision_id``; with ``user`` (the feedback's user), feedback naming
        another user's decision is unmatched (as the engine's attribution has it)."""
        known = self._decisions.get(decision_id)
        if known is None or (user is not None and user != known[3]):
            self.unmatched_feedback += 1
            return
        exp, arm, segs, user = known
        if action == "click" and decision_id not in self._clicked:
            self._clicked.add(decision_id)
            for cell in self._cells(exp, arm, segs):
                cell.clicks += 1
        elif action == "conversion" and decision_id not in self._converted:
            self._converted.add(decision_id)
            for cell in self._cells(exp, arm, segs):
                cell.conversions += 1
                cell.revenue += value or 0.0
                cell.users[user] = cell.users.get(user, 0.0) + (value or 0.0)
                cell.converted.add(user)

    def add_purchase(self, user_id: str, revenue: float) -> None:
        for exp, (arm, segs) in self._user_arms.get(user_id, {}).items():
            for cell in self._cells(exp, arm, segs):
                cell.revenue += revenue
                cell.users[user_id] = cell.users.get(user_id, 0.0) + revenue
                cell.converted.add(user_id)

    def report(self) -> dict[str, Any]:
        """``{"experiments": {id: {"treatment": .., "control": .., "lift": ..,
        "segments": {segment: {...same...}}}}, "unmatched_feedback": n}``"""
        experiments: dict[str, Any] = {}
        for (exp, arm, seg), cell in sorted(self._counts.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                   kv[0][2] or "")):
            e = experiments.setdefault(exp, {"segments": {}})
            target = e if seg is None else e["segments"].setdefault(seg, {})
            target[arm] = cell.summary()
            if arm == "control" and (exp, "treatment", seg) in self._counts:
                target["lift"] = _lift(self._counts[(exp, "treatment", seg)], cell)
        return {"experiments": experiments, "unmatched_feedback": self.unmatched_feedback}


def lift_report(
    decisions: Iterable[Decision], events: Iterable[EventBase],
    user_key: Callable[[str], str] = lambda u: u,
) -> dict[str, Any]:
    """Fold all ``decisions`` then the ``feedback`` and ``purchase`` ``events`` (a replay's
    outputs and inputs). ``user_key`` maps an event's user key to the decisions' user id
    (e.g. ``Engine.user_key`` when pseudonymizing). Purchases count for the arms their user
    was assigned anywhere in ``decisions``."""
    r = LiftReport()
    for d in decisions:
        r.add_decision(d)
    for ev in events:
        if isinstance(ev, Feedback):
            p = ev.properties
            r.add_feedback(p.decision_id, p.action, p.value)
        elif isinstance(ev, Purchase):
            r.add_purchase(user_key(ev.user_key), ev.properties.revenue)
    return r.report()


__all__ = [
    "NO_SEGMENT",
    "Z95",
    "ArmCounts",
    "Interval",
    "LiftReport",
    "lift_report",
    "mean_and_se",
    "normal_interval",
    "relative_lift_interval",
    "wilson_interval",
]

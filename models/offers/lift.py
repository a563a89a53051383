"""Experiment lift: fold decisions, feedback and purchases into per-arm, per-segment counts.

Pure and offline (a replay's or a simulation's outputs and inputs): every decision that
carries an :class:`~schemas.outputs.ExperimentAssignment` counts for its experiment and
arm, overall and for each of the decision's segments (``(none)`` when it has none).
Feedback joins its decision by ``decision_id`` (a click or conversion counts once per
decision; a conversion's ``value`` is revenue); a purchase counts as revenue for every
experiment arm its user had been assigned before it. Lift is treatment over control - 1.

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.events import EventBase, Feedback, Purchase
from schemas.outputs import Decision

NO_SEGMENT = "(none)"


@dataclass(slots=True)
class ArmCounts:
    """Counts of one experiment arm (overall or within one segment)."""

    users: set[str] = field(default_factory=set)
    decisions: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0

    def summary(self) -> dict[str, float | int]:
        n, u = self.decisions, len(self.users)
        return {
            "users": u, "decisions": n, "clicks": self.clicks, "conversions": self.conversions,
            "revenue": round(self.revenue, 6),
            "click_rate": round(self.clicks / n, 6) if n else 0.0,
            "conversion_rate": round(self.conversions / n, 6) if n else 0.0,
            "revenue_per_user": round(self.revenue / u, 6) if u else 0.0,
        }


def _rates(c: ArmCounts) -> dict[str, float]:
    n, u = c.decisions, len(c.users)
    return {"click_rate": c.clicks / n if n else 0.0, "conversion_rate": c.conversions / n if n else 0.0,
            "revenue_per_user": c.revenue / u if u else 0.0}


def _lift(treatment: ArmCounts, control: ArmCounts) -> dict[str, float | None]:
    """Treatment over control - 1 per rate (None when control's rate is 0)."""
    t, c = _rates(treatment), _rates(control)
    return {m: round(t[m] / c[m] - 1.0, 6) if c[m] else None for m in t}


class LiftReport:
    """Accumulates one pass over decisions and events (in any order for feedback; a
    purchase counts only for arms assigned before it is added)."""

    def __init__(self) -> None:
        #: decision id -> (experiment, arm, segments)
        self._decisions: dict[str, tuple[str, str, tuple[str, ...]]] = {}
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
        self._decisions[d.decision_id] = (exp, arm, segs)
        self._user_arms.setdefault(d.user_id, {})[exp] = (arm, segs)
        for cell in self._cells(exp, arm, segs):
            cell.decisions += 1
            cell.users.add(d.user_id)

    def add_feedback(self, decision_id: str, action: str, value: float | None = None) -> None:
        known = self._decisions.get(decision_id)
        if known is None:
            self.unmatched_feedback += 1
            return
        if action == "click" and decision_id not in self._clicked:
            self._clicked.add(decision_id)
            for cell in self._cells(*known):
                cell.clicks += 1
        elif action == "conversion" and decision_id not in self._converted:
            self._converted.add(decision_id)
            for cell in self._cells(*known):
                cell.conversions += 1
                cell.revenue += value or 0.0

    def add_purchase(self, user_id: str, revenue: float) -> None:
        for exp, (arm, segs) in self._user_arms.get(user_id, {}).items():
            for cell in self._cells(exp, arm, segs):
                cell.revenue += revenue

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


__all__ = ["NO_SEGMENT", "ArmCounts", "LiftReport", "lift_report"]

"""Report sections that plug into the evaluation: each observes decisions (and the input
events and final state it needs) and answers its part of the report, or says why it is
not available (never a made-up number).

A section implements :class:`Section`; :class:`~models.evaluation.PrequentialEvaluator`
feeds it every decision, every ``feedback`` and ``purchase`` event (with the engine's key
of its user, in any order relative to the decisions: a replay flushes decisions per
batch), and at the end the engines' :class:`FinalState`.

- :class:`PolicyValueSection`: value of the uniform-random, logging and current (greedy
  on the final bandit means) policies by IPS, SNIPS, DM and DR from the logged
  propensities and attributed rewards (:mod:`models.evaluation.policy_value`,
  :mod:`models.evaluation.rewards`).
- :class:`ExperimentLiftSection`: per experiment, treatment vs control with intervals
  (:class:`models.offers.lift.LiftReport`).

>>> s = PolicyValueSection()
>>> s.result()["available"], s.result()["reason"]
(False, 'not available: no logged propensities')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from models.evaluation.policy_value import (
    RewardModel,
    TargetPolicy,
    estimate_all,
    greedy_policy,
    on_policy,
    uniform_policy,
)
from models.evaluation.rewards import RewardJoin
from models.offers.lift import LiftReport
from schemas.events import EventBase, Feedback, Purchase
from schemas.outputs import Decision

__all__ = ["DEFAULT_SECTIONS", "ExperimentLiftSection", "FinalState", "PolicyValueSection", "Section"]

#: The default attribution window (``EngineConfig.offer_attribution_window_s``).
_DEFAULT_WINDOW_S = 86_400.0


@dataclass(frozen=True)
class FinalState:
    """What the engines know at the end of the evaluated log."""

    #: Event time every engine had reached (the earliest of them); None: no events.
    end_time: float | None = None
    #: Attribution window of the offer decisions, seconds of event time.
    window_s: float = _DEFAULT_WINDOW_S
    #: Placement -> its variants (the offer catalogue).
    arms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Bandit context (``placement|segment``) -> arm -> learned mean reward, pooled over
    #: the partitions' bandits (sum of rewards / number of rewards).
    bandit_means: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


class Section(Protocol):
    #: Key of the section in the report.
    name: str
    title: str

    def observe_decision(self, decision: Decision) -> None: ...

    def observe_event(self, event: EventBase, user: str) -> None:
        """A ``feedback`` or ``purchase`` input event; ``user``: the engine's key of its
        user (the pseudonym when pseudonymizing). Duplicates the engine skips are not fed."""
        ...

    def observe_final(self, final: FinalState) -> None: ...

    def result(self) -> dict[str, Any]:
        """JSON-ready: at least ``available`` (bool) and, when not available, ``reason``."""
        ...


_POLICIES = {
    "uniform": "uniform random over the placement's variants",
    "logging": "the logging policy itself (what the bandits did: on-policy mean reward)",
    "current": "greedy on the final learned bandit means (ties split; untried variants first)",
}


class PolicyValueSection:
    """Bandit policy value (IPS / SNIPS / DM / DR) from decisions with logged propensities."""

    name = "policy_value"
    title = "Bandit policy value (IPS / DR)"

    def __init__(self) -> None:
        self._join = RewardJoin()
        self._final = FinalState()

    def observe_decision(self, decision: Decision) -> None:
        self._join.add_decision(decision)

    def observe_event(self, event: EventBase, user: str) -> None:
        if isinstance(event, Feedback):
            p = event.properties
            self._join.add_feedback(p.decision_id, user, p.action, event.ts, p.variant_id)

    def observe_final(self, final: FinalState) -> None:
        self._final = final

    def result(self) -> dict[str, Any]:
        counts = self._join.counts
        if not counts["variant_decisions"]:
            return {"available": False, "reason": "not available: no logged propensities"}
        final = self._final
        logs, stats = self._join.logged(final.window_s, final.end_time, final.arms)
        excluded = {"experiment_control": counts["control"], "open_window": stats["open"],
                    "unusable_propensity": counts["unusable"],
                    "variant_not_in_catalogue": stats["arm_not_in_catalogue"]}
        base = {"logged_propensities": counts["variant_decisions"], "excluded": excluded}
        if not logs:
            why = ("no attribution window has closed yet" if stats["open"] else
                   "no decision chosen by a bandit (only experiment control)")
            return {"available": False, "reason": f"not available: {why}", **base}
        model = RewardModel.fit(logs)
        learned = {c: dict(v) for c, v in final.bandit_means.items()}
        current: TargetPolicy = greedy_policy(learned if learned else model.values())
        contexts = sorted({(lg.context, lg.arms) for lg in logs})
        policies: dict[str, Any] = {}
        for name, target in (("uniform", uniform_policy), ("current", current)):
            est = estimate_all(logs, target, model)
            policies[name] = {"description": _POLICIES[name],
                              **{k: e.as_dict() for k, e in est.items()}}
        own = on_policy(logs)
        policies["logging"] = {
            "description": _POLICIES["logging"], "on_policy": own.as_dict(),
            # weights are 1 for the logging policy: IPS and SNIPS are the on-policy mean; DM and
            # DR need its whole distribution over variants, which is not logged
            "ips": own.as_dict(), "snips": own.as_dict(), "dm": None, "dr": None,
        }
        policies = {k: policies[k] for k in ("uniform", "logging", "current")}
        return {
            "available": True,
            **base,
            "logged_decisions": len(logs),
            "rewards": {"attributed": stats["attributed"],
                        "closed_without_feedback": stats["closed_without_feedback"],
                        "feedback_late": stats["feedback_late"],
                        "feedback_other_user": stats["feedback_other_user"],
                        "feedback_variant_mismatch": stats["feedback_variant_mismatch"]},
            "window_s": final.window_s,
            "policies": policies,
            "current_policy": {
                "source": ("final bandit means, pooled over partitions" if learned
                           else "mean logged reward per context and variant (no final bandits given)"),
                "greedy": {ctx: sorted(current(ctx, arms)) for ctx, arms in contexts},
            },
            "reward_model": {"cells": len(model.cells), "contexts": len({c for c, _ in contexts}),
                             "kind": "mean logged reward per (context, variant); unseen cells fall "
                                     "back to the variant's mean"},
            "interval": "95% normal approximation (IPS, DR: over per-decision terms; SNIPS: delta "
                        "method; DM: reward-model and context error)",
            "reward": "1 when a click or conversion of the same user names the decision within the "
                      "attribution window, 0 when the window closes without one",
        }


class ExperimentLiftSection:
    """Experiment lift (treatment vs control) with intervals: :class:`~models.offers.lift.LiftReport`
    over the decisions, their feedback and the users' purchases."""

    name = "experiment_lift"
    title = "Experiment lift"

    def __init__(self) -> None:
        self._lift = LiftReport()
        self.assigned = 0
        #: feedback waits for the end: its decision may come later in a replay
        self._feedback: list[tuple[str, str, float | None, str]] = []

    def observe_decision(self, decision: Decision) -> None:
        if decision.experiment is not None:
            self.assigned += 1
            self._lift.add_decision(decision)

    def observe_event(self, event: EventBase, user: str) -> None:
        if isinstance(event, Feedback):
            p = event.properties
            self._feedback.append((p.decision_id, p.action, p.value, user))
        elif isinstance(event, Purchase) and self.assigned:
            self._lift.add_purchase(user, event.properties.revenue)

    def observe_final(self, final: FinalState) -> None:
        return None

    def result(self) -> dict[str, Any]:
        if not self.assigned:
            return {"available": False, "reason": "not available: no experiment assignments logged"}
        for decision_id, action, value, user in self._feedback:
            self._lift.add_feedback(decision_id, action, value, user=user)
        self._feedback = []
        return {
            "available": True, "assigned_decisions": self.assigned, **self._lift.report(),
            "metrics": {
                "user_conversion_rate": "users with a conversion feedback or a purchase after "
                                        "assignment / users assigned (Wilson 95%)",
                "revenue_per_user": "conversion values and purchases after assignment per assigned "
                                    "user (normal approximation 95%)",
                "click_rate": "clicked decisions / decisions (Wilson 95%; decisions of one user are "
                              "not independent: optimistic)",
                "lift": "treatment / control - 1, 95% interval from the log ratio (delta method)",
            },
        }


#: Section factories used when none are given.
DEFAULT_SECTIONS = (PolicyValueSection, ExperimentLiftSection)

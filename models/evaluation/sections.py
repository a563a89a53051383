"""Report sections that plug into the evaluation: each observes decisions and answers
its part of the report, or says why it is not available (never a made-up number).

A section implements :class:`Section`. The shipped placeholders watch the decisions for
what their estimator needs (logged propensities, experiment assignments) and say so when
it is missing; the online-learning work replaces them with IPS/DR policy value and
experiment lift by registering sections with the same interface.

>>> s = PolicyValueSection()
>>> s.result()["available"], s.result()["reason"]
(False, 'not available: no logged propensities')
"""

from __future__ import annotations

from typing import Any, Protocol

from schemas.outputs import Decision

__all__ = ["DEFAULT_SECTIONS", "ExperimentLiftSection", "PolicyValueSection", "Section"]


class Section(Protocol):
    #: Key of the section in the report.
    name: str
    title: str

    def observe_decision(self, decision: Decision) -> None: ...

    def result(self) -> dict[str, Any]:
        """JSON-ready: at least ``available`` (bool) and, when not available, ``reason``."""
        ...


class PolicyValueSection:
    """Bandit policy value (IPS / doubly robust): needs decisions with logged propensities."""

    name = "policy_value"
    title = "Bandit policy value (IPS / DR)"

    def __init__(self) -> None:
        self.with_propensity = 0

    def observe_decision(self, decision: Decision) -> None:
        if decision.variant is not None:
            self.with_propensity += 1

    def result(self) -> dict[str, Any]:
        if not self.with_propensity:
            return {"available": False, "reason": "not available: no logged propensities"}
        return {"available": False, "logged_propensities": self.with_propensity,
                "reason": "not available: the IPS/DR estimators land with the online-learning work"}


class ExperimentLiftSection:
    """Experiment lift (treatment vs control): needs decisions with experiment assignments."""

    name = "experiment_lift"
    title = "Experiment lift"

    def __init__(self) -> None:
        self.assigned = 0

    def observe_decision(self, decision: Decision) -> None:
        if decision.experiment is not None:
            self.assigned += 1

    def result(self) -> dict[str, Any]:
        if not self.assigned:
            return {"available": False, "reason": "not available: no experiment assignments logged"}
        return {"available": False, "assigned_decisions": self.assigned,
                "reason": "not available: the lift estimator lands with the experiments work"}


#: Section factories used when none are given.
DEFAULT_SECTIONS = (PolicyValueSection, ExperimentLiftSection)

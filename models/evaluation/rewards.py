"""Logged bandit decisions joined to their rewards, the way the engine attributes them.

The engine learns a variant's reward when its attribution window closes
(:mod:`models.offers.attribution`): 1 when a ``click`` or ``conversion`` feedback of the
same user names the decision while the window is open, 0 when the window closes without
one. :class:`RewardJoin` rebuilds exactly those tuples offline from the decisions (which
log the variant, its propensity and the bandit context in ``VariantChoice.policy``) and
the feedback events, in any order (a replay sees feedback before the decision it answers
when both are in one batch), so the join happens in :meth:`RewardJoin.logged`.

Window: from the decision's event time (the engine starts it at the partition's event
time, the same in time order; a late event in ``--order file`` has a slightly earlier
window here) for ``window_s``; feedback at or after the deadline is late. Decisions whose
window is still open at ``end_time`` (the engines' event time at the end; by default the
latest event time seen here) are left out, counted as ``open``, even those already
clicked: keeping only the open ones that have a reward of 1 would bias every estimate up.
Left out too, and counted: experiment control decisions (the default variant by rule,
propensity 1: not the bandit's choice). Decisions
that showed no variant (a frequency cap or cooldown) chose no arm: they are not bandit
decisions at all.

>>> from schemas.outputs import Decision, VariantChoice
>>> def dec(i, arm, p):
...     return Decision(decision_id=f"d{i}", user_id="u1", event_id=f"e{i}", event_type="page_view",
...         event_time="2026-01-01T00:00:00+00:00", placement="home", kind="personalized",
...         segments=[], recommendations=[], reasons=[], policy="p",
...         variant=VariantChoice(placement="home", variant_id=arm, propensity=p,
...                               policy="epsilon-greedy eps=0.1 context=home|*", reason=""))
>>> j = RewardJoin()
>>> j.add_feedback("d1", "u1", "click", 1_767_225_660.0, None)
>>> j.add_decision(dec(1, "a", 0.95)); j.add_decision(dec(2, "b", 0.05))
>>> logs, stats = j.logged(3600.0, 1_767_300_000.0, {"home": ("a", "b")})
>>> [(lg.arm, lg.reward) for lg in logs], stats["attributed"], stats["closed_without_feedback"]
([('a', 1.0), ('b', 0.0)], 1, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from models.evaluation.policy_value import Logged
from models.offers.attribution import REWARDING
from schemas.outputs import Decision

__all__ = ["RewardJoin", "context_of"]

_CONTEXT = "context="


def context_of(policy: str) -> str | None:
    """The bandit context logged in ``VariantChoice.policy`` (``... context=home|seg``)."""
    i = policy.rfind(_CONTEXT)
    return policy[i + len(_CONTEXT):] if i >= 0 else None


class _Choice(NamedTuple):
    user: str
    ts: float
    placement: str
    context: str
    arm: str
    propensity: float


class RewardJoin:
    """Bandit decisions and rewarding feedback, joined by decision id at :meth:`logged`."""

    def __init__(self) -> None:
        self._choices: dict[str, _Choice] = {}
        #: decision id -> rewarding feedback (ts, user, variant id), in arrival order
        self._feedback: dict[str, list[tuple[float, str, str | None]]] = {}
        self.counts = {"variant_decisions": 0, "control": 0, "unusable": 0}
        self._latest: float | None = None

    def _seen(self, ts: float) -> None:
        if self._latest is None or ts > self._latest:
            self._latest = ts

    def __len__(self) -> int:
        return len(self._choices)

    def add_decision(self, d: Decision) -> None:
        v = d.variant
        if v is None:
            return  # not an offer placement, or a cap / cooldown showed nothing
        self.counts["variant_decisions"] += 1
        if (d.experiment is not None and d.experiment.arm == "control") or v.policy == "holdout-default":
            self.counts["control"] += 1
            return
        ctx = context_of(v.policy)
        p = v.propensity
        if ctx is None or not (0.0 < p <= 1.0) or math.isnan(p):
            self.counts["unusable"] += 1
            return
        ts = datetime.fromisoformat(d.event_time).timestamp()
        self._seen(ts)
        self._choices[d.decision_id] = _Choice(d.user_id, ts, v.placement, ctx, v.variant_id, p)

    def add_feedback(self, decision_id: str, user: str, action: str, ts: float,
                     variant_id: str | None) -> None:
        """One ``feedback`` event (``user``: the engine's key of its user)."""
        self._seen(ts)
        if action in REWARDING:
            self._feedback.setdefault(decision_id, []).append((ts, user, variant_id))

    def logged(self, window_s: float, end_time: float | None,
               arms_of: Mapping[str, tuple[str, ...]]) -> tuple[list[Logged], dict[str, Any]]:
        """The decisions whose window closed by ``end_time``, with their reward (in decision
        order), and what was left out.
        ``arms_of``: placement -> its variants (the catalogue); a placement missing from it
        uses the variants seen in the log, sorted."""
        seen: dict[str, set[str]] = {}
        for c in self._choices.values():
            seen.setdefault(c.placement, set()).add(c.arm)
        arms_by = {pl: tuple(arms_of[pl]) if pl in arms_of else tuple(sorted(a)) for pl, a in seen.items()}
        end = end_time if end_time is not None else self._latest
        stats = {"attributed": 0, "closed_without_feedback": 0, "open": 0, "feedback_late": 0,
                 "feedback_other_user": 0, "feedback_variant_mismatch": 0, "arm_not_in_catalogue": 0}
        logs: list[Logged] = []
        for did, c in self._choices.items():
            arms = arms_by[c.placement]
            if c.arm not in arms:
                stats["arm_not_in_catalogue"] += 1
                continue
            deadline = c.ts + window_s
            if end is None or deadline > end:
                stats["open"] += 1
                continue
            hit: tuple[float, str, str | None] | None = None
            for fb in self._feedback.get(did, ()):
                if fb[1] != c.user:
                    stats["feedback_other_user"] += 1
                elif fb[0] >= deadline:
                    stats["feedback_late"] += 1
                elif fb[0] >= c.ts and (hit is None or fb[0] < hit[0]):
                    hit = fb
            if hit is not None:
                stats["attributed"] += 1
                if hit[2] is not None and hit[2] != c.arm:
                    stats["feedback_variant_mismatch"] += 1
                reward = 1.0
            else:
                stats["closed_without_feedback"] += 1
                reward = 0.0
            logs.append(Logged(c.context, c.arm, c.propensity, reward, arms))
        return logs, stats

"""Reward attribution: decisions waiting for their feedback, joined by ``decision_id``.

Every decision that showed a variant is remembered as :class:`Pending` until one of:

- a ``click`` or ``conversion`` feedback for it (from the same user) arrives while its
  window is open: reward 1, learned at once (outcome ``feedback_attributed``);
- its attribution window (``window_s`` of event time after the decision) closes as the
  watermark passes it: reward 0 is learned then (outcome ``attribution_closed``);
- more than ``max_pending`` decisions are waiting: the oldest is closed early with reward 0
  (outcome ``attribution_evicted``), so memory is bounded.

Feedback that finds nothing to join is counted, never learned: ``feedback_late`` (the
window had closed), ``feedback_repeat`` (the decision was already rewarded),
``feedback_unknown`` (no such decision, or another user's). ``impression`` feedback is
counted (``feedback_impression``) and changes nothing. A bounded memory of recently
closed decisions (``max_closed``) tells late from unknown.

Decisions are remembered at the partition's watermark, which never goes back, so the
insertion order is the deadline order: closing is a pop from the front.

>>> a = Attribution(window_s=3600.0)
>>> a.remember("d1", Pending(user="u1", placement="home", context="home|*", arm="b",
...                         propensity=0.9, deadline=3600.0))
[]
>>> outcome, p = a.feedback("d1", "u1", "click")
>>> outcome, p.arm
('feedback_attributed', 'b')
>>> a.feedback("d1", "u1", "click")[0]
'feedback_repeat'
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

#: Feedback actions that earn a reward.
REWARDING = frozenset({"click", "conversion"})


class Pending(msgspec.Struct, kw_only=True, array_like=True):
    """A decision waiting for feedback."""

    user: str
    placement: str
    #: Key of the bandit that chose (``placement|segment``), empty when no bandit chose.
    context: str
    arm: str
    propensity: float
    #: Event time at which the window closes.
    deadline: float
    #: False for decisions no bandit made (experiment control): counted, never learned.
    learn: bool = True


class AttributionState(msgspec.Struct, kw_only=True):
    """Serializable state of :class:`Attribution` (msgpack, no pickle), in order."""

    pending: list[tuple[str, Pending]] = []
    #: decision id -> [user, rewarded]
    closed: list[tuple[str, str, bool]] = []


class Attribution:
    """Pending decisions of one partition, bounded, in deadline order."""

    def __init__(self, window_s: float = 86_400.0, max_pending: int = 100_000,
                 max_closed: int = 100_000) -> None:
        self.window_s = window_s
        self.max_pending = max_pending
        self.max_closed = max_closed
        self._pending: dict[str, Pending] = {}
        #: decision id -> (user, rewarded); insertion order = closing order
        self._closed: dict[str, tuple[str, bool]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def remember(self, decision_id: str, pending: Pending) -> list[Pending]:
        """Wait for feedback on ``decision_id``; returns the decisions evicted to make room
        (their windows close now, reward 0)."""
        self._pending.pop(decision_id, None)
        self._closed.pop(decision_id, None)
        self._pending[decision_id] = pending
        evicted: list[Pending] = []
        while len(self._pending) > self.max_pending:
            old_id = next(iter(self._pending))
            evicted.append(self._close(old_id, rewarded=False))
        return evicted

    def close_due(self, now: float) -> list[Pending]:
        """Close every window whose deadline is at or before ``now`` (reward 0)."""
        closed: list[Pending] = []
        pending = self._pending
        while pending:
            first_id = next(iter(pending))
            if pending[first_id].deadline > now:
                break
            closed.append(self._close(first_id, rewarded=False))
        return closed

    def feedback(self, decision_id: str, user: str, action: str) -> tuple[str, Pending | None]:
        """Join feedback to its decision: ``(outcome, the pending decision to reward or None)``."""
        p = self._pending.get(decision_id)
        if p is not None and p.user == user:
            if action not in REWARDING:
                return "feedback_impression", None
            return "feedback_attributed", self._close(decision_id, rewarded=True)
        seen = self._closed.get(decision_id)
        if p is None and seen is not None and seen[0] == user:
            if action not in REWARDING:
                return "feedback_impression", None
            return ("feedback_repeat" if seen[1] else "feedback_late"), None
        return "feedback_unknown", None

    def forget_user(self, user: str) -> int:
        """Drop everything remembered about ``user`` (erasure); returns how many decisions."""
        gone = [d for d, p in self._pending.items() if p.user == user]
        for d in gone:
            del self._pending[d]
        closed = [d for d, (u, _) in self._closed.items() if u == user]
        for d in closed:
            del self._closed[d]
        return len(gone) + len(closed)

    def forget_placements(self, keep: Iterable[str]) -> list[Pending]:
        """Close (reward 0 is NOT learned: the caller decides) decisions of removed placements."""
        kept = set(keep)
        gone = [d for d, p in self._pending.items() if p.placement not in kept]
        return [self._close(d, rewarded=False) for d in gone]

    def _close(self, decision_id: str, rewarded: bool) -> Pending:
        p = self._pending.pop(decision_id)
        self._closed[decision_id] = (p.user, rewarded)
        while len(self._closed) > self.max_closed:
            del self._closed[next(iter(self._closed))]
        return p

    def to_state(self) -> AttributionState:
        return AttributionState(
            pending=list(self._pending.items()),
            closed=[(d, u, r) for d, (u, r) in self._closed.items()],
        )

    def load_state(self, state: AttributionState) -> None:
        self._pending = dict(state.pending)
        self._closed = {d: (u, r) for d, u, r in state.closed}


__all__ = ["REWARDING", "Attribution", "AttributionState", "Pending"]

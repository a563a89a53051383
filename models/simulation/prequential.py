"""Prequential (test-then-train) evaluation of recommendations, in event-time order.

Protocol: events are fed to an :class:`~models.engine.Engine` in order. When a known
user starts a session (their first event with a new ``session_id``), *before* that event
is fed, the engine's fresh top-``k`` (:meth:`Engine.recommend`) and the
global-popularity top-``k`` (the same engine's 7-day-decayed popularity, learned from
exactly the same events) are taken. A ``purchase`` in that session is a hit for a list
if any purchased item is in it. Both lists see the same state at the same moment: only
the ranking differs. (Predicting at session start, not just before the purchase, keeps
the cart - which the purchase empties - from giving the answer away; in the retail log
every invoice is its own session, so there it is "just before the purchase".)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from models.engine.engine import Engine
from models.recommenders.popularity import GLOBAL
from schemas.events import EventBase, Purchase


@dataclass(slots=True)
class HitRate:
    purchases: int = 0
    model_hits: int = 0
    baseline_hits: int = 0

    @property
    def model(self) -> float:
        return self.model_hits / self.purchases if self.purchases else 0.0

    @property
    def baseline(self) -> float:
        return self.baseline_hits / self.purchases if self.purchases else 0.0

    @property
    def lift(self) -> float:
        return self.model / self.baseline if self.baseline else float("inf")


def prequential_hit_rate(
    engine: Engine, events: Iterable[EventBase], k: int = 10, skip_first: int = 0
) -> HitRate:
    """Hit-rate@k of the next purchase, model vs. global popularity (see module doc).

    ``skip_first``: purchases fed but not scored (a warm-up).
    """
    res = HitRate()
    pending: list[EventBase] = []
    seen = 0
    snapshot: dict[str, tuple[str | None, list[str], list[str]]] = {}
    for ev in events:
        user = ev.user_key
        if ev.user_id is not None and (user not in snapshot or snapshot[user][0] != ev.session_id):
            if pending:
                engine.process_events(pending)
                pending = []
            if engine.lookup(user) is not None:
                snapshot[user] = (
                    ev.session_id, engine.recommend(user, k),
                    [item for item, _, _ in engine.popularity.top(GLOBAL, k)],
                )
            else:
                snapshot[user] = (ev.session_id, [], [])
        if isinstance(ev, Purchase) and ev.user_id is not None:
            seen += 1
            _, model, base = snapshot[user]
            if seen > skip_first and model:
                bought = {line.item_id for line in ev.properties.items}
                res.purchases += 1
                res.model_hits += bool(bought.intersection(model))
                res.baseline_hits += bool(bought.intersection(base))
        pending.append(ev)
    if pending:
        engine.process_events(pending)
    return res

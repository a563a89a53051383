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

Other listers (``others``, e.g. the generator's oracle of what can be known at best,
:class:`streams.generator.oracle.TasteOracle`) are asked at the same moments, see every
event as it is fed, and are scored on the same purchases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from models.engine.engine import Engine
from models.recommenders.popularity import GLOBAL
from schemas.events import EventBase, Purchase


class Lister(Protocol):
    """Something else to score beside the engine (see the module doc)."""

    def recommend(self, user: str, ts: float, k: int) -> list[str]: ...

    def observe(self, ev: EventBase) -> None: ...


@dataclass(slots=True)
class HitRate:
    purchases: int = 0
    model_hits: int = 0
    baseline_hits: int = 0
    #: hits of each of the ``others`` listers, by name
    other_hits: dict[str, int] = field(default_factory=dict)

    def other(self, name: str) -> float:
        return self.other_hits[name] / self.purchases if self.purchases else 0.0

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
    engine: Engine, events: Iterable[EventBase], k: int = 10, skip_first: int = 0,
    others: Mapping[str, Lister] | None = None,
) -> HitRate:
    """Hit-rate@k of the next purchase, model vs. global popularity (see module doc).

    ``skip_first``: purchases fed but not scored (a warm-up). ``others``: more listers
    scored on the same purchases (:attr:`HitRate.other_hits`).
    """
    others = others or {}
    res = HitRate(other_hits=dict.fromkeys(others, 0))
    pending: list[EventBase] = []
    seen = 0
    snapshot: dict[str, tuple[str | None, list[str], list[str], list[list[str]]]] = {}
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
                    [lister.recommend(user, ev.ts, k) for lister in others.values()],
                )
            else:
                snapshot[user] = (ev.session_id, [], [], [])
        if isinstance(ev, Purchase) and ev.user_id is not None:
            seen += 1
            _, model, base, listed = snapshot[user]
            if seen > skip_first and model:
                bought = {line.item_id for line in ev.properties.items}
                res.purchases += 1
                res.model_hits += bool(bought.intersection(model))
                res.baseline_hits += bool(bought.intersection(base))
                for name, items in zip(others, listed, strict=True):
                    res.other_hits[name] += bool(bought.intersection(items))
        for lister in others.values():
            lister.observe(ev)
        pending.append(ev)
    if pending:
        engine.process_events(pending)
    return res

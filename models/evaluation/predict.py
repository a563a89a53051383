"""Predict-then-learn: what an engine would recommend to a user *before* an event.

:func:`predict_before` asks the engine's own policy (same candidate rules: the same
exclusions of bought and in-cart items, the same consent handling) for the user's top-k
at the engine's current state, and the global-popularity baseline with exactly the same
rules (the same policy with no segments). It changes nothing (reading a popularity
ranking is pure), so decisions of a replay with evaluation are byte-identical to one
without.
"""

from __future__ import annotations

from typing import NamedTuple

from models.engine import Engine
from models.policies.context import DecisionContext
from models.profiles.update import new_profile

__all__ = ["Prediction", "predict_before"]


class Prediction(NamedTuple):
    #: Items the engine's policy would recommend now, best first.
    model: list[str]
    #: Items the global-popularity baseline would recommend now (same exclusions).
    baseline: list[str]
    #: The user's segments now (empty without personalization consent).
    segments: tuple[str, ...]
    #: Items excluded from both (already bought, in the cart).
    excluded: frozenset[str]


def predict_before(engine: Engine, user: str, ts: float, placement: str = "order_confirmation") -> Prediction:
    """The engine's and the baseline's recommendations for ``user`` at event time ``ts``,
    before the event is learned. Call it after the engine's watermark reached ``ts``
    (``engine.advance_to(ts)``) so due segment changes have fired."""
    profile = engine.lookup(user)
    if profile is None:
        profile = new_profile(user, ts)
    granted = profile.consent.get("personalization")
    allowed = granted if granted is not None else not engine.config.consent_required
    segments = tuple(profile.segments) if allowed else ()
    now = engine.watermark if engine.watermark is not None else ts
    names = {s.id: s.name for s in engine.rules.segments}
    ctx = DecisionContext(user_id=user, placement=placement, profile=profile, segments=segments,
                          segment_names=names, personalization_allowed=allowed, now=now)
    base_ctx = DecisionContext(user_id=user, placement=placement, profile=profile, segments=(),
                               segment_names=names, personalization_allowed=allowed, now=now)
    model = [r.item_id for r in engine.policy.decide(ctx).recommendations]
    baseline = [r.item_id for r in engine.policy.decide(base_ctx).recommendations]
    excluded = frozenset(profile.purchased) | frozenset(profile.cart) if allowed else frozenset()
    return Prediction(model, baseline, segments, excluded)

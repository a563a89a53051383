"""Folding one event into a profile. Pure and deterministic.

Category affinity decays exponentially in event time with a configurable half-life:
``score(t) = score(ref) * 2 ** (-(t - ref) / half_life)``; each interaction adds a weight
(:data:`AFFINITY_WEIGHTS`). Late events add their weight already decayed to ``ref``.
"""

from __future__ import annotations

from models.config import EngineConfig
from models.profiles.profile import REVENUE_KEY, Profile, category_key
from schemas.events import (
    AddToCart,
    Consent,
    EventBase,
    Identify,
    PageView,
    ProductView,
    Purchase,
    RemoveFromCart,
    Return,
    Search,
)

DAY = 86400.0

#: Interaction weight added to a category's affinity, per event type.
AFFINITY_WEIGHTS: dict[str, float] = {
    "page_view": 0.5,
    "search": 0.5,
    "product_view": 1.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
}

_TRAIT_FIELDS = ("age", "gender", "country", "city", "area_type", "email_subscriber")


def new_profile(user_id: str, ts: float) -> Profile:
    return Profile(user_id=user_id, first_seen=ts, last_seen=ts)


def decayed(score: float, ref: float, now: float, half_life_days: float) -> float:
    """``score`` recorded at ``ref``, seen at ``now``.

    >>> decayed(8.0, 0.0, 14 * 86400.0, 14.0)
    4.0
    """
    if now <= ref:
        return score
    return score * 2.0 ** (-(now - ref) / (half_life_days * DAY))


def _bump_affinity(p: Profile, category: str, weight: float, ts: float, cfg: EngineConfig) -> None:
    entry = p.affinity.get(category)
    hl = cfg.affinity_half_life_days
    if entry is None:
        p.affinity[category] = [weight, ts]
    elif ts >= entry[1]:
        entry[0] = decayed(entry[0], entry[1], ts, hl) + weight
        entry[1] = ts
    else:
        entry[0] += decayed(weight, ts, entry[1], hl)
    if len(p.affinity) > cfg.max_categories:
        # drop the weakest category, scored at the newest reference time (ties by name)
        ref = max(e[1] for e in p.affinity.values())
        weakest = min(p.affinity, key=lambda c: (decayed(p.affinity[c][0], p.affinity[c][1], ref, hl), c))
        del p.affinity[weakest]


def _bucket(p: Profile, ts: float) -> dict[str, float]:
    day = int(ts // DAY)
    b = p.days.get(day)
    if b is None:
        b = p.days[day] = {}
    return b


def prune_days(p: Profile, watermark: float, cfg: EngineConfig) -> bool:
    """Drop day buckets older than the retention; True when some were dropped."""
    oldest = int(watermark // DAY) - cfg.bucket_retention_days
    if p.days and min(p.days) < oldest:
        for d in [d for d in p.days if d < oldest]:
            del p.days[d]
        return True
    return False


def _track_session(p: Profile, ev: EventBase, ts: float, cfg: EngineConfig) -> None:
    sid = ev.session_id
    new = (sid != p.session_id) if sid is not None else (
        p.session_events == 0 or ts - p.last_seen > cfg.session_gap_minutes * 60
    )
    if new:
        p.sessions += 1
        p.session_id = sid
        p.session_start = ts
        p.session_events = 0
    p.session_events += 1


def apply_event(p: Profile, ev: EventBase, cfg: EngineConfig, ts: float | None = None) -> None:
    """Fold ``ev`` into ``p`` (in place); ``ts``: ``ev.ts`` when the caller has it."""
    if ts is None:
        ts = ev.ts
    etype = ev.__struct_config__.tag
    assert isinstance(etype, str)
    _track_session(p, ev, ts, cfg)
    p.first_seen = min(p.first_seen, ts)
    p.last_seen = max(p.last_seen, ts)
    p.counts[etype] = p.counts.get(etype, 0) + 1
    if ts >= p.last_at.get(etype, float("-inf")):
        p.last_at[etype] = ts
    bucket = _bucket(p, ts)
    bucket[etype] = bucket.get(etype, 0.0) + 1.0

    weight = AFFINITY_WEIGHTS.get(etype, 0.0)
    if isinstance(ev, ProductView):
        props = ev.properties
        _remember_recent(p, props.item_id, cfg)
        if props.category:
            _count_category(p, bucket, etype, props.category, weight, ts, cfg)
    elif isinstance(ev, PageView | Search):
        if ev.properties.category:
            _count_category(p, bucket, etype, ev.properties.category, weight, ts, cfg)
    elif isinstance(ev, AddToCart):
        added = ev.properties
        p.cart[added.item_id] = p.cart.get(added.item_id, 0) + added.quantity
        if len(p.cart) > cfg.max_cart_items:
            del p.cart[next(iter(p.cart))]
        if added.category:
            _count_category(p, bucket, etype, added.category, weight, ts, cfg)
    elif isinstance(ev, RemoveFromCart):
        left = p.cart.get(ev.properties.item_id, 0) - ev.properties.quantity
        if left > 0:
            p.cart[ev.properties.item_id] = left
        else:
            p.cart.pop(ev.properties.item_id, None)
    elif isinstance(ev, Purchase):
        _apply_purchase(p, ev, bucket, weight, ts, cfg)
    elif isinstance(ev, Return):
        amount = ev.properties.revenue
        p.refunded += amount
        bucket[REVENUE_KEY] = bucket.get(REVENUE_KEY, 0.0) - amount
    elif isinstance(ev, Identify):
        traits = ev.properties.traits
        for name in _TRAIT_FIELDS:
            value = getattr(traits, name)
            if value is not None:
                p.traits[name] = value
        for key in sorted(traits.extra):
            p.traits[f"extra.{key}"] = traits.extra[key]
    elif isinstance(ev, Consent):
        consent = ev.properties
        if consent.personalization is not None:
            p.consent["personalization"] = consent.personalization
        if consent.marketing is not None:
            p.consent["marketing"] = consent.marketing


def _remember_recent(p: Profile, item_id: str, cfg: EngineConfig) -> None:
    if item_id in p.recent_items:
        p.recent_items.remove(item_id)
    p.recent_items.append(item_id)
    if len(p.recent_items) > cfg.max_recent_items:
        del p.recent_items[0]


def _count_category(
    p: Profile,
    bucket: dict[str, float],
    etype: str,
    category: str,
    weight: float,
    ts: float,
    cfg: EngineConfig,
) -> None:
    key = category_key(etype, category)
    bucket[key] = bucket.get(key, 0.0) + 1.0
    if weight:
        _bump_affinity(p, category, weight, ts, cfg)


def _apply_purchase(
    p: Profile, ev: Purchase, bucket: dict[str, float], weight: float, ts: float, cfg: EngineConfig
) -> None:
    props = ev.properties
    p.orders += 1
    p.revenue += props.revenue
    bucket[REVENUE_KEY] = bucket.get(REVENUE_KEY, 0.0) + props.revenue
    seen: list[str] = []
    for line in props.items:
        p.purchased.pop(line.item_id, None)  # re-insert: dict order is recency order
        p.purchased[line.item_id] = ts
        p.cart.pop(line.item_id, None)
        if line.category and line.category not in seen:
            seen.append(line.category)
            _count_category(p, bucket, "purchase", line.category, weight, ts, cfg)
    while len(p.purchased) > cfg.max_purchased_items:
        del p.purchased[next(iter(p.purchased))]

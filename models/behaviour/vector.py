"""The per-user behaviour vector the behavioural segmenter clusters.

Category mix: an exponentially weighted moving average, per interaction (not per day),
of which category each interaction was in, so a user's vector follows a change of taste
within a few events whatever their activity rate. Spend level: an EWMA of the log price
of items interacted with. Both live in the user's :class:`~models.profiles.Profile`
(``behaviour``), so they are checkpointed with it and erased with it.

>>> from models.profiles import Profile
>>> p = Profile(user_id="u", first_seen=0.0, last_seen=0.0)
>>> fold_interaction(p, "outdoor", 60.0, alpha=0.5, max_categories=8)
>>> fold_interaction(p, "sports", 40.0, alpha=0.5, max_categories=8)
>>> p.behaviour["outdoor"], p.behaviour["sports"], p.behaviour_n
(0.25, 0.5, 2)
"""

from __future__ import annotations

import math

from models.profiles.profile import Profile

#: Key of the spend EWMA (log10 price) inside ``Profile.behaviour``.
SPEND_KEY = "$spend"
#: Shares below this are dropped (bounds the vector's size together with the cap).
MIN_SHARE = 1e-3


def fold_interaction(
    p: Profile, category: str, price: float | None, *, alpha: float, max_categories: int
) -> None:
    """Fold one interaction with an item of ``category`` (and ``price``) into ``p``."""
    vec = p.behaviour
    keep = 1.0 - alpha
    for key in [k for k in vec if k != SPEND_KEY]:
        v = vec[key] * keep
        if v < MIN_SHARE:
            del vec[key]
        else:
            vec[key] = v
    vec[category] = vec.get(category, 0.0) + alpha
    if price is not None and price > 0:
        lp = math.log10(1.0 + price)
        old = vec.get(SPEND_KEY)
        vec[SPEND_KEY] = lp if old is None else old + 0.2 * (lp - old)
    p.behaviour_n += 1
    cats = [k for k in vec if k != SPEND_KEY]
    if len(cats) > max_categories:
        weakest = min(cats, key=lambda c: (vec[c], c))
        del vec[weakest]


def category_mix(p: Profile) -> dict[str, float]:
    """The category shares, normalised to sum to 1 (empty when nothing was folded)."""
    cats = {k: v for k, v in p.behaviour.items() if k != SPEND_KEY}
    total = sum(cats.values())
    if total <= 0:
        return {}
    return {k: v / total for k, v in cats.items()}

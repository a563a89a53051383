"""The per-user behaviour vector the behavioural segmenter clusters.

Category mix: an exponentially weighted moving average, per interaction (not per day),
of which category each interaction was in, so a user's vector follows a change of taste
within a few events whatever their activity rate. Spend level: an EWMA of the log price
of items interacted with.

**Repeats within a session are damped.** A shopping session has a focus: a shopper who
mostly buys outdoor gear spends one evening on fashion, viewing a dozen dresses, adding
one to the cart and buying it. Counted one by one, those interactions make the evening's
category dominate the mix, and the shopper looks like a fashion shopper for the next
dozen interactions (on the synthetic clickstream, this was the main cause of users in
the wrong segment). So the k-th interaction with the same category in the same session
weighs ``REPEAT_DECAY ** (k - 1)`` of the first one (weight ``alpha``): a session says
*which* categories a user visits more than *how long* they stayed. A user's change of
taste still shows within a few events: every session of the new taste brings its
categories in at full weight.

Both live in the user's :class:`~models.profiles.Profile` (``behaviour``), so they are
checkpointed with it and erased with it. Keys: a category's share under its name, the
spend level under :data:`SPEND_KEY`, the number of the session being counted under
:data:`SESSION_KEY` and each category's interactions in it under ``"$n|" + name`` (only
for categories in the mix, so at most ``max_categories``). A category whose name starts
with ``$`` is stored with one more ``$`` in front, so no input collides with these keys.

>>> from models.profiles import Profile
>>> p = Profile(user_id="u", first_seen=0.0, last_seen=0.0)
>>> fold_interaction(p, "outdoor", 60.0, alpha=0.5, max_categories=8)
>>> fold_interaction(p, "sports", 40.0, alpha=0.5, max_categories=8)
>>> p.behaviour["outdoor"], p.behaviour["sports"], p.behaviour_n
(0.25, 0.5, 2)

In one session (``p.sessions``, kept by the profile update), each repeat of a category
weighs ``REPEAT_DECAY`` (0.65) of the one before; without session information nothing is
damped:

>>> def mix(sessions):
...     p = Profile(user_id="u", first_seen=0.0, last_seen=0.0, sessions=sessions)
...     for cat in ["outdoor", "fashion", "fashion", "fashion"]:
...         fold_interaction(p, cat, None, alpha=0.2, max_categories=8)
...     return {k: round(v, 2) for k, v in category_mix(p).items()}
>>> mix(sessions=1), mix(sessions=0)
({'outdoor': 0.26, 'fashion': 0.74}, {'outdoor': 0.17, 'fashion': 0.83})
"""

from __future__ import annotations

import math

from models.profiles.profile import Profile

#: Key of the spend EWMA (log10 price) inside ``Profile.behaviour``.
SPEND_KEY = "$spend"
#: Key of the session (``Profile.sessions``) whose interactions are being counted.
SESSION_KEY = "$session"
#: Prefix of a category's interaction count in that session.
COUNT_PREFIX = "$n|"
#: Weight of the k-th interaction with one category in one session: ``REPEAT_DECAY ** (k-1)``.
REPEAT_DECAY = 0.65
#: Weight of a new price in the spend EWMA (damped like the shares).
SPEND_RATE = 0.2
#: Shares below this are dropped (bounds the vector's size together with the cap).
MIN_SHARE = 1e-3


def category_key(category: str) -> str:
    """The key of ``category``'s share (a name starting with ``$`` gets one more ``$``)."""
    return "$" + category if category[:1] == "$" else category


def is_category_key(key: str) -> bool:
    """True for the keys of category shares (not spend or bookkeeping)."""
    return key[0] != "$" or key[1] == "$"


def fold_interaction(
    p: Profile, category: str, price: float | None, *, alpha: float, max_categories: int
) -> None:
    """Fold one interaction with an item of ``category`` (and ``price``) into ``p``.

    The k-th interaction with ``category`` in the current session (``p.sessions``; 0 means
    unknown, and then nothing is damped) weighs ``alpha * REPEAT_DECAY ** (k - 1)``. The
    mix keeps at most ``max_categories`` categories: the weakest goes first. An empty
    ``category`` is ignored.
    """
    if not category:
        return
    vec = p.behaviour
    key = category_key(category)
    count_key = COUNT_PREFIX + key
    session = float(p.sessions)
    new_session = session == 0.0 or vec.get(SESSION_KEY) != session
    seen = 0.0 if new_session else vec.get(count_key, 0.0)
    damp = REPEAT_DECAY ** seen if seen else 1.0
    a = alpha * damp
    keep = 1.0 - a
    n_cats = 0
    dropped: list[str] = []
    for k in list(vec):
        if k[0] != "$" or k[1] == "$":
            v = vec[k] * keep
            if v < MIN_SHARE:
                del vec[k]
                dropped.append(k)
            else:
                vec[k] = v
                n_cats += 1
        elif new_session and k[1] == "n" and k[2] == "|":
            del vec[k]
    if key not in vec:
        n_cats += 1
    vec[key] = vec.get(key, 0.0) + a
    if session:
        vec[SESSION_KEY] = session
        vec[count_key] = seen + 1.0
    if price is not None and price > 0:
        lp = math.log10(1.0 + price)
        old = vec.get(SPEND_KEY)
        vec[SPEND_KEY] = lp if old is None else old + SPEND_RATE * damp * (lp - old)
    p.behaviour_n += 1
    if n_cats > max_categories:
        weakest = min((k for k in vec if k[0] != "$" or k[1] == "$"), key=lambda c: (vec[c], c))
        del vec[weakest]
        dropped.append(weakest)
    for k in dropped:  # a session count lives only as long as its category's share
        vec.pop(COUNT_PREFIX + k, None)


def category_mix(p: Profile) -> dict[str, float]:
    """The category shares, normalised to sum to 1 (empty when nothing was folded)."""
    cats = {k: v for k, v in p.behaviour.items() if k[0] != "$" or k[1] == "$"}
    total = sum(cats.values())
    if total <= 0:
        return {}
    return {(k[1:] if k[0] == "$" else k): v / total for k, v in cats.items()}

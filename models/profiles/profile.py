"""The per-user profile: what the core remembers about one user.

Windowed quantities are kept in UTC day buckets: ``days[d]`` holds the counts of day
``d = floor(ts / 86400)``. A window of N days at time ``now`` sums the buckets of days
``[day(now) - N + 1, day(now)]``. Buckets older than the retention are pruned, so a
profile's size is bounded by its active days within the retention, not by its events.
"""

from __future__ import annotations

import msgspec

#: Key of the net revenue inside a day bucket.
REVENUE_KEY = "$revenue"


def category_key(event_type: str, category: str) -> str:
    """Key of a per-category count inside a day bucket."""
    return f"{event_type}|{category}"


class RecCache(msgspec.Struct, kw_only=True):
    """The last recommendations computed for a user (see models/policies/hybrid.py)."""

    at: float
    sig: list[float]
    segments: list[str]
    #: (item, score, reason, category, source)
    items: list[tuple[str, float, str, str | None, str]]


class Profile(msgspec.Struct, kw_only=True, omit_defaults=True):
    user_id: str
    first_seen: float
    last_seen: float
    #: All-time count per event type.
    counts: dict[str, int] = {}
    #: Time of the last event per event type.
    last_at: dict[str, float] = {}
    #: Day index -> counts for windowed rules (event types, "type|category", revenue).
    days: dict[int, dict[str, float]] = {}
    #: Category -> [forward-decayed score, reference time]; see :mod:`models.profiles.update`.
    affinity: dict[str, list[float]] = {}
    recent_items: list[str] = []
    #: Item -> last purchase time.
    purchased: dict[str, float] = {}
    cart: dict[str, int] = {}
    orders: int = 0
    revenue: float = 0.0
    refunded: float = 0.0
    session_id: str | None = None
    session_start: float = 0.0
    session_events: int = 0
    sessions: int = 0
    traits: dict[str, str | int | float | bool | None] = {}
    consent: dict[str, bool] = {}
    #: Rule segments the user is in, in rule-file order.
    segments: list[str] = []
    #: Version of the rule set ``segments`` was last fully evaluated under (a profile from
    #: another rule set is fully re-evaluated once; see ``RuleSet.members_after``).
    rules_version: str | None = None
    #: Earliest time a rule may change without a new event (None: nothing pending).
    next_due: float | None = None
    #: Recent event ids, for duplicate suppression.
    recent_event_ids: list[str] = []
    last_decision_id: str | None = None
    #: Behaviour vector (category -> EWMA share, ``$spend``), see :mod:`models.behaviour`.
    behaviour: dict[str, float] = {}
    #: Interactions folded into ``behaviour``.
    behaviour_n: int = 0
    #: Behavioural segment, interactions since it was assigned, and a pending challenger.
    bsegment: str | None = None
    bsegment_dwell: int = 0
    bsegment_challenger: str | None = None
    bsegment_streak: int = 0
    #: Guardrails: placement -> times of recent exposures (frequency caps, cooldowns).
    exposures: dict[str, list[float]] = {}
    #: Placement -> time of the user's last click or conversion there (offer cooldowns).
    responses: dict[str, float] = {}
    rec_cache: RecCache | None = None

"""Engine configuration: hyperparameters of the core, immutable, with defaults."""

from __future__ import annotations

import msgspec

#: Event type -> placement a decision is made for. Types not listed get no decision.
DEFAULT_PLACEMENTS: dict[str, str] = {
    "page_view": "home",
    "product_view": "product_detail",
    "search": "search_results",
    "add_to_cart": "cart",
    "purchase": "order_confirmation",
}


class EngineConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Hyperparameters of one partition engine. Defaults are immutable.

    >>> EngineConfig().recommendations
    10
    >>> "pepper" in repr(EngineConfig(pseudonymize_key=b"pepper"))
    False
    """

    #: Items per decision.
    recommendations: int = 10
    #: Event type -> placement; an event of a type not here produces no decision.
    placements: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_PLACEMENTS))
    #: Half-life of category affinities, days of event time.
    affinity_half_life_days: float = 14.0
    #: Half-life of item popularity, days of event time.
    popularity_half_life_days: float = 7.0
    #: Day buckets older than this (relative to the watermark) are pruned from profiles.
    bucket_retention_days: int = 400
    #: Categories kept per profile (lowest affinity dropped first).
    max_categories: int = 32
    #: Recently viewed items kept per profile.
    max_recent_items: int = 20
    #: Purchased items remembered per profile (for the "already bought" filter).
    max_purchased_items: int = 500
    #: Items kept in a cart.
    max_cart_items: int = 100
    #: Event ids remembered per user to drop re-sent duplicates.
    dedup_window: int = 64
    #: Items tracked per segment by the popularity recommender.
    max_items_per_segment: int = 500
    #: Without an explicit consent event, treat personalization as withheld.
    consent_required: bool = False
    #: Inactivity that ends a session when events carry no ``session_id``.
    session_gap_minutes: float = 30.0
    #: Seed of every randomized model (bandits, clustering init): same seed + same input
    #: order -> byte-identical outputs.
    seed: int = 0
    #: Behavioural segments on/off, and their hyperparameters (see models/behaviour).
    #: Off by default: they cost ~18-26 us/event (segments alone; the hybrid policy more).
    behavioural_segments: bool = False
    behaviour_clusters: int = 6
    #: Weight of each new interaction in the behaviour vector's category mix (EWMA).
    behaviour_alpha: float = 0.07
    #: Relative distance margin, consecutive confirmations and minimum dwell (interactions)
    #: before a user moves to another behavioural segment.
    behaviour_margin: float = 0.15
    behaviour_confirm: int = 2
    behaviour_min_dwell: int = 3
    #: Users buffered (anonymously) to initialise the clusters.
    behaviour_warmup: int = 400
    #: Decision policy: ``segment-popularity`` (default) or ``hybrid`` (candidates + online
    #: ranker; opt-in until it beats popularity by the margins the quality report checks).
    policy: str = "segment-popularity"
    #: Bought items come back as "buy again" after this many days; None: never.
    rebuy_after_days: float | None = None
    #: Half-life of the "trending" item popularity, days of event time.
    trending_half_life_days: float = 1.0
    #: Half-life of the "steady" (long-window) item popularity, days of event time: what
    #: sells month in, month out (the hybrid policy's third popularity source).
    steady_half_life_days: float = 30.0
    #: Categories never recommended.
    excluded_categories: tuple[str, ...] = ()
    #: Bounds of the co-visitation model: items tracked, neighbours per item.
    max_covisit_items: int = 20_000
    max_covisit_neighbors: int = 30
    #: Event-time bounds (hostile-input policy, see ``models/engine/engine.py``): an event
    #: stamped more than this many seconds after its record's broker timestamp is
    #: dead-lettered as ``future_event``.
    max_future_s: float = 86_400.0
    #: An event more than this many seconds behind the partition's watermark is
    #: dead-lettered as ``too_old`` (400 days: the profile day-bucket retention).
    max_past_s: float = 400 * 86_400.0
    #: Offers (see ``models/offers/chooser.py``): exploration rate of the variant bandits
    #: (every variant keeps a propensity of at least ``offer_epsilon / variants``).
    offer_epsilon: float = 0.1
    #: Bandit context: ``segment`` (one bandit per placement x the user's segment) or
    #: ``global`` (one per placement).
    offer_context: str = "segment"
    #: Segments that key the per-segment bandits, in priority order (empty: the user's
    #: first segment in rule-file order); users in none of them share the ``*`` bandit.
    offer_segments: tuple[str, ...] = ()
    #: Attribution window, seconds of event time: a click or conversion within it is reward
    #: 1; when it closes with none, reward 0 is learned; later feedback is counted only.
    offer_attribution_window_s: float = 86_400.0
    #: Decisions waiting for feedback per partition (the oldest is closed first).
    offer_max_pending: int = 100_000
    #: Frequency cap: at most this many offer exposures per user x placement per
    #: ``offer_cap_window_s`` (None: no cap); ``offer_caps`` overrides it per placement.
    offer_cap: int | None = None
    offer_cap_window_s: float = 86_400.0
    offer_caps: dict[str, int] = msgspec.field(default_factory=dict)
    #: No offer on a placement for this many seconds after the user clicked or converted
    #: on it (0: no cooldown).
    offer_cooldown_s: float = 0.0
    #: HMAC key: when set, state and outputs are keyed by ``models.privacy.pseudonymize``
    #: of the user key, never by the raw id. A secret: redacted from ``repr``.
    pseudonymize_key: bytes | None = None

    def __repr__(self) -> str:
        fields = msgspec.structs.asdict(self)
        if fields["pseudonymize_key"] is not None:
            fields["pseudonymize_key"] = "**********"
        return "EngineConfig(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"

"""The personalized policy: hybrid candidates ranked online, with readable reasons.

``kind``: ``personalized`` when individual history (co-visitation, buy-again, affinity)
shaped the list, ``segment_level`` when only the user's segments did (cold start, or no
individual personalization allowed but segment-level is), ``default`` otherwise.

Recommendations are cached in the profile (``rec_cache``) and recomputed when the user
has done ``refresh_every`` more interactions, bought or carted something, or an hour of
event time passed; the cache is per-user state, checkpointed with the profile, so a
restored engine makes the same decisions as one that never stopped.
"""

from __future__ import annotations

from collections.abc import Collection

from models.policies.context import DecisionContext, PolicyAnswer
from models.profiles.profile import Profile, RecCache
from models.recommenders.hybrid import HybridRecommender
from models.recommenders.reasons import text
from schemas.outputs import Recommendation

_SOURCES_PERSONAL = ("covisit", "rebuy")


class HybridPolicy:
    name = "hybrid-ranker/1"

    def __init__(
        self, recommender: HybridRecommender | None = None, k: int = 10, refresh_every: int = 3,
        max_age_s: float = 3600.0, excluded_categories: Collection[str] = (),
    ) -> None:
        #: None: a new, empty one (every argument has a default: a compiled class unpickles so).
        self.recommender = recommender if recommender is not None else HybridRecommender()
        self.k = k
        self.refresh_every = refresh_every
        self.max_age_s = max_age_s
        self.excluded_categories = tuple(sorted(excluded_categories))
        self.catalogue: frozenset[str] | None = None

    def _signature(self, p: Profile, personal: bool) -> list[float]:
        return [float(personal), float(p.orders), float(sum(p.cart.values())), float(p.behaviour_n)]

    def decide(self, ctx: DecisionContext) -> PolicyAnswer:
        p = ctx.profile
        personal = ctx.personalization_allowed
        sig = self._signature(p, personal)
        cache = p.rec_cache
        fresh = (
            cache is not None and cache.sig[:3] == sig[:3]
            and sig[3] - cache.sig[3] < self.refresh_every
            and ctx.now - cache.at < self.max_age_s and cache.segments == list(ctx.segments)
        )
        if not fresh:
            rows = self.recommender.recommend_rows(
                p, ctx.segments, ctx.now, self.k, lambda s: ctx.segment_names.get(s, s),
                personal=personal, excluded_categories=self.excluded_categories,
                catalogue=self.catalogue,
            )
            cache = p.rec_cache = RecCache(
                at=ctx.now, sig=sig, segments=list(ctx.segments),
                items=rows,
            )
        assert cache is not None
        recs = [Recommendation(item_id=i, score=s, reason=text(r), category=c)
                for i, s, r, c, _ in cache.items]
        sources = {item[4] for item in cache.items}
        reasons: list[str] = []
        if personal and sources & set(_SOURCES_PERSONAL):
            kind = "personalized"
            reasons.append("ranked by an online model of purchase propensity from your history, "
                           "your segments and what is popular")
        elif "segment" in sources:
            kind = "segment_level"
            reasons.append("ranked from what is popular in your segments")
        else:
            kind = "default"
            reasons.append("no individual or segment signal yet: popular and trending items")
        if personal:
            n_excluded = len(self.recommender.excluded(p, ctx.now))
            if n_excluded:
                reasons.append(f"excluded {n_excluded} items already bought or in the cart")
        if not recs:
            reasons.append("no item interactions seen yet: nothing to recommend")
        return PolicyAnswer(kind=kind, recommendations=recs, reasons=reasons)  # type: ignore[arg-type]

"""Candidate generation + online ranking: the personalized recommender.

Candidates come from, per user: items seen with what they recently viewed or bought
(:class:`~models.recommenders.covisit.CoVisitation`), what they bought before (buy
again), what is popular in their segments (rule and behavioural; the cold-start source),
what is trending (1-day half-life) and what is popular overall. Each candidate is
featurized (:data:`~models.recommenders.ranker.FEATURES`) and ranked by the online
:class:`~models.recommenders.ranker.Ranker`. Filters: items bought within
``rebuy_after_days`` (``None``: ever bought), items in the cart, excluded categories and
items not in the catalogue (when a catalogue is set). Every item keeps the reason of its
strongest source, in words.

Learning (:meth:`HybridRecommender.learn_purchase`): at a purchase, the candidates the
user had just before it are labelled (bought: 1; the best-ranked ones not bought: 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from models.behaviour.vector import category_mix
from models.profiles.profile import Profile
from models.recommenders.covisit import CoVisitation
from models.recommenders.popularity import GLOBAL, SegmentPopularity
from models.recommenders.ranker import Ranker

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Ranked:
    item_id: str
    score: float
    reason: str
    category: str | None
    #: Which source a person would credit: covisit, rebuy, segment, trend, global.
    source: str


class HybridRecommender:
    def __init__(
        self,
        popularity: SegmentPopularity,
        trending: SegmentPopularity,
        covisit: CoVisitation,
        ranker: Ranker,
        *,
        per_source: int = 20,
        recent_items: int = 5,
        rebuy_after_days: float | None = None,
        negatives: int = 5,
    ) -> None:
        self.popularity = popularity
        self.trending = trending
        self.covisit = covisit
        self.ranker = ranker
        self.per_source = per_source
        self.recent_items = recent_items
        self.rebuy_after_days = rebuy_after_days
        self.negatives = negatives

    def candidates(
        self, p: Profile, segments: Sequence[str], now: float, name_of: Callable[[str], str],
        personal: bool = True,
    ) -> dict[str, tuple[dict[str, float], str, str]]:
        """item -> (features, best reason, source). ``personal=False``: no individual history."""
        cands: dict[str, tuple[dict[str, float], str, str]] = {}
        n = self.per_source

        def add(item: str, feat: str, value: float, reason: str, source: str) -> None:
            entry = cands.get(item)
            if entry is None:
                cands[item] = ({feat: value}, reason, source)
            else:
                x = entry[0]
                if value > x.get(feat, 0.0):
                    x[feat] = value

        if personal:
            recent = p.recent_items[-self.recent_items:]
            bought = list(p.purchased)[-self.recent_items:]
            for i_anchor, anchor in enumerate(reversed(recent + [b for b in bought if b not in recent])):
                for rank, (item, share) in enumerate(self.covisit.neighbors(anchor, n)):
                    add(item, "covisit", share / (1.0 + 0.3 * i_anchor + 0.05 * rank),
                        f"often viewed or bought together with {anchor}, which you looked at", "covisit")
            purchased = p.purchased
            for rank, item in enumerate(reversed(list(purchased)[-n:])):
                days = max(0.0, (now - purchased[item]) / DAY)
                add(item, "rebuy", math.exp(-days / 180.0) / (1.0 + 0.1 * rank),
                    f"you bought this {days:.0f} days ago: buy it again", "rebuy")
        for seg in segments:
            for rank, (item, _, _) in enumerate(self.popularity.top(seg, n)):
                add(item, "segment", 1.0 / (1.0 + 0.2 * rank),
                    f"popular with shoppers in '{name_of(seg)}', a segment you are in", "segment")
        for rank, (item, _, _) in enumerate(self.trending.top(GLOBAL, n)):
            add(item, "trend", 1.0 / (1.0 + 0.2 * rank), "trending with all shoppers today", "trend")
        for rank, (item, _, _) in enumerate(self.popularity.top(GLOBAL, n)):
            add(item, "global", 1.0 / (1.0 + 0.2 * rank), "popular with all shoppers this week", "global")
        if personal:
            mix = category_mix(p)
            recent_pos = {it: i for i, it in enumerate(reversed(p.recent_items))}
            bought_cats: set[str] = set()
            cat_of = self.popularity.category_of
            for item in list(p.purchased)[-20:]:
                c = cat_of(item)
                if c:
                    bought_cats.add(c)
            for item, (x, _, _) in cands.items():
                cat = cat_of(item)
                if cat is not None:
                    share = mix.get(cat, 0.0)
                    if share:
                        x["affinity"] = share
                    if cat in bought_cats:
                        x["category_bought"] = 1.0
                pos = recent_pos.get(item)
                if pos is not None:
                    x["viewed"] = 1.0 / (1.0 + pos)
        return cands

    def excluded(self, p: Profile, now: float) -> set[str]:
        out = set(p.cart)
        if self.rebuy_after_days is None:
            out.update(p.purchased)
        else:
            limit = now - self.rebuy_after_days * DAY
            out.update(item for item, t in p.purchased.items() if t > limit)
        return out

    def recommend(
        self, p: Profile, segments: Sequence[str], now: float, k: int,
        name_of: Callable[[str], str] = str, *, personal: bool = True,
        excluded_categories: Collection[str] = (), catalogue: Collection[str] | None = None,
    ) -> list[Ranked]:
        cands = self.candidates(p, segments, now, name_of, personal)
        skip = self.excluded(p, now) if personal else set()
        items = [
            it for it in cands
            if it not in skip and (catalogue is None or it in catalogue)
            and (not excluded_categories or self.popularity.category_of(it) not in excluded_categories)
        ]
        scores = self.ranker.score_many([cands[it][0] for it in items])
        order = sorted(range(len(items)), key=lambda i: (-scores[i], items[i]))[:k]
        return [
            Ranked(items[i], round(scores[i], 6), cands[items[i]][1],
                   self.popularity.category_of(items[i]), cands[items[i]][2])
            for i in order
        ]

    def learn_purchase(
        self, p: Profile, segments: Sequence[str], bought: Collection[str], now: float
    ) -> None:
        """Label the user's candidates just before a purchase and learn from them."""
        cands = self.candidates(p, segments, now, str)
        if not cands:
            return
        for it in sorted(cands):  # every candidate labelled: no selection bias
            self.ranker.learn_one(cands[it][0], it in bought)

    def learn_click(self, p: Profile, segments: Sequence[str], item_id: str, now: float) -> None:
        """A click on a recommended item (from a ``feedback`` event) is a positive label."""
        cands = self.candidates(p, segments, now, str)
        if item_id in cands:
            self.ranker.learn_one(cands[item_id][0], True)

    def learn_interaction(self, p: Profile, item_id: str, weight: float, ts: float) -> None:
        """Pair ``item_id`` with the user's recent items (call before it is appended)."""
        for other in p.recent_items[-3:]:
            if other != item_id:
                self.covisit.learn_pair(item_id, other, weight, ts)

    def learn_basket(self, p: Profile, items: Sequence[str], ts: float) -> None:
        uniq = list(dict.fromkeys(items))
        for i, a in enumerate(uniq[:20]):
            for b in uniq[i + 1: 20]:
                self.covisit.learn_pair(a, b, 2.0, ts)
            for other in p.recent_items[-3:]:
                if other != a:
                    self.covisit.learn_pair(a, other, 1.0, ts)

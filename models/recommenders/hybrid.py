"""Candidate generation + online ranking: the personalized recommender.

Candidates come from, per user:

* **buy again**: what they bought before, most recent first. Two features: the recency
  rank and how concentrated their purchases are (``1 / distinct items bought``): a
  shopper who bought two things is far likelier to re-order one of them than a shopper
  who bought forty (measured on both the generator and the retail log);
* **shoppers like you**: a mixture of the behavioural segments' popularity lists,
  weighted by the posterior probability that the user belongs to each segment. The
  posterior is a naive Bayes over the categories of the items in the user's history
  (recently viewed and bought), with each segment's category mix read from its
  popularity list. A user with one or two interactions, not
  yet assigned a segment, already gets the lists of the segments whose categories match
  theirs, and an ambiguous user gets a blend instead of one wrong segment. Without
  behavioural segments (or without consent), the popularity of the user's rule segments;
* items seen with what they recently viewed or bought (:class:`~models.recommenders.covisit.CoVisitation`),
  what is trending (1-day half-life) and what is popular overall.

Each candidate is featurized (:data:`~models.recommenders.ranker.FEATURES`, every value
in [0, 1], popularity features relative to their list's leader) and ranked by the
online :class:`~models.recommenders.ranker.Ranker`. Filters: items bought within
``rebuy_after_days`` (``None``: ever bought), items in a live cart (an abandoned one,
see :data:`CART_TTL_S`, no longer hides its items), excluded categories and items not
in the catalogue (when a catalogue is set). Every item keeps the reason of its
strongest source, in words.

Learning (:meth:`HybridRecommender.learn_purchase`): at a purchase, the candidates the
user had *when the session started* are labelled (bought: 1; not bought: 0). The
session's own views and purchases are left out of those features (``session_start``):
otherwise the items just viewed - the ones in the cart - would teach the ranker that
"viewed in this session" predicts the purchase, a signal no list shown at the start of
a session can have.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from models.profiles.profile import Profile
from models.recommenders.covisit import CoVisitation
from models.recommenders.mixture import TasteMixture, normalized_posterior
from models.recommenders.popularity import GLOBAL, SegmentPopularity
from models.recommenders.ranker import Ranker

DAY = 86400.0

#: Items read per behavioural segment to estimate its category mix.
MIX_ITEMS = 30
#: Interactions of evidence the posterior counts at most (a user's history is
#: correlated by session focus, so more would make the posterior overconfident).
MAX_EVIDENCE = 5.0
#: Additive smoothing of a segment's category shares (a share never reaches 0).
SMOOTHING = 0.01
#: A cart with no addition for this long (event time) is abandoned: not excluded.
CART_TTL_S = 3600.0
#: Segments below this posterior contribute no candidates.
MIN_POSTERIOR = 0.02
#: Last bought items a shopper re-orders from (feature ``rebuy_rate``: 1 / their number).
REBUY_WINDOW = 40
#: ``taste`` feature = this x P(the next purchase is the item | the user's taste).
TASTE_SCALE = 10.0
#: Per purchase, items not re-ordered from the window ("fresh") and items re-ordered from
#: it, as measured on the synthetic clickstream (1.21 and 0.15; the retail log: 2.3, 0.1).
FRESH_PER_PURCHASE = 1.2
REBUY_PER_PURCHASE = 0.15
#: ``propensity`` = 1 + ln(expected purchases of the item) / this, clipped to [0, 1]: with
#: weight :data:`~models.recommenders.ranker.PROPENSITY_SPAN` and the same intercept, the
#: ranker's log-odds start at ln(expected purchases), calibrated.
PROPENSITY_SPAN = 12.0


@dataclass(frozen=True, slots=True)
class Ranked:
    item_id: str
    score: float
    reason: str
    category: str | None
    #: Which source a person would credit: covisit, rebuy, segment, trend, global, steady.
    source: str


Candidates = dict[str, tuple[dict[str, float], str, str]]


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
        max_rebuy: int = 20,
        steady: SegmentPopularity | None = None,
        mixture: TasteMixture | None = None,
        calibrated: bool = True,
        rebuy_window: int = REBUY_WINDOW,
        fresh_per_purchase: float = FRESH_PER_PURCHASE,
        rebuy_per_purchase: float = REBUY_PER_PURCHASE,
    ) -> None:
        self.popularity = popularity
        self.trending = trending
        #: Long-window (30-day) global popularity; None: no such source.
        self.steady = steady
        self.covisit = covisit
        self.ranker = ranker
        self.per_source = per_source
        self.recent_items = recent_items
        self.rebuy_after_days = rebuy_after_days
        self.negatives = negatives
        self.max_rebuy = max_rebuy
        #: P(segment | user) and P(item | user); None: one over ``popularity``.
        self.mixture = mixture if mixture is not None else TasteMixture(popularity)
        #: True: segment candidates scored by :class:`TasteMixture` (features ``taste`` and
        #: ``rebuy_rate``); False: the category-only posterior of earlier releases.
        self.calibrated = calibrated
        self.rebuy_window = rebuy_window
        self.fresh_per_purchase = fresh_per_purchase
        self.rebuy_per_purchase = rebuy_per_purchase

    # -- candidate sources ---------------------------------------------------------

    def history_mix(self, p: Profile, items: Sequence[str]) -> tuple[dict[str, float], float]:
        """The category shares of ``items`` (the user's history) and how many items of
        evidence they are; without items, the categories of the user's pages and searches
        (one item's worth of evidence)."""
        cat_of = self.popularity.category_of
        counts: dict[str, float] = {}
        for item in items:
            cat = cat_of(item)
            if cat is not None:
                counts[cat] = counts.get(cat, 0.0) + 1.0
        n = sum(counts.values())
        if n:
            return {c: v / n for c, v in counts.items()}, n
        if p.affinity:
            total = sum(e[0] for e in p.affinity.values()) or 1.0
            return {c: e[0] / total for c, e in sorted(p.affinity.items())}, 1.0
        return {}, 0.0

    def segment_posterior(self, mix: dict[str, float], n: float) -> list[tuple[str, float]]:
        """P(behavioural segment | a history of ``n`` items with category shares ``mix``),
        best first; empty when no behavioural segment has popularity yet."""
        segs = self.mixture.segments()
        if not segs:
            return []
        n_eff = min(n, MAX_EVIDENCE)
        logp: list[float] = []
        for seg in segs:
            shares: dict[str | None, float] = {}
            for _, share, cat in self.popularity.top(seg, MIX_ITEMS):
                shares[cat] = shares.get(cat, 0.0) + share
            total = sum(shares.values()) or 1.0
            logp.append(sum(
                n_eff * w * math.log(shares.get(c, 0.0) / total + SMOOTHING) for c, w in mix.items()
            ))
        return normalized_posterior(segs, logp)

    def candidates(
        self, p: Profile, segments: Sequence[str], now: float, name_of: Callable[[str], str],
        personal: bool = True, *, session_start: bool = False,
    ) -> Candidates:
        """item -> (features, best reason, source). ``personal=False``: no individual
        history. ``session_start``: as the user was when their current session started
        (this session's views and purchases left out; what learning labels)."""
        cands: Candidates = {}
        n = self.per_source

        def add(item: str, feat: str, value: float, reason: str, source: str) -> None:
            entry = cands.get(item)
            if entry is None:
                cands[item] = ({feat: value}, reason, source)
            else:
                x = entry[0]
                if value > x.get(feat, 0.0):
                    x[feat] = value

        recent: list[str] = []
        bought: list[str] = []
        mix: dict[str, float] = {}
        n_hist = 0.0
        if personal:
            recent = p.recent_items
            purchased = p.purchased
            if session_start and p.session_events:
                recent = recent[:-p.session_events]
                purchased = {i: t for i, t in purchased.items() if t < p.session_start}
            bought = list(purchased)
            mix, n_hist = self.history_mix(p, recent + bought[-self.max_rebuy:])
            if session_start and not recent and not bought:
                mix, n_hist = {}, 0.0  # pages and searches of this very session: no
            recent_set = set(recent[-self.recent_items:])
            anchors = recent[-self.recent_items:] + [b for b in bought[-self.recent_items:]
                                                      if b not in recent_set]
            for i_anchor, anchor in enumerate(reversed(anchors)):
                for rank, (item, share) in enumerate(self.covisit.neighbors(anchor, n // 2)):
                    add(item, "covisit", share / (1.0 + 0.3 * i_anchor + 0.05 * rank),
                        f"often viewed or bought together with {anchor}, which you looked at", "covisit")
            if bought:
                few = max(0.0, 1.0 - math.log(len(bought)) / math.log(64.0))
                for rank, item in enumerate(reversed(bought[-self.max_rebuy:])):
                    days = max(0.0, (now - purchased[item]) / DAY)
                    add(item, "rebuy", 1.0 / (1.0 + 0.15 * rank),
                        f"you bought this {days:.0f} days ago: buy it again", "rebuy")
                    cands[item][0]["rebuy_few"] = few
                if self.calibrated:
                    window = bought[-self.rebuy_window:]
                    rate = 1.0 / len(window)
                    for item in reversed(window):
                        days = max(0.0, (now - purchased[item]) / DAY)
                        add(item, "rebuy_rate", rate,
                            f"you bought this {days:.0f} days ago: buy it again", "rebuy")
        if personal and self.calibrated:
            post = self.mixture.posterior(bought[-self.max_rebuy:] + recent)
        else:
            post = self.segment_posterior(mix, n_hist) if personal else []
        if post and self.calibrated:
            probs = self.mixture.item_probabilities(post, n)
            lead = probs[0][1] if probs and probs[0][1] > 0 else 1.0
            best_seg = post[0][0]
            for item, prob in probs:
                add(item, "segment", prob / lead,
                    f"popular with shoppers like you ('{name_of(best_seg)}')", "segment")
                cands[item][0]["taste"] = min(1.0, TASTE_SCALE * prob)
        elif post:
            scores: dict[str, float] = {}
            best: dict[str, str] = {}
            for seg, w in post:
                if w < MIN_POSTERIOR:
                    break
                for item, share, _ in self.popularity.top(seg, n):
                    s = w * share
                    scores[item] = scores.get(item, 0.0) + s
                    if item not in best:
                        best[item] = seg
            lead = max(scores.values(), default=0.0) or 1.0
            for item in sorted(scores, key=lambda i: (-scores[i], i)):
                add(item, "segment", scores[item] / lead,
                    f"popular with shoppers like you ('{name_of(best[item])}')", "segment")
        else:
            for seg in segments:
                for rank, (item, _, _) in enumerate(self.popularity.top(seg, n)):
                    add(item, "segment", 1.0 / (1.0 + 0.2 * rank),
                        f"popular with shoppers in '{name_of(seg)}', a segment you are in", "segment")
        self._add_leaders(self.trending.top(GLOBAL, n), "trend", "trending with all shoppers today", add)
        self._add_leaders(
            self.popularity.top(GLOBAL, n), "global", "popular with all shoppers this week", add)
        if self.steady is not None:
            self._add_leaders(
                self.steady.top(GLOBAL, n), "steady", "a steady seller with all shoppers this month", add)
        if self.calibrated:
            fresh, again = self.fresh_per_purchase / TASTE_SCALE, self.rebuy_per_purchase
            for x, _, _ in cands.values():
                q = fresh * x.get("taste", 0.0) + again * x.get("rebuy_rate", 0.0)
                if q > 0.0:
                    x["propensity"] = max(0.0, 1.0 + math.log(q) / PROPENSITY_SPAN)
        if personal:
            recent_pos = {it: i for i, it in enumerate(reversed(recent))}
            cat_of = self.popularity.category_of
            for item, (x, _, _) in cands.items():
                cat = cat_of(item)
                if cat is not None:
                    share = mix.get(cat, 0.0)
                    if share:
                        x["affinity"] = share
                pos = recent_pos.get(item)
                if pos is not None:
                    x["viewed"] = 1.0 / (1.0 + pos)
        return cands

    @staticmethod
    def _add_leaders(
        top: list[tuple[str, float, str | None]], feat: str, reason: str,
        add: Callable[[str, str, float, str, str], None],
    ) -> None:
        if not top:
            return
        lead = top[0][1] or 1.0
        for item, share, _ in top:
            add(item, feat, share / lead, reason, feat)

    # -- ranking -------------------------------------------------------------------

    def excluded(self, p: Profile, now: float) -> set[str]:
        """Items not to recommend: bought within ``rebuy_after_days`` and what is in a
        live cart. A cart nobody added to for :data:`CART_TTL_S` is abandoned: its items
        may come back (shoppers do return for them)."""
        out: set[str] = set()
        if p.cart and now - p.last_at.get("add_to_cart", now) <= CART_TTL_S:
            out.update(p.cart)
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

    # -- learning ------------------------------------------------------------------

    def learn_purchase(
        self, p: Profile, segments: Sequence[str], bought: Collection[str], now: float
    ) -> None:
        """Label the user's candidates as of their session's start and learn from them
        (call before the purchase is applied to ``p``)."""
        cands = self.candidates(p, segments, now, str, session_start=True)
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

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

The mixture source is bounded to what ``k`` = 10 needs: it reads the top
:data:`SEGMENT_CANDIDATES` items of each likely segment and keeps its best
:data:`SEGMENT_CANDIDATES` (keeping all ~55 items read ranked no better), so a decision
scores ~35 candidates, not ~75.

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
from typing import NamedTuple

from models.profiles.profile import Profile
from models.recommenders.covisit import CoVisitation
from models.recommenders.mixture import TasteMixture, normalized_posterior
from models.recommenders.popularity import GLOBAL, SegmentPopularity
from models.recommenders.ranker import Ranker
from models.recommenders.reasons import (
    COVISIT,
    GLOBAL_TOP,
    IN_SEGMENT,
    LIKE_YOU,
    REBUY,
    STEADY,
    TRENDING,
    code,
    text,
)

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
#: "Shoppers like you" candidates: the mixture reads this many items of each likely
#: behavioural segment and keeps its best this many (the default ``k``). Earlier releases
#: read 20 and kept every item read (~55): prequential hit-rate@10 lift over popularity 1.743
#: then, 1.762 now (``benchmarks/quality_report.py --users 10000 --events 200000``; retail
#: 1.331 both), at about half the cost per decision.
SEGMENT_CANDIDATES = 10
#: ``propensity`` = 1 + ln(expected purchases of the item) / this, clipped to [0, 1]: with
#: weight :data:`~models.recommenders.ranker.PROPENSITY_SPAN` and the same intercept, the
#: ranker's log-odds start at ln(expected purchases), calibrated.
PROPENSITY_SPAN = 12.0


class Ranked(NamedTuple):
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
        popularity: SegmentPopularity | None = None,
        trending: SegmentPopularity | None = None,
        covisit: CoVisitation | None = None,
        ranker: Ranker | None = None,
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
        segment_candidates: int | None = SEGMENT_CANDIDATES,
        segment_depth: int | None = SEGMENT_CANDIDATES,
    ) -> None:
        # None: a new, empty model (every argument has a default: a compiled class unpickles so)
        popularity = popularity if popularity is not None else SegmentPopularity()
        self.popularity = popularity
        self.trending = trending if trending is not None else SegmentPopularity()
        #: Long-window (30-day) global popularity; None: no such source.
        self.steady = steady
        self.covisit = covisit if covisit is not None else CoVisitation()
        self.ranker = ranker if ranker is not None else Ranker()
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
        #: "Shoppers like you" candidates kept, best first (None: every item read).
        self.segment_candidates = segment_candidates
        #: Items read from each behavioural segment's list (None: ``per_source``).
        self.segment_depth = segment_depth

    # -- candidate sources ---------------------------------------------------------

    def history_mix(self, p: Profile, items: Sequence[str]) -> tuple[dict[str, float], float]:
        """The category shares of ``items`` (the user's history) and how many items of
        evidence they are; without items, the categories of the user's pages and searches
        (one item's worth of evidence)."""
        counts: dict[str, float] = {}
        for cat in map(self.popularity.categories().get, items):
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
        get = cands.get
        n = self.per_source
        #: The feature dicts of items with ``taste`` or ``rebuy_rate`` (``propensity``).
        calibrated_x: list[dict[str, float]] = []

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
            half = n // 2
            for i_anchor, anchor in enumerate(reversed(anchors)):
                neighbors = self.covisit.neighbors(anchor, half)
                if not neighbors:
                    continue
                reason = code(COVISIT, anchor)
                base = 1.0 + 0.3 * i_anchor
                for rank, (item, share) in enumerate(neighbors):
                    value = share / (base + 0.05 * rank)
                    entry = get(item)
                    if entry is None:
                        cands[item] = ({"covisit": value}, reason, "covisit")
                    elif value > entry[0].get("covisit", 0.0):
                        entry[0]["covisit"] = value
            if bought:
                few = max(0.0, 1.0 - math.log(len(bought)) / math.log(64.0))
                for rank, item in enumerate(reversed(bought[-self.max_rebuy:])):
                    value = 1.0 / (1.0 + 0.15 * rank)
                    entry = get(item)
                    if entry is None:  # the reason is only formatted for a new candidate
                        x = {"rebuy": value}
                        cands[item] = (x, _rebuy_reason(now, purchased[item]), "rebuy")
                    else:
                        x = entry[0]
                        if value > x.get("rebuy", 0.0):
                            x["rebuy"] = value
                    x["rebuy_few"] = few
                if self.calibrated:
                    window = bought[-self.rebuy_window:]
                    rate = 1.0 / len(window)
                    for item in reversed(window):
                        entry = get(item)
                        if entry is None:
                            x = {"rebuy_rate": rate}
                            cands[item] = (x, _rebuy_reason(now, purchased[item]), "rebuy")
                        else:
                            x = entry[0]
                            if rate > x.get("rebuy_rate", 0.0):
                                x["rebuy_rate"] = rate
                        calibrated_x.append(x)
        if personal and self.calibrated:
            post = self.mixture.posterior(bought[-self.max_rebuy:] + recent)
        else:
            post = self.segment_posterior(mix, n_hist) if personal else []
        if post and self.calibrated:
            depth = n if self.segment_depth is None else self.segment_depth
            probs = self.mixture.item_probabilities(post, depth, self.segment_candidates)
            if probs:
                lead = probs[0][1] if probs[0][1] > 0 else 1.0
                reason = code(LIKE_YOU, name_of(post[0][0]))
                for item, prob in probs:
                    value = prob / lead
                    entry = get(item)
                    if entry is None:
                        x = {"segment": value}
                        cands[item] = (x, reason, "segment")
                    else:
                        x = entry[0]
                        if value > x.get("segment", 0.0):
                            x["segment"] = value
                    x["taste"] = min(1.0, TASTE_SCALE * prob)
                    calibrated_x.append(x)
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
                _add(cands, item, "segment", scores[item] / lead, code(LIKE_YOU, name_of(best[item])),
                     "segment")
        else:
            for seg in segments:
                for rank, (item, _, _) in enumerate(self.popularity.top(seg, n)):
                    _add(cands, item, "segment", 1.0 / (1.0 + 0.2 * rank), code(IN_SEGMENT, name_of(seg)),
                         "segment")
        _add_leaders(cands, self.trending, n, "trend", code(TRENDING))
        _add_leaders(cands, self.popularity, n, "global", code(GLOBAL_TOP))
        if self.steady is not None:
            _add_leaders(cands, self.steady, n, "steady", code(STEADY))
        # set last, in this order: propensity, affinity, viewed (a feature dict's order is
        # the order of the ranker's float sums)
        if self.calibrated:
            fresh, again = self.fresh_per_purchase / TASTE_SCALE, self.rebuy_per_purchase
            log = math.log
            for x in calibrated_x:  # an item listed twice gets the same value twice
                q = fresh * x.get("taste", 0.0) + again * x.get("rebuy_rate", 0.0)
                if q > 0.0:
                    x["propensity"] = max(0.0, 1.0 + log(q) / PROPENSITY_SPAN)
        if personal:
            if mix:
                category = self.popularity.categories().get
                for item, (x, _, _) in cands.items():
                    cat = category(item)
                    if cat is not None:
                        share = mix.get(cat, 0.0)
                        if share:
                            x["affinity"] = share
            for pos, item in enumerate(reversed(recent)):  # a repeat: its oldest position
                entry = get(item)
                if entry is not None:
                    entry[0]["viewed"] = 1.0 / (1.0 + pos)
        return cands

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
        """The best ``k`` candidates by the ranker's score, ties by item id; reasons spelled out."""
        return [Ranked(item, score, text(reason), category, source) for item, score, reason, category, source
                in self.recommend_rows(p, segments, now, k, name_of, personal=personal,
                                       excluded_categories=excluded_categories, catalogue=catalogue)]

    def recommend_rows(
        self, p: Profile, segments: Sequence[str], now: float, k: int,
        name_of: Callable[[str], str] = str, *, personal: bool = True,
        excluded_categories: Collection[str] = (), catalogue: Collection[str] | None = None,
    ) -> list[tuple[str, float, str, str | None, str]]:
        """:meth:`recommend` as plain ``(item, score, reason, category, source)`` tuples,
        the reason coded (:mod:`models.recommenders.reasons`; what
        :class:`~models.policies.hybrid.HybridPolicy` caches in the profile)."""
        cands = self.candidates(p, segments, now, name_of, personal)
        skip = self.excluded(p, now) if personal else set()
        category = self.popularity.categories().get
        if catalogue is None and not excluded_categories:
            items = [it for it in cands if it not in skip]
        else:
            items = [
                it for it in cands
                if it not in skip and (catalogue is None or it in catalogue)
                and (not excluded_categories or category(it) not in excluded_categories)
            ]
        scores = self.ranker.score_many([cands[it][0] for it in items])
        if k <= 0 or not scores:
            return []
        # only items scoring at least the k-th best score can be in the top k: sort those
        floor = sorted(scores, reverse=True)[min(k, len(scores)) - 1]
        best = sorted((-score, item) for item, score in zip(items, scores, strict=True) if score >= floor)
        out = []
        for neg, item in best[:k]:
            _, reason, source = cands[item]
            out.append((item, round(-neg, 6), reason, category(item), source))
        return out

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


def _rebuy_reason(now: float, bought_at: float) -> str:
    return code(REBUY, f"{max(0.0, (now - bought_at) / DAY):.0f}")


def _add_leaders(cands: Candidates, pop: SegmentPopularity, n: int, feat: str, reason: str) -> None:
    """The global top ``n`` of ``pop`` as candidates, feature ``feat`` = share relative to the leader."""
    top = pop.top_items(GLOBAL, n)
    if not top:
        return
    scores, total = pop.shares(GLOBAL)
    lead = scores[top[0]] / total or 1.0
    for item in top:
        _add(cands, item, feat, scores[item] / total / lead, reason, feat)


def _add(cands: Candidates, item: str, feat: str, value: float, reason: str, source: str) -> None:
    """``item`` as a candidate with feature ``feat`` = ``value`` (the larger value when it
    is one already; its first reason and source are kept)."""
    entry = cands.get(item)
    if entry is None:
        cands[item] = ({feat: value}, reason, source)
    else:
        x = entry[0]
        if value > x.get(feat, 0.0):
            x[feat] = value

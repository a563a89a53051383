"""The recommenders' fast paths give exactly what the plain definitions give.

Each cheaper path (incrementally ordered co-visitation neighbours, memoized posterior
terms, cached segment lists, the threshold top-k of ``recommend``) is checked against a
straightforward re-computation from the same state, on data with ties and time decay.
"""

from __future__ import annotations

import math
import random

import msgspec

from models.profiles.profile import Profile
from models.recommenders.covisit import CoVisitation
from models.recommenders.hybrid import HybridRecommender, Ranked
from models.recommenders.mixture import TasteMixture, normalized_posterior
from models.recommenders.popularity import GLOBAL, PopularityState, SegmentPopularity
from models.recommenders.ranker import Ranker
from models.recommenders.reasons import text


def plain_neighbors(cv: CoVisitation, item: str, k: int) -> list[tuple[str, float]]:
    nb = cv.to_state().neighbors.get(item)
    if not nb:
        return []
    total = sum(nb.values()) or 1.0
    ranked = sorted(nb.items(), key=lambda kv: (-kv[1], kv[0]))[: cv.max_neighbors]
    return [(i, w / total) for i, w in ranked][:k]


def test_covisit_neighbours_kept_in_order_match_a_fresh_sort() -> None:
    for seed in range(8):
        rng = random.Random(seed)
        cv = CoVisitation(half_life_days=rng.choice([0.01, 14.0]), max_items=rng.choice([6, 40]),
                          max_neighbors=rng.choice([2, 4]))
        items = [f"i{j}" for j in range(rng.choice([6, 20]))]
        ts = 0.0
        for _ in range(600):
            ts += rng.choice([0.0, 0.0, 60.0, 3 * 86400.0])  # same-time pairs tie; days rescale
            a, b = rng.sample(items, 2)
            cv.learn_pair(a, b, rng.choice([1.0, 2.0]), ts)
            q, k = rng.choice(items), rng.choice([1, 3, 10])
            assert cv.neighbors(q, k) == plain_neighbors(cv, q, k)
        gone = rng.choice(items)
        cv.forget_item(gone)
        for q in items:
            assert cv.neighbors(q, 10) == plain_neighbors(cv, q, 10)


def popularity(seed: int = 0) -> SegmentPopularity:
    rng = random.Random(seed)
    pop = SegmentPopularity(half_life_days=7.0, cache_size=30)
    cats = ["outdoor", "books", "home"]
    for t in range(1500):
        j = rng.randrange(4)
        seg = f"behaviour-{j}"
        item = f"sku-{rng.randrange(10 * j, 10 * j + 30)}"  # overlapping ranges: some unseen per segment
        pop.learn_one((seg,), item, cats[int(item[4:]) % 3], rng.choice([1.0, 1.0, 3.0]), t * 600.0)
    return pop


def plain_posterior(mix: TasteMixture, history: list[str]) -> list[tuple[str, float]]:
    pop = mix.popularity
    segs = mix.segments()
    weighted, w, total_w = [], 1.0, 0.0
    for item in reversed(history):
        cat = pop.category_of(item)
        if cat is not None:
            weighted.append((item, cat, w))
            total_w += w
            w *= mix.decay
    cat_scale = min(1.0, mix.category_evidence / total_w) if total_w else 0.0
    item_scale = min(1.0, mix.item_evidence / total_w) if total_w else 0.0
    logp = []
    for seg in segs:
        cats, total = pop.category_totals(seg)
        scores = pop.item_scores(seg)
        total = total or 1.0
        lc = li = 0.0
        for item, cat, wi in weighted:
            ct = cats.get(cat, 0.0)
            lc += wi * math.log(ct / total + mix.category_smoothing)
            li += wi * math.log((scores.get(item, 0.0) / ct if ct else 0.0) + mix.item_smoothing)
        logp.append(cat_scale * lc + item_scale * li)
    return normalized_posterior(segs, logp)


def plain_item_probabilities(
    mix: TasteMixture, post: list[tuple[str, float]], n: int
) -> list[tuple[str, float]]:
    pop = mix.popularity
    live = [(seg, w) for seg, w in post if w >= mix.min_posterior]
    items = dict.fromkeys(item for seg, _ in live for item, _, _ in pop.top(seg, n))
    scores = {item: sum(w * pop.share(seg, item) for seg, w in live) for item in items}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def test_posterior_and_item_probabilities_equal_their_plain_definitions() -> None:
    pop = popularity()
    mix = TasteMixture(pop)
    rng = random.Random(1)
    for _ in range(50):
        history = [f"sku-{rng.randrange(70)}" for _ in range(rng.randrange(0, 30))]  # some unseen
        post = mix.posterior(history)
        assert post == plain_posterior(mix, history)
        full = mix.item_probabilities(post, 10)
        assert full == plain_item_probabilities(mix, post, 10)
        assert mix.item_probabilities(post, 10, 4) == full[:4]


def test_segment_lists_follow_new_segments_and_restored_state() -> None:
    pop = popularity()
    mix = TasteMixture(pop)
    assert mix.segments() == [f"behaviour-{j}" for j in range(4)]
    pop.learn_one(("behaviour-9", "rule-x"), "sku-1", "books", 1.0, 10**6)
    assert pop.segments() == sorted([GLOBAL, "rule-x"] + [f"behaviour-{j}" for j in (0, 1, 2, 3, 9)])
    assert mix.segments()[-1] == "behaviour-9"
    other = SegmentPopularity(half_life_days=7.0)
    other.learn_one(("behaviour-5",), "x", None, 1.0, 0.0)
    other.segments()
    other.load_state(msgspec.msgpack.decode(msgspec.msgpack.encode(pop.to_state()), type=PopularityState))
    assert other.segments() == pop.segments()
    for seg in pop.segments():
        scores, divisor = pop.shares(seg)
        assert pop.top_items(seg, 7) == [item for item, _, _ in pop.top(seg, 7)]
        assert all(scores.get(i, 0.0) / divisor == pop.share(seg, i) for i in ("sku-1", "sku-2", "nope"))
    assert pop.shares("no-such-segment") == ({}, 1.0) and pop.top_items("no-such-segment", 3) == []


def test_recommend_is_the_top_k_of_every_candidate_by_score_then_id() -> None:
    pop = popularity()
    covisit = CoVisitation()
    for j in range(40):
        covisit.learn_pair(f"sku-{j}", f"sku-{(j * 7) % 60}", 1.0, j * 60.0)
    rec = HybridRecommender(pop, popularity(2), covisit, Ranker(), steady=popularity(3))
    rng = random.Random(2)
    for _ in range(30):
        recent = list(dict.fromkeys(f"sku-{rng.randrange(60)}" for _ in range(rng.randrange(0, 8))))
        bought = {f"sku-{rng.randrange(60)}": 100.0 * j for j in range(rng.randrange(0, 4))}
        p = Profile(user_id="u", first_seen=0.0, last_seen=0.0, recent_items=recent, purchased=bought)
        now = 10**6
        cands = rec.candidates(p, (), now, str)
        skip = rec.excluded(p, now)
        items = [it for it in cands if it not in skip]
        scores = rec.ranker.score_many([cands[it][0] for it in items])
        order = sorted(range(len(items)), key=lambda i: (-scores[i], items[i]))[:10]
        expected = [(items[i], round(scores[i], 6), cands[items[i]][1], pop.category_of(items[i]),
                     cands[items[i]][2]) for i in order]
        assert rec.recommend_rows(p, (), now, 10) == expected  # reasons coded, as cached
        spelled = [Ranked(i, s, text(r), c, src) for i, s, r, c, src in expected]
        assert rec.recommend(p, (), now, 10) == spelled
    assert rec.recommend(p, (), now, 0) == []


def test_scores_are_clamped_like_before() -> None:
    r = Ranker()
    hi, lo = r.score_many([{"segment": 100.0}, {"segment": -100.0}])
    assert hi == 1.0 / (1.0 + math.exp(-30.0)) and lo == 1.0 / (1.0 + math.exp(30.0))


def test_the_weights_read_for_scoring_follow_learning_and_restores() -> None:
    r = Ranker()
    x = {"global": 1.0, "segment": 0.5}
    before = r.score_many([x])[0]
    r.learn_one(x, True)
    learned = r.score_many([x])[0]
    assert learned > before
    restored = Ranker()
    restored.score_many([x])  # reads (and keeps) the prior weights first
    restored.load_state(r.to_state())
    assert restored.score_many([x]) == [learned]
    r.load_state(Ranker().to_state())
    assert r.score_many([x]) == [before]

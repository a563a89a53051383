"""The calibrated taste mixture, per-segment category totals and the propensity feature."""

from __future__ import annotations

import math

import msgspec

from models.profiles.profile import Profile
from models.recommenders.covisit import CoVisitation
from models.recommenders.hybrid import HybridRecommender
from models.recommenders.mixture import TasteMixture
from models.recommenders.popularity import PopularityState, SegmentPopularity
from models.recommenders.ranker import FEATURES, Ranker


def popularity() -> SegmentPopularity:
    pop = SegmentPopularity(half_life_days=7.0)
    # two segments share the category "outdoor" but at different price points (items)
    for k in range(10):
        for j in range(4):
            pop.learn_one(("behaviour-0",), f"cheap-{j}", "outdoor", 4.0 - j, k * 60.0)
            pop.learn_one(("behaviour-1",), f"dear-{j}", "outdoor", 4.0 - j, k * 60.0)
        pop.learn_one(("behaviour-1",), "novel", "books", 1.0, k * 60.0)
    return pop


def test_category_totals_follow_learning_and_survive_a_state_round_trip():
    pop = popularity()
    cats, total = pop.category_totals("behaviour-1")
    assert math.isclose(cats["outdoor"] + cats["books"], total)
    assert math.isclose(cats["books"] / total, 10.0 / 110.0)
    raw = msgspec.msgpack.encode(pop.to_state())
    again = SegmentPopularity(half_life_days=7.0)
    again.load_state(msgspec.msgpack.decode(raw, type=PopularityState))
    assert again.category_totals("behaviour-1") == pop.category_totals("behaviour-1")
    # state from before category totals: rebuilt from the item scores
    old = msgspec.structs.replace(pop.to_state(), category_totals={})
    rebuilt = SegmentPopularity(half_life_days=7.0)
    rebuilt.load_state(msgspec.msgpack.decode(msgspec.msgpack.encode(old), type=PopularityState))
    got, _ = rebuilt.category_totals("behaviour-0")
    assert math.isclose(got["outdoor"], pop.category_totals("behaviour-0")[0]["outdoor"])


def test_item_evidence_separates_segments_with_the_same_categories():
    mix = TasteMixture(popularity())
    post = dict(mix.posterior(["dear-3", "dear-2"]))
    assert post["behaviour-1"] > 0.9
    post = dict(mix.posterior(["cheap-3"]))
    assert post["behaviour-0"] > 0.9
    assert mix.posterior([]) == [("behaviour-0", 0.5), ("behaviour-1", 0.5)]


def test_recent_items_outweigh_old_ones_after_a_change_of_taste():
    mix = TasteMixture(popularity(), decay=0.5)
    post = dict(mix.posterior(["cheap-0", "cheap-1", "dear-0", "dear-1", "dear-2"]))
    assert post["behaviour-1"] > post["behaviour-0"]


def test_item_probabilities_are_a_posterior_weighted_sum_of_shares():
    pop = popularity()
    mix = TasteMixture(pop)
    post = [("behaviour-0", 0.25), ("behaviour-1", 0.75)]
    probs = dict(mix.item_probabilities(post, 10))
    expected = 0.25 * pop.share("behaviour-0", "cheap-0") + 0.75 * pop.share("behaviour-1", "cheap-0")
    assert math.isclose(probs["cheap-0"], expected)
    assert math.isclose(sum(probs.values()), 1.0)  # every item of both segments is listed


def test_propensity_is_the_calibrated_log_of_expected_purchases():
    pop = popularity()
    rec = HybridRecommender(pop, SegmentPopularity(half_life_days=1.0), CoVisitation(), Ranker(),
                            rebuy_after_days=0.0)
    p = Profile(user_id="u", first_seen=0.0, last_seen=0.0, recent_items=["dear-0"],
                purchased={"lamp": 0.0, "dear-1": 1.0})
    cands = rec.candidates(p, (), 600.0, str)
    lamp = cands["lamp"][0]
    assert lamp["rebuy_rate"] == 0.5
    q = rec.rebuy_per_purchase * 0.5
    assert math.isclose(lamp["propensity"], 1.0 + math.log(q) / 12.0)
    # a segment item the user would likely buy scores above one of the other segment
    assert cands["dear-0"][0]["propensity"] > cands["cheap-0"][0].get("propensity", 0.0)
    assert all(0.0 <= v <= 1.0 for x, _, _ in cands.values() for v in x.values())
    assert set().union(*(x for x, _, _ in cands.values())) <= set(FEATURES)


def test_same_input_same_ranking_and_item_evidence_beats_the_category_only_posterior():
    def ranked(calibrated: bool) -> list[str]:
        rec = HybridRecommender(popularity(), SegmentPopularity(half_life_days=1.0), CoVisitation(),
                                Ranker(), rebuy_after_days=0.0, calibrated=calibrated)
        p = Profile(user_id="u", first_seen=0.0, last_seen=0.0, recent_items=["dear-2"])
        return [r.item_id for r in rec.recommend(p, (), 600.0, 5)]
    assert ranked(True) == ranked(True)
    # same category, other price point: only the item evidence tells the segments apart
    assert ranked(True)[0].startswith("dear-")
    assert not ranked(False)[0].startswith("dear-")

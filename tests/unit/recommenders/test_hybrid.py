"""The hybrid recommender's candidate sources, exclusions and learning protocol."""

from __future__ import annotations

import pickle

from models.profiles.profile import Profile
from models.recommenders.covisit import CoVisitation
from models.recommenders.hybrid import CART_TTL_S, HybridRecommender
from models.recommenders.popularity import SegmentPopularity
from models.recommenders.ranker import PRIOR, Ranker, RankerState

HOUR = 3600.0


def recommender() -> HybridRecommender:
    pop = SegmentPopularity(half_life_days=7.0)
    # two behavioural segments with different tastes, and a global leader of neither
    for k in range(10):
        for j in range(5):
            pop.learn_one(("behaviour-0",), f"tent-{j}", "outdoor", 5.0 - j, k * 60.0)
            pop.learn_one(("behaviour-1",), f"novel-{j}", "books", 5.0 - j, k * 60.0)
        pop.learn_one((), "mug", "home", 40.0, k * 60.0)
    rec = HybridRecommender(pop, SegmentPopularity(half_life_days=1.0), CoVisitation(), Ranker(),
                            rebuy_after_days=0.0)
    return rec


def profile(**kw: object) -> Profile:
    return Profile(user_id="u", first_seen=0.0, last_seen=0.0, **kw)  # type: ignore[arg-type]


def test_posterior_picks_the_segment_matching_the_history_even_without_an_assigned_segment():
    rec = recommender()
    p = profile(recent_items=["tent-3"], behaviour_n=1)
    mix, n = rec.history_mix(p, p.recent_items)
    post = dict(rec.segment_posterior(mix, n))
    assert post["behaviour-0"] > 0.9 > post["behaviour-1"]
    # no segment passed in (not assigned yet): the matching segment's items lead anyway
    top = rec.recommend(p, (), 600.0, 3)
    assert [r.item_id for r in top][:2] == ["tent-0", "tent-1"]
    assert top[0].source == "segment" and "shoppers like you" in top[0].reason


def test_no_history_gives_a_blend_not_one_arbitrary_segment():
    rec = recommender()
    post = dict(rec.segment_posterior({}, 0.0))
    assert abs(post["behaviour-0"] - post["behaviour-1"]) < 1e-9


def test_a_sole_past_purchase_ranks_above_segment_and_global_leaders():
    rec = recommender()
    p = profile(recent_items=["tent-3"], purchased={"lamp": 0.0}, behaviour_n=1)
    top = rec.recommend(p, (), 600.0, 3)
    assert top[0].item_id == "lamp" and top[0].source == "rebuy"
    many = profile(purchased={f"x{i}": float(i) for i in range(40)})
    few_one = rec.candidates(p, (), 600.0, str)["lamp"][0]["rebuy_few"]
    few_many = rec.candidates(many, (), 600.0, str)["x39"][0]["rebuy_few"]
    assert few_one > few_many >= 0.0


def test_learning_features_leave_out_the_current_session():
    rec = recommender()
    rec.covisit.learn_pair("tent-3", "stove", 1.0, 0.0)
    rec.covisit.learn_pair("novel-4", "bookmark", 1.0, 0.0)
    # "tent-3" viewed in an earlier session, "novel-4" in this one (1 event so far),
    # "old" bought earlier, "new" bought in this session
    p = profile(recent_items=["tent-3", "novel-4"], session_events=1, session_start=5 * HOUR,
                purchased={"old": 0.0, "new": 5.5 * HOUR}, behaviour_n=2)
    live = rec.candidates(p, (), 6 * HOUR, str)
    start = rec.candidates(p, (), 6 * HOUR, str, session_start=True)
    assert "viewed" in live["novel-4"][0] and "viewed" not in start.get("novel-4", ({},))[0]
    assert "viewed" in start["tent-3"][0]
    assert "bookmark" in live and "bookmark" not in start
    assert "stove" in start and "new" in live and "new" not in start and "old" in start


def test_a_live_cart_is_excluded_an_abandoned_one_is_not():
    rec = recommender()
    p = profile(cart={"tent-0": 1}, last_at={"add_to_cart": 10 * HOUR})
    assert "tent-0" in rec.excluded(p, 10 * HOUR + 60.0)
    assert "tent-0" not in rec.excluded(p, 10 * HOUR + CART_TTL_S + 1.0)


def test_recommendations_are_deterministic_and_survive_pickling():
    rec = recommender()
    p = profile(recent_items=["tent-3", "novel-1"], purchased={"lamp": 0.0}, behaviour_n=2)
    a = rec.recommend(p, (), 600.0, 10)
    assert a == rec.recommend(p, (), 600.0, 10)
    assert pickle.loads(pickle.dumps(rec)).recommend(p, (), 600.0, 10) == a


def test_learning_a_purchase_moves_the_ranker_towards_the_bought_source():
    rec = recommender()
    p = profile(recent_items=["tent-3"], purchased={"lamp": 0.0}, behaviour_n=1)
    before = rec.ranker.to_state().weights["rebuy"]
    for _ in range(20):
        rec.learn_purchase(p, (), {"lamp"}, 600.0)
    assert rec.ranker.to_state().weights["rebuy"] > before


def test_a_ranker_checkpoint_without_the_newer_features_loads_with_their_priors():
    old = RankerState(weights={"covisit": 1.0, "rebuy": 2.0}, intercept=-4.0, updates=3)
    r = Ranker()
    r.load_state(old)
    w = r.to_state().weights
    assert w["rebuy_few"] == PRIOR["rebuy_few"] and w["covisit"] == 1.0


def test_the_steady_source_is_a_candidate_and_is_checkpointed_with_the_engine():
    from models.config import EngineConfig
    from models.engine import Engine, InputRecord
    from models.segments import DEFAULT_RULES_PATH, load_rules
    from tests.factories import at, event, raw

    eng = Engine(load_rules(DEFAULT_RULES_PATH), EngineConfig(policy="hybrid"))
    # an item viewed a lot 20 days ago: faded from the 1-day trend, still a steady seller
    views = [raw(event("product_view", f"v{i}", at(0, i), item_id="lamp", category="home"))
             for i in range(30)]
    eng.process_many([InputRecord(r) for r in views])
    eng.process_many([InputRecord(raw(event("product_view", "w", at(20), item_id="cup", category="home")))])
    cands = eng.recommender.candidates(profile(), (), eng.watermark or 0.0, str)
    assert cands["lamp"][0]["steady"] == 1.0
    assert cands["lamp"][0].get("steady", 0) > cands["lamp"][0].get("trend", 0)
    restored = Engine(load_rules(DEFAULT_RULES_PATH), EngineConfig(policy="hybrid"))
    restored.import_state(eng.export_state())
    assert restored.steady.top("*", 2) == eng.steady.top("*", 2)


def test_cached_reasons_are_short_and_spell_out_to_the_sentences() -> None:
    """The policy's cache (checkpointed with the profile) holds coded reasons; decisions
    carry the sentences; a reason stored in full by an older version passes through."""
    from models.recommenders.reasons import TEMPLATES, code, text

    for kind, template in TEMPLATES.items():
        coded = code(kind, "sku-{0}'x")  # braces and quotes in the variable part stay literal
        assert len(coded) < len(template) and text(coded) == template.replace("{}", "sku-{0}'x")
    assert text("popular with shoppers like you ('VIP')") == "popular with shoppers like you ('VIP')"

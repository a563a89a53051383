"""Contract checks run for every learned model (as river's check suite does): pickling
and msgspec state round trips give identical subsequent outputs, same seed -> same
output, inputs are not mutated, unseen features do not crash."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from models.behaviour import BehaviouralSegmenter, fold_interaction
from models.profiles import Profile
from models.recommenders.covisit import CoVisitation
from models.recommenders.popularity import SegmentPopularity
from models.recommenders.ranker import Ranker

CATS = ["outdoor", "books", "toys"]


def _profiles(n: int, seed: int) -> list[Profile]:
    out = []
    for i in range(n):
        p = Profile(user_id=f"u{i}", first_seen=0.0, last_seen=0.0)
        for j in range(14):
            cat = CATS[(i + (j % 5 == 0) * seed) % 3]
            fold_interaction(p, cat, 10.0 + i % 7, alpha=0.2, max_categories=8)
        out.append(p)
    return out


def seg_run(m: BehaviouralSegmenter, data: list[Profile]) -> list[Any]:
    return [(mv.old, mv.new, mv.reason) if (mv := m.observe(p)) else None for p in data]


def seg_data() -> list[Profile]:
    return _profiles(40, 1)


def covisit_run(m: CoVisitation, data: list[tuple[str, str, float]]) -> list[Any]:
    for a, b, t in data:
        m.learn_pair(a, b, 1.0, t)
    return [m.neighbors(a, 3) for a, _, _ in data]


def covisit_data() -> list[tuple[str, str, float]]:
    return [(f"i{k % 7}", f"i{k % 5}", k * 3600.0) for k in range(60)]


def ranker_run(m: Ranker, data: list[tuple[dict[str, float], bool]]) -> list[Any]:
    out = []
    for x, y in data:
        out.append(m.score_many([x])[0])
        m.learn_one(x, y)
    return out


def ranker_data() -> list[tuple[dict[str, float], bool]]:
    return [({"covisit": k % 3 / 2, "global": k % 5 / 4, "never_seen_feature": 1.0}, k % 4 == 0)
            for k in range(50)]


def pop_run(m: SegmentPopularity, data: list[tuple[str, str, float]]) -> list[Any]:
    out = []
    for seg, item, t in data:
        m.learn_one((seg,), item, "cat", 1.0, t)
        out.append(m.top(seg, 3))
    return out


def pop_data() -> list[tuple[str, str, float]]:
    return [(f"s{k % 2}", f"i{k % 9}", k * 600.0) for k in range(80)]


CASES: list[tuple[str, Callable[[], Any], Callable[..., Any], Callable[[], Any]]] = [
    ("segmenter", lambda: BehaviouralSegmenter(n_clusters=3, warmup=10, warmup_events=14,
                                               min_events=4, seed=3), seg_run, seg_data),
    ("covisit", lambda: CoVisitation(max_items=6, max_neighbors=3), covisit_run, covisit_data),
    ("ranker", Ranker, ranker_run, ranker_data),
    ("popularity", lambda: SegmentPopularity(max_items=4, cache_size=3), pop_run, pop_data),
]
IDS = [c[0] for c in CASES]


def _split(data: Any) -> tuple[Any, Any]:
    return data[: len(data) // 2], data[len(data) // 2:]


@pytest.mark.parametrize(("name", "make", "run", "data"), CASES, ids=IDS)
def test_same_seed_same_output(name, make, run, data):
    assert run(make(), data()) == run(make(), data())


@pytest.mark.parametrize(("name", "make", "run", "data"), CASES, ids=IDS)
def test_pickle_round_trip_gives_identical_outputs(name, make, run, data):
    first, second = _split(data())
    m = make()
    run(m, first)
    clone = pickle.loads(pickle.dumps(m))
    assert run(clone, copy.deepcopy(second)) == run(m, second)


@pytest.mark.parametrize(("name", "make", "run", "data"), CASES, ids=IDS)
def test_msgpack_state_round_trip_gives_identical_outputs(name, make, run, data):
    first, second = _split(data())
    m = make()
    run(m, first)
    state = m.to_state()
    blob = msgspec.msgpack.encode(state)
    restored = make()
    restored.load_state(msgspec.msgpack.decode(blob, type=type(state)))
    assert run(restored, copy.deepcopy(second)) == run(m, second)


@pytest.mark.parametrize(("name", "make", "run", "data"), CASES, ids=IDS)
def test_input_not_mutated(name, make, run, data):
    d = data()
    if name == "segmenter":  # the segmenter writes the assignment into the profile, by contract
        before = [(p.behaviour.copy(), p.behaviour_n) for p in d]
        run(make(), d)
        assert [(p.behaviour, p.behaviour_n) for p in d] == before
    else:
        before = copy.deepcopy(d)
        run(make(), d)
        assert d == before


def test_segmenter_handles_unseen_categories_after_warmup():
    m = BehaviouralSegmenter(n_clusters=3, warmup=10, warmup_events=14, min_events=4, seed=3)
    seg_run(m, seg_data())
    assert m.ready
    p = Profile(user_id="new", first_seen=0.0, last_seen=0.0)
    for _ in range(6):
        fold_interaction(p, "never-seen-category", 5.0, alpha=0.2, max_categories=8)
    move = m.observe(p)
    assert move is not None and move.new.startswith("behaviour-")


def test_covisit_memory_is_bounded():
    m = CoVisitation(max_items=5, max_neighbors=2)
    for k in range(200):
        m.learn_pair(f"a{k}", f"b{k % 13}", 1.0, float(k))
    assert len(m) <= 5
    assert all(len(nb) <= 4 for nb in m.to_state().neighbors.values())


# -- offer policies: the epsilon-greedy bandit and the variant chooser ---------------------

from models.bandits import EpsilonGreedy  # noqa: E402
from models.offers import OfferCatalog, VariantChooser  # noqa: E402
from schemas.control import decode_offer  # noqa: E402

ARMS = ["a", "b", "c"]


def bandit_run(m: EpsilonGreedy, data: list[tuple[str, dict[str, float]]]) -> list[Any]:
    out = []
    for key, rewards in data:
        c = m.choose(ARMS, key)
        m.update(c.arm, rewards[c.arm])
        out.append(c)
    return out


def bandit_data() -> list[tuple[str, dict[str, float]]]:
    return [(f"d{k}", {"a": float(k % 3 == 0), "b": float(k % 2 == 0), "c": 0.0}) for k in range(80)]


def _offer_catalog() -> OfferCatalog:
    return OfferCatalog.from_records([decode_offer(
        b'{"placement": "home", "default_variant": "a", "experiment": {"id": "x", "holdout_fraction": 0.3},'
        b' "variants": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}]}')])


ChooserData = list[tuple[str, str, tuple[str, ...], str | None, float]]


def chooser_run(m: VariantChooser, data: ChooserData) -> list[Any]:
    out = []
    profiles: dict[str, Profile] = {}
    for user, did, segments, action, now in data:
        p = profiles.setdefault(user, Profile(user_id=user, first_seen=0.0, last_seen=0.0))
        d = m.choose(user, p, "home", did, segments, True, now)
        assert d is not None
        outcome = m.feedback(user, p, did, action, now + 60.0) if action else None
        out.append((d.variant, d.experiment, d.control, d.reasons, outcome, m.close_due(now)))
    return out


def chooser_data() -> ChooserData:
    segs: list[tuple[str, ...]] = [(), ("fans",), ("never_seen_segment", "fans")]
    return [(f"u{k % 7}", f"d{k}", segs[k % 3], "click" if k % 4 == 0 else None, k * 3600.0)
            for k in range(60)]


OFFER_CASES: list[tuple[str, Callable[[], Any], Callable[..., Any], Callable[[], Any]]] = [
    ("epsilon-greedy", lambda: EpsilonGreedy(epsilon=0.2, seed=3), bandit_run, bandit_data),
    ("variant-chooser", lambda: VariantChooser(_offer_catalog(), epsilon=0.2, seed=3, window_s=7200.0),
     chooser_run, chooser_data),
]


@pytest.mark.parametrize(("name", "make", "run", "data"), OFFER_CASES, ids=[c[0] for c in OFFER_CASES])
def test_offer_policies_meet_the_contracts(name, make, run, data):
    test_same_seed_same_output(name, make, run, data)
    test_pickle_round_trip_gives_identical_outputs(name, make, run, data)
    test_msgpack_state_round_trip_gives_identical_outputs(name, make, run, data)
    test_input_not_mutated(name, make, run, data)

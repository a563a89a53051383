"""Segment popularity keeps each segment's top list exact as interactions arrive, through
ties, anchor rescales, prunes, forgotten items and restores."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from models.recommenders.popularity import PopularityState, SegmentPopularity

_WEEK = 7 * 86400.0

steps = st.lists(
    st.one_of(
        st.tuples(st.just("learn"), st.lists(st.sampled_from(["a", "b"]), max_size=2, unique=True),
                  st.integers(0, 25), st.sampled_from([0.5, 1.0, 1.0, 2.0])),
        st.tuples(st.just("wait"), st.sampled_from([60.0, 3 * 86400.0, 70 * _WEEK, 300 * _WEEK])),
        st.tuples(st.just("forget"), st.integers(0, 25)),
        st.tuples(st.just("restore")),
    ),
    max_size=300,
)


def _restored(pop: SegmentPopularity) -> SegmentPopularity:
    other = SegmentPopularity(pop.half_life_days, pop.max_items, pop.cache_size)
    other.load_state(msgspec.msgpack.decode(msgspec.msgpack.encode(pop.to_state()), type=PopularityState))
    return other


def _check(pop: SegmentPopularity) -> None:
    for seg in pop.segments():
        scores = pop.item_scores(seg)
        ranking = pop.ranking(seg)
        assert len(ranking) == min(pop.cache_size, len(scores))
        assert len(set(ranking)) == len(ranking)
        ranked = [scores[item] for item in ranking]
        assert ranked == sorted(ranked, reverse=True), seg  # best first
        outside = [s for item, s in scores.items() if item not in set(ranking)]
        assert not outside or max(outside) <= ranked[-1], seg  # nothing better left out


@settings(max_examples=300, deadline=None)
@given(steps, st.sampled_from([(4, 3), (10, 6), (50, 20)]))
def test_top_lists_stay_the_exact_top_and_survive_restores(ops, sizes):
    max_items, cache = sizes
    pop = SegmentPopularity(half_life_days=7.0, max_items=max_items, cache_size=cache)
    twin = SegmentPopularity(half_life_days=7.0, max_items=max_items, cache_size=cache)
    ts = 0.0
    for op in ops:
        if op[0] == "learn":
            _, segs, item, weight = op
            for p in (pop, twin):
                p.learn_one(tuple(segs), f"i{item}", "c" if item % 2 else None, weight, ts)
        elif op[0] == "wait":
            ts += op[1]
        elif op[0] == "forget":
            for p in (pop, twin):
                p.forget_item(f"i{op[1]}")
        else:
            pop = _restored(pop)  # a restored one goes on exactly as the live one
        _check(pop)
        assert {s: pop.ranking(s) for s in pop.segments()} == {s: twin.ranking(s) for s in twin.segments()}


def test_ties_keep_the_order_in_which_items_reached_the_score():
    pop = SegmentPopularity(half_life_days=7.0, cache_size=10)
    for item in ("a", "b", "c", "d"):
        pop.learn_one((), item, None, 1.0, 0.0)
    assert pop.ranking("*") == ["a", "b", "c", "d"]
    pop.learn_one((), "c", None, 1.0, 0.0)  # c reaches 2 first
    pop.learn_one((), "a", None, 1.0, 0.0)  # a ties with it, later
    pop.learn_one((), "d", None, 0.5, 0.0)
    assert pop.ranking("*") == ["c", "a", "d", "b"]
    assert _restored(pop).ranking("*") == ["c", "a", "d", "b"]

"""Co-visitation lists checkpointed as parts: the latest part of every list, in sequence
order, is the table itself (same lists, same order, same weights), whatever the pattern of
learning, evictions, rescales, forgotten items and checkpoints that fail to commit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from models.recommenders.covisit import CoVisitation, Part, neighbors_from_parts

ITEMS = [f"i{n}" for n in range(12)]

step = st.one_of(
    st.tuples(st.just("pair"), st.sampled_from(ITEMS), st.sampled_from(ITEMS),
              st.floats(0.1, 5.0), st.floats(0.0, 3.0)),
    st.tuples(st.just("jump"), st.floats(400.0, 900.0)),  # days: forces the anchor to move
    st.tuples(st.just("forget"), st.sampled_from(ITEMS)),
    st.tuples(st.just("take"), st.booleans()),  # True: that checkpoint fails to commit
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(step, max_size=80))
def test_latest_parts_rebuild_the_table(steps: list[tuple]) -> None:
    cv = CoVisitation(half_life_days=7.0, max_items=6, max_neighbors=2)
    store: dict[str, Part] = {}  # what a compacted changelog / partition store keeps
    day = 0.0
    failed: dict[str, Part | None] | None = None
    for s in steps:
        if s[0] == "pair":
            _, a, b, w, dt = s
            day += dt
            cv.learn_pair(a, b, w, day * 86400.0)
        elif s[0] == "jump":
            day += s[1]
            cv.learn_pair("i0", "i1", 1.0, day * 86400.0)
        elif s[0] == "forget":
            cv.forget_item(s[1])
        else:
            if failed is not None:  # the loop learns of a failed commit later, after more events
                cv.return_changes(failed)
                failed = None
            # encode at once, as the engine does: the lists are the live ones
            taken = {k: (v[0], dict(v[1])) if v is not None else None for k, v in cv.take_changes().items()}
            if s[1]:
                failed = taken
                continue
            for item, part in taken.items():
                if part is None:
                    store.pop(item, None)
                else:
                    store[item] = part
            rebuilt = neighbors_from_parts(store.items())
            assert list(rebuilt.items()) == list(cv._nbrs.items())
            assert [list(nb) for nb in rebuilt.values()] == [list(nb) for nb in cv._nbrs.values()]


def test_only_changed_lists_are_taken() -> None:
    cv = CoVisitation()
    for n in range(50):
        cv.learn_pair(f"a{n}", f"b{n}", 1.0, 0.0)
    assert len(cv.take_changes()) == 100  # both directions
    cv.learn_pair("a3", "b7", 1.0, 10.0)
    taken = cv.take_changes()
    assert set(taken) == {"a3", "b7"}
    assert [seq for seq, _ in (p for p in taken.values() if p is not None)] == [101, 102]
    assert cv.take_changes() == {}
    cv.forget_item("a3")  # lists changed in place: all taken, to keep their order
    taken = cv.take_changes()
    assert taken["a3"] is None and len(taken) == 100 and "a3" not in cv._nbrs


def test_loaded_whole_table_is_taken_whole_unless_it_came_from_parts() -> None:
    cv = CoVisitation()
    cv.learn_pair("a", "b", 1.0, 0.0)
    state = cv.to_state()
    fresh = CoVisitation()
    fresh.load_state(state)
    assert set(fresh.take_changes()) == {"a", "b"}
    fresh.load_state(state, changed=False)
    assert fresh.take_changes() == {}

"""CheckpointedStore.items(): stored profiles merged with the writes held for the next
checkpoint, in key order, decoded one at a time, equal to the plain merge."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from models.profiles.update import new_profile
from models.state.codec import encode_profile
from streams.state.checkpointed import CheckpointedStore
from streams.state.memory import MemoryPartitionStore

users = st.text(alphabet="abcxyzé1", min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(stored=st.sets(users, max_size=12), held=st.dictionaries(users, st.booleans(), max_size=12))
def test_items_equals_the_merge_of_stored_and_held_writes(stored: set[str], held: dict[str, bool]) -> None:
    backing = MemoryPartitionStore()
    backing.apply({u: encode_profile(new_profile(u, 1.0)) for u in stored}, {})
    store = CheckpointedStore(backing)
    # True: a newer profile is held for the next checkpoint; False: a held erasure
    store.write_many({u: new_profile(u, 2.0) if keep else None for u, keep in held.items()})
    expected = {u: 1.0 for u in stored}
    for u, keep in held.items():
        if keep:
            expected[u] = 2.0
        else:
            expected.pop(u, None)
    got = [(u, p.first_seen) for u, p in store.items()]
    assert got == sorted(expected.items())
    assert len(store) == len(expected)


def test_a_checkpoint_in_progress_never_hides_a_profile() -> None:
    """The web view reads from another thread while a checkpoint runs: between taking the
    writes and applying them (flush and commit in between), a user must not vanish."""
    backing = MemoryPartitionStore()
    store = CheckpointedStore(backing)
    store.write_many({"u1": new_profile("u1", 2.0), "gone": None})
    taken = store.take_pending()
    assert set(taken) == {"u1", "gone"} and store.pending == {}
    # flush and commit happen here: the profile is neither pending nor stored yet
    seen = store.get("u1")
    assert seen is not None and seen.first_seen == 2.0
    assert store.get("gone") is None
    store.apply_taken(taken, {})
    assert store.in_flight == {}
    stored = store.get("u1")
    assert stored is not None and stored.first_seen == 2.0  # now from the backing


def test_a_newer_write_wins_over_one_in_flight() -> None:
    store = CheckpointedStore(MemoryPartitionStore())
    store.write_many({"u1": new_profile("u1", 1.0)})
    store.take_pending()
    store.write_many({"u1": new_profile("u1", 5.0)})  # the next batch, before the apply
    got = store.get("u1")
    assert got is not None and got.first_seen == 5.0


def test_a_failed_commit_holds_the_taken_writes_again() -> None:
    store = CheckpointedStore(MemoryPartitionStore())
    store.write_many({"u1": new_profile("u1", 1.0), "u2": new_profile("u2", 1.0)})
    store.take_pending()
    store.write_many({"u2": new_profile("u2", 7.0)})  # a newer write since the take
    store.return_in_flight()
    assert store.in_flight == {}
    assert {u: p.first_seen for u, p in store.pending.items() if p is not None} == {"u1": 1.0, "u2": 7.0}
    retaken = store.take_pending()
    assert set(retaken) == {"u1", "u2"}


# -- encoding ahead: a take returns what encoding every held write at that moment returns --

ops = st.lists(st.tuples(st.sampled_from(["write", "erase", "get_change", "get", "ahead", "take",
                                          "apply", "fail", "items_change"]),
                         st.sampled_from(["u1", "u2", "u3", "u4"]), st.integers(0, 5)),
               max_size=60)


@settings(max_examples=400, deadline=None)
@given(steps=ops)
@example(steps=[("write", "u1", 1), ("ahead", "u1", 1), ("get_change", "u1", 0), ("take", "u1", 0)])
@example(steps=[("write", "u1", 1), ("ahead", "u1", 1), ("items_change", "u1", 0), ("take", "u1", 0)])
def test_a_take_equals_encoding_every_held_write_at_that_moment(
        steps: list[tuple[str, str, int]]) -> None:
    """Whatever mix of writes, reads that change a profile in place (as the engine does),
    walks that change profiles, encodings ahead, takes, applies and failed commits."""
    store = CheckpointedStore(MemoryPartitionStore())
    taken: dict[str, bytes | None] | None = None
    for op, user, n in steps:
        if op == "write":
            store.write_many({user: new_profile(user, float(n))})
        elif op == "erase":
            store.write_many({user: None})
        elif op in ("get", "get_change"):
            profile = store.get(user)
            if op == "get_change" and profile is not None:
                profile.first_seen += 1.0  # changed in place, written back with the batch
                if n % 2:  # or not (yet): a held profile is the object the take encodes
                    store.write_many({user: profile})
        elif op == "items_change":
            for u, profile in store.items():
                if u == user:
                    profile.last_seen = float(n)  # a rules swap rewrites while walking
                    if n % 2:
                        store.write_many({u: profile})
        elif op == "ahead":
            store.encode_ahead(n)
        elif op == "take" and taken is None:
            expected = {u: encode_profile(p) if p is not None else None
                        for u, p in sorted(store.pending.items())}
            taken = store.take_pending()
            assert taken == expected
            assert list(taken) == sorted(taken)
        elif op == "apply" and taken is not None:
            store.apply_taken(taken, {})
            taken = None
        elif op == "fail" and taken is not None:
            store.return_in_flight()
            taken = None
    if taken is None:
        expected = {u: encode_profile(p) if p is not None else None
                    for u, p in sorted(store.pending.items())}
        assert store.take_pending() == expected


def test_encoding_ahead_leaves_less_to_encode_at_the_take() -> None:
    store = CheckpointedStore(MemoryPartitionStore())
    store.write_many({f"u{i}": new_profile(f"u{i}", 1.0) for i in range(10)})
    assert store.encode_ahead(4) == 4
    assert store.encode_ahead(100) == 6
    assert store.encode_ahead(100) == 0  # nothing left
    changed = store.get("u3")  # read to be changed: its encoding is dropped
    assert changed is not None
    changed.first_seen = 9.0
    store.write_many({"u3": changed})
    assert store.encode_ahead(100) == 1
    taken = store.take_pending()
    assert taken["u3"] == encode_profile(changed)
    assert store.encode_ahead(100) == 0  # the take took them all

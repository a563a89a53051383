"""CheckpointedStore.items(): stored profiles merged with the writes held for the next
checkpoint, in key order, decoded one at a time, equal to the plain merge."""

from __future__ import annotations

from hypothesis import given, settings
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

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

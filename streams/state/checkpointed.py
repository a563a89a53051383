"""The engine's profile store in the worker: reads through, writes held until checkpoint.

The engine writes changed profiles after every batch; here they wait in ``pending``
until the checkpoint has produced them to the changelog and committed the input
offsets. Only then do they reach the partition store (with the offset), so the local
store never holds state whose input was not committed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from models.profiles.profile import Profile
from models.state.codec import decode_profile, encode_profile
from streams.state.partition import PartitionStore


class CheckpointedStore:
    """A :class:`models.state.store.ProfileStore` over a :class:`PartitionStore`."""

    def __init__(self, backing: PartitionStore) -> None:
        self.backing = backing
        self.pending: dict[str, Profile | None] = {}

    def get(self, user_id: str) -> Profile | None:
        if user_id in self.pending:
            return self.pending[user_id]
        raw = self.backing.get(user_id)
        return decode_profile(raw) if raw is not None else None

    def write_many(self, updates: Mapping[str, Profile | None]) -> None:
        self.pending.update(updates)

    def items(self) -> Iterator[tuple[str, Profile]]:
        """Every profile in key order, decoded one at a time: the stored ones merged with
        the held writes (which win; ``None`` hides a stored profile). Never all in memory
        (the engine walks this on every assignment and rules change)."""
        pending = sorted(self.pending.items())
        i, n = 0, len(pending)
        for user, raw in self.backing.items():
            while i < n and pending[i][0] < user:
                held_user, held = pending[i]
                i += 1
                if held is not None:
                    yield held_user, held
            if i < n and pending[i][0] == user:
                held = pending[i][1]
                i += 1
                if held is not None:
                    yield user, held
                continue
            yield user, decode_profile(raw)
        for held_user, held in pending[i:]:
            if held is not None:
                yield held_user, held

    def __len__(self) -> int:
        extra = 0
        for user, profile in self.pending.items():
            stored = self.backing.get(user) is not None
            extra += (profile is not None and not stored) - (profile is None and stored)
        return self.backing.count() + extra

    def take_pending(self) -> dict[str, bytes | None]:
        """The held writes, encoded, in key order; the buffer is emptied."""
        out = {u: (encode_profile(p) if p is not None else None) for u, p in sorted(self.pending.items())}
        self.pending = {}
        return out

"""The per-partition user state store contract.

The engine reads each distinct user at most once per batch and writes the changed
profiles back in one call (a write-back cache), so a store's per-call cost stays off
the per-event path. Implementations: :class:`models.state.memory.MemoryStore` here;
the RocksDB store backed by a changelog lives in ``streams`` (it does I/O).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from models.profiles.profile import Profile


class ProfileStore(Protocol):
    def get(self, user_id: str) -> Profile | None: ...

    def write_many(self, updates: Mapping[str, Profile | None]) -> None:
        """Apply a batch: a profile to put, or ``None`` to delete (erasure)."""
        ...

    def items(self) -> Iterator[tuple[str, Profile]]:
        """Every stored profile, in key order (for snapshots and schedule rebuilds)."""
        ...

    def __len__(self) -> int: ...



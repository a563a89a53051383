"""The contract of one partition's durable state: profiles as bytes, plus metadata.

Two backends with the same shape, side by side: :mod:`streams.state.memory` (tests,
demos) and :mod:`streams.state.rocksdb` (production). Keys are user ids; values are
msgpack-encoded profiles (:mod:`models.state.codec`). Metadata keys live apart from
users (``meta:`` prefix in RocksDB), so no user id can collide with them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

#: Metadata: the input offset the stored state is complete up to (exclusive).
META_SOURCE_OFFSET = "source_offset"
#: Metadata: the engine's non-profile state (msgpack), as of ``source_offset``.
META_ENGINE_STATE = "engine_state"


class PartitionStore(Protocol):
    def get(self, user_id: str) -> bytes | None: ...

    def items(self) -> Iterator[tuple[str, bytes]]:
        """All profiles, in key order."""
        ...

    def count(self) -> int: ...

    def get_meta(self, name: str) -> bytes | None: ...

    def apply(self, updates: Mapping[str, bytes | None], meta: Mapping[str, bytes],
              known: Mapping[str, bool] | None = None) -> None:
        """Write profiles (None deletes) and metadata atomically. ``known``: whether the
        store holds some of those users already (it keeps its count with it, instead of
        looking them up)."""
        ...

    def close(self) -> None: ...

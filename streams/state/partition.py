"""The contract of one partition's durable state: profiles as bytes, plus metadata.

Two backends with the same shape, side by side: :mod:`streams.state.memory` (tests,
demos) and :mod:`streams.state.rocksdb` (production). Keys are user ids; values are
msgpack-encoded profiles (:mod:`models.state.codec`). Metadata keys live apart from
users (``meta:`` prefix in RocksDB), so no user id can collide with them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from models.engine.checkpoint import assemble_state

#: Metadata: the input offset the stored state is complete up to (exclusive).
META_SOURCE_OFFSET = "source_offset"
#: Metadata: the engine's non-profile state (msgpack), as of ``source_offset``: the core
#: of its checkpoint (models.engine.checkpoint), or all of it when written by an older release.
META_ENGINE_STATE = "engine_state"
#: Metadata name prefix of the engine's checkpoint parts (the part's name follows).
META_ENGINE_PART = "engine_part:"
#: Metadata: wall-clock time (ms) at which ``source_offset`` was last moved (a checkpoint
#: or a restore written): the store holds every changelog record up to then.
META_CHECKPOINT_WALL_MS = "checkpoint_wall_ms"


class PartitionStore(Protocol):
    def get(self, user_id: str) -> bytes | None: ...

    def items(self) -> Iterator[tuple[str, bytes]]:
        """All profiles, in key order."""
        ...

    def count(self) -> int: ...

    def get_meta(self, name: str) -> bytes | None: ...

    def meta_items(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        """Metadata whose name starts with ``prefix``, in name order."""
        ...

    def apply(self, updates: Mapping[str, bytes | None], meta: Mapping[str, bytes | None],
              known: Mapping[str, bool] | None = None) -> None:
        """Write profiles and metadata (None deletes either) atomically. ``known``: whether the
        store holds some of those users already (it keeps its count with it, instead of
        looking them up)."""
        ...

    def close(self) -> None: ...


def engine_state_of(store: PartitionStore) -> tuple[bytes, bool] | None:
    """The engine state ``store`` holds, as :meth:`models.engine.Engine.export_state` would
    give it (its checkpoint's core and parts put together), and whether it came in parts
    (False: written whole by an older release); None if the store holds none."""
    core = store.get_meta(META_ENGINE_STATE)
    if core is None:
        return None
    n = len(META_ENGINE_PART)
    return assemble_state(core, ((name[n:], value) for name, value in store.meta_items(META_ENGINE_PART)))


def wall_stamp(now_s: float) -> bytes:
    """The value of :data:`META_CHECKPOINT_WALL_MS` for a store current at ``now_s``."""
    return str(int(now_s * 1000)).encode()


def stale_reason(store: PartitionStore, max_age_s: float, now_s: float) -> str | None:
    """Why ``store`` is too old to restore on top of, or None when it is not.

    The changelog keeps a tombstone (an erased user, a dropped model part) only for its
    ``delete.retention.ms`` after compaction; a store whose offset last moved longer ago
    than that may hold what such a tombstone deleted, and a restore would never see the
    tombstone. So a store last checkpointed more than ``max_age_s`` ago (below the
    retention), or holding an offset with no checkpoint time (an older release), is not
    used: the partition is restored from the changelog alone. An empty store is fine."""
    if store.get_meta(META_SOURCE_OFFSET) is None:
        return None
    wall = store.get_meta(META_CHECKPOINT_WALL_MS)
    if wall is None:
        return "holds no checkpoint time (written by an older release)"
    age = now_s - int(wall) / 1000.0
    if age > max_age_s:
        return f"was last checkpointed {age / 3600:.1f} h ago (more than {max_age_s / 3600:.1f} h)"
    return None

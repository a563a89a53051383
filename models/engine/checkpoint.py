"""An engine's checkpointed state put back together from a core and its parts.

A checkpoint writes the engine's learned state in two kinds of records
(:meth:`models.engine.Engine.export_checkpoint`): the core (every model but the
co-visitation lists: a few hundred kilobytes, bounded by caps that do not grow with the
catalogue) and one part per co-visitation list changed since the previous checkpoint,
keyed by its name. A store keeps the latest record of each name (a compacted changelog,
the partition store), so the core and the latest parts are always the state of the last
checkpoint; :func:`assemble_state` makes of them what
:meth:`~models.engine.Engine.export_state` gives for the same engine, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from models.engine.state import COVISIT_PART, EngineState
from models.recommenders.covisit import Part, neighbors_from_parts

_decode_part = msgspec.msgpack.Decoder(tuple[int, dict[str, float]]).decode


def assemble_state(core: bytes, parts: Iterable[tuple[str, bytes]]) -> tuple[bytes, bool]:
    """The engine state of :meth:`~models.engine.Engine.export_state` from a checkpoint's
    ``core`` and the latest ``parts`` (name, value; dropped lists are simply absent), and
    whether the core had parts: one written before checkpoints had them holds its lists
    itself and is returned as is (False)."""
    state = msgspec.msgpack.decode(core, type=EngineState)
    if state.covisit is None or not state.covisit.in_parts:
        return core, False
    lists: list[tuple[str, Part]] = []
    n = len(COVISIT_PART)
    for name, value in parts:
        if name.startswith(COVISIT_PART):
            lists.append((name[n:], _decode_part(value)))
    state.covisit.neighbors = neighbors_from_parts(lists)
    state.covisit.in_parts = False
    return msgspec.msgpack.encode(state), True

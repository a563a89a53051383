"""Seeded uniform draws from a stable hash: the same (seed, key) always gives the same draw.

A bandit that draws from a stateful RNG (``random.Random``) makes a decision depend on how
many draws came before it, so a replay that starts from a checkpoint, or a re-processed
event, could choose differently. Deriving the draw from the decision's own id makes each
choice a pure function of (seed, decision id, learned state): replay == live.

>>> uniform(0, "d1") == uniform(0, "d1")
True
>>> uniform(0, "d1") != uniform(1, "d1")
True
>>> 0.0 <= uniform(7, "anything") < 1.0
True
"""

from __future__ import annotations

from hashlib import blake2b

_SCALE = float(2**64)


def uniform(seed: int, key: str) -> float:
    """A draw in ``[0, 1)`` from ``blake2b(seed, key)`` (never Python's ``hash()``)."""
    digest = blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


__all__ = ["uniform"]

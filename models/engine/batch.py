"""What goes into and comes out of one engine batch."""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from models.profiles.profile import Profile
from schemas.outputs import DeadLetter, Decision, SegmentChange, SourcePosition


class InputRecord(NamedTuple):
    raw: bytes
    position: SourcePosition | None = None


class BatchOutput(msgspec.Struct, kw_only=True):
    decisions: list[Decision] = msgspec.field(default_factory=list)
    segment_changes: list[SegmentChange] = msgspec.field(default_factory=list)
    dead_letters: list[DeadLetter] = msgspec.field(default_factory=list)
    #: Users whose state changed: the new profile, or None when erased (a tombstone).
    state_updates: dict[str, Profile | None] = msgspec.field(default_factory=dict)
    #: Outcome -> count: ok, invalid, duplicate, erased, processing_error.
    outcomes: dict[str, int] = msgspec.field(default_factory=dict)

    def count(self, outcome: str, n: int = 1) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n

"""What a decision policy sees, and what it answers."""

from __future__ import annotations

from typing import Protocol

import msgspec

from models.profiles.profile import Profile
from schemas.outputs import DecisionKind, Recommendation


class DecisionContext(msgspec.Struct, frozen=True, kw_only=True):
    """Built once per decision: a Struct (~0.1 us) rather than a frozen dataclass (~1 us)."""

    user_id: str
    placement: str
    profile: Profile
    #: The user's rule segments (file order), empty when personalization is not allowed.
    segments: tuple[str, ...]
    segment_names: dict[str, str]
    #: False when consent is withdrawn (or required and missing): no individual signals.
    personalization_allowed: bool
    now: float


class PolicyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    kind: DecisionKind
    recommendations: list[Recommendation]
    reasons: list[str]


class Policy(Protocol):
    """Chooses what to show. ``name`` is logged on every decision (policy + version)."""

    name: str

    def decide(self, ctx: DecisionContext) -> PolicyAnswer: ...

"""What a decision policy sees, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from models.profiles.profile import Profile
from schemas.outputs import DecisionKind, Recommendation


@dataclass(frozen=True, slots=True)
class DecisionContext:
    user_id: str
    placement: str
    profile: Profile
    #: The user's rule segments (file order), empty when personalization is not allowed.
    segments: tuple[str, ...]
    segment_names: dict[str, str]
    #: False when consent is withdrawn (or required and missing): no individual signals.
    personalization_allowed: bool
    now: float


@dataclass(frozen=True, slots=True)
class PolicyAnswer:
    kind: DecisionKind
    recommendations: list[Recommendation]
    reasons: list[str]


class Policy(Protocol):
    """Chooses what to show. ``name`` is logged on every decision (policy + version)."""

    name: str

    def decide(self, ctx: DecisionContext) -> PolicyAnswer: ...

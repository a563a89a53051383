"""Output records: decisions, segment changes, dead letters.

All outputs are keyed by the user key (``user_id``, else ``anonymous_id``) on their
topics, and are deterministic functions of the input events and configuration: a
re-processed event yields a byte-identical record with the same ids.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.events import SCHEMA_VERSION

DecisionKind = Literal["personalized", "segment_level", "default", "control"]


class Recommendation(msgspec.Struct, frozen=True, kw_only=True):
    item_id: str
    score: float
    reason: str
    category: str | None = None


class VariantChoice(msgspec.Struct, frozen=True, kw_only=True):
    """The offer or content variant chosen for a placement, with its propensity."""

    placement: str
    variant_id: str
    propensity: float
    policy: str
    reason: str


class ExperimentAssignment(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: str
    arm: Literal["treatment", "control"]


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    decision_id: str
    user_id: str
    event_id: str
    event_type: str
    event_time: str
    placement: str
    kind: DecisionKind
    segments: list[str]
    recommendations: list[Recommendation]
    reasons: list[str]
    policy: str
    variant: VariantChoice | None = None
    experiment: ExperimentAssignment | None = None
    schema_version: int = SCHEMA_VERSION


class SegmentChange(msgspec.Struct, frozen=True, kw_only=True):
    change_id: str
    user_id: str
    segment_id: str
    segment_kind: Literal["rule", "behavioural"]
    change: Literal["entered", "exited"]
    reason: str
    event_time: str
    trigger_event_id: str | None = None
    schema_version: int = SCHEMA_VERSION


class SourcePosition(msgspec.Struct, frozen=True, kw_only=True):
    """Where a record came from: a topic position, or a file and line."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp_ms: int | None = None
    file: str | None = None
    line: int | None = None


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A record that could not be processed, with the original bytes (base64 in JSON).

    On Kafka the DLQ value is the original bytes and these fields travel as headers;
    this struct is the file form used by replays and ``dlq inspect``.
    """

    reason: str
    detail: str
    raw: bytes
    error_class: str
    source: SourcePosition | None = None
    schema_version: int = SCHEMA_VERSION


OUTPUT_TYPES: tuple[type[msgspec.Struct], ...] = (Decision, SegmentChange, DeadLetter)

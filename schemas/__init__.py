"""Event contracts: typed msgspec structs for the clickstream and every output.

Evolution policy (see README "Event contracts"): additive changes (a new optional
field, a new event type) keep ``schema_version``; unknown fields are ignored, so old
consumers read new producers. Removing or retyping a field, or tightening a bound, is
breaking: it bumps ``schema_version``, and the decoder keeps accepting every version in
``SUPPORTED_VERSIONS`` until producers have moved.
"""

from schemas.decode import REJECTION_REASONS, Rejection, decode_event
from schemas.events import (
    EVENT_TYPE_NAMES,
    EVENT_TYPES,
    SCHEMA_VERSION,
    SUPPORTED_VERSIONS,
    AddToCart,
    Consent,
    EmailClick,
    EmailOpen,
    Erase,
    Event,
    EventBase,
    Feedback,
    Identify,
    LineItem,
    PageView,
    ProductView,
    Purchase,
    RemoveFromCart,
    Return,
    Search,
    Traits,
)
from schemas.outputs import (
    DeadLetter,
    Decision,
    ExperimentAssignment,
    Recommendation,
    SegmentChange,
    SourcePosition,
    VariantChoice,
)

__all__ = [
    "EVENT_TYPES",
    "EVENT_TYPE_NAMES",
    "REJECTION_REASONS",
    "SCHEMA_VERSION",
    "SUPPORTED_VERSIONS",
    "AddToCart",
    "Consent",
    "DeadLetter",
    "Decision",
    "EmailClick",
    "EmailOpen",
    "Erase",
    "Event",
    "EventBase",
    "ExperimentAssignment",
    "Feedback",
    "Identify",
    "LineItem",
    "PageView",
    "ProductView",
    "Purchase",
    "Recommendation",
    "Rejection",
    "RemoveFromCart",
    "Return",
    "Search",
    "SegmentChange",
    "SourcePosition",
    "Traits",
    "VariantChoice",
    "decode_event",
]

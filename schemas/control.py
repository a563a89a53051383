"""Control-topic contracts: segment definitions and offers (compacted topics, JSON only).

Both topics are compacted and keyed by id; a record with a null value (a tombstone)
removes the key. Values are UTF-8 JSON decoded strictly and bounded with msgspec (never
pickle or any other code-executing codec).

Segment definition (topic ``personalization.segment-definitions``, key = segment id)::

    {"id": "vip", "name": "VIP", "description": "", "when": "revenue(365d) >= 1000",
     "enabled": true}

``"enabled": false`` turns a segment off (also one from the rules file); ``when`` is
then optional. Offer placement (topic ``personalization.offers``, key = placement id)::

    {"placement": "home_banner", "default_variant": "a",
     "variants": [{"id": "a", "title": "Spring sale", "content": {"url": "/sale"}, "weight": 1}],
     "experiment": {"id": "banner_test", "holdout_fraction": 0.1}}

>>> rec = decode_segment_definition(b'{"id": "vip", "when": "count(purchase) >= 3"}')
>>> rec.id, rec.name, rec.enabled
('vip', '', True)
>>> decode_offer(b'{"placement": "p", "variants": [], "default_variant": "a"}')
Traceback (most recent call last):
...
msgspec.ValidationError: Expected `array` of length >= 1 - at `$.variants`
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec

from schemas.limits import MAX_LABEL_LEN, MAX_TEXT_LEN

#: Largest encoded control record accepted, in bytes (checked before parsing).
MAX_CONTROL_RECORD_BYTES = 64 * 1024
#: Most variants in one placement.
MAX_VARIANTS = 20
#: Most keys in a variant's ``content``.
MAX_CONTENT_KEYS = 32
#: Largest experiment hold-out fraction.
MAX_HOLDOUT_FRACTION = 0.5
#: Largest variant weight.
MAX_WEIGHT = 1e6
#: Largest absolute number in a variant's ``content``.
MAX_CONTENT_NUMBER = 1e15

#: Segment ids: the rules language's ids (see ``models.segments``).
SEGMENT_ID_PATTERN = "^[a-z0-9_]{1,64}$"
#: Placement, variant and experiment ids.
OFFER_ID_PATTERN = "^[a-z0-9_-]{1,64}$"

SegmentId = Annotated[str, msgspec.Meta(pattern=SEGMENT_ID_PATTERN)]
OfferId = Annotated[str, msgspec.Meta(pattern=OFFER_ID_PATTERN)]
Name = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LEN)]
Expression = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT_LEN)]
ContentKey = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LABEL_LEN)]
ContentNumber = Annotated[float, msgspec.Meta(ge=-MAX_CONTENT_NUMBER, le=MAX_CONTENT_NUMBER)]
ContentValue = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LEN)] | int | ContentNumber | bool | None
Content = Annotated[dict[ContentKey, ContentValue], msgspec.Meta(max_length=MAX_CONTENT_KEYS)]
Weight = Annotated[float, msgspec.Meta(gt=0.0, le=MAX_WEIGHT)]
HoldoutFraction = Annotated[float, msgspec.Meta(ge=0.0, le=MAX_HOLDOUT_FRACTION)]


class SegmentDefinitionRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A segment definition on the control topic; the key must equal ``id``."""

    id: SegmentId
    name: Name = ""
    description: Name = ""
    when: Expression | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.enabled and self.when is None:
            raise ValueError("an enabled segment needs 'when' (a condition); or set \"enabled\": false")


class VariantRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: OfferId
    title: Name
    content: Content = {}
    weight: Weight = 1.0

    def __post_init__(self) -> None:
        for key, value in self.content.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"content {key!r} of variant {self.id!r} must be a finite number")


class ExperimentRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: OfferId
    holdout_fraction: HoldoutFraction = 0.0


class OfferRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The offers of one placement on the control topic; the key must equal ``placement``."""

    placement: OfferId
    variants: Annotated[tuple[VariantRecord, ...], msgspec.Meta(min_length=1, max_length=MAX_VARIANTS)]
    default_variant: OfferId
    experiment: ExperimentRecord | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for variant in self.variants:
            if variant.id in seen:
                raise ValueError(f"duplicate variant id {variant.id!r}; variant ids must be unique")
            seen.add(variant.id)
        if self.default_variant not in seen:
            known = ", ".join(v.id for v in self.variants)
            raise ValueError(f"default_variant {self.default_variant!r} is not one of the variants ({known})")


_segment_decoder = msgspec.json.Decoder(SegmentDefinitionRecord)
_offer_decoder = msgspec.json.Decoder(OfferRecord)


def _check_size(raw: bytes) -> None:
    if len(raw) > MAX_CONTROL_RECORD_BYTES:
        raise msgspec.ValidationError(f"record too large: {len(raw)} bytes > {MAX_CONTROL_RECORD_BYTES}")


def decode_segment_definition(raw: bytes) -> SegmentDefinitionRecord:
    """Decode one segment definition; raises ``msgspec.ValidationError``/``DecodeError``."""
    _check_size(raw)
    return _segment_decoder.decode(raw)


def decode_offer(raw: bytes) -> OfferRecord:
    """Decode one placement's offers; raises ``msgspec.ValidationError``/``DecodeError``."""
    _check_size(raw)
    return _offer_decoder.decode(raw)


def encode_control(record: SegmentDefinitionRecord | OfferRecord) -> bytes:
    """The JSON value of a control record (what the ``control`` commands publish)."""
    return msgspec.json.encode(record)

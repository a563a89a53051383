"""Input clickstream events: one envelope, one tagged struct per event ``type``.

The ``type`` field is the tag of a msgspec tagged union, so decoding picks the right
struct in one pass and rejects unknown types. Every event carries the common
envelope (:class:`EventBase`): ``event_id``, ``user_id`` or ``anonymous_id``,
``event_time`` (RFC 3339 with a UTC offset), ``session_id`` and ``schema_version``.

>>> from schemas.decode import decode_event
>>> ev = decode_event(b'{"type":"page_view","event_id":"e1","user_id":"u1",'
...                   b'"event_time":"2026-01-02T03:04:05Z","properties":{"path":"/"}}')
>>> type(ev).__name__, ev.user_key
('PageView', 'u1')
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from schemas.limits import MAX_LINE_ITEMS, Amount, Extra, Id, Label, Quantity, Text

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

EventTime = Annotated[datetime, msgspec.Meta(tz=True)]


class EventBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    event_id: Id
    event_time: EventTime
    user_id: Id | None = None
    anonymous_id: Id | None = None
    session_id: Id | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.user_id is None and self.anonymous_id is None:
            raise ValueError("missing_user: one of `user_id` or `anonymous_id` is required")
        if self.schema_version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"unsupported_schema_version: {self.schema_version} "
                f"(supported: {sorted(SUPPORTED_VERSIONS)})"
            )

    @property
    def user_key(self) -> str:
        """The key state is kept under: ``user_id`` when known, else ``anonymous_id``."""
        return self.user_id if self.user_id is not None else self.anonymous_id  # type: ignore[return-value]

    @property
    def ts(self) -> float:
        """Event time as POSIX seconds."""
        return self.event_time.timestamp()


# --- properties -------------------------------------------------------------------


class PageViewProperties(msgspec.Struct, frozen=True, kw_only=True):
    path: Text = "/"
    page_type: Label | None = None
    category: Label | None = None
    referrer: Text | None = None


class ProductProperties(msgspec.Struct, frozen=True, kw_only=True):
    item_id: Id
    category: Label | None = None
    price: Amount | None = None


class SearchProperties(msgspec.Struct, frozen=True, kw_only=True):
    query: Text
    results: Annotated[int, msgspec.Meta(ge=0)] | None = None
    category: Label | None = None


class CartProperties(msgspec.Struct, frozen=True, kw_only=True):
    item_id: Id
    category: Label | None = None
    price: Amount | None = None
    quantity: Quantity = 1


class LineItem(msgspec.Struct, frozen=True, kw_only=True):
    item_id: Id
    quantity: Quantity = 1
    price: Amount = 0.0
    category: Label | None = None


class OrderProperties(msgspec.Struct, frozen=True, kw_only=True):
    order_id: Id
    items: Annotated[list[LineItem], msgspec.Meta(min_length=1, max_length=MAX_LINE_ITEMS)]
    revenue: Amount
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] = "EUR"


class EmailProperties(msgspec.Struct, frozen=True, kw_only=True):
    campaign_id: Id | None = None
    message_id: Id | None = None
    link_url: Text | None = None


class Traits(msgspec.Struct, frozen=True, kw_only=True):
    age: Annotated[int, msgspec.Meta(ge=0, le=130)] | None = None
    gender: Label | None = None
    country: Label | None = None
    city: Label | None = None
    area_type: Literal["urban", "suburban", "rural"] | None = None
    email_subscriber: bool | None = None
    extra: Extra = {}


class IdentifyProperties(msgspec.Struct, frozen=True, kw_only=True):
    traits: Traits = Traits()
    previous_anonymous_id: Id | None = None


class ConsentProperties(msgspec.Struct, frozen=True, kw_only=True):
    """Per purpose: ``True`` granted, ``False`` withdrawn, ``None`` unchanged."""

    personalization: bool | None = None
    marketing: bool | None = None


class FeedbackProperties(msgspec.Struct, frozen=True, kw_only=True):
    decision_id: Id
    action: Literal["impression", "click", "conversion"]
    item_id: Id | None = None
    variant_id: Label | None = None
    value: Amount | None = None


class EraseProperties(msgspec.Struct, frozen=True, kw_only=True):
    reason: Text | None = None


# --- events -----------------------------------------------------------------------


class PageView(EventBase, frozen=True, kw_only=True, tag="page_view"):
    properties: PageViewProperties = PageViewProperties()


class ProductView(EventBase, frozen=True, kw_only=True, tag="product_view"):
    properties: ProductProperties


class Search(EventBase, frozen=True, kw_only=True, tag="search"):
    properties: SearchProperties


class AddToCart(EventBase, frozen=True, kw_only=True, tag="add_to_cart"):
    properties: CartProperties


class RemoveFromCart(EventBase, frozen=True, kw_only=True, tag="remove_from_cart"):
    properties: CartProperties


class Purchase(EventBase, frozen=True, kw_only=True, tag="purchase"):
    properties: OrderProperties


class Return(EventBase, frozen=True, kw_only=True, tag="return"):
    """Goods sent back (a cancelled order line): revenue is the refunded amount."""

    properties: OrderProperties


class EmailOpen(EventBase, frozen=True, kw_only=True, tag="email_open"):
    properties: EmailProperties = EmailProperties()


class EmailClick(EventBase, frozen=True, kw_only=True, tag="email_click"):
    properties: EmailProperties = EmailProperties()


class Identify(EventBase, frozen=True, kw_only=True, tag="identify"):
    properties: IdentifyProperties = IdentifyProperties()


class Consent(EventBase, frozen=True, kw_only=True, tag="consent"):
    properties: ConsentProperties


class Feedback(EventBase, frozen=True, kw_only=True, tag="feedback"):
    properties: FeedbackProperties


class Erase(EventBase, frozen=True, kw_only=True, tag="erase"):
    properties: EraseProperties = EraseProperties()


Event = (
    PageView
    | ProductView
    | Search
    | AddToCart
    | RemoveFromCart
    | Purchase
    | Return
    | EmailOpen
    | EmailClick
    | Identify
    | Consent
    | Feedback
    | Erase
)

EVENT_TYPES: tuple[type[EventBase], ...] = (
    PageView,
    ProductView,
    Search,
    AddToCart,
    RemoveFromCart,
    Purchase,
    Return,
    EmailOpen,
    EmailClick,
    Identify,
    Consent,
    Feedback,
    Erase,
)

#: Type names (the ``type`` tag values), in a fixed order.
EVENT_TYPE_NAMES: tuple[str, ...] = tuple(
    str(t.__struct_config__.tag) for t in EVENT_TYPES
)

"""What a rule may name: field paths, event types, functions, and their value types.

This is the one place to extend the vocabulary of the rule language.

>>> field_type("traits.age")
ValueType(kind='number', nullable=True)
>>> field_type("traits.extra.loyalty_tier")
ValueType(kind='any', nullable=True)
>>> field_type("traits.shoe_size") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["number", "string", "bool", "null", "any"]


@dataclass(frozen=True, slots=True)
class ValueType:
    """Static type of a value: its kind and whether it may be null at run time."""

    kind: Kind
    nullable: bool = False


NUMBER: Final = ValueType("number")
NULLABLE_NUMBER: Final = ValueType("number", True)
STRING: Final = ValueType("string")
BOOL: Final = ValueType("bool")
NULL: Final = ValueType("null", True)

#: Field path -> type. All fields may be null (unknown / never set).
FIELDS: Final[dict[str, ValueType]] = {
    "traits.age": ValueType("number", True),
    "traits.gender": ValueType("string", True),
    "traits.country": ValueType("string", True),
    "traits.city": ValueType("string", True),
    "traits.area_type": ValueType("string", True),
    "traits.email_subscriber": ValueType("bool", True),
    "consent.personalization": ValueType("bool", True),
    "consent.marketing": ValueType("bool", True),
    "profile.sessions": ValueType("number", True),
    "profile.events": ValueType("number", True),
    "profile.days_since_first_seen": ValueType("number", True),
    "profile.avg_order_value": ValueType("number", True),
    "profile.cart_items": ValueType("number", True),
}

#: Free-form traits: ``traits.extra.<name>``; their type is only known at run time.
EXTRA_PREFIX: Final = "traits.extra."
_EXTRA_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
EXTRA_TYPE: Final = ValueType("any", True)

#: Field whose value grows with time at one day per day (used to schedule re-evaluation).
DAYS_SINCE_FIRST_SEEN: Final = "profile.days_since_first_seen"

#: Valid event types: the first argument of count / category_count / days_since.
EVENT_TYPES: Final[tuple[str, ...]] = (
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "return",
    "email_open",
    "email_click",
    "identify",
    "consent",
    "feedback",
    "erase",
)

#: Categories present in our data (documentation only: other category names are allowed).
CATEGORIES: Final[tuple[str, ...]] = (
    "outdoor", "electronics", "fashion", "home", "beauty", "sports", "toys", "books",
    "grocery", "garden", "jewelry", "pets", "stationery", "kitchen", "decor", "party",
    "bags", "other",
)  # fmt: skip

#: Argument kinds of a function parameter.
ArgKind = Literal["event", "category", "window"]


@dataclass(frozen=True, slots=True)
class Signature:
    """A function of the language: required and optional parameters, and its result type."""

    name: str
    required: tuple[ArgKind, ...]
    optional: tuple[ArgKind, ...]
    result: ValueType
    usage: str


#: Function name -> signature, in the order shown in error messages.
FUNCTIONS: Final[dict[str, Signature]] = {
    s.name: s
    for s in (
        Signature("count", ("event",), ("window",), NUMBER, "count(purchase) or count(purchase, 60d)"),
        Signature("revenue", (), ("window",), NUMBER, "revenue() or revenue(365d)"),
        Signature(
            "category_count",
            ("event", "category"),
            ("window",),
            NUMBER,
            'category_count(purchase, "outdoor") or category_count(purchase, "outdoor", 365d)',
        ),
        Signature("days_since", ("event",), (), NULLABLE_NUMBER, "days_since(purchase)"),
        Signature("affinity", ("category",), (), NUMBER, 'affinity("outdoor")'),
    )
}

#: Largest window, in days.
MAX_WINDOW_DAYS: Final = 3650


def field_type(path: str) -> ValueType | None:
    """Type of a field path, or None when the path is not known."""
    known = FIELDS.get(path)
    if known is not None:
        return known
    if path.startswith(EXTRA_PREFIX) and _EXTRA_NAME.fullmatch(path[len(EXTRA_PREFIX) :]):
        return EXTRA_TYPE
    return None


def known_fields_text() -> str:
    """The known field paths, for error messages."""
    return ", ".join([*FIELDS, EXTRA_PREFIX + "<name>"])


def known_functions_text() -> str:
    """The known function names, for error messages."""
    return ", ".join(FUNCTIONS)


def known_event_types_text() -> str:
    """The valid event types, for error messages."""
    return ", ".join(EVENT_TYPES)

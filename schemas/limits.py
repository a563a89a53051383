"""Hard bounds on what an input event may contain.

Every bound is enforced while decoding (see :mod:`schemas.decode`), so nothing past
these sizes reaches the core. Raising a bound is a compatible change; lowering one is
a breaking change for producers and needs a ``schema_version`` bump.
"""

from typing import Annotated

import msgspec

#: Largest encoded event accepted, in bytes (checked before parsing).
MAX_EVENT_BYTES = 64 * 1024
#: Ids: event, user, anonymous, session, item, order, decision, campaign.
MAX_ID_LEN = 128
#: Free text: search queries, urls, descriptions.
MAX_TEXT_LEN = 2048
#: Short labels: category, currency, gender, country, city, variant.
MAX_LABEL_LEN = 64
#: Line items in one purchase or return.
MAX_LINE_ITEMS = 200
#: Keys in a free-form ``extra`` mapping (values must be scalars: no nesting).
MAX_EXTRA_KEYS = 32
#: Money: a single price or an order total, in the order's currency.
MAX_AMOUNT = 1e9
#: Units of one item in one line.
MAX_QUANTITY = 100_000

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LEN)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LEN)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LABEL_LEN)]
Amount = Annotated[float, msgspec.Meta(ge=0.0, le=MAX_AMOUNT)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY)]
Scalar = str | int | float | bool | None
Extra = Annotated[dict[Label, Scalar], msgspec.Meta(max_length=MAX_EXTRA_KEYS)]

"""Deliberately malformed records, one line each, every one rejected by the decoder.

Kinds (rotating, so each appears): truncated JSON, a wrong field type, a missing user,
an unknown event type, a NaN-like number (``1e999`` or a bare ``NaN``), an oversized
string.

>>> import random
>>> from schemas.decode import decode_event
>>> rng = random.Random(0)
>>> lines = [make_malformed(rng, k, "user-000001", "2026-01-02T03:04:05.000Z", "x")
...          for k in range(len(KINDS))]
>>> [decode_event(line).reason for line in lines]
['malformed_json', 'wrong_type', 'missing_user', 'unknown_type', 'out_of_range', 'too_long']
"""

from __future__ import annotations

import random

import msgspec

from schemas.limits import MAX_ID_LEN, MAX_TEXT_LEN

_encode = msgspec.json.Encoder().encode

KINDS: tuple[str, ...] = (
    "truncated",
    "wrong_type",
    "missing_user",
    "unknown_type",
    "nan_like",
    "oversized",
)


def _template(user_id: str, event_time: str, event_id: str) -> dict[str, object]:
    return {
        "type": "product_view",
        "event_id": event_id,
        "user_id": user_id,
        "event_time": event_time,
        "session_id": f"{event_id}-s",
        "properties": {"item_id": "sku-home-0001", "category": "home", "price": 19.99},
        "schema_version": 1,
    }


def make_malformed(
    rng: random.Random, k: int, user_id: str, event_time: str, event_id: str
) -> bytes:
    """The ``k``-th malformed line (kind ``KINDS[k % len(KINDS)]``)."""
    kind = KINDS[k % len(KINDS)]
    d = _template(user_id, event_time, event_id)
    if kind == "truncated":
        raw = _encode(d)
        return raw[: 10 + rng.randrange(len(raw) - 11)]
    if kind == "wrong_type":
        field = rng.choice(("user_id", "event_time", "properties"))
        d[field] = 12345 if field != "properties" else "not-an-object"
        return _encode(d)
    if kind == "missing_user":
        del d["user_id"]
        return _encode(d)
    if kind == "unknown_type":
        d["type"] = rng.choice(("teleport", "page_veiw", "checkout_v2"))
        return _encode(d)
    if kind == "nan_like":
        d["properties"] = {"item_id": "sku-home-0001", "price": "__NUM__"}
        number = b"1e999" if rng.random() < 0.7 else b"NaN"
        return _encode(d).replace(b'"__NUM__"', number)
    # oversized
    if rng.random() < 0.5:
        d["user_id"] = "u" * (MAX_ID_LEN + 1 + rng.randrange(100))
    else:
        d["type"] = "search"
        d["properties"] = {"query": "q" * (MAX_TEXT_LEN + 1 + rng.randrange(1000))}
    return _encode(d)

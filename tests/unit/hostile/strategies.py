"""Hypothesis strategies for hostile input: valid events built like tests/factories.py,
then mutated structurally (delete, duplicate, retype, hostile values, deep nesting) and
byte-wise (truncate, invalid UTF-8, splices)."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import strategies as st

from tests.factories import at, event, purchase

USERS = ("u1", "u2", "u3", "anon-1")
ITEMS = ("sku-1", "sku-2", "sku-3", "sku-4")
CATS = ("shoes", "hats", "bags")


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """One valid event (any type) for a small pool of users, items and times."""
    kind = draw(st.sampled_from((
        "page_view", "product_view", "search", "add_to_cart", "remove_from_cart", "purchase",
        "return", "email_open", "identify", "consent", "feedback", "erase",
    )))
    user = draw(st.sampled_from(USERS))
    when = at(days=draw(st.integers(0, 120)), hours=draw(st.integers(0, 23)))
    event_id = f"e{draw(st.integers(0, 40))}"  # small range: duplicates happen
    item = draw(st.sampled_from(ITEMS))
    cat = draw(st.sampled_from(CATS))
    price = draw(st.floats(0, 500, allow_nan=False))
    ev: dict[str, Any]
    if kind in ("purchase", "return"):
        ev = purchase(user, when, [(item, cat, round(price, 2))], event_id=event_id)
        ev["type"] = kind
        ev["properties"]["order_id"] = "o-" + event_id  # not the factory's global counter
    elif kind in ("product_view", "add_to_cart", "remove_from_cart"):
        ev = event(kind, user, when, event_id, item_id=item, category=cat, price=price)
    elif kind == "page_view":
        ev = event(kind, user, when, event_id, path="/", category=cat)
    elif kind == "search":
        ev = event(kind, user, when, event_id, query="red " + cat)
    elif kind == "identify":
        ev = event(kind, user, when, event_id,
                   traits={"age": draw(st.integers(0, 130)), "area_type": "urban", "extra": {"k": 1}})
    elif kind == "consent":
        ev = event(kind, user, when, event_id, personalization=draw(st.booleans()))
    elif kind == "feedback":
        ev = event(kind, user, when, event_id, decision_id="d1", action="click", item_id=item)
    else:
        ev = event(kind, user, when, event_id)
    if user.startswith("anon"):
        ev["anonymous_id"] = ev.pop("user_id")
    return ev


#: Python values swapped in for a field's value.
HOSTILE_VALUES: tuple[Any, ...] = (
    None, True, 0, -0.0, -1, 1.5, 2**64, -(2**63) - 1, 10**30, 1e308, "", "x" * 3000,
    "\u0000", "💥", "2026-01-01T00:00:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    [], {}, [[[]]], {"a": {"b": {"c": []}}}, [1, "a", None], math.pi,
)
#: Raw JSON tokens orjson will not write (non-finite, huge, invalid escapes and bytes).
RAW_TOKENS: tuple[bytes, ...] = (
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"-0", b"-0.0", b"1e-999",
    b"123456789012345678901234567890123456789", b'"\\ud800"', b'"\\udc00\\ud800"',
    b'"\xff\xfe"', b'"\xc3\x28"', b'"\xed\xa0\x80"', b"[" * 300 + b"]" * 300,
    b'{"a":' * 300 + b"1" + b"}" * 300, b'"' + b"y" * 70_000 + b'"',
)
_PLACEHOLDER = "@@TOKEN{}@@"


def _dumps(obj: Any) -> bytes:
    """JSON like a producer would write it (stdlib: integers of any size)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(obj, dict):
        for k in sorted(obj):
            out.append((*prefix, k))
            out.extend(_paths(obj[k], (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _parent(obj: Any, path: tuple[Any, ...]) -> Any:
    for p in path[:-1]:
        obj = obj[p]
    return obj


@st.composite
def mutated_events(draw: st.DrawFn) -> bytes:
    """A valid event, then 1-4 structural mutations, then maybe byte-level damage."""
    ev = draw(valid_events())
    tokens: list[bytes] = []
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(ev)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(ev, path)
        op = draw(st.sampled_from(("delete", "value", "token", "nest", "retype")))
        if op == "delete":
            del parent[path[-1]]
        elif op == "value":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(HOSTILE_VALUES)))
        elif op == "token":
            tokens.append(draw(st.sampled_from(RAW_TOKENS)))
            parent[path[-1]] = _PLACEHOLDER.format(len(tokens) - 1)
        elif op == "nest":
            depth = draw(st.integers(1, 2000))
            value: Any = parent[path[-1]]
            for _ in range(min(depth, 50)):
                value = [value]
            if depth > 50:
                tokens.append(b"[" * depth + _dumps(value) + b"]" * depth)
                value = _PLACEHOLDER.format(len(tokens) - 1)
            parent[path[-1]] = value
        else:
            v = parent[path[-1]]
            parent[path[-1]] = str(v) if not isinstance(v, str) else [v]
    raw = _dumps(ev)
    for i, tok in enumerate(tokens):
        raw = raw.replace(b'"' + _PLACEHOLDER.format(i).encode() + b'"', tok)
    damage = draw(st.sampled_from(("none", "none", "duplicate", "truncate", "insert", "flip")))
    if damage == "duplicate" and raw.startswith(b"{"):
        key = draw(st.sampled_from((b"type", b"user_id", b"event_id", b"event_time", b"properties")))
        value = draw(st.sampled_from((b'"page_view"', b'"u9"', b"1", b"null", b"{}", b"NaN")))
        if draw(st.booleans()):
            raw = b"{" + b'"' + key + b'":' + value + b"," + raw[1:]
        else:
            raw = raw[:-1] + b',"' + key + b'":' + value + b"}"
    elif damage == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif damage == "insert":
        at_ = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from((b"\xff", b"\xc3", b"\x00", b"\\", b'"', b"}", b"\xed\xa0\x80")))
        raw = raw[:at_] + junk + raw[at_:]
    elif damage == "flip" and raw:
        i = draw(st.integers(0, len(raw) - 1))
        raw = raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1:]
    return raw

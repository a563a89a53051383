"""Builders of raw events for tests: readable, and valid unless a test breaks them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import orjson

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_ids = count()


def at(days: float = 0.0, hours: float = 0.0) -> str:
    return (T0 + timedelta(days=days, hours=hours)).isoformat()


def event(
    etype: str, user: str | None, when: str, event_id: str | None = None, **properties: Any
) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "type": etype,
        "event_id": event_id or f"e{next(_ids)}",
        "event_time": when,
        "properties": properties,
    }
    if user is not None:
        ev["user_id"] = user
    return ev


def purchase(
    user: str, when: str, items: list[tuple[str, str, float]], **kw: Any
) -> dict[str, Any]:
    lines = [{"item_id": i, "category": c, "price": p, "quantity": 1} for i, c, p in items]
    return event(
        "purchase",
        user,
        when,
        order_id=f"o{next(_ids)}",
        items=lines,
        revenue=round(sum(p for _, _, p in items), 2),
        **kw,
    )


def raw(ev: dict[str, Any]) -> bytes:
    return orjson.dumps(ev)

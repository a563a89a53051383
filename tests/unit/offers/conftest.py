"""Shared builders for the offer tests: a catalogue and an engine with it."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.engine.batch import BatchOutput
from models.offers import OfferCatalog
from models.segments import parse_rules
from schemas.control import OfferRecord
from tests.factories import event, raw

RULES = """
version: 1
segments:
  - id: outdoor_fan
    name: Views outdoor
    when: category_count(product_view, "outdoor", 30d) >= 1
"""


def make_catalog(holdout: float | None = None, placement: str = "home") -> OfferCatalog:
    rec: dict[str, Any] = {
        "placement": placement, "default_variant": "a",
        "variants": [{"id": v, "title": v.upper()} for v in ("a", "b", "c")],
    }
    if holdout is not None:
        rec["experiment"] = {"id": "exp1", "holdout_fraction": holdout}
    return OfferCatalog.from_records([msgspec.convert(rec, OfferRecord)])


def make_engine(holdout: float | None = None, **config: Any) -> Engine:
    return Engine(parse_rules(RULES), EngineConfig(**config), offers=make_catalog(holdout))


def feed(engine: Engine, *events: dict[str, Any]) -> BatchOutput:
    return engine.process_many([InputRecord(raw(e)) for e in events])


def home(user: str, when: str, event_id: str | None = None) -> dict[str, Any]:
    return event("page_view", user, when, event_id, path="/")


def click(user: str, when: str, decision_id: str, action: str = "click") -> dict[str, Any]:
    return event("feedback", user, when, decision_id=decision_id, action=action)


@pytest.fixture
def engine() -> Engine:
    return make_engine()

"""ControlPlane: folds records in order, publishes each new valid version once, counts outcomes."""

from __future__ import annotations

import json
import logging

import pytest

from models.offers import OfferCatalog
from models.segments import RuleSet, parse_rules
from streams.control.plane import CONTROL_RECORDS, ControlPlane
from streams.control.reader import ControlRecord

BASE = parse_rules("segments: [{id: buyer, when: 'count(purchase) >= 1'}]", "base.yaml")
SECRET = "do-not-log-me"


def record(topic: str, key: str, value: object, offset: int = 0) -> ControlRecord:
    raw = None if value is None else (value if isinstance(value, bytes) else json.dumps(value).encode())
    return ControlRecord(topic, 0, offset, key.encode(), raw)


def counter(kind: str, outcome: str) -> float:
    return CONTROL_RECORDS.labels(kind, outcome)._value.get()


@pytest.fixture
def plane_and_calls() -> tuple[ControlPlane, list[RuleSet], list[OfferCatalog]]:
    rules: list[RuleSet] = []
    offers: list[OfferCatalog] = []
    plane = ControlPlane(BASE, definitions_topic="defs", offers_topic="offers",
                         on_rules=rules.append, on_offers=offers.append)
    return plane, rules, offers


def test_publishes_each_new_version_once(plane_and_calls):
    plane, rules, offers = plane_and_calls
    plane.publish()
    assert rules == [] and len(offers) == 1 and len(offers[0]) == 0  # rules unchanged; catalogue loaded
    plane.apply([record("defs", "vip", {"id": "vip", "when": "revenue(365d) >= 100"}),
                 record("offers", "home", {"placement": "home", "default_variant": "a",
                                           "variants": [{"id": "a", "title": "A"}]})])
    plane.publish()
    plane.publish()
    assert [r.segment_ids() for r in rules] == [("buyer", "vip")]
    assert [o.placement_ids() for o in offers] == [(), ("home",)]
    plane.apply([record("defs", "vip", None)])
    plane.publish()
    assert rules[-1].segment_ids() == ("buyer",) and rules[-1].version == BASE.version


def test_rejected_records_are_counted_logged_without_payload_and_keep_the_old_version(
    plane_and_calls, caplog
):
    plane, rules, _ = plane_and_calls
    applied = counter("segment_definitions", "applied")
    rejected = counter("segment_definitions", "rejected")
    removed = counter("offers", "removed")
    plane.apply([record("defs", "vip", {"id": "vip", "when": "count(search) >= 1"})])
    with caplog.at_level(logging.WARNING, logger="streams.control.plane"):
        plane.apply([record("defs", "vip", {"id": "vip", "when": f"nope(\"{SECRET}\")"}, offset=7),
                     record("defs", "x", b"{" + SECRET.encode(), offset=8),
                     record("offers", "gone", None)])
    plane.publish()
    assert rules[-1].segments[-1].expression == "count(search) >= 1"
    assert counter("segment_definitions", "applied") == applied + 1
    assert counter("segment_definitions", "rejected") == rejected + 2
    assert counter("offers", "removed") == removed + 1
    assert plane.rejected == 2
    text = caplog.text
    assert "defs:vip:" in text and "offset 7" in text and "defs:x:" in text
    assert "unknown function 'nope'" in text
    assert SECRET not in text


def test_callback_failure_is_retried(plane_and_calls):
    plane, _, _ = plane_and_calls
    calls: list[RuleSet] = []

    def flaky(rules: RuleSet) -> None:
        calls.append(rules)
        if len(calls) == 1:
            raise RuntimeError("not ready")

    plane.on_rules = flaky
    plane.apply([record("defs", "vip", {"id": "vip", "when": "count(search) >= 1"})])
    plane.publish()
    plane.publish()
    plane.publish()
    assert len(calls) == 2 and plane.rules_version == calls[-1].version

"""DefinitionsState: file segments as the base, topic records override, add, disable, remove."""

from __future__ import annotations

import doctest
import json

import pytest

import streams.control.definitions as definitions_module
from models.segments import parse_rules
from models.segments.loader import MAX_SEGMENTS
from streams.control.definitions import DefinitionsState
from streams.control.errors import ControlError

TOPIC = "ctl.defs"
BASE = parse_rules(
    """
segments:
  - id: recent_buyer
    name: Recent buyer
    when: count(purchase, 60d) >= 1
  - id: browser
    when: count(product_view) >= 3
""",
    "base.yaml",
)


def rec(sid: str, when: str | None = "count(search) >= 1", **extra: object) -> bytes:
    return json.dumps({"id": sid, "when": when, **extra}).encode()


def state() -> DefinitionsState:
    return DefinitionsState(BASE, TOPIC)


def test_no_records_is_the_base_itself():
    assert state().rules is BASE


def test_override_keeps_file_position_and_changes_the_rule():
    s = state()
    value = rec("recent_buyer", "count(purchase, 30d) >= 2", name="Buyer")
    assert s.apply(b"recent_buyer", value) == "applied"
    rules = s.rules
    assert rules.segment_ids() == ("recent_buyer", "browser")
    assert rules.segments[0].expression == "count(purchase, 30d) >= 2"
    assert rules.segments[0].name == "Buyer"
    assert rules.version != BASE.version


def test_topic_only_segments_follow_the_file_sorted_whatever_the_arrival_order():
    a, b = state(), state()
    for key in ("zeta", "alpha", "mid"):
        a.apply(key.encode(), rec(key))
    for key in ("mid", "zeta", "alpha"):
        b.apply(key.encode(), rec(key))
    assert a.rules.segment_ids() == ("recent_buyer", "browser", "alpha", "mid", "zeta")
    assert a.rules.version == b.rules.version


def test_tombstone_restores_the_file_segment_and_removes_a_topic_only_one():
    s = state()
    s.apply(b"browser", rec("browser", "count(product_view) >= 10"))
    s.apply(b"extra", rec("extra"))
    assert s.apply(b"browser", None) == "removed"
    assert s.apply(b"extra", None) == "removed"
    assert s.rules.segment_ids() == BASE.segment_ids()
    assert s.rules.version == BASE.version
    assert s.apply(b"never_seen", None) == "removed"


def test_disabled_record_removes_a_file_segment_until_its_tombstone():
    s = state()
    assert s.apply(b"browser", json.dumps({"id": "browser", "enabled": False}).encode()) == "applied"
    assert s.rules.segment_ids() == ("recent_buyer",)
    s.apply(b"browser", None)
    assert s.rules.segment_ids() == ("recent_buyer", "browser")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (b"vip", rec("vip", "cnt(purchase) >= 1"), "unknown function 'cnt' in segment 'vip'"),
        (b"vip", rec("vip", "count(purchase) >="), "(at column"),
        (b"vip", rec("other"), "key 'vip' and value id 'other' differ"),
        (b"vip", b"{not json", "invalid segment definition: JSON is malformed"),
        (b"vip", rec("vip", when=None), "an enabled segment needs 'when'"),
        (b"vip", rec("vip", colour="red"), "unknown field `colour`"),
        (b"VIP", rec("VIP"), "bad segment id in key"),
        (None, rec("vip"), "record has no key"),
        (b"\xff", rec("vip"), "key is not UTF-8"),
        (b"vip", b"x" * 70_000, "record too large"),
        (b"vip", rec("vip", name="a\x85b"), "cannot hold"),
    ],
)
def test_invalid_record_is_rejected_with_topic_key_reason_and_changes_nothing(key, value, expected):
    s = state()
    s.apply(b"vip", rec("vip", "count(purchase) >= 5"))
    before = s.rules
    with pytest.raises(ControlError) as info:
        s.apply(key, value)
    assert expected in str(info.value)
    assert str(info.value).startswith(f"{TOPIC}:")
    assert s.rules is before
    assert s.records()[0].when == "count(purchase) >= 5"


def test_rule_error_position_points_into_the_expression():
    with pytest.raises(ControlError) as info:
        state().apply(b"vip", rec("vip", "count(purchase) >= 1 and bogus(1)"))
    assert "unknown function 'bogus'" in info.value.reason
    assert info.value.reason.endswith("(at column 26 of 'when')")


def test_at_most_max_segments():
    s = state()
    for i in range(MAX_SEGMENTS - len(BASE)):
        s.apply(f"s{i:03d}".encode(), rec(f"s{i:03d}"))
    assert len(s.rules) == MAX_SEGMENTS
    with pytest.raises(ControlError, match=rf"would make {MAX_SEGMENTS + 1} segments \(max {MAX_SEGMENTS}\)"):
        s.apply(b"one_more", rec("one_more"))
    # replacing one in place, or disabling one to make room, is fine
    s.apply(b"s000", rec("s000", "count(search) >= 2"))
    s.apply(b"browser", json.dumps({"id": "browser", "enabled": False}).encode())
    assert s.apply(b"one_more", rec("one_more")) == "applied"
    assert len(s.rules) == MAX_SEGMENTS


def test_composed_rules_pickle_and_reload_identically():
    import pickle

    s = state()
    s.apply(b"vip", rec("vip", 'traits.country == "NO" and revenue(365d) >= 1000', name="VIP \U0001f451"))
    again = pickle.loads(pickle.dumps(s.rules))
    assert again.version == s.rules.version and again.segments[-1].name == "VIP \U0001f451"


def test_doctests():
    assert doctest.testmod(definitions_module).failed == 0

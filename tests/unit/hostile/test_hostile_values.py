"""The hostile-input policy, value by value (see the docstring of schemas/decode.py)."""

from __future__ import annotations

import pytest

from models.config import EngineConfig
from models.engine.batch import InputRecord
from models.engine.engine import Engine
from models.segments import parse_rules
from schemas.decode import REJECTION_REASONS, Rejection, decode_event
from schemas.events import PageView, ProductView
from schemas.outputs import SourcePosition
from tests.factories import T0, at, event, raw

RULES = parse_rules('segments: [{id: viewer, name: Viewer, when: "count(page_view) >= 1"}]')
DAY = 86_400.0


def _pv(**over: object) -> bytes:
    base = ('{"type":"product_view","event_id":"e1","user_id":"u1","event_time":"2026-01-01T00:00:00Z",'
            '"properties":{"item_id":"sku-1","price":PRICE}}')
    return base.replace("PRICE", str(over.get("price", "1.5"))).encode()


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e10", "-1",
                                   "123456789012345678901234567890"])
def test_non_finite_and_huge_numbers_are_out_of_range(token: str) -> None:
    result = decode_event(_pv(price=token))
    assert isinstance(result, Rejection) and result.reason in ("out_of_range", "malformed_json"), result
    if token not in ("NaN", "Infinity", "-Infinity"):  # not JSON at all: malformed
        assert result.reason == "out_of_range"


def test_negative_zero_is_a_valid_zero() -> None:
    ev = decode_event(_pv(price="-0"))
    assert isinstance(ev, ProductView) and ev.properties.price == 0.0


def test_a_megabyte_string_is_too_large() -> None:
    big = raw(event("search", "u1", at(), query="x" * 1_000_000))
    assert decode_event(big).reason == "too_large"  # type: ignore[union-attr]


@pytest.mark.parametrize("lists, dicts, reasons", [
    (100_000, 100_000, {"too_large"}),  # 10^5 levels do not fit in 64 KiB
    (30_000, 10_000, {"too_deep", "wrong_type"}),  # fits: the type check or the depth limit stops it
])
@pytest.mark.parametrize("field", [b"path", b"unknown_field"])
def test_deep_nesting(lists: int, dicts: int, reasons: set[str], field: bytes) -> None:
    for nested in (b"[" * lists + b"]" * lists, b'{"a":' * dicts + b"1" + b"}" * dicts):
        doc = (b'{"type":"page_view","event_id":"e","user_id":"u","event_time":"2026-01-01T00:00:00Z",'
               b'"properties":{"' + field + b'":' + nested + b"}}")
        result = decode_event(doc)
        assert isinstance(result, Rejection) and result.reason in reasons, (lists, result)
        if field == b"unknown_field" and lists < 100_000:
            assert result.reason == "too_deep"  # skipping an unknown value is depth-limited too


def test_shallow_nesting_in_an_ignored_field_is_skipped() -> None:
    doc = raw({**event("page_view", "u1", at()), "unknown": [[{"a": [1]}]]})
    assert isinstance(decode_event(doc), PageView)


def test_nesting_where_a_scalar_is_expected_is_wrong_type() -> None:
    doc = raw(event("page_view", "u1", at(), path=[["/"]]))
    assert decode_event(doc).reason == "wrong_type"  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
def test_invalid_utf8_anywhere_is_invalid_utf8(bad: bytes) -> None:
    in_field = raw(event("page_view", "u1", at(), path="/a")).replace(b"/a", b"/" + bad)
    in_ignored = raw({**event("page_view", "u1", at()), "unknown": "x"}).replace(b'"x"', b'"' + bad + b'"')
    for doc in (in_field, in_ignored):
        assert decode_event(doc).reason == "invalid_utf8"  # type: ignore[union-attr]


def test_lone_surrogate_escape_is_malformed() -> None:
    doc = raw(event("page_view", "u1", at(), path="X")).replace(b'"X"', b'"\\ud800"')
    assert decode_event(doc).reason == "malformed_json"  # type: ignore[union-attr]


def test_duplicate_keys_last_wins() -> None:
    doc = (b'{"type":"page_view","event_id":"e1","user_id":"first","user_id":"last",'
           b'"event_time":"2026-01-01T00:00:00Z"}')
    ev = decode_event(doc)
    assert isinstance(ev, PageView) and ev.user_id == "last"
    bad_last = doc.replace(b'"user_id":"last"', b'"user_id":7')
    assert decode_event(bad_last).reason == "wrong_type"  # type: ignore[union-attr]


def test_new_reasons_are_in_the_fixed_set() -> None:
    assert {"future_event", "too_old"} <= set(REJECTION_REASONS)
    assert len(set(REJECTION_REASONS)) == len(REJECTION_REASONS)


# --- event time -------------------------------------------------------------------------

def _rec(days: float, broker_days: float | None, eid: str, etype: str = "page_view",
         user: str = "u1") -> InputRecord:
    ts_ms = None if broker_days is None else int((T0.timestamp() + broker_days * DAY) * 1000)
    return InputRecord(raw(event(etype, user, at(days=days), eid)),
                       SourcePosition(topic="t", partition=0, offset=0, timestamp_ms=ts_ms))


def test_future_event_against_the_broker_timestamp() -> None:
    eng = Engine(RULES)
    out = eng.process_many([
        _rec(0, 0, "ok-1"), _rec(0.99, 0, "ok-2"),  # within a day of its broker timestamp
        _rec(1.01, 0, "future"),  # more than a day ahead
    ])
    assert out.outcomes == {"ok": 2, "invalid": 1}
    (dl,) = out.dead_letters
    assert dl.reason == "future_event" and b'"future"' in dl.raw and dl.error_class == "EventTimeError"
    assert eng.watermark == pytest.approx(T0.timestamp() + 0.99 * DAY)  # not dragged ahead


def test_future_tolerance_is_configurable_and_absent_or_unset_timestamps_are_not_judged() -> None:
    eng = Engine(RULES, EngineConfig(max_future_s=3600))
    out = eng.process_many([_rec(0.05, 0, "ahead-72min"), _rec(60, None, "no-ts"),
                            InputRecord(raw(event("page_view", "u2", at(days=61), "minus-one")),
                                        SourcePosition(timestamp_ms=-1))])
    assert [d.reason for d in out.dead_letters] == ["future_event"]
    assert out.outcomes == {"ok": 2, "invalid": 1}


def test_too_old_behind_the_watermark() -> None:
    eng = Engine(RULES)
    out = eng.process_many([_rec(500, None, "now"), _rec(101, None, "399-days-late"),
                            _rec(99, None, "401-days-late")])
    assert out.outcomes == {"ok": 2, "invalid": 1}
    assert [(d.reason, b'"401-days-late"' in d.raw) for d in out.dead_letters] == [("too_old", True)]
    eng2 = Engine(RULES, EngineConfig(max_past_s=DAY))
    out2 = eng2.process_events([decode_event(r.raw) for r in (_rec(10, None, "a"), _rec(8, None, "b"))])  # type: ignore[misc]
    assert [d.reason for d in out2.dead_letters] == ["too_old"] and out2.dead_letters[0].source is None


def test_erase_is_never_refused_for_its_time_and_does_not_move_the_watermark() -> None:
    eng = Engine(RULES)
    eng.process_many([_rec(0, 0, "a"), _rec(500, 500, "b", user="u2")])
    out = eng.process_many([_rec(1, 1, "old-erase", etype="erase"),
                            _rec(900, 500, "future-erase", "erase", "u2")])
    assert out.outcomes == {"erased": 2} and not out.dead_letters
    assert eng.lookup("u1") is None and eng.lookup("u2") is None
    assert eng.watermark == pytest.approx(T0.timestamp() + 500 * DAY)


def test_time_checks_are_deterministic() -> None:
    batch = [_rec(0, 0, "a"), _rec(3, 0, "f"), _rec(500, 500, "b"), _rec(1, None, "old")]
    outs = [Engine(RULES).process_many(batch) for _ in range(2)]
    assert outs[0] == outs[1]
    assert [d.reason for d in outs[0].dead_letters] == ["future_event", "too_old"]

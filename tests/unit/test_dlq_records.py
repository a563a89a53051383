"""DLQ record parsing, filters, redrive headers and what ``dlq inspect`` prints (no broker)."""

from __future__ import annotations

import base64
import doctest
import importlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from schemas.outputs import DeadLetter, SourcePosition
from streams.commands.dlq import dlq_command
from streams.dataplane.produce import dlq_headers
from streams.dlq.records import (
    REDRIVE_COUNT,
    REDRIVEN_FROM,
    DlqFilter,
    DlqRecord,
    parse_dlq_record,
    parse_time,
)
from streams.dlq.redrive import redrive_headers
from streams.dlq.summary import DlqSummary, escape_bytes, record_json, record_line

PAYLOAD = b'{"user_id":"u-secret-42","type":"purchase","email":"jane@example.com"}'


def _from_worker(dl: DeadLetter, partition: int = 0, offset: int = 0, ts: int | None = 1_000,
                 key: bytes | None = b"u-secret-42") -> DlqRecord:
    """A DLQ record exactly as the worker writes it."""
    return parse_dlq_record(partition, offset, ts, key, dl.raw, dlq_headers(dl, "personalizer"))


def test_worker_headers_round_trip() -> None:
    dl = DeadLetter(reason="missing_field", detail="Object missing required field `event_id`",
                    raw=PAYLOAD, error_class="ValidationError",
                    source=SourcePosition(topic="clickstream.events", partition=3, offset=1234,
                                          timestamp_ms=1_767_225_600_000))
    r = _from_worker(dl, partition=1, offset=9)
    assert (r.dlq_partition, r.dlq_offset, r.dlq_timestamp_ms) == (1, 9, 1_000)
    assert r.reason == "missing_field"
    assert r.detail == "Object missing required field `event_id`"
    assert r.error_class == "ValidationError"
    assert r.cause_class == "missing_field"
    assert (r.original_topic, r.original_partition, r.original_offset) == ("clickstream.events", 3, 1234)
    assert r.original_timestamp_ms == 1_767_225_600_000
    assert r.group == "personalizer"
    assert r.size == len(PAYLOAD) and r.value == PAYLOAD and r.key == b"u-secret-42"
    assert r.redrive_count == 0 and r.problems == ()
    assert r.origin == "clickstream.events@3:1234"


def test_file_source_has_no_topic_but_a_file_origin() -> None:
    dl = DeadLetter(reason="unknown_type", detail="row 7", raw=b"bad,row", error_class="DecodeError",
                    source=SourcePosition(file="retail.csv", line=7))
    r = _from_worker(dl)
    assert r.original_topic is None and r.original_partition is None
    assert (r.source_file, r.source_line) == ("retail.csv", 7)
    assert r.origin == "file:retail.csv:7"


@pytest.mark.parametrize("headers", [None, [], {}])
def test_missing_headers_are_none_not_problems(headers: object) -> None:
    r = parse_dlq_record(0, 5, None, None, None, headers)  # type: ignore[arg-type]
    assert r.reason is None and r.original_topic is None and r.original_offset is None
    assert r.problems == () and r.size == 0 and r.redrive_count == 0
    assert r.origin == "?@?:?"


def test_garbled_headers_are_reported_and_parsing_goes_on() -> None:
    r = parse_dlq_record(0, 1, 5, b"k", b"v", [
        ("x-personalizer-reason", b"\xff\xfebad"),
        ("kafka_dlt-original-topic", b"clicks"),
        ("kafka_dlt-original-partition", b"two"),
        ("kafka_dlt-original-offset", b" 17 "),
        ("kafka_dlt-original-timestamp", None),
        (REDRIVE_COUNT, b"x"),
        ("kafka_dlt-exception-message", "a str header"),
    ])
    assert r.reason is not None and r.reason.endswith("bad")  # replacement characters, kept
    assert r.original_topic == "clicks"
    assert r.original_partition is None
    assert r.original_offset == 17
    assert r.original_timestamp_ms is None
    assert r.redrive_count == 0
    assert r.detail == "a str header"
    assert any("x-personalizer-reason is not valid UTF-8" in p for p in r.problems)
    assert any("kafka_dlt-original-partition is not an integer" in p for p in r.problems)
    assert any("kafka_dlt-original-timestamp is not an integer" in p for p in r.problems)
    assert any(REDRIVE_COUNT in p for p in r.problems)


def test_duplicate_header_last_wins_and_dict_headers() -> None:
    r = parse_dlq_record(0, 1, 5, None, b"", [("x-personalizer-reason", b"empty"),
                                              ("x-personalizer-reason", b"too_large")])
    assert r.reason == "too_large"
    assert len(r.headers) == 2  # both kept for a redrive
    d = parse_dlq_record(0, 1, 5, None, b"", {"x-personalizer-reason": b"empty", REDRIVE_COUNT: b"3"})
    assert d.reason == "empty" and d.redrive_count == 3


def _rec(offset: int, ts: int | None, reason: str | None) -> DlqRecord:
    return DlqRecord(0, offset, ts, None, b"", reason=reason)


def test_filter_by_reason_including_none() -> None:
    f = DlqFilter(reasons=frozenset({"empty", "none"}))
    assert f.matches(_rec(0, 1, "empty"))
    assert f.matches(_rec(1, 1, None))
    assert not f.matches(_rec(2, 1, "too_large"))
    assert DlqFilter().matches(_rec(3, None, None))


def test_filter_by_time_since_inclusive_until_exclusive() -> None:
    f = DlqFilter(since_ms=100, until_ms=200)
    assert [f.matches(_rec(i, ts, "x")) for i, ts in enumerate([99, 100, 199, 200, None])] == [
        False, True, True, False, False,
    ]


def test_parse_time_forms_and_errors() -> None:
    assert parse_time("2026-01-01T00:00:00Z") == 1_767_225_600_000
    assert parse_time("2026-01-01T01:00:00+01:00") == 1_767_225_600_000
    assert parse_time("2026-01-01T00:00:00") == 1_767_225_600_000  # naive = UTC
    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert parse_time("1d", now=now) == 1_767_225_600_000
    assert parse_time("90m", now=now) == 1_767_312_000_000 - 90 * 60_000
    for bad in ("yesterday", "", "5y", "-1h"):
        with pytest.raises(ValueError, match="is not a time"):
            parse_time(bad)


def test_redrive_headers_increment_and_replace() -> None:
    dl = DeadLetter(reason="empty", detail="empty record", raw=b"", error_class="DecodeError",
                    source=SourcePosition(topic="clicks", partition=0, offset=1))
    first = _from_worker(dl, partition=2, offset=41)
    h1 = redrive_headers(first, "dlq")
    assert dict(h1)[REDRIVE_COUNT] == b"1"
    assert dict(h1)[REDRIVEN_FROM] == b"dlq@2:41"
    assert [k for k, _ in h1][: len(first.headers)] == [k for k, _ in first.headers]  # originals kept
    again = parse_dlq_record(0, 7, 1, None, b"", h1)
    h2 = redrive_headers(again, "dlq")
    assert [v for k, v in h2 if k == REDRIVE_COUNT] == [b"2"]  # replaced, not duplicated
    assert [v for k, v in h2 if k == REDRIVEN_FROM] == [b"dlq@0:7"]


def test_record_line_hides_payload_and_key_unless_asked() -> None:
    dl = DeadLetter(reason="missing_user", detail="no user_id\x1b[2J", raw=PAYLOAD, error_class="E",
                    source=SourcePosition(topic="clicks", partition=1, offset=2))
    r = _from_worker(dl, partition=0, offset=3)
    line = record_line(r)
    assert "0:3" in line and "missing_user" in line and "clicks@1:2" in line
    assert "u-secret-42" not in line and "jane@example.com" not in line
    assert "\x1b" not in line and "\\x1b[2J" in line  # no terminal escapes from headers
    shown = record_line(r, show_payload=True)
    assert "jane@example.com" in shown and "key=u-secret-42" in shown
    doc = record_json(r)
    assert "value_b64" not in doc and "key_b64" not in doc
    assert "u-secret-42" not in str(doc)
    full = record_json(r, show_payload=True)
    assert base64.b64decode(full["value_b64"]) == PAYLOAD
    assert base64.b64decode(full["key_b64"]) == b"u-secret-42"


def test_payload_preview_is_truncated_to_200_bytes_and_escaped() -> None:
    data = b"\x00\\" + b"a" * 300
    shown = escape_bytes(data)
    assert shown.startswith("\\x00\\\\aaa")
    assert shown.endswith("...(+102 bytes)")
    assert shown.count("a") == 198


def test_summary_counts_sorted_and_oldest_newest() -> None:
    s = DlqSummary()
    for i, (ts, reason, topic) in enumerate([(30, "empty", "b"), (10, "too_large", "a"),
                                             (20, "empty", None), (40, None, "a")]):
        s.add(DlqRecord(0, i, ts, None, b"", reason=reason, original_topic=topic))
    assert s.total == 4
    assert s.oldest is not None and s.oldest.dlq_offset == 1
    assert s.newest is not None and s.newest.dlq_offset == 3
    lines = s.lines("dlq")
    assert lines[0] == "4 dead letter(s) in dlq"
    reasons = lines[lines.index("  by reason:") + 1: lines.index("  by original topic:")]
    assert [ln.split(None, 1) for ln in reasons] == [["2", "empty"], ["1", "(no reason header)"],
                                                      ["1", "too_large"]]
    assert "(no original topic)" in "\n".join(lines)


@pytest.mark.parametrize("name", ["streams.dlq.records", "streams.dlq.redrive", "streams.dlq.summary"])
def test_doctests(name: str) -> None:
    # pytest's testpaths do not include streams/, so the examples run here. (importlib:
    # the package re-exports a function named like its module, `streams.dlq.redrive`.)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(("args", "message"), [
    (["redrive", "--reason", "malformed-json"], "is not a known reason"),  # a typo would pass over all
    (["inspect", "--since", "yesterday"], "is not a time"),
    (["redrive", "--since", "2026-01-02", "--until", "2026-01-01"], "must be before --until"),
    (["redrive", "--to", "bad topic!"], "not a valid Kafka topic name"),
])
def test_commands_refuse_bad_options_before_touching_kafka(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"PERSONALIZER_BOOTSTRAP_SERVERS": "127.0.0.1:1"}  # nothing listens: must not be reached
    result = CliRunner().invoke(dlq_command, args, env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output

"""``personalizer dlq inspect`` / ``dlq redrive`` against the real broker.

Dead letters are written the way the worker writes them (``dlq_headers`` + a producer);
the commands run through click's ``CliRunner`` with PERSONALIZER_* variables pointing at
this test's topics and group.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition

from schemas.outputs import DeadLetter, SourcePosition
from streams.commands.dlq import dlq_command
from streams.dataplane.produce import dlq_headers
from tests.integration.conftest import TopicFactory, unique_name

SECRET = b"jane.doe@example.com"


@dataclass
class Env:
    dlq: str
    input_topic: str
    group: str
    bootstrap: str
    # (key, value, reason) of every dead letter written, in order
    written: list[tuple[bytes | None, bytes, str | None]]

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> Result:
        env = {
            "PERSONALIZER_BOOTSTRAP_SERVERS": self.bootstrap,
            "PERSONALIZER_DLQ_TOPIC": self.dlq,
            "PERSONALIZER_INPUT_TOPICS": self.input_topic,
            "PERSONALIZER_GROUP_ID": self.group,
            **(extra_env or {}),
        }
        return CliRunner().invoke(dlq_command, list(args), env=env, catch_exceptions=False)


def _headers(dl: DeadLetter) -> list[tuple[str, str | bytes | None]]:
    """The headers the worker writes for ``dl``."""
    return list(dlq_headers(dl, "personalizer"))


def _dead_letter(reason: str, n: int, topic: str | None, partition: int = 0) -> DeadLetter:
    source = (SourcePosition(topic=topic, partition=partition, offset=100 + n, timestamp_ms=1_767_225_600_000)
              if topic is not None else SourcePosition(file="retail.csv", line=n))
    raw = b'{"n":%d,"email":"%s"}' % (n, SECRET) if reason != "empty" else b""
    return DeadLetter(reason=reason, detail=f"detail {n}", raw=raw, error_class="DecodeError", source=source)


@pytest.fixture
def env(
    bootstrap_servers: str, topic_factory: TopicFactory, producer_factory: Callable[..., Producer],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> Env:
    monkeypatch.chdir(tmp_path)  # no stray .env
    dlq = topic_factory(partitions=2)
    input_topic = topic_factory(partitions=2)
    producer = producer_factory()
    written: list[tuple[bytes | None, bytes, str | None]] = []
    letters = [
        _dead_letter("malformed_json", 0, input_topic, 0),
        _dead_letter("malformed_json", 1, input_topic, 1),
        _dead_letter("missing_user", 2, input_topic, 0),
        _dead_letter("malformed_json", 3, input_topic, 1),
        _dead_letter("missing_user", 4, input_topic, 0),
        _dead_letter("unknown_type", 5, None),  # a file source: no original topic
    ]
    for i, dl in enumerate(letters):
        key = f"user-{i}".encode() if dl.reason != "missing_user" else None
        producer.produce(dlq, key=key, value=dl.raw, headers=_headers(dl))
        written.append((key, dl.raw, dl.reason))
    producer.produce(dlq, key=b"foreign", value=b"no headers at all")  # another tool's dead letter
    written.append((b"foreign", b"no headers at all", None))
    assert producer.flush(10) == 0
    return Env(dlq, input_topic, unique_name("g"), bootstrap_servers, written)


def _read_all(consumer: Consumer, topic: str, partitions: int) -> list[Message]:
    """Every record of ``topic`` (assign + partition EOF; independent of the code under test)."""
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out: list[Message] = []
    at_end: set[int | None] = set()
    deadline = time.monotonic() + 30
    while len(at_end) < partitions and time.monotonic() < deadline:
        for msg in consumer.consume(100, 0.1):
            err = msg.error()
            if err is None:
                out.append(msg)
            elif err.code() == KafkaError._PARTITION_EOF:
                at_end.add(msg.partition())
    assert len(at_end) == partitions, "did not reach the end of every partition"
    consumer.unassign()
    return out


@pytest.fixture
def read_topic(consumer_factory: Callable[..., Consumer]) -> Callable[[str], list[Message]]:
    def read(topic: str) -> list[Message]:
        consumer = consumer_factory(**{"enable.partition.eof": True, "fetch.wait.max.ms": 50})
        return _read_all(consumer, topic, 2)
    return read


def _committed(consumer_factory: Callable[..., Consumer], group: str, topic: str) -> list[int]:
    consumer = consumer_factory(group_id=group)
    found = consumer.committed([TopicPartition(topic, p) for p in range(2)], timeout=10)
    return [tp.offset for tp in found]


def _json_lines(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_inspect_counts_filters_and_hides_payloads(
    env: Env, consumer_factory: Callable[..., Consumer], topic_factory: TopicFactory
) -> None:
    result = env.run("inspect")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"7 dead letter(s) in {env.dlq}" in out
    assert "       3  malformed_json" in out
    assert "       2  missing_user" in out
    assert "       1  unknown_type" in out
    assert "       1  (no reason header)" in out
    assert f"       5  {env.input_topic}" in out
    assert "file:retail.csv:5" in out
    assert SECRET.decode() not in out and "user-0" not in out  # no payloads, no keys
    assert out.count("\n") >= 7 + 7  # summary + one line per record

    only = _json_lines(env.run("inspect", "--reason", "missing_user", "--json"))
    assert [d["reason"] for d in only] == ["missing_user", "missing_user"]
    assert all("value_b64" not in d and "key_b64" not in d for d in only)
    assert {d["original_topic"] for d in only} == {env.input_topic}

    shown = env.run("inspect", "--reason", "malformed_json", "--show-payload")
    assert shown.exit_code == 0 and SECRET.decode() in shown.stdout
    full = _json_lines(env.run("inspect", "--json", "--show-payload", "--reason", "none"))
    assert len(full) == 1 and base64.b64decode(full[0]["value_b64"]) == b"no headers at all"

    assert len(_json_lines(env.run("inspect", "--json", "--limit", "2"))) == 2
    everything = _json_lines(env.run("inspect", "--json"))
    firsts = {d["dlq_partition"] for d in everything if d["dlq_offset"] == 0}
    from_one = _json_lines(env.run("inspect", "--json", "--from-offset", "1"))
    assert len(from_one) == 7 - len(firsts) and all(d["dlq_offset"] >= 1 for d in from_one)
    assert _json_lines(env.run("inspect", "--json", "--from-offset", "1000")) == []
    # time range: Tansu answers offsets_for_times loosely, so this also checks the client-side filter
    assert len(_json_lines(env.run("inspect", "--json", "--since", "2h"))) == 7
    assert _json_lines(env.run("inspect", "--json", "--until", "2h")) == []
    future = env.run("inspect", "--since", "2999-01-01T00:00:00Z")
    assert future.exit_code == 0 and "0 dead letter(s)" in future.stdout

    # an empty DLQ ends at once (partition EOF on empty partitions); a missing one is an error
    empty = env.run("inspect", extra_env={"PERSONALIZER_DLQ_TOPIC": topic_factory(partitions=3)})
    assert empty.exit_code == 0 and "0 dead letter(s)" in empty.stdout
    missing = env.run("inspect", extra_env={"PERSONALIZER_DLQ_TOPIC": unique_name("missing")})
    assert missing.exit_code == 1 and "is not available" in missing.output

    # inspecting committed nothing, for the worker's group or the redrive group
    for group in (env.group, f"{env.group}-dlq-redrive"):
        assert all(off < 0 for off in _committed(consumer_factory, group, env.dlq))


def test_redrive_sends_selected_records_once(
    env: Env, read_topic: Callable[[str], list[Message]], consumer_factory: Callable[..., Consumer]
) -> None:
    dry = env.run("redrive", "--reason", "malformed_json", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.count("would send ") == 3
    assert read_topic(env.input_topic) == []
    assert all(off < 0 for off in _committed(consumer_factory, f"{env.group}-dlq-redrive", env.dlq))

    first = env.run("redrive", "--reason", "malformed_json")
    assert first.exit_code == 0, first.output
    assert f"redrove 3 record(s) from {env.dlq} (3 to {env.input_topic})" in first.stdout
    assert "4 record(s) did not match" in first.stdout
    sent = read_topic(env.input_topic)
    expected = {(k, v) for k, v, reason in env.written if reason == "malformed_json"}
    assert {(m.key(), m.value()) for m in sent} == expected and len(sent) == 3
    dlq_positions = {(m.partition() or 0, m.offset() or 0) for m in read_topic(env.dlq)}
    for m in sent:
        headers = dict(m.headers() or [])
        assert headers["x-personalizer-redrive-count"] == b"1"
        raw_source = headers["x-personalizer-redriven-from"]
        assert isinstance(raw_source, bytes)
        source = raw_source.decode()
        topic, _, where = source.rpartition("@")
        partition, offset = where.split(":")
        assert topic == env.dlq and (int(partition), int(offset)) in dlq_positions
        assert headers["x-personalizer-reason"] == b"malformed_json"  # original headers kept
    ends = {p: 1 + max(o for q, o in dlq_positions if q == p) for p, _o in dlq_positions}
    committed = _committed(consumer_factory, f"{env.group}-dlq-redrive", env.dlq)
    assert {p: off for p, off in enumerate(committed) if off >= 0} == ends  # every partition's end

    second = env.run("redrive", "--reason", "malformed_json")
    assert second.exit_code == 0, second.output
    assert "redrove 0 record(s)" in second.stdout
    assert len(read_topic(env.input_topic)) == 3


def test_redrive_skips_unroutable_records_loudly_and_to_overrides(
    env: Env, read_topic: Callable[[str], list[Message]], topic_factory: TopicFactory
) -> None:
    result = env.run("redrive", "--reason", "unknown_type", "--reason", "none")
    assert result.exit_code == 0, result.output
    assert "redrove 0 record(s)" in result.stdout
    assert "2 selected record(s) skipped" in result.stderr
    assert result.stderr.count("no kafka_dlt-original-topic header") == 2
    assert read_topic(env.input_topic) == []

    other = topic_factory(partitions=2)
    to = env.run("redrive", "--reason", "unknown_type", "--reason", "none", "--to", other,
                 "--group", unique_name("g"))
    assert to.exit_code == 0, to.output
    sent = read_topic(other)
    expected = sorted(v for _k, v, r in env.written if r in ("unknown_type", None))
    assert sorted(m.value() or b"" for m in sent) == expected
    assert read_topic(env.input_topic) == []


def test_redrive_refused_record_exits_non_zero_without_committing(
    env: Env, producer_factory: Callable[..., Producer], consumer_factory: Callable[..., Consumer],
    read_topic: Callable[[str], list[Message]],
) -> None:
    dl = _dead_letter("too_large", 9, env.input_topic)
    big = DeadLetter(reason=dl.reason, detail=dl.detail, raw=b"x" * 5000, error_class="SizeError",
                     source=dl.source)
    producer = producer_factory()
    producer.produce(env.dlq, key=b"big", value=big.raw, headers=_headers(big))
    assert producer.flush(10) == 0
    # The redrive's producer refuses records over 2000 bytes: the run must fail, commit nothing.
    limits = {"PERSONALIZER_KAFKA_EXTRA": orjson.dumps({"message.max.bytes": 2000}).decode()}
    result = env.run("redrive", extra_env=limits)
    assert result.exit_code != 0
    assert "NOT committed" in result.output
    assert all(off < 0 for off in _committed(consumer_factory, f"{env.group}-dlq-redrive", env.dlq))
    # the next run (without the limit) starts from the beginning and sends everything routable
    again = env.run("redrive")
    assert again.exit_code == 0, again.output
    assert "redrove 6 record(s)" in again.stdout
    assert b"x" * 5000 in {m.value() for m in read_topic(env.input_topic)}


def test_redrive_limit_and_until_leave_the_rest_for_a_later_run(
    env: Env, read_topic: Callable[[str], list[Message]]
) -> None:
    group = unique_name("g")
    stopped = env.run("redrive", "--until", "2h", "--group", group)  # every record is newer
    assert stopped.exit_code == 0, stopped.output
    assert "redrove 0 record(s)" in stopped.stdout and "stopped at --until" in stopped.stdout

    one = env.run("redrive", "--reason", "missing_user", "--limit", "1", "--group", group)
    assert one.exit_code == 0, one.output
    assert "redrove 1 record(s)" in one.stdout and "stopped at --limit 1" in one.stdout
    assert len(read_topic(env.input_topic)) == 1

    rest = env.run("redrive", "--reason", "missing_user", "--group", group)
    assert "redrove 1 record(s)" in rest.stdout
    sent = read_topic(env.input_topic)
    expected = sorted(v for _k, v, r in env.written if r == "missing_user")
    assert sorted(m.value() or b"" for m in sent) == expected

"""Schema evolution: a v1 and a v2 producer in one stream, both processed by a real worker.

The policy (README, "Evolution policy"): an additive change (a new optional field) keeps
``schema_version``; fields a worker does not know are ignored, so an old worker reads a
new producer's events exactly as if the field were absent. A breaking change bumps
``schema_version``; a version the worker does not support is dead-lettered
(``unsupported_schema_version``, original bytes kept for a redrive after the upgrade).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.commands.produce import iter_jsonl
from streams.dataplane.loop import DataPlane
from streams.generator import generate
from tests.integration.conftest import unique_name
from tests.integration.planes import (
    all_committed,
    assert_decisions_equal_reference,
    assert_state_equals_reference,
    make_topics,
    plane_config,
    produce,
    read_all,
    reference_replay,
    restored_state,
    running,
    wait_for,
)

RULES = load_rules(DEFAULT_RULES_PATH)


def as_v2(line: bytes) -> bytes:
    """What the next producer release sends: the same event plus optional fields it added
    (an envelope object and a new property), still ``schema_version`` 1 (additive)."""
    ev = orjson.loads(line)
    ev["device"] = {"kind": "mobile", "os": "android", "app_version": "7.3.1"}
    ev.setdefault("properties", {})["ab_bucket"] = "b"
    return orjson.dumps(ev)


def test_v1_and_v2_producers_in_one_stream(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    events = tmp_path / "events.jsonl"
    generate(users=200, events=4000, seed=13, out=events, malformed_fraction=0.0)
    v1 = list(iter_jsonl(events))
    mixed = [as_v2(line) if i % 2 else line for i, line in enumerate(v1)]  # two producers, interleaved
    breaking = orjson.loads(v1[0]) | {"schema_version": 2, "event_id": "from-the-future"}
    future = orjson.dumps(breaking)
    mixed.insert(100, future)
    plain = [*v1[:100], future, *v1[100:]]  # the same stream without the added fields

    live, expected = make_topics(topic_factory), make_topics(topic_factory)
    produce(producer_factory, live.input, mixed)
    produce(producer_factory, expected.input, plain)
    group = unique_name("g")
    with running(DataPlane(plane_config(live, broker_settings, group), RULES)) as plane:
        wait_for(lambda: all_committed(broker_settings, live, group, len(mixed)), 90, "all committed")
    assert plane.error is None

    # unknown fields ignored: the same decisions, byte for byte, and the same state
    ref = reference_replay(broker_settings, expected, RULES)
    v2_ids = {orjson.loads(line)["event_id"] for line in mixed if b'"device"' in line}
    assert len(v2_ids) > 1000
    assert sum(d.event_id in v2_ids for d in ref.decisions) > 500, "v2 events got decisions"
    assert_decisions_equal_reference(broker_settings, live, ref)
    assert_state_equals_reference(restored_state(broker_settings, live, group), ref.engines)

    # the unsupported version is dead-lettered with its reason and its original bytes
    dlq = read_all(broker_settings, live.dlq, 1)
    assert [m.value() for m in dlq] == [future]
    headers = dict(dlq[0].headers() or [])
    assert headers["x-personalizer-reason"] == b"unsupported_schema_version"

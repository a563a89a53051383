"""Property-based fuzzing: the decoder and the engine never raise, and never lose a record."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.engine.batch import InputRecord
from models.engine.engine import Engine
from models.segments import DEFAULT_RULES_PATH, load_rules
from schemas.decode import REJECTION_REASONS, Rejection, decode_event
from schemas.events import EventBase
from schemas.outputs import SourcePosition
from tests.factories import T0
from tests.unit.hostile.strategies import mutated_events, valid_events

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULES = load_rules(DEFAULT_RULES_PATH)


def _check_decoded(raw: bytes) -> EventBase | Rejection:
    result = decode_event(raw)
    assert isinstance(result, EventBase | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in REJECTION_REASONS, result
    else:
        msgspec.json.encode(result)  # an accepted event is always re-encodable (no lone surrogates)
    return result


@FUZZ
@given(st.binary(max_size=2048))
def test_decoder_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    _check_decoded(raw)


@FUZZ
@given(st.binary(max_size=256).map(lambda b: b'{"type":"page_view",' + b))
def test_decoder_never_raises_on_arbitrary_bytes_after_a_valid_prefix(raw: bytes) -> None:
    _check_decoded(raw)


@FUZZ
@given(valid_events())
def test_valid_events_decode(ev: dict[str, Any]) -> None:
    assert isinstance(_check_decoded(orjson.dumps(ev)), EventBase)


@FUZZ
@given(mutated_events())
def test_decoder_never_raises_on_mutated_events(raw: bytes) -> None:
    _check_decoded(raw)


def _floats(obj: Any) -> list[float]:
    if isinstance(obj, float):
        return [obj]
    if isinstance(obj, dict):
        return [f for k, v in obj.items() for f in _floats(k) + _floats(v)]
    if isinstance(obj, list | tuple):
        return [f for v in obj for f in _floats(v)]
    return []


_broker_ts = st.one_of(
    st.none(), st.just(-1), st.just(0),
    st.integers(int(T0.timestamp() * 1000), int(T0.timestamp() * 1000) + 200 * 86_400_000),
    st.integers(0, 2**63 - 1),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(valid_events().map(orjson.dumps), mutated_events()), _broker_ts),
                min_size=1, max_size=40),
       st.sampled_from(("segment-popularity", "hybrid")))
def test_engine_accounts_for_every_fuzzed_record(
    batch: list[tuple[bytes, int | None]], policy: str,
) -> None:
    from models.config import EngineConfig

    engine = Engine(RULES, EngineConfig(policy=policy, behavioural_segments=True, behaviour_warmup=3))
    records = [InputRecord(raw, SourcePosition(topic="t", partition=0, offset=i, timestamp_ms=ts))
               for i, (raw, ts) in enumerate(batch)]
    half = len(records) // 2
    outs = [engine.process_many(records[:half]), engine.process_many(records[half:])]
    outcomes: dict[str, int] = {}
    for out in outs:
        for k, n in out.outcomes.items():
            outcomes[k] = outcomes.get(k, 0) + n
        for dl in out.dead_letters:
            assert dl.reason in REJECTION_REASONS
        for rec in (*out.decisions, *out.segment_changes, *out.dead_letters):
            msgspec.json.encode(rec)
    assert sum(outcomes.values()) == len(records)
    assert set(outcomes) <= {"ok", "duplicate", "erased", "invalid"}, outcomes  # no processing_error
    dead = sum(len(o.dead_letters) for o in outs)
    assert dead == outcomes.get("invalid", 0)
    floats = [f for _, p in engine.store.items() for f in _floats(msgspec.to_builtins(p))]
    state = msgspec.msgpack.decode(engine.export_state())
    if state.get("segmenter"):
        state["segmenter"].pop("detector", None)  # drift detector: +/-inf are its start sentinels
    floats += _floats(state)
    assert floats
    assert all(math.isfinite(f) for f in floats)

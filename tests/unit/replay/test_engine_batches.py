"""Batch boundaries do not change an engine's outputs (what lets a replay batch freely)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from models.engine import BatchOutput, Engine, InputRecord
from models.segments import DEFAULT_RULES_PATH, load_rules
from models.state.codec import encode_profile
from schemas.outputs import SourcePosition
from streams.replay.sources import iter_jsonl_records


def _run(records: list[InputRecord], batch: int) -> tuple[dict[str, list[bytes]], list[bytes], bytes]:
    engine = Engine(load_rules(DEFAULT_RULES_PATH))
    enc = msgspec.json.Encoder()
    outputs: dict[str, list[bytes]] = {"decisions": [], "changes": [], "dead": []}
    for i in range(0, len(records), batch):
        out: BatchOutput = engine.process_many(records[i:i + batch])
        outputs["decisions"].extend(enc.encode(x) for x in out.decisions)
        outputs["changes"].extend(enc.encode(x) for x in out.segment_changes)
        outputs["dead"].extend(enc.encode(x) for x in out.dead_letters)
    outputs["changes"].extend(enc.encode(x) for x in engine.advance_to(2e9).segment_changes)
    states = [encode_profile(p) for _, p in engine.store.items()]
    return outputs, states, engine.export_state()


@pytest.mark.parametrize("batch", [1, 7, 500])
def test_batch_size_does_not_change_outputs(small_log: Path, batch: int) -> None:
    records = [InputRecord(raw, pos) for raw, pos in iter_jsonl_records(small_log)][:1500]
    assert any(isinstance(p, SourcePosition) for _, p in records)
    whole = _run(records, len(records))
    assert all(whole[0].values()), "the log produces every kind of output"
    # outputs in the same order, profiles and learned state byte-identical
    assert _run(records, batch) == whole

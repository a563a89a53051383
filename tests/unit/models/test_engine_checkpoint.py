"""An engine's checkpoints in core and parts: the latest of each, put together, are the
engine's whole state byte for byte; an engine loaded from them goes on exactly as the one
that wrote them; a checkpoint that did not commit gives its parts back."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.engine.checkpoint import assemble_state
from models.segments import DEFAULT_RULES_PATH, load_rules
from models.state.codec import decode_profile, encode_profile
from models.state.memory import MemoryStore
from streams.generator import generate
from streams.replay.sources import iter_jsonl_records

#: Everything on, and a co-visitation table small enough to drop lists in this log.
CONFIG = EngineConfig(policy="hybrid", behavioural_segments=True, max_covisit_items=150,
                      max_covisit_neighbors=5)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[InputRecord]:
    out = tmp_path_factory.mktemp("log") / "events.jsonl"
    generate(users=200, events=2500, seed=11, out=out, malformed_fraction=0.01, erase_fraction=0.01)
    return [InputRecord(raw, pos) for raw, pos in iter_jsonl_records(Path(out))]


class Held:
    """What a compacted changelog keeps: the latest core and the latest part per name."""

    def __init__(self) -> None:
        self.core: bytes | None = None
        self.parts: dict[str, bytes] = {}

    def write(self, core: bytes, parts: dict[str, bytes | None]) -> None:
        self.core = core
        for name, value in parts.items():
            if value is None:
                self.parts.pop(name, None)
            else:
                self.parts[name] = value

    def state(self) -> bytes:
        assert self.core is not None
        whole, in_parts = assemble_state(self.core, sorted(self.parts.items()))
        assert in_parts
        return whole


def _outputs(engine: Engine, batch: list[InputRecord]) -> list[bytes]:
    out = engine.process_many(batch)
    enc = msgspec.json.Encoder()
    return [enc.encode(x) for x in (*out.decisions, *out.segment_changes, *out.dead_letters)]


def test_core_and_latest_parts_are_the_whole_state(records: list[InputRecord]) -> None:
    engine = Engine(load_rules(DEFAULT_RULES_PATH), CONFIG)
    held = Held()
    changed, dropped = [], 0
    for i in range(0, len(records), 100):
        engine.process_many(records[i:i + 100])
        core, parts = engine.export_checkpoint()
        held.write(core, parts)
        changed.append(sum(v is not None for v in parts.values()))
        dropped += sum(v is None for v in parts.values())
        assert held.state() == engine.export_state()
    assert dropped > 0, "the table was full: lists were dropped (tombstones)"
    assert max(changed[5:]) < len(engine.covisit), "a checkpoint carries only the changed lists"


def test_engine_loaded_from_parts_goes_on_as_the_writer(records: list[InputRecord]) -> None:
    rules = load_rules(DEFAULT_RULES_PATH)
    live = Engine(rules, CONFIG)
    held = Held()
    cut = len(records) // 2
    for i in range(0, cut, 300):
        live.process_many(records[i:min(i + 300, cut)])
        held.write(*live.export_checkpoint())
    # a second engine from a copy of the profiles and the held checkpoint (as a worker restores)
    store = MemoryStore()
    store.write_many({u: decode_profile(encode_profile(p)) for u, p in live.store.items()})
    restored = Engine(rules, CONFIG, store=store)
    restored.import_state(held.state(), changed=False)
    for i in range(cut, len(records), 300):
        assert _outputs(restored, records[i:i + 300]) == _outputs(live, records[i:i + 300])
        live.export_checkpoint()  # both checkpoint: the sequence numbers move alike
        held.write(*restored.export_checkpoint())
        assert held.state() == restored.export_state() == live.export_state()


def test_parts_of_a_checkpoint_that_failed_are_taken_again(records: list[InputRecord]) -> None:
    engine = Engine(load_rules(DEFAULT_RULES_PATH), CONFIG)
    held = Held()
    engine.process_many(records[:600])
    held.write(*engine.export_checkpoint())
    engine.process_many(records[600:900])
    _, failed = engine.export_checkpoint()
    assert failed, "the events changed some lists"
    engine.return_checkpoint(failed)
    engine.process_many(records[900:1000])
    core, parts = engine.export_checkpoint()
    assert set(failed) <= set(parts)
    held.write(core, parts)
    assert held.state() == engine.export_state()

"""The worker floor's stand-in engine: the real engine's outputs, one state read and write
per event, nothing else; and the real engine back after the block."""

from __future__ import annotations

from pathlib import Path

from benchmarks.floor import capture_outputs, floor_engine
from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.generator import generate


def _lines(tmp_path: Path) -> list[bytes]:
    path = tmp_path / "events.jsonl"
    generate(50, 600, 3, path)
    return path.read_bytes().splitlines()


def test_floor_hands_over_what_the_real_engine_emitted_and_writes_each_user(tmp_path: Path) -> None:
    lines = _lines(tmp_path)
    captured = capture_outputs(lines, EngineConfig())
    real = Engine(load_rules(DEFAULT_RULES_PATH), EngineConfig())
    real_out = real.process_many([InputRecord(line) for line in lines])
    assert real_out.decisions  # the workload has decision-worthy events

    with floor_engine(captured):
        floor = Engine(load_rules(DEFAULT_RULES_PATH), EngineConfig())
        out = floor.process_many([InputRecord(line) for line in lines])

    # the same decisions, in the same order, as one engine over the whole log
    assert [d.decision_id for d in out.decisions] == [d.decision_id for d in real_out.decisions]
    assert len(out.segment_changes) == len(real_out.segment_changes)
    # bad records still go to the dead letters: decoding and validation are plumbing
    assert [d.reason for d in out.dead_letters] == [d.reason for d in real_out.dead_letters]
    # one profile per user, holding only the event ids it saw (no profile update, no rules)
    assert set(out.state_updates) == set(real_out.state_updates)
    profile = next(p for p in out.state_updates.values() if p is not None)
    assert profile.recent_event_ids and not profile.segments and not profile.recent_items


def test_the_real_engine_is_back_after_the_block(tmp_path: Path) -> None:
    lines = _lines(tmp_path)[:50]
    with floor_engine({}):
        assert not Engine(load_rules(DEFAULT_RULES_PATH)).process_many(
            [InputRecord(line) for line in lines]).decisions
    out = Engine(load_rules(DEFAULT_RULES_PATH)).process_many([InputRecord(line) for line in lines])
    assert any(p is not None and p.recent_items for p in out.state_updates.values())

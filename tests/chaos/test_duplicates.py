"""Re-sent events (same ``event_id``) change nothing: a real worker on a stream where 5% of
the events are sent twice makes the decisions and keeps the state of the stream without
them.

The documented window (``EngineConfig.dedup_window``, 64): each profile remembers its user's
last 64 accepted event ids; a re-send is dropped (outcome ``duplicate``: no state change,
no decision, no segment change) while its id is among them. Copies here arrive right after
the original or up to 20 of the same user's events later, inside the window.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import orjson

from models.config import EngineConfig
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
LATEST_GAP = 20  # most same-user events between an original and its copy (< dedup_window)


def with_duplicates(lines: list[bytes], fraction: float, seed: int) -> tuple[list[bytes], int]:
    """``lines`` with ``fraction`` of them sent again: half right after the original, half
    1..LATEST_GAP of the same user's events later. Returns the stream and the copy count."""
    assert EngineConfig().dedup_window > LATEST_GAP
    rng = random.Random(seed)
    by_user: dict[str, list[int]] = defaultdict(list)
    for i, line in enumerate(lines):
        by_user[orjson.loads(line).get("user_id") or ""].append(i)
    after: dict[int, list[bytes]] = defaultdict(list)  # index -> copies sent after it
    picked = rng.sample(range(len(lines)), int(len(lines) * fraction))
    for i in sorted(picked):
        ev = orjson.loads(lines[i])
        mine = by_user[ev.get("user_id") or ""]
        k = mine.index(i)
        later = k if rng.random() < 0.5 else min(k + rng.randint(1, LATEST_GAP), len(mine) - 1)
        after[mine[later]].append(lines[i])
    out: list[bytes] = []
    for i, line in enumerate(lines):
        out.append(line)
        out.extend(after.get(i, ()))
    return out, len(picked)


def test_resent_events_change_no_state_and_no_decision(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    events = tmp_path / "events.jsonl"
    # no erasures (an erased user's window is gone with the profile) and no malformed
    # records (those have no event id to deduplicate: each copy is dead-lettered)
    generate(users=300, events=8000, seed=3, out=events, malformed_fraction=0.0, erase_fraction=0.0)
    clean = list(iter_jsonl(events))
    noisy, copies = with_duplicates(clean, 0.05, seed=4)
    assert copies == 400 and len(noisy) == len(clean) + copies

    live, expected = make_topics(topic_factory), make_topics(topic_factory)
    produce(producer_factory, live.input, noisy)
    produce(producer_factory, expected.input, clean)
    group = unique_name("g")
    plane = DataPlane(plane_config(live, broker_settings, group), RULES)
    with running(plane):
        wait_for(lambda: all_committed(broker_settings, live, group, len(noisy)), 90, "all committed")
    assert plane.error is None and plane.processed == len(noisy)

    # the reference is the pure core over the stream *without* the copies
    ref = reference_replay(broker_settings, expected, RULES)
    assert len(ref.decisions) < len(noisy)
    assert_decisions_equal_reference(broker_settings, live, ref)
    assert_state_equals_reference(restored_state(broker_settings, live, group), ref.engines)
    assert read_all(broker_settings, live.dlq, 1) == [], "a copy is dropped, not dead-lettered"

"""What a partition's checkpoint carries of the engine's learned state, and what it costs.

    .venv/bin/python -m benchmarks.checkpoint_size --events 100000 --users 10000
    .venv/bin/python -m benchmarks.checkpoint_size --table 20000


One engine (all features) takes a generated log in slices of ``--per-checkpoint`` events
(the default, 1,175, is one partition's second at the bench's half rate with 4
partitions) and checkpoints after each: the core and the changed co-visitation lists
(``Engine.export_checkpoint``, what the worker writes) against the whole state
(``Engine.export_state``, what it wrote before). Reports sizes and encoding times over
the second half of the log (the table has grown by then); asserts nothing.

``--table N``: a co-visitation table of N lists alone (random pairs over N * 1.25 items),
then 30 rounds of 300 pairs among 3,000 of them and a take each: what a checkpoint costs
the co-visitation model when the catalogue is large and a second changes few lists.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.workload import make_workload
from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.recommenders.covisit import CoVisitation
from models.segments import DEFAULT_RULES_PATH, load_rules


def measure(lines: list[bytes], per_checkpoint: int) -> dict[str, float]:
    engine = Engine(load_rules(DEFAULT_RULES_PATH), EngineConfig(policy="hybrid", behavioural_segments=True))
    records = [InputRecord(line) for line in lines]
    whole_kb, whole_ms, core_kb, parts_kb, parts_n, split_ms = [], [], [], [], [], []
    half = len(records) // 2
    for i in range(0, len(records), per_checkpoint):
        engine.process_many(records[i:i + per_checkpoint])
        t0 = time.perf_counter()
        whole = engine.export_state()
        t1 = time.perf_counter()
        core, parts = engine.export_checkpoint()
        t2 = time.perf_counter()
        if i >= half:
            whole_kb.append(len(whole) / 1024)
            whole_ms.append((t1 - t0) * 1000)
            core_kb.append(len(core) / 1024)
            parts_kb.append(sum(len(v or b"") for v in parts.values()) / 1024)
            parts_n.append(len(parts))
            split_ms.append((t2 - t1) * 1000)
    med = statistics.median
    return {"checkpoints": len(whole_kb), "covisit_lists": len(engine.covisit),
            "whole_kb": med(whole_kb), "whole_ms": med(whole_ms),
            "core_kb": med(core_kb), "parts_kb": med(parts_kb), "parts": med(parts_n),
            "checkpoint_ms": med(split_ms)}


def measure_table(lists: int, rounds: int = 30, pairs: int = 300) -> dict[str, float]:
    rng = random.Random(1)
    cv = CoVisitation(max_items=lists, max_neighbors=30)
    items = [f"sku-{i:07d}" for i in range(lists * 5 // 4)]
    t = 0.0
    for _ in range(lists * 15 // 2):
        cv.learn_pair(rng.choice(items), rng.choice(items), 1.0, t)
    cv.take_changes()
    hot = items[:3000]
    takes, learns, taken = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(pairs):
            t += 1.0
            cv.learn_pair(rng.choice(hot), rng.choice(hot), 1.0, t)
        t1 = time.perf_counter()
        taken.append(len(cv.take_changes()))
        takes.append((time.perf_counter() - t1) * 1000)
        learns.append((t1 - t0) * 1000)
    med = statistics.median
    return {"lists": len(cv), "taken": med(taken), "take_ms": med(takes), "learn_ms": med(learns)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-checkpoint", type=int, default=1_175)
    ap.add_argument("--table", type=int, default=0, help="a co-visitation table of this many lists alone")
    args = ap.parse_args()
    if args.table:
        t = measure_table(args.table)
        print(f"{t['lists']:,} co-visitation lists; per round of 300 learned pairs (medians): "
              f"{t['taken']:,.0f} lists taken in {t['take_ms']:.2f} ms; learning {t['learn_ms']:.2f} ms")
        return
    with tempfile.TemporaryDirectory() as tmp:
        _, lines = make_workload(args.users, args.events, args.seed, Path(tmp))
    r = measure(lines, args.per_checkpoint)
    print(f"{r['checkpoints']} checkpoints in the second half ({args.per_checkpoint} events each); "
          f"{r['covisit_lists']:,} co-visitation lists at the end; medians:")
    print(f"  whole state (before): {r['whole_kb']:,.0f} KB, encoded in {r['whole_ms']:.2f} ms")
    print(f"  core + changed lists: {r['core_kb']:,.0f} KB + {r['parts_kb']:,.0f} KB "
          f"({r['parts']:,.0f} lists), encoded in {r['checkpoint_ms']:.2f} ms")


if __name__ == "__main__":
    main()

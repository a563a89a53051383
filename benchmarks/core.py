"""The pure core alone: ``Engine.process_many`` over a generated log, events/s per core.

    .venv/bin/python -m benchmarks.core --events 100000 --users 10000
    .venv/bin/python -m benchmarks.core --all-features

No Kafka, no outputs written: what the core costs per event (rules, decisions, learning),
the ceiling for the worker and the replay. CPU time is ``time.process_time``. Reports
numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.generator import generate


def core_rate(lines: list[bytes], config: EngineConfig, batch: int = 500) -> float:
    """Events per CPU second of one engine over ``lines`` in batches of ``batch``."""
    engine = Engine(load_rules(DEFAULT_RULES_PATH), config)
    records = [InputRecord(line) for line in lines]
    t0 = time.process_time()
    for i in range(0, len(records), batch):
        engine.process_many(records[i : i + batch])
    return len(records) / (time.process_time() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--all-features", action="store_true", help="hybrid policy + behavioural segments")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        generate(args.users, args.events, args.seed, path)
        lines = path.read_bytes().splitlines()
    config = EngineConfig(policy="hybrid", behavioural_segments=True) if args.all_features else EngineConfig()
    rate = core_rate(lines, config)
    print(f"core ({'all features' if args.all_features else 'defaults'}): {rate:,.0f} events/s per core "
          f"({len(lines):,} events, {args.users:,} users)")


if __name__ == "__main__":
    main()

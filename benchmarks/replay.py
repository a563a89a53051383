"""Replay from a file through the same core as the worker, per core, beside a raw file loop.

    python -m benchmarks.replay --memory-users 1000000   # peak RSS of a 1M-user replay (RocksDB)

The timed phases are run by ``personalizer bench``; this module's CLI keeps the long
memory measurement apart (a child process replays a log of N distinct users with
``--state-dir`` and its peak RSS is reported). Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.measure import per_core, proc_peak_rss_mb, reset_peak_rss
from models.config import EngineConfig
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.generator import generate
from streams.replay import ReplayOptions, iter_jsonl_records, replay

__all__ = ["bench_replay", "raw_file_loop"]


def raw_file_loop(path: Path, out: Path) -> dict[str, float]:
    """The file counterpart of the raw limit: read each line, decode it (orjson), encode
    and write one small record."""
    t0 = time.process_time()
    n = 0
    with open(path, "rb") as fh, open(out, "wb", buffering=1 << 20) as sink:
        for line in fh:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            user = obj.get("user_id") if isinstance(obj, dict) else None
            sink.write(orjson.dumps({"u": user, "n": n}))
            sink.write(b"\n")
            n += 1
    cpu = time.process_time() - t0
    return {"events": n, "cpu_s": cpu, "events_per_core_s": per_core(n, cpu)}


def bench_replay(path: Path, out: Path, engine_config: EngineConfig, evaluate: bool,
                 state_dir: Path | None = None) -> dict[str, float]:
    """``personalizer replay`` of ``path`` (8 partitions, every output file written; with
    ``evaluate`` the prequential report too); events/s per core of this process."""
    reset_peak_rss()
    t0, w0 = time.process_time(), time.perf_counter()
    summary = replay(iter_jsonl_records(path), load_rules(DEFAULT_RULES_PATH), out,
                     ReplayOptions(evaluate=evaluate, state_dir=state_dir, engine_config=engine_config))
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    n = summary.records_read
    return {"events": n, "cpu_s": cpu, "wall_s": wall, "events_per_core_s": per_core(n, cpu),
            "events_per_s_wall": n / wall if wall else 0.0, "profiles": summary.profiles,
            "peak_rss_mb": proc_peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memory-users", type=int, required=True, help="distinct users in the replayed log")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:  # the memory child: replay with RocksDB state
        log, work = Path(args.child[0]), Path(args.child[1])
        r = bench_replay(log, work / "out", EngineConfig(), evaluate=False, state_dir=work / "state")
        print(f"child: {r['events']:,.0f} events, {r['profiles']:,.0f} profiles, "
              f"{r['events_per_core_s']:,.0f} events/s per core")
        return
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        work = Path(tmp)
        log = work / "mem.jsonl"
        events = int(args.memory_users * 1.5)
        generate(users=args.memory_users, events=events, seed=3, out=log)
        t0 = time.time()
        subprocess.run([sys.executable, "-m", "benchmarks.replay", "--memory-users", str(args.memory_users),
                        "--child", str(log), str(work)], check=True)
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"memory: {args.memory_users:,} users, {events:,} events, RocksDB state: "
              f"peak RSS {rss_mb:,.0f} MB, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

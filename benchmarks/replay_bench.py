"""Replay throughput per core (CPU time) and the raw-limit ratio, measured in one run.

    .venv/bin/python benchmarks/replay_bench.py --events 200000 --users 20000
    .venv/bin/python benchmarks/replay_bench.py --memory-users 1000000   # peak RSS, RocksDB state

Measures, on the same generated log:
1. replay with everything on (evaluation, every output file, report);
2. replay with profiles + rule segments + decisions only (no evaluation);
3. the raw limit: read the same lines, decode each with orjson, encode one small record per
   event (orjson) and write it; then prints the ratios. CPU time is ``time.process_time``.
With ``--memory-users N``: a child process replays a log of N distinct users with
``--state-dir`` (RocksDB profile stores) and its peak RSS is reported.
Reports numbers; asserts nothing.
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

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.generator import generate
from streams.replay import ReplayOptions, iter_jsonl_records, replay


def raw_loop(path: Path, out: Path) -> tuple[int, float]:
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
    return n, time.process_time() - t0


def timed_replay(path: Path, out: Path, evaluate: bool, state_dir: Path | None = None) -> tuple[int, float]:
    t0 = time.process_time()
    s = replay(iter_jsonl_records(path), load_rules(DEFAULT_RULES_PATH), out,
               ReplayOptions(evaluate=evaluate, state_dir=state_dir))
    return s.records_read, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--input", type=Path, help="replay this JSONL log instead of generating one")
    ap.add_argument("--memory-users", type=int, default=0, help="measure peak RSS for N distinct users")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:  # the memory child: replay with RocksDB state, report nothing itself
        log, work = Path(args.child[0]), Path(args.child[1])
        n, cpu = timed_replay(log, work / "out", evaluate=False, state_dir=work / "state")
        with open(work / "out" / "profiles.jsonl", "rb") as fh:
            users = sum(1 for _ in fh)
        print(f"child: {n:,} events, {users:,} distinct users' profiles, {cpu:.1f} s CPU "
              f"({n / cpu:,.0f} events/s per core)")
        return
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        work = Path(tmp)
        if args.memory_users:
            log = work / "mem.jsonl"
            generate(users=args.memory_users, events=int(args.memory_users * 1.5), seed=3, out=log)
            t0 = time.time()
            subprocess.run([sys.executable, __file__, "--child", str(log), str(work)], check=True)
            rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"memory: {args.memory_users:,} users, {int(args.memory_users * 1.5):,} events, "
                  f"RocksDB state: peak RSS {rss_mb:,.0f} MB (target < 1,536 MB), {time.time() - t0:.0f} s")
            return
        log = args.input or work / "events.jsonl"
        if args.input is None:
            generate(users=args.users, events=args.events, seed=1, out=log)
        n, raw_cpu = raw_loop(log, work / "raw.jsonl")
        raw_rate = n / raw_cpu
        print(f"raw loop (read + orjson decode + encode one record): {raw_rate:,.0f} events/s per core")
        for label, evaluate, target in (("everything on (eval + all outputs)", True, 25_000),
                                        ("profiles + rule segments + decisions", False, 60_000)):
            n, cpu = timed_replay(log, work / ("eval" if evaluate else "plain"), evaluate)
            rate = n / cpu
            print(f"replay, {label}: {rate:,.0f} events/s per core (target {target:,}); "
                  f"{rate / raw_rate:.3f} of the raw limit ({n:,} events, {cpu:.1f} s CPU)")


if __name__ == "__main__":
    main()

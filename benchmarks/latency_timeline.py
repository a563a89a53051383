"""Where the worker's in-worker latency goes: a paced feed and the loop's own timeline.

``python -m benchmarks.latency_timeline --rate 800 --seconds 30`` feeds a fresh worker
data plane (all features, RocksDB state, changelog, 1 s checkpoints, as
``personalizer worker`` runs it) at a fixed rate on an embedded broker, and prints the
in-worker latency (arrival in the consumer queue, an upper bound, to the decision handed
to the producer; the first fifth of the run left out) with the time the loop spent in
each of its steps: processing batches, taking checkpoints, settling them (flush and
commit), committing, writing the local stores. Run it against two revisions, alternating,
to compare: on a shared machine one run's p99 moves more than most changes do.

The steps are timed by wrapping the data plane's methods in this process only (a
diagnostic, not a benchmark: the wrappers cost a few microseconds a call).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.measure import percentile, write_json
from benchmarks.worker import ALL_FEATURES, run_paced
from benchmarks.workload import WorkerTopics, make_workload
from streams.broker import EmbeddedBroker
from streams.dataplane.loop import DataPlane
from streams.settings import Settings

#: Loop steps timed (those missing in a revision are skipped).
STEPS = ("_process", "_take", "_settle", "_commit", "_apply_parts", "_apply_taken", "_idle_work")


def _time_steps(spans: list[tuple[str, float, float]]) -> None:
    for name in STEPS:
        original = getattr(DataPlane, name, None)
        if original is None:
            continue

        def timed(self: DataPlane, *args: Any, _name: str = name,
                  _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                spans.append((_name, started, time.perf_counter()))

        setattr(DataPlane, name, timed)


def run(rate: float, seconds: float, partitions: int, users: int, events: int) -> dict[str, Any]:
    spans: list[tuple[str, float, float]] = []
    _time_steps(spans)
    with tempfile.TemporaryDirectory(prefix="latency-timeline-") as tmp, EmbeddedBroker() as broker:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, _env_file=None)  # type: ignore[call-arg]
        _, lines = make_workload(users, events, 1, Path(tmp))
        topics = WorkerTopics.create(settings, "timeline", partitions)
        count = min(len(lines), int(rate * seconds))
        probe, fed_at = run_paced(settings, topics, lines[:count], ALL_FEATURES, rate, Path(tmp) / "state")
    warm = fed_at + seconds / 5
    inside = sorted(lat * 1000 for t, lat, n in probe if t >= warm for _ in range(n))
    steps = {}
    for name in STEPS:
        ms = sorted((end - start) * 1000 for step, start, end in spans if step == name and start >= warm)
        if ms:
            steps[name] = {"calls": len(ms), "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
                           "max_ms": ms[-1], "total_ms": sum(ms)}
    return {"rate": rate, "seconds": seconds, "partitions": partitions, "decisions": len(inside),
            "in_worker_p50_ms": percentile(inside, 0.5), "in_worker_p90_ms": percentile(inside, 0.9),
            "in_worker_p99_ms": percentile(inside, 0.99), "in_worker_max_ms": inside[-1] if inside else None,
            "steps": steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=800.0, help="events/s fed (default 800)")
    ap.add_argument("--seconds", type=float, default=30.0, help="how long (default 30)")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000,
                    help="generated events (the feed takes rate x seconds of them)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    result = run(args.rate, args.seconds, args.partitions, args.users, args.events)
    print(f"{result['rate']:,.0f} events/s for {result['seconds']:g} s, {result['partitions']} partitions, "
          f"{result['decisions']:,} decisions after the first fifth: in-worker p50 "
          f"{result['in_worker_p50_ms']:.1f} ms, p90 {result['in_worker_p90_ms']:.1f}, "
          f"p99 {result['in_worker_p99_ms']:.1f}, max {result['in_worker_max_ms']:.1f}")
    for name, s in result["steps"].items():
        print(f"  {name:<13} calls {s['calls']:>6}  p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f}  "
              f"max {s['max_ms']:6.2f}  total {s['total_ms']:7.0f} ms")
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()

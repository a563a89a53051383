"""``personalizer bench``: every phase in one invocation on one embedded broker.

1. the raw limit (:mod:`benchmarks.raw_loop`); 2. the peers, Faust and Quix Streams
(:mod:`benchmarks.peers`); 3. our worker end to end, all features on and defaults
(:mod:`benchmarks.worker`), and its latency at half its rate; 4. replay from a file, all
features on and profiles + rule segments only (:mod:`benchmarks.replay`); the state
restore rate (:mod:`benchmarks.restore`); optionally scaling over worker processes
(:mod:`benchmarks.scaling`). Same generated workload (fixed seed) for every phase.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.peers import bench_faust, bench_quix, find_quix_python
from benchmarks.raw_loop import bench_raw
from benchmarks.replay import bench_replay, raw_file_loop
from benchmarks.report import compute_ratios
from benchmarks.restore import bench_restore, latest_profiles
from benchmarks.scaling import bench_scaling
from benchmarks.worker import ALL_FEATURES, bench_latency, bench_worker
from benchmarks.workload import WorkerTopics, create_topics, fill_topic, make_workload, unique
from models.compiled import describe_build
from models.config import EngineConfig
from streams.broker import EmbeddedBroker
from streams.settings import Settings

__all__ = ["PHASES", "BenchOptions", "run_bench"]

#: Phases run by default, in order; ``scaling`` only when asked for.
PHASES = ("raw", "worker", "faust", "quix", "latency", "replay", "restore", "scaling")


@dataclass(frozen=True)
class BenchOptions:
    events: int = 100_000
    users: int = 10_000
    seed: int = 1
    partitions: int = 4
    latency_seconds: float = 10.0
    restore_users: int = 200_000
    scaling: bool = False
    scaling_events: int = 60_000
    scaling_workers: tuple[int, ...] = (1, 2, 4)
    skip: frozenset[str] = field(default_factory=frozenset)
    quix_python: str | None = None

    def runs(self, phase: str) -> bool:
        return phase not in self.skip and (phase != "scaling" or self.scaling)


def run_bench(opts: BenchOptions, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the selected phases; returns the results (JSON-ready, with ``ratios``)."""
    started = time.perf_counter()
    results: dict[str, Any] = {
        "version": 1,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "core": describe_build()},
        "options": {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in asdict(opts).items()},
        "workload": {"events": opts.events, "users": opts.users, "seed": opts.seed,
                     "partitions": opts.partitions},
    }
    with tempfile.TemporaryDirectory(prefix="personalizer-bench-") as tmp, EmbeddedBroker() as broker:
        work = Path(tmp)
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, _env_file=None)  # type: ignore[call-arg]
        say(f"workload: generating {opts.events:,} events for {opts.users:,} users (seed {opts.seed})")
        path, lines = make_workload(opts.users, opts.events, opts.seed, work)
        source = unique("bench.in")
        create_topics(settings, {source: opts.partitions})
        fill_topic(settings, source, lines)
        n = len(lines)

        def out_topic(name: str) -> str:
            topic = unique(name)
            create_topics(settings, {topic: opts.partitions})
            return topic

        if opts.runs("raw"):
            say("1. raw limit")
            results["raw"] = bench_raw(settings, source, out_topic("bench.raw-out"), n)
        default_topics = None
        if opts.runs("worker"):
            say("3. worker, all features on")
            all_topics = WorkerTopics.create(settings, "bench.all", opts.partitions, input_topic=source)
            results["worker_all"] = bench_worker(settings, all_topics, n, ALL_FEATURES)
            say("3'. worker, defaults")
            default_topics = WorkerTopics.create(settings, "bench.default", opts.partitions,
                                                 input_topic=source)
            results["worker_default"] = bench_worker(settings, default_topics, n, EngineConfig())
        if opts.runs("faust"):
            say("2a. Faust agent + Table")
            results["faust"] = bench_faust(settings, source, out_topic("bench.faust-out"), opts.partitions, n)
        if opts.runs("quix"):
            python, why = find_quix_python(opts.quix_python)
            if python is None:
                say(f"2b. Quix Streams: skipped: {why}")
                results["quix"] = {"skipped": why}
            else:
                say(f"2b. Quix Streams app + state: {why}")
                results["quix"] = bench_quix(settings, python, source, out_topic("bench.quix-out"),
                                             opts.partitions, n)
                results["quix"]["version"] = why
        if opts.runs("latency") and "worker_all" in results:
            rate = 0.5 * results["worker_all"]["events_per_s_wall"]
            say(f"latency at {rate:,.0f} events/s for {opts.latency_seconds:g} s")
            lat_topics = WorkerTopics.create(settings, "bench.latency", opts.partitions)
            results["latency"] = bench_latency(settings, lat_topics, lines, ALL_FEATURES, rate,
                                               opts.latency_seconds)
        if opts.runs("replay"):
            say("4. replay from a file")
            results["replay_file_raw"] = raw_file_loop(path, work / "raw-file.jsonl")
            results["replay_all"] = bench_replay(path, work / "replay-all", ALL_FEATURES, evaluate=True)
            results["replay_rules"] = bench_replay(path, work / "replay-rules", EngineConfig(),
                                                   evaluate=False)
        if opts.runs("restore"):
            if default_topics is None:
                say("restore: skipped (needs the worker phase's changelog for real profiles)")
            else:
                say(f"state restore: {opts.restore_users:,}-user changelog partition")
                samples = latest_profiles(settings, default_topics.changelog, opts.partitions)
                results["restore"] = bench_restore(settings, samples, opts.restore_users)
                results["restore"]["events_per_sampled_user"] = n / max(1, len(samples))
        if opts.runs("scaling"):
            counts = ", ".join(map(str, opts.scaling_workers))
            say(f"scaling: {counts} worker processes, {opts.scaling_events:,} events on 8 partitions")
            scale_lines = lines[:opts.scaling_events] if opts.scaling_events <= n else (
                make_workload(opts.users, opts.scaling_events, opts.seed, work)[1])
            results["scaling"] = bench_scaling(settings, scale_lines, opts.scaling_workers, partitions=8)
    results["ratios"] = compute_ratios(results)
    results["duration_s"] = time.perf_counter() - started
    return results

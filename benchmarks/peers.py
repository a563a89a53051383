"""The peers doing the same work as our worker, each in its own process: a Faust agent with
a Table (:mod:`benchmarks.faust_peer`) and a Quix Streams application with its state
(:mod:`benchmarks.quix_peer`). Per core = outputs / CPU seconds of the peer's process,
counted from its first output record (start-up and group join are outside)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from benchmarks.measure import per_core, proc_cpu_seconds, proc_peak_rss_mb
from benchmarks.workload import unique
from streams.process import stop_process
from streams.settings import Settings

__all__ = ["QUIX_VENV", "bench_faust", "bench_quix", "find_quix_python", "run_peer"]

ROOT = Path(__file__).resolve().parents[1]
#: Where ``make bench-venv`` installs Quix Streams apart from the project's venv.
QUIX_VENV = ROOT / "var" / "bench-venv"


def find_quix_python(explicit: str | None = None) -> tuple[str | None, str]:
    """An interpreter that can import quixstreams, and why (or why none was found)."""
    candidates = [explicit] if explicit else [sys.executable, str(QUIX_VENV / "bin" / "python")]
    reasons = []
    for python in candidates:
        if python is None or not Path(python).exists():
            reasons.append(f"{python}: not found")
            continue
        probe = subprocess.run([python, "-c", "import quixstreams, orjson; print(quixstreams.__version__)"],
                               capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return python, f"quixstreams {probe.stdout.strip()} ({python})"
        reasons.append(f"{python}: cannot import quixstreams")
    return None, ("Quix Streams is not installed: it pins confluent-kafka<2.13 (and pydantic<2.14, "
                  "pydantic-settings<2.16), older than this venv's; `make bench-venv` installs it in "
                  f"{QUIX_VENV.relative_to(ROOT)} [{'; '.join(reasons)}]")


def run_peer(settings: Settings, command: list[str], env: dict[str, str], out: str, partitions: int,
             n: int, timeout: float = 600.0) -> dict[str, float]:
    """Start a peer process, wait until it has written ``n`` records to ``out``, stop it by pid."""
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        log_path = Path(tmp) / "peer.log"
        full_env = {**os.environ, **env, "BENCH_STATE_DIR": str(Path(tmp) / "state")}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        consumer = Consumer(settings.consumer_config(group_id=unique("peer-count")))
        consumer.assign([TopicPartition(out, p, 0) for p in range(partitions)])
        seen = seen0 = 0
        cpu0 = wall0 = None
        peak = 0.0
        try:
            deadline = time.monotonic() + timeout
            while seen < n and time.monotonic() < deadline and proc.poll() is None:
                got = sum(1 for m in consumer.consume(10_000, 0.5) if m.error() is None)
                if got and cpu0 is None:
                    cpu0, wall0, seen0 = proc_cpu_seconds(proc.pid), time.perf_counter(), seen + got
                seen += got
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the peer exited with {proc.returncode}:\n{tail}")
            if seen < n:
                raise RuntimeError(f"the peer wrote {seen} of {n} records in {timeout:.0f} s")
            cpu = proc_cpu_seconds(proc.pid) - (cpu0 or 0.0)
            wall = time.perf_counter() - (wall0 or time.perf_counter())
            peak = proc_peak_rss_mb(proc.pid)
        finally:
            consumer.close()
            stop_process(proc, timeout=30)
    events = seen - seen0
    return {"events": events, "cpu_s": cpu, "wall_s": wall, "events_per_core_s": per_core(events, cpu),
            "events_per_s_wall": events / wall if wall else 0.0, "peak_rss_mb": peak}


def _env(settings: Settings, topic: str, out: str, partitions: int, app: str) -> dict[str, str]:
    return {"BENCH_BOOTSTRAP": settings.bootstrap_servers, "BENCH_INPUT": topic, "BENCH_OUTPUT": out,
            "BENCH_PARTITIONS": str(partitions), "BENCH_APP_ID": unique(app)}


def bench_faust(settings: Settings, topic: str, out: str, partitions: int, n: int) -> dict[str, float]:
    """A plain Faust agent with a Table: decode, one Table write per event, one record out."""
    with tempfile.TemporaryDirectory(prefix="bench-faust-") as datadir:
        command = [sys.executable, "-m", "faust", "-A", "benchmarks.faust_peer", "--datadir", datadir,
                   "worker", "-l", "warn"]
        return run_peer(settings, command, _env(settings, topic, out, partitions, "bench-faust"), out,
                        partitions, n)


def bench_quix(settings: Settings, python: str, topic: str, out: str, partitions: int, n: int
               ) -> dict[str, float]:
    """A Quix Streams app: decode, one stateful (RocksDB + changelog) update, one record out."""
    return run_peer(settings, [python, "-m", "benchmarks.quix_peer"],
                    _env(settings, topic, out, partitions, "bench-quix"), out, partitions, n)

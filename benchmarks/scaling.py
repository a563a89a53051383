"""Scaling out: 1, 2, 4 ``personalizer worker`` processes in one consumer group on an
8-partition input. Aggregate throughput (events / wall seconds until every offset is
committed), CPU per event of all workers, and partition ownership from each worker's
``/partitions`` view: every partition owned by exactly one worker.

The workers are started first and the backlog is produced once every partition has its
owner, so no rebalance happens inside the measurement. Each worker is stopped by its pid
(:func:`streams.process.stop_process`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from benchmarks.measure import per_core, proc_cpu_seconds, proc_peak_rss_mb
from benchmarks.workload import WorkerTopics, fill_topic, unique
from streams.broker import find_free_port
from streams.process import stop_process
from streams.settings import Settings

__all__ = ["WorkerProcess", "bench_scaling", "committed_total", "owned_partitions", "ownership_problems",
           "start_workers", "stop_workers", "wait_for_ownership", "wait_until"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


def start_workers(count: int, env: dict[str, str], directory: Path) -> list[WorkerProcess]:
    """Start ``count`` ``personalizer worker`` processes with ``env`` (PERSONALIZER_*), each
    with its own web port and state directory; logs in ``directory``."""
    workers = []
    try:
        for i in range(count):
            port = find_free_port()
            log = directory / f"worker{i}.log"
            wenv = {**os.environ, **env, "PERSONALIZER_WEB_PORT": str(port),
                    "PERSONALIZER_STATE_DIR": str(directory / f"state{i}")}
            with open(log, "ab") as fh:
                proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "-l", "info"],
                                        cwd=ROOT, env=wenv, stdout=fh, stderr=subprocess.STDOUT)
            workers.append(WorkerProcess(proc, f"http://127.0.0.1:{port}", log))
    except BaseException:
        stop_workers(workers)
        raise
    return workers


def stop_workers(workers: Sequence[WorkerProcess]) -> None:
    """Stop every worker by its pid (SIGTERM, then SIGKILL after 30 s)."""
    for w in workers:
        stop_process(w.proc, timeout=30)


def get_json(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            body = json.loads(resp.read())
            return body if isinstance(body, dict) else None
    except (OSError, ValueError):
        return None


def owned_partitions(workers: Sequence[WorkerProcess]) -> list[list[tuple[str, int]] | None]:
    """Each worker's owned input partitions (``/partitions``); None for one that does not answer."""
    owned: list[list[tuple[str, int]] | None] = []
    for w in workers:
        body = get_json(f"{w.url}/partitions")
        parts = body.get("partitions") if body is not None else None
        owned.append([(str(t), int(p)) for t, p in parts] if isinstance(parts, list) else None)
    return owned


def ownership_problems(owned: Sequence[Sequence[tuple[str, int]] | None], topic: str, partitions: int
                       ) -> list[str]:
    """What is wrong with an ownership view (empty: every partition of ``topic`` has
    exactly one owner).

    >>> ownership_problems([[("t", 0)], [("t", 1)]], "t", 2)
    []
    >>> ownership_problems([[("t", 0)], [("t", 0)]], "t", 2)
    ['t[0] owned by 2 workers', 't[1] owned by no worker']
    """
    problems = [f"worker {i} does not answer /partitions" for i, o in enumerate(owned) if o is None]
    counts = Counter(tp for o in owned if o is not None for tp in o)
    for p in range(partitions):
        n = counts.get((topic, p), 0)
        if n != 1:
            problems.append(f"{topic}[{p}] owned by {'no' if n == 0 else n} worker{'s' if n > 1 else ''}")
    problems += [f"unexpected partition {t}[{p}]" for t, p in sorted(counts)
                 if t != topic or not 0 <= p < partitions]
    return problems


def committed_total(settings: Settings, topic: str, partitions: int, group: str) -> int:
    """Sum of the committed offsets of ``group`` on ``topic`` (records processed and committed)."""
    consumer = Consumer(settings.consumer_config(group_id=group))
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        consumer.close()


def is_ready(w: WorkerProcess) -> bool:
    """The worker's ``/ready`` answer (False while it does not answer)."""
    body = get_json(f"{w.url}/ready")
    return bool(body and body.get("ready"))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               workers: Sequence[WorkerProcess] = ()) -> None:
    """Poll ``predicate`` every 0.2 s; fail with ``what`` (and a dead worker's log tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for w in workers:
            if w.proc.poll() is not None:
                tail = w.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"worker {w.url} exited with {w.proc.returncode}:\n{tail}")
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_for_ownership(workers: Sequence[WorkerProcess], topic: str, partitions: int, timeout: float
                       ) -> list[list[tuple[str, int]] | None]:
    """Wait until every worker is ready and every partition has exactly one owner."""
    latest: list[list[tuple[str, int]] | None] = []

    def settled() -> bool:
        nonlocal latest
        if not all(is_ready(w) for w in workers):
            return False
        latest = owned_partitions(workers)
        return not ownership_problems(latest, topic, partitions) and all(latest)

    wait_until(settled, timeout, "every worker ready and every partition owned once", workers)
    return latest


def bench_scaling(settings: Settings, lines: list[bytes], counts: Sequence[int] = (1, 2, 4),
                  partitions: int = 8) -> list[dict[str, object]]:
    """One run per worker count on new topics; aggregate events/s and ownership per run."""
    runs: list[dict[str, object]] = []
    for count in counts:
        topics = WorkerTopics.create(settings, f"bench.scale{count}", partitions)
        group = unique("bench-scale")
        env = {**topics.env(), "PERSONALIZER_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
               "PERSONALIZER_GROUP_ID": group, "PERSONALIZER_STATE_BACKEND": "rocksdb",
               "PERSONALIZER_LOG_LEVEL": "INFO"}
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            workers = start_workers(count, env, Path(tmp))
            try:
                before = wait_for_ownership(workers, topics.input, partitions, 180)
                cpu0 = [proc_cpu_seconds(w.proc.pid) for w in workers]
                wall0 = time.perf_counter()
                fill_topic(settings, topics.input, lines)
                def all_committed(topic: str = topics.input, group: str = group) -> bool:
                    return committed_total(settings, topic, partitions, group) >= len(lines)

                wait_until(all_committed, 600, f"{len(lines)} events committed by {count} workers", workers)
                wall = time.perf_counter() - wall0
                cpu = sum(proc_cpu_seconds(w.proc.pid) - c for w, c in zip(workers, cpu0, strict=True))
                after = owned_partitions(workers)
                peak = max(proc_peak_rss_mb(w.proc.pid) for w in workers)
            finally:
                stop_workers(workers)
        problems = ownership_problems(after, topics.input, partitions)
        runs.append({"workers": count, "partitions": partitions, "events": len(lines), "wall_s": wall,
                     "events_per_s": len(lines) / wall, "cpu_s": cpu,
                     "events_per_core_s": per_core(len(lines), cpu), "peak_rss_mb_per_worker": peak,
                     "owned": [len(o or []) for o in before], "ownership_ok": not problems,
                     "ownership_problems": problems})
    return runs

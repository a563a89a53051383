"""Soak: a real worker at a fraction of its maximum rate for N minutes (a benchmark, not a test).

Starts an embedded broker (Tansu) and one worker process (``personalizer worker``, RocksDB
state), produces synthetic, decision-worthy events at ``fraction x max_rate`` events/s,
and every ``sample_s`` seconds records the worker's RSS (``/proc/<pid>/status``) and the
consumer lag (events produced minus the group's committed offsets). At the end it waits
for the lag to drain and checks that no event was lost: every input committed, one
distinct decision per event, nothing dead-lettered. Prints and writes JSON; asserts
nothing (the figures go into the issue's closing note).

    python -m benchmarks.soak --minutes 30 --fraction 0.5 --json var/bench/soak.json

The maximum rate is measured in the same run unless ``--max-rate`` gives one: once the
worker is ready, ``--probe-events`` of the same workload are produced as fast as possible
and the maximum is the rate at which the worker's committed offsets then advance (from the
first commit that moves to the one that covers the burst; commits come every second, so
a burst of ~20 s or more keeps that quantisation to a few percent).

Linux only (RSS from ``/proc``). Every process it starts is stopped by its pid.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from benchmarks.measure import report_json, status_kb
from benchmarks.scaling import WorkerProcess, committed_total, is_ready, wait_until
from benchmarks.workload import produce_due, produce_n
from streams.broker import EmbeddedBroker, find_free_port
from streams.process import stop_process
from streams.settings import Settings
from streams.topics import ensure_topics, topic_specs

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("page_view", "product_view", "product_view", "add_to_cart", "purchase")
CATEGORIES = ("outdoor", "fashion", "home", "garden", "pets", "books")


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (``VmRSS``; NaN when absent)."""
    kb = status_kb("VmRSS", pid)
    return kb / 1024.0 if kb else float("nan")


def load_average() -> float:
    """The machine's 1-minute load average (other work sharing the cores during the soak)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def events(users: int) -> Iterator[tuple[bytes, bytes]]:
    """Endless ``(key, value)`` of valid, decision-worthy events stamped now, unique ids."""
    n = 0
    while True:
        user = f"u{(n * 7919) % users}"
        kind = KINDS[n % len(KINDS)]
        cat = CATEGORIES[(n // 3) % len(CATEGORIES)]
        item = f"sku-{(n * 31) % 2000}"
        props: dict[str, Any]
        if kind == "page_view":
            props = {"path": "/", "category": cat}
        elif kind == "purchase":
            props = {"order_id": f"o{n}", "revenue": 20.0,
                     "items": [{"item_id": item, "category": cat, "price": 20.0, "quantity": 1}]}
        else:
            props = {"item_id": item, "category": cat, "price": 20.0}
        ev = {"type": kind, "event_id": f"soak-{n}", "user_id": user,
              "event_time": datetime.now(UTC).isoformat(), "properties": props}
        yield user.encode(), orjson.dumps(ev)
        n += 1


def distinct_decisions(settings: Settings, topic: str, partitions: int) -> tuple[int, int]:
    """(records, distinct decision ids) of ``topic``, read to the end."""
    conf = settings.consumer_config(group_id=f"soak-reader-{os.getpid()}")
    conf.update({"enable.partition.eof": True})
    consumer = Consumer(conf)
    ids: set[bytes] = set()
    records = 0
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        at_eof: set[int] = set()
        deadline = time.monotonic() + 600
        while len(at_eof) < partitions and time.monotonic() < deadline:
            for m in consumer.consume(10_000, 0.5):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_eof.add(m.partition() or 0)
                        continue
                    raise RuntimeError(err.str())
                records += 1
                ids.add(orjson.loads(m.value() or b"{}").get("decision_id", "").encode())
    finally:
        consumer.close()
    return records, len(ids)


def measure_max_rate(producer: Producer, settings: Settings, topic: str, partitions: int,
                     source: Iterator[tuple[bytes, bytes]], events: int) -> dict[str, float]:
    """Produce ``events`` as fast as possible and time the worker's committed offsets
    covering them: ``(covered - first moved) / (t_covered - t_first_moved)`` events/s."""
    base = committed_total(settings, topic, partitions, settings.group_id)
    produce_n(producer, topic, source, events)
    producer.flush(60)
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        done = committed_total(settings, topic, partitions, settings.group_id) - base
        now = time.monotonic()
        if first is None and done > 0:
            first = (now, done)
        if done >= events:
            assert first is not None
            if done == first[1]:  # one commit covered it all: nothing between two commits to time
                raise RuntimeError(f"the {events:,}-event burst was committed at once; "
                                   "give a larger --probe-events (or --max-rate)")
            elapsed = now - first[0]
            return {"probe_events": events, "probe_s": round(elapsed, 1),
                    "max_rate": round((done - first[1]) / elapsed, 1)}
        time.sleep(0.25)
    raise RuntimeError("the worker did not drain the probe burst within 15 minutes")


def soak(minutes: float, fraction: float, max_rate: float, users: int, sample_s: float,
         partitions: int, probe_events: int = 200_000) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    broker = EmbeddedBroker(log_path=workdir / "tansu.log").start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, partitions=partitions,
                            _env_file=None)  # type: ignore[call-arg]
        ensure_topics(settings.admin_config(), topic_specs(settings))
        port = find_free_port()
        # the worker does not create a missing state dir's parents itself (Faust's datadir
        # lives under it and is created with a plain mkdir)
        (workdir / "state").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PERSONALIZER_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
               "PERSONALIZER_PARTITIONS": str(partitions), "PERSONALIZER_WEB_PORT": str(port),
               "PERSONALIZER_STATE_BACKEND": "rocksdb", "PERSONALIZER_STATE_DIR": str(workdir / "state")}
        with open(workdir / "worker.log", "ab") as log:
            worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "-l", "warn"],
                                      cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        topic, group = settings.input_topics[0], settings.group_id
        producer = Producer(settings.producer_config())
        source = events(users)
        handle = WorkerProcess(worker, f"http://127.0.0.1:{port}", workdir / "worker.log")
        wait_until(lambda: is_ready(handle), 120, "the worker ready", [handle])
        probe: dict[str, float] = {}
        if max_rate <= 0:
            probe = measure_max_rate(producer, settings, topic, partitions, source, probe_events)
            max_rate = probe["max_rate"]
            print(json.dumps({"measured": probe}), flush=True)
        rate = fraction * max_rate
        base = int(probe.get("probe_events", 0))  # already produced and committed
        samples: list[dict[str, float]] = []
        produced = 0
        started = time.monotonic()
        next_sample = started
        tick = 0.1
        while (now := time.monotonic()) - started < minutes * 60:
            produced = produce_due(producer, topic, source, rate, now - started, produced)
            if now >= next_sample:
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited with {worker.returncode} (log: {workdir})")
                lag = base + produced - committed_total(settings, topic, partitions, group)
                samples.append({"t_s": round(now - started, 1), "rss_mb": round(rss_mb(worker.pid), 1),
                                "lag": lag, "produced": produced, "load1": load_average()})
                print(json.dumps(samples[-1]), flush=True)
                next_sample += sample_s
            time.sleep(tick)
        producer.flush(60)
        drain_started = time.monotonic()
        committed = committed_total(settings, topic, partitions, group)
        while committed < base + produced and time.monotonic() - drain_started < 300:
            time.sleep(1.0)
            committed = committed_total(settings, topic, partitions, group)
        drain_s = time.monotonic() - drain_started
        final_rss = rss_mb(worker.pid)
        decisions, distinct = distinct_decisions(settings, settings.decisions_topic, partitions)
        dead, _ = distinct_decisions(settings, settings.dlq_topic, partitions)
    finally:
        if worker is not None:
            stop_process(worker, timeout=30)
        broker.stop()
    steady = ([s["rss_mb"] for s in samples if s["t_s"] >= 0.2 * minutes * 60]
              or [s["rss_mb"] for s in samples])
    lags = [s["lag"] for s in samples]
    return {
        "minutes": minutes, "fraction": fraction, "max_rate": max_rate, "target_rate": rate,
        "achieved_rate": round(produced / (minutes * 60), 1), "users": users, "partitions": partitions,
        "probe": probe, "produced": base + produced, "committed": committed, "drain_s": round(drain_s, 1),
        "decisions": decisions, "distinct_decisions": distinct, "dead_letters": dead,
        "lost": base + produced - min(committed, distinct),
        "rss_mb": {"first": samples[0]["rss_mb"], "first_steady": steady[0], "last": final_rss,
                   "min": min(steady), "max": max(steady),
                   "median": statistics.median(steady),
                   "spread_pct": round(100 * (max(steady) - min(steady)) / min(steady), 1)},
        "lag": {"max": max(lags), "median": statistics.median(lags), "last_sample": lags[-1]},
        "load1": {"median": statistics.median(s["load1"] for s in samples),
                  "max": max(s["load1"] for s in samples)},
        "samples": samples, "workdir": str(workdir),
    }


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--fraction", type=float, default=0.5, help="share of --max-rate to produce")
    ap.add_argument("--max-rate", type=float, default=0.0,
                    help="the worker's maximum, events/s (default 0: measured in this run by a burst)")
    ap.add_argument("--probe-events", type=int, default=200_000,
                    help="size of the burst that measures the maximum rate")
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--sample-s", type=float, default=5.0)
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    # SIGTERM (and SIGINT, which a background job may have ignored) end the run through the
    # ``finally`` that stops the worker and the broker by their pids
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_on_signal)
    result = soak(args.minutes, args.fraction, args.max_rate, args.users, args.sample_s, args.partitions,
                  args.probe_events)
    summary = {k: v for k, v in result.items() if k != "samples"}
    report_json(summary, args.json, result)
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Our worker's data plane end to end (consume, decode+validate, profile, rule segments,
decision, outputs, changelog, checkpoints, RocksDB state) and its event-to-decision latency.

The data plane runs in a thread of this process, as in ``personalizer worker``; per core =
events / CPU seconds of this process from the first processed batch (group join and
restore are outside)."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from pathlib import Path

import msgspec
import orjson
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY

from benchmarks.measure import per_core, percentile, proc_peak_rss_mb, reset_peak_rss
from benchmarks.workload import WorkerTopics, fill_topic, unique
from models.config import EngineConfig
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.dataplane.loop import DataPlane, DataPlaneConfig
from streams.settings import Settings

__all__ = ["ALL_FEATURES", "bench_latency", "bench_worker", "make_plane", "run_paced"]

#: Everything on: behavioural segments (river KMeans) and the hybrid recommender.
ALL_FEATURES = EngineConfig(policy="hybrid", behavioural_segments=True)


def make_plane(settings: Settings, topics: WorkerTopics, engine_config: EngineConfig, state_dir: Path
               ) -> DataPlane:
    """A data plane as ``personalizer worker`` builds it (RocksDB state, changelog, 1 s
    checkpoints), in a new consumer group so it reads ``topics.input`` from the start."""
    group = unique("bench-worker")
    cfg = DataPlaneConfig(
        input_topics=[topics.input], decisions_topic=topics.decisions,
        latest_decisions_topic=topics.latest, segment_changes_topic=topics.changes,
        dlq_topic=topics.dlq, group_id=group, consumer_config=settings.consumer_config(group_id=group),
        producer_config=settings.producer_config(), batch_size=settings.batch_size,
        batch_timeout_s=settings.batch_timeout_s, changelog_prefix=topics.prefix,
        state_backend="rocksdb", state_dir=state_dir, checkpoint_interval_s=1.0,
        engine_config=engine_config,
    )
    return DataPlane(cfg, load_rules(DEFAULT_RULES_PATH))


def _stop(plane: DataPlane, thread: threading.Thread) -> None:
    plane.stop()
    thread.join(120)
    if thread.is_alive():
        raise RuntimeError("the benchmark's data plane did not stop within 120 s")
    if plane.error is not None:
        raise RuntimeError(f"the data plane failed: {plane.error!r}")


def bench_worker(settings: Settings, topics: WorkerTopics, n: int, engine_config: EngineConfig
                 ) -> dict[str, float]:
    """Process ``n`` records already on ``topics.input``; events/s per core of this process."""
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as state_dir:
        plane = make_plane(settings, topics, engine_config, Path(state_dir))
        thread = threading.Thread(target=plane.run, name="bench-plane")
        reset_peak_rss()
        thread.start()
        try:
            while plane.processed == 0 and plane.error is None:  # join + restore outside
                time.sleep(0.01)
            cpu0, wall0, done0 = time.process_time(), time.perf_counter(), plane.processed
            while plane.processed < n and plane.error is None and thread.is_alive():
                time.sleep(0.01)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            _stop(plane, thread)
    events = plane.processed - done0
    return {"events": events, "cpu_s": cpu, "wall_s": wall, "events_per_core_s": per_core(events, cpu),
            "events_per_s_wall": events / wall if wall else 0.0, "peak_rss_mb": proc_peak_rss_mb()}


def run_paced(settings: Settings, topics: WorkerTopics, lines: list[bytes], engine_config: EngineConfig,
              rate: float, state_dir: Path) -> tuple[list[tuple[float, float, int]], float]:
    """Start a data plane (:func:`make_plane`) with a latency probe, feed it ``lines`` at
    ``rate`` events/s once it owns its partitions, stop it when it has processed them (or
    after 120 s). Returns the probe (see ``DataPlane.latency_probe``) and the
    ``perf_counter`` time the feed began."""
    plane = make_plane(settings, topics, engine_config, state_dir)
    probe: list[tuple[float, float, int]] = []
    plane.latency_probe = probe
    thread = threading.Thread(target=plane.run, name="bench-paced")
    thread.start()
    try:
        while not (plane.ready and plane.partitions) and plane.error is None:
            time.sleep(0.05)
        fed_at = time.perf_counter()
        fill_topic(settings, topics.input, lines, rate=rate)
        deadline = time.monotonic() + 120
        while plane.processed < len(lines) and plane.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        _stop(plane, thread)
    return probe, fed_at


def bench_latency(settings: Settings, topics: WorkerTopics, lines: list[bytes], engine_config: EngineConfig,
                  rate: float, seconds: float) -> dict[str, float]:
    """Feed the worker at ``rate`` events/s for ``seconds``; event-to-decision latency from
    the input record's broker timestamp to the decision record's broker timestamp, and
    inside the worker (``in_worker_*``: from the record's arrival in the consumer's queue,
    bounded from above as :meth:`DataPlane._consume_batch` says, to the decision handed to
    the producer; the broker's fetch wait and the paced producer's linger are not in it).

    ``p50_ms``/``p99_ms`` are over every event; ``*_steady_ms`` leave out the events sent
    in the first fifth of the run (the worker's first batches after joining: cold caches,
    first fetches), which otherwise dominate a short run's tail."""
    count = max(1, min(len(lines), int(rate * seconds)))
    ck_sum0, ck_count0 = _checkpoint_totals()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as state_dir:
        probe, fed_at = run_paced(settings, topics, lines[:count], engine_config, rate, Path(state_dir))
    ck_sum, ck_count = _checkpoint_totals()
    consumer = Consumer(settings.consumer_config(group_id=unique("latency")))
    sent: dict[str, int] = {}
    latencies: list[float] = []
    steady: list[float] = []
    try:
        consumer.assign([TopicPartition(topics.input, p, 0) for p in range(topics.partitions)])
        got = 0
        deadline = time.monotonic() + 60
        while got < count and time.monotonic() < deadline:
            for m in consumer.consume(10_000, 1.0):
                if m.error() is None:
                    got += 1
                    with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                        sent[orjson.loads(m.value() or b"{}")["event_id"]] = m.timestamp()[1]
        warm_until = min(sent.values(), default=0) + 200 * seconds  # the first fifth, in ms
        consumer.assign([TopicPartition(topics.decisions, p, 0) for p in range(topics.partitions)])
        idle = 0
        while idle < 3:
            msgs = consumer.consume(10_000, 1.0)
            idle = idle + 1 if not msgs else 0
            for m in msgs:
                if m.error() is None:
                    event_id = msgspec.json.decode(m.value() or b"{}").get("event_id")
                    if event_id in sent:
                        latency = float(m.timestamp()[1] - sent[event_id])
                        latencies.append(latency)
                        if sent[event_id] >= warm_until:
                            steady.append(latency)
    finally:
        consumer.close()
    latencies.sort()
    steady.sort()
    # in the worker: every decision of a partition batch shares its batch's bound
    inside = sorted(lat * 1000 for _, lat, n, in probe for _ in range(n))
    inside_steady = sorted(lat * 1000 for t, lat, n, in probe if t >= fed_at + seconds / 5 for _ in range(n))
    return {"rate": rate, "events": count, "decisions": len(latencies),
            "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
            "max_ms": latencies[-1] if latencies else float("nan"),
            "p50_steady_ms": percentile(steady, 0.50), "p99_steady_ms": percentile(steady, 0.99),
            # from arrival in the worker's consumer queue (an upper bound) to the decision
            # handed to the producer: what personalizer_in_worker_latency_seconds observes
            "in_worker_p50_ms": percentile(inside, 0.50), "in_worker_p99_ms": percentile(inside, 0.99),
            "in_worker_max_ms": inside[-1] if inside else float("nan"),
            "in_worker_p99_steady_ms": percentile(inside_steady, 0.99),
            # the loop stops for each checkpoint (changelog, flush, commit): a latency floor
            # for the events that arrive meanwhile
            "checkpoints": ck_count - ck_count0,
            "checkpoint_mean_ms": 1000 * (ck_sum - ck_sum0) / max(ck_count - ck_count0, 1)}


def _checkpoint_totals() -> tuple[float, float]:
    """(seconds, count) of the data plane's checkpoints so far in this process."""
    total = REGISTRY.get_sample_value("personalizer_checkpoint_duration_seconds_sum") or 0.0
    count = REGISTRY.get_sample_value("personalizer_checkpoint_duration_seconds_count") or 0.0
    return total, count

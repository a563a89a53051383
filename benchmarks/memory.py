"""Where the worker's memory goes: the data plane in-process, RSS against events and users.

Runs :class:`streams.dataplane.loop.DataPlane` (RocksDB state, changelog, the worker's
settings) in a thread of this process against an embedded broker, while a producer
thread writes the soak workload (:func:`benchmarks.soak.events`) at ``--rate`` events/s.
Every ``--sample-s`` seconds it records, for the data plane's process:

- RSS (``VmRSS``) and its anonymous part (``RssAnon``);
- events processed, and distinct users stored (the sum of the partition stores' counts);
- RocksDB native memory per the databases' own counters, summed over partitions:
  memtables (``rocksdb.cur-size-all-mem-tables``), block cache, table readers;
- Python heap in use (``tracemalloc`` when ``--tracemalloc``; it slows the loop ~2x);
- the sizes of every in-process structure that could grow without bound: the due-time
  schedule, the checkpoint's pending writes, offer attribution, the producer's queue.

With ``--tracemalloc`` it also prints the top allocation sites that grew between the
first sample after warm-up and the last one (the leak suspects, if any).

    python -m benchmarks.memory --users 20000 --rate 4000 --seconds 180 --tracemalloc

Knobs to test a hypothesis without editing the worker: ``--write-buffer-mb`` caps each
partition's RocksDB memtable (rocksdict's default is RocksDB's 64 MiB per memtable, two
of them per database), ``--block-cache-mb`` sets the block cache, ``--memtable-budget-mb``
shares one memtable budget (a RocksDB ``WriteBufferManager``) and one block cache between
every partition store of the process. They only change this probe's stores.
Prints JSON lines per sample and a JSON summary; asserts nothing.
Every process it starts (the broker) is stopped by its pid.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from rocksdict import Rdict

from benchmarks.measure import report_json, status_kb
from benchmarks.scaling import committed_total
from benchmarks.soak import events
from benchmarks.workload import WorkerTopics, produce_due
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.broker import EmbeddedBroker
from streams.dataplane.loop import DataPlane, DataPlaneConfig
from streams.settings import Settings
from streams.state.partition import PartitionStore
from streams.state.rocksdb import (
    BLOCK_CACHE_BYTES,
    MEMTABLE_BUDGET_BYTES,
    WRITE_BUFFER_BYTES,
    RocksPartitionStore,
    store_options,
)

__all__ = ["main", "probe", "rocks_memory"]

#: RocksDB's own counters of native memory (bytes), summed over the partition stores.
ROCKS_PROPERTIES = {
    "memtables": "rocksdb.cur-size-all-mem-tables",
    "block_cache": "rocksdb.block-cache-usage",
    "table_readers": "rocksdb.estimate-table-readers-mem",
}


def rocks_memory(stores: list[PartitionStore]) -> dict[str, float]:
    """RocksDB native memory in MiB per :data:`ROCKS_PROPERTIES`, summed over ``stores``
    (the block cache counted once: every store of the process shares it and reports it)."""
    out = dict.fromkeys(ROCKS_PROPERTIES, 0.0)
    for store in stores:
        db = getattr(store, "_db", None)
        if not isinstance(db, Rdict):
            continue
        for name, prop in ROCKS_PROPERTIES.items():
            value = (db.property_int_value(prop) or 0) / 2**20
            out[name] = max(out[name], value) if name == "block_cache" else out[name] + value
    return {k: round(v, 1) for k, v in out.items()}


#: RocksDB sizes in MiB given on the command line (None: the worker's, see streams/state/rocksdb.py).
_SIZES: dict[str, int | None] = {"write_buffer_mb": None, "block_cache_mb": None, "memtable_budget_mb": None}


class _TunedPlane(DataPlane):
    def _open_store(self, topic: str, partition: int) -> PartitionStore:
        if all(v is None for v in _SIZES.values()):
            return super()._open_store(topic, partition)
        mib = {name: (v * 2**20 if v is not None else None) for name, v in _SIZES.items()}
        options = store_options(
            write_buffer_bytes=mib["write_buffer_mb"] or WRITE_BUFFER_BYTES,
            memtable_budget_bytes=mib["memtable_budget_mb"] or MEMTABLE_BUDGET_BYTES,
            block_cache_bytes=mib["block_cache_mb"] or BLOCK_CACHE_BYTES)
        return RocksPartitionStore(self.cfg.state_dir / self.cfg.group_id / f"{topic}-{partition}", options)


def _produce(settings: Settings, topic: str, users: int, rate: float, seconds: float,
             counter: list[int], stop: threading.Event) -> None:
    producer = Producer(settings.producer_config())
    source = events(users)
    started = time.monotonic()
    try:
        while not stop.is_set() and (now := time.monotonic()) - started < seconds:
            counter[0] = produce_due(producer, topic, source, rate, now - started, counter[0])
            time.sleep(0.05)
    finally:
        producer.flush(60)


class _ClientStats:
    """librdkafka's own byte counters (``statistics.interval.ms``): the consumer's prefetch
    queue and the producer's queue, the two client buffers that grow with a backlog."""

    def __init__(self) -> None:
        self.consumer_fetchq_mb = 0.0
        self.producer_queue_mb = 0.0

    def on_consumer(self, raw: str) -> None:
        stats = json.loads(raw)
        total = sum(p.get("fetchq_size", 0) for t in stats.get("topics", {}).values()
                    for p in t.get("partitions", {}).values() if p.get("partition", -1) >= 0)
        self.consumer_fetchq_mb = round(total / 2**20, 1)

    def on_producer(self, raw: str) -> None:
        self.producer_queue_mb = round(json.loads(raw).get("msg_size", 0) / 2**20, 1)


def _structures(plane: DataPlane) -> dict[str, int]:
    """Sizes of the in-process structures that could grow without bound."""
    out = {"schedule": 0, "pending_writes": 0, "attribution_pending": 0, "producer_queue": 0}
    for rt in list(plane.partitions.values()):
        out["schedule"] += len(rt.engine.schedule)
        out["pending_writes"] += len(rt.store.pending)
        out["attribution_pending"] += len(getattr(rt.engine.offers, "_attribution", ()) or ())
    producer = getattr(plane, "producer", None)
    if producer is not None:
        out["producer_queue"] = len(producer)
    return out


def probe(users: int, rate: float, seconds: float, sample_s: float, partitions: int,
          trace: bool, top: int, warmup_s: float) -> dict[str, Any]:
    """Run the data plane in-process under load; see the module docstring."""
    workdir = Path(tempfile.mkdtemp(prefix="memprobe-"))
    broker = EmbeddedBroker(log_path=workdir / "tansu.log").start()
    plane_thread: threading.Thread | None = None
    producer_thread: threading.Thread | None = None
    stop_producing = threading.Event()
    plane: DataPlane | None = None
    samples: list[dict[str, Any]] = []
    growth: list[str] = []
    try:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, partitions=partitions,
                            _env_file=None)  # type: ignore[call-arg]
        topics = WorkerTopics.create(settings, "memprobe", partitions)
        stats = _ClientStats()
        consumer_config = {**settings.consumer_config(group_id=f"{topics.prefix}-group"),
                           "statistics.interval.ms": int(sample_s * 1000), "stats_cb": stats.on_consumer}
        producer_config = {**settings.producer_config(), "statistics.interval.ms": int(sample_s * 1000),
                           "stats_cb": stats.on_producer}
        cfg = DataPlaneConfig(
            input_topics=[topics.input], decisions_topic=topics.decisions,
            latest_decisions_topic=topics.latest, segment_changes_topic=topics.changes,
            dlq_topic=topics.dlq, group_id=f"{topics.prefix}-group",
            consumer_config=consumer_config, producer_config=producer_config, batch_size=settings.batch_size,
            batch_timeout_s=settings.batch_timeout_s, changelog_prefix=topics.prefix,
            state_backend="rocksdb", state_dir=workdir / "state", engine_config=settings.engine_config(),
        )
        if trace:
            tracemalloc.start(1)
        plane = _TunedPlane(cfg, load_rules(DEFAULT_RULES_PATH))
        plane_thread = threading.Thread(target=plane.run, name="data-plane", daemon=True)
        plane_thread.start()
        produced = [0]
        producer_thread = threading.Thread(
            target=_produce, args=(settings, topics.input, users, rate, seconds, produced, stop_producing),
            name="producer", daemon=True)
        producer_thread.start()
        started = time.monotonic()
        baseline: tracemalloc.Snapshot | None = None
        while (elapsed := time.monotonic() - started) < seconds:
            time.sleep(sample_s)
            elapsed = time.monotonic() - started
            if plane.error is not None:
                raise RuntimeError(f"the data plane stopped: {plane.error!r}")
            stores = [rt.backing for rt in list(plane.partitions.values())]
            sample: dict[str, Any] = {
                "t_s": round(elapsed, 1), "rss_mb": round(status_kb("VmRSS") / 1024, 1),
                "anon_mb": round(status_kb("RssAnon") / 1024, 1), "produced": produced[0],
                "processed": plane.processed, "users": sum(s.count() for s in stores),
                "rocks_mb": rocks_memory(stores),
                "consumer_fetchq_mb": stats.consumer_fetchq_mb,
                "producer_queue_mb": stats.producer_queue_mb, **_structures(plane),
            }
            if trace:
                sample["py_heap_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
                if baseline is None and elapsed >= warmup_s:
                    gc.collect()
                    baseline = tracemalloc.take_snapshot()
            samples.append(sample)
            print(json.dumps(sample), flush=True)
        if trace and baseline is not None:
            gc.collect()
            final = tracemalloc.take_snapshot()
            for stat in final.compare_to(baseline, "lineno")[:top]:
                growth.append(str(stat))
        stop_producing.set()
        committed = committed_total(settings, topics.input, partitions, cfg.group_id)
    finally:
        stop_producing.set()
        if producer_thread is not None:
            producer_thread.join(90)
        if plane is not None:
            plane.stop()
        if plane_thread is not None:
            plane_thread.join(60)
        if trace:
            tracemalloc.stop()
        broker.stop()
    after = [s for s in samples if s["t_s"] >= warmup_s] or samples
    first, last = after[0], samples[-1]
    events_between = last["processed"] - first["processed"]
    users_between = last["users"] - first["users"]
    rss_delta = last["rss_mb"] - first["rss_mb"]
    return {
        "users": users, "rate": rate, "seconds": seconds, "partitions": partitions,
        **_SIZES,
        "produced": produced[0], "processed": plane.processed if plane else 0, "committed": committed,
        "rss_mb": {"first": samples[0]["rss_mb"], "after_warmup": first["rss_mb"], "last": last["rss_mb"],
                   "max": max(s["rss_mb"] for s in samples)},
        "rss_kb_per_1k_events_after_warmup": round(1024 * rss_delta / events_between * 1000, 2)
        if events_between else None,
        "rss_kb_per_new_user_after_warmup": round(1024 * rss_delta / users_between, 2)
        if users_between else None,
        "rocks_mb_last": last["rocks_mb"], "top_growth": growth, "samples": samples, "workdir": str(workdir),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--users", type=int, default=20_000, help="user population of the workload")
    ap.add_argument("--rate", type=float, default=4000.0, help="events/s produced")
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--warmup-s", type=float, default=30.0)
    ap.add_argument("--tracemalloc", action="store_true", help="trace the Python heap (slower)")
    ap.add_argument("--top", type=int, default=15, help="allocation sites to print")
    ap.add_argument("--write-buffer-mb", type=int, default=None,
                    help="RocksDB memtable size per store (default: the worker's)")
    ap.add_argument("--block-cache-mb", type=int, default=None,
                    help="the block cache shared by every store (default: the worker's)")
    ap.add_argument("--memtable-budget-mb", type=int, default=None,
                    help="the memtable budget (WriteBufferManager) shared by every store "
                         "(default: the worker's)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    _SIZES.update(write_buffer_mb=args.write_buffer_mb, block_cache_mb=args.block_cache_mb,
                  memtable_budget_mb=args.memtable_budget_mb)
    result = probe(args.users, args.rate, args.seconds, args.sample_s, args.partitions,
                   args.tracemalloc, args.top, args.warmup_s)
    report_json({k: v for k, v in result.items() if k != "samples"}, args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

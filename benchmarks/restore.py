"""State restore rate: how fast a worker taking over a partition rebuilds its store from
the compacted changelog (:func:`streams.state.changelog.restore_partition`, the path a
worker runs on assignment), for a changelog of N users on one partition.

The profiles are real: the latest changelog value of every user the worker benchmark
wrote, repeated under N distinct keys. Restored into RocksDB (the worker's default
backend) and into memory; records/s is wall time of the restore call, per core is its
CPU time (librdkafka's fetch threads included).

Alone, without the rest of ``personalizer bench`` (its own embedded broker; the sample
profiles come from the pure core over the generator's workload instead of the worker
phase's changelog, the same engine over the same events)::

    python -m benchmarks.restore --users 1000000 --json var/bench/restore.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from benchmarks.measure import per_core, proc_peak_rss_mb, report_json, reset_peak_rss
from benchmarks.workload import create_topics, make_workload, unique
from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.segments import DEFAULT_RULES_PATH, load_rules
from models.state.codec import encode_profile
from streams.broker import EmbeddedBroker
from streams.settings import Settings
from streams.state.changelog import SOURCE_OFFSET_HEADER, USER_PREFIX, restore_partition
from streams.state.checkpointed import CheckpointedStore
from streams.state.memory import MemoryPartitionStore
from streams.state.partition import PartitionStore
from streams.state.rocksdb import RocksPartitionStore

__all__ = ["bench_restore", "core_profiles", "latest_profiles", "main"]


def latest_profiles(settings: Settings, changelog: str, partitions: int) -> list[bytes]:
    """The latest stored profile of every user on ``changelog`` (tombstones left out), in
    key order (deterministic)."""
    conf = settings.consumer_config(group_id=unique("sample"))
    conf["enable.partition.eof"] = True
    consumer = Consumer(conf)
    latest: dict[bytes, bytes | None] = {}
    try:
        consumer.assign([TopicPartition(changelog, p, OFFSET_BEGINNING) for p in range(partitions)])
        at_end: set[int] = set()
        deadline = time.monotonic() + 60
        while len(at_end) < partitions and time.monotonic() < deadline:
            for m in consumer.consume(10_000, 0.5):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(m.partition())  # type: ignore[arg-type]
                    continue
                key = m.key() or b""
                if key.startswith(USER_PREFIX):
                    latest[key] = m.value()
    finally:
        consumer.close()
    return [v for _, v in sorted(latest.items()) if v is not None]


def core_profiles(users: int, events: int, seed: int, directory: Path) -> list[bytes]:
    """Profiles as the worker would store them: the generator's ``events`` for ``users``
    users through one engine (default configuration), encoded, in user order."""
    _, lines = make_workload(users, events, seed, directory)
    engine = Engine(load_rules(DEFAULT_RULES_PATH), EngineConfig())
    for start in range(0, len(lines), 5000):
        engine.process_many([InputRecord(raw, None) for raw in lines[start:start + 5000]])
    return [encode_profile(profile) for _, profile in engine.store.items()]


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _restore(settings: Settings, topic: str, store: PartitionStore, committed: int) -> dict[str, float]:
    reset_peak_rss()
    cpu0 = time.process_time()
    result = restore_partition(settings.consumer_config(group_id=unique("restore")), topic, 0, store,
                               committed, timeout_s=1800.0)
    cpu = time.process_time() - cpu0
    return {"records": result.records_applied, "seconds": result.seconds, "cpu_s": cpu,
            "records_per_s": result.records_applied / result.seconds if result.seconds else 0.0,
            "records_per_core_s": per_core(result.records_applied, cpu), "users": store.count(),
            "peak_rss_mb": proc_peak_rss_mb()}


def _open_engine(backing: PartitionStore) -> dict[str, float]:
    """What a worker does after the restore, before its first batch: the partition's
    engine over the restored store (it walks every profile to rebuild the due-time
    schedule); seconds and peak RSS."""
    reset_peak_rss()
    started = time.perf_counter()
    engine = Engine(load_rules(DEFAULT_RULES_PATH), EngineConfig(), store=CheckpointedStore(backing))
    return {"engine_open_s": time.perf_counter() - started, "engine_open_peak_rss_mb": proc_peak_rss_mb(),
            "engine_open_schedule": len(engine.schedule)}


def bench_restore(settings: Settings, samples: list[bytes], users: int, memory: bool = True
                  ) -> dict[str, float]:
    """Write a one-partition changelog of ``users`` profiles (cycling through ``samples``),
    then restore it into RocksDB and (``memory``) into memory."""
    if not samples:
        raise ValueError("no profile samples: the worker benchmark wrote no changelog")
    topic = unique("bench.restore") + ".changelog"
    create_topics(settings, {topic: 1}, compacted=(topic,))
    producer = Producer(settings.producer_config())
    committed = 1
    headers: list[tuple[str, str | bytes | None]] = [(SOURCE_OFFSET_HEADER, str(committed).encode())]
    value_bytes = key_bytes = 0
    for i in range(users):
        key = b"%su-%08d" % (USER_PREFIX, i)
        value = samples[i % len(samples)]
        value_bytes += len(value)
        key_bytes += len(key)
        while True:
            try:
                producer.produce(topic, key=key, value=value, partition=0, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(300):
        raise RuntimeError("the restore benchmark's changelog was not fully written in 300 s")
    out: dict[str, float] = {"users": users, "profile_bytes_mean": value_bytes / users,
                             "changelog_mb_per_million_users": (value_bytes + key_bytes) / users}
    with tempfile.TemporaryDirectory(prefix="bench-restore-") as tmp:
        rocks = RocksPartitionStore(Path(tmp) / "p0")
        try:
            r = _restore(settings, topic, rocks, committed)
        finally:
            rocks.close()
        out.update({f"rocksdb_{k}": v for k, v in r.items()})
        out["rocksdb_mb_per_million_users"] = _dir_bytes(Path(tmp)) / users
        rocks = RocksPartitionStore(Path(tmp) / "p0")
        try:
            out.update({f"rocksdb_{k}": v for k, v in _open_engine(rocks).items()})
        finally:
            rocks.close()
    if memory:
        mem = MemoryPartitionStore()
        r = _restore(settings, topic, mem, committed)
        out.update({f"memory_{k}": v for k, v in r.items()})
        mem.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="State restore rate of a one-partition changelog of N users.")
    ap.add_argument("--users", type=int, default=1_000_000, help="users in the changelog partition")
    ap.add_argument("--sample-users", type=int, default=2000, help="users of the workload sampled")
    ap.add_argument("--sample-events", type=int, default=50_000, help="events of the workload sampled")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-memory", action="store_true", help="restore into RocksDB only")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="restore-") as tmp, \
            EmbeddedBroker(log_path=Path(tmp) / "tansu.log") as broker:
        samples = core_profiles(args.sample_users, args.sample_events, args.seed, Path(tmp))
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, _env_file=None)  # type: ignore[call-arg]
        result = bench_restore(settings, samples, args.users, memory=not args.no_memory)
    result = {**result, "sample_users": len(samples),
              "events_per_sampled_user": args.sample_events / len(samples)}
    report_json(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Worker benchmark: events/s per core, with the raw-client limit measured in the same run.

One embedded broker, one generated workload, measured one after the other:

1. raw limit: a confluent-kafka loop that consumes, decodes (orjson) and produces one
   small record per event, no logic;
2. our worker's data plane end to end: consume, decode+validate, profile, rule segments,
   decision, outputs, changelog, checkpoints (everything the live worker does);
3. the peer: a plain Faust agent doing decode + one Table write + one record per event;
4. event-to-decision latency (p50/p99, Kafka timestamps in -> out) with the worker fed at
   half of its measured maximum rate.

"Per core" = events / CPU seconds of the process doing the work (process_time, which
counts librdkafka's threads too; the broker runs in its own process and is not counted).
Machines are noisy: compare the ratios, not the absolute numbers.

    python -m benchmarks.worker_bench --events 200000 --json var/bench/worker.json
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec
import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.broker import EmbeddedBroker
from streams.commands.produce import iter_jsonl, produce_records
from streams.dataplane.loop import DataPlane, DataPlaneConfig
from streams.generator import generate
from streams.settings import Settings
from streams.topics import TopicSpec, compacted_config, delete_config, ensure_topics

ROOT = Path(__file__).resolve().parents[1]


def _topics(settings: Settings, names: dict[str, int], compacted: tuple[str, ...] = ()) -> None:
    specs = [TopicSpec(n, p, compacted_config() if n in compacted else delete_config(86_400_000))
             for n, p in names.items()]
    ensure_topics(settings.admin_config(), specs)


def _count_topic(settings: Settings, topic: str, partitions: int, expected: int, timeout: float) -> int:
    conf = settings.consumer_config(group_id=f"count-{time.monotonic_ns()}")
    c = Consumer(conf)
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    n = 0
    deadline = time.monotonic() + timeout
    while n < expected and time.monotonic() < deadline:
        n += sum(1 for m in c.consume(10000, 0.5) if m.error() is None)
    c.close()
    return n


def bench_raw(settings: Settings, topic: str, out: str, n: int) -> dict[str, float]:
    consumer = Consumer(settings.consumer_config(group_id=f"raw-{time.monotonic_ns()}"))
    producer = Producer(settings.producer_config())
    consumer.subscribe([topic])
    got = 0
    while got == 0:  # group join outside the measurement
        msgs = consumer.consume(10000, 1.0)
        got = len(msgs)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    pending = msgs
    while True:
        for m in pending:
            if m.error() is not None:
                continue
            event = orjson.loads(m.value())
            producer.produce(out, key=m.key(), value=orjson.dumps({"id": event.get("event_id")}))
        producer.poll(0)
        if got >= n:
            break
        pending = consumer.consume(10000, 1.0)
        got += len(pending)
    producer.flush(60)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    consumer.close()
    return {"events": got, "cpu_s": cpu, "wall_s": wall, "events_per_core_s": got / cpu}


def _plane(settings: Settings, topics: dict[str, str], partitions: int) -> DataPlane:
    group = f"worker-{time.monotonic_ns()}"
    cfg = DataPlaneConfig(
        input_topics=[topics["input"]], decisions_topic=topics["decisions"],
        latest_decisions_topic=topics["latest"], segment_changes_topic=topics["changes"],
        dlq_topic=topics["dlq"], group_id=group,
        consumer_config=settings.consumer_config(group_id=group),
        producer_config=settings.producer_config(), batch_size=5000,
        changelog_prefix=topics["prefix"], checkpoint_interval_s=1.0,
    )
    return DataPlane(cfg, load_rules(DEFAULT_RULES_PATH))


def bench_worker(settings: Settings, topics: dict[str, str], partitions: int, n: int) -> dict[str, float]:
    plane = _plane(settings, topics, partitions)
    thread = threading.Thread(target=plane.run, name="bench-plane")
    thread.start()
    while plane.processed == 0:  # join + restore outside the measurement
        time.sleep(0.01)
    cpu0, wall0, done0 = time.process_time(), time.perf_counter(), plane.processed
    while plane.processed < n and plane.error is None:
        time.sleep(0.01)
    plane.stop()
    thread.join(120)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    events = plane.processed - done0
    return {"events": events, "cpu_s": cpu, "wall_s": wall, "events_per_core_s": events / cpu,
            "events_per_s_wall": events / wall}


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_faust(settings: Settings, topic: str, out: str, partitions: int, n: int) -> dict[str, float]:
    env = {**os.environ, "BENCH_BOOTSTRAP": settings.bootstrap_servers, "BENCH_INPUT": topic,
           "BENCH_OUTPUT": out, "BENCH_PARTITIONS": str(partitions),
           "BENCH_APP_ID": f"bench-faust-{time.monotonic_ns()}"}
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([sys.executable, "-m", "faust", "-A", "benchmarks.faust_peer",
                                 "--datadir", tmp, "worker", "-l", "warn"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=open(Path(tmp) / "faust.log", "wb"))  # noqa: SIM115
        try:
            conf = settings.consumer_config(group_id=f"faust-count-{time.monotonic_ns()}")
            c = Consumer(conf)
            c.assign([TopicPartition(out, p, 0) for p in range(partitions)])
            seen = 0
            deadline = time.monotonic() + 900
            cpu0 = wall0 = None
            while seen < n and time.monotonic() < deadline and proc.poll() is None:
                got = sum(1 for m in c.consume(10000, 0.5) if m.error() is None)
                if got and cpu0 is None:
                    cpu0, wall0, seen0 = _proc_cpu(proc.pid), time.perf_counter(), seen + got
                seen += got
            if proc.poll() is not None:
                tail = (Path(tmp) / "faust.log").read_text()[-2000:]
                raise RuntimeError(f"the faust peer exited with {proc.returncode}:\n{tail}")
            cpu = _proc_cpu(proc.pid) - (cpu0 or 0.0)
            wall = time.perf_counter() - (wall0 or time.perf_counter())
            c.close()
            events = seen - seen0 if cpu0 is not None else 0
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"events": events, "cpu_s": cpu, "wall_s": wall,
            "events_per_core_s": events / cpu if cpu else 0.0}


def bench_latency(settings: Settings, topics: dict[str, str], partitions: int, lines: list[bytes],
                  rate: float, seconds: float) -> dict[str, float]:
    plane = _plane(settings, topics, partitions)
    thread = threading.Thread(target=plane.run, name="bench-latency")
    thread.start()
    while not (plane.ready and plane.partitions):
        time.sleep(0.05)
    count = min(len(lines), int(rate * seconds))
    producer = Producer(settings.producer_config())
    produce_records(producer, topics["input"], iter(lines[:count]), rate=rate)
    producer.flush(30)
    while plane.processed < count and plane.error is None:
        time.sleep(0.05)
    plane.stop()
    thread.join(120)
    sent = {}
    c = Consumer(settings.consumer_config(group_id=f"lat-{time.monotonic_ns()}"))
    c.assign([TopicPartition(topics["input"], p, 0) for p in range(partitions)])
    got = 0
    while got < count:
        for m in c.consume(10000, 1.0):
            if m.error() is None:
                got += 1
                with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                    sent[orjson.loads(m.value())["event_id"]] = m.timestamp()[1]
    c.assign([TopicPartition(topics["decisions"], p, 0) for p in range(partitions)])
    lat = []
    idle = 0
    while idle < 3:
        msgs = c.consume(10000, 1.0)
        idle = idle + 1 if not msgs else 0
        for m in msgs:
            if m.error() is None:
                d = msgspec.json.decode(m.value())
                if d["event_id"] in sent:
                    lat.append(m.timestamp()[1] - sent[d["event_id"]])
    c.close()
    lat.sort()
    pick = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]) if lat else (lambda q: float("nan"))
    return {"rate": rate, "decisions": len(lat), "p50_ms": pick(0.50), "p99_ms": pick(0.99),
            "max_ms": lat[-1] if lat else float("nan")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--skip-faust", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    n, parts = args.events, args.partitions
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers)
        events = Path(tmp) / "events.jsonl"
        generate(users=args.users, events=n, seed=1, out=events, malformed_fraction=0.0)
        lines = list(iter_jsonl(events))
        prefix = "bench.state"
        t = {"input": "bench.in", "decisions": "bench.decisions", "latest": "bench.latest",
             "changes": "bench.changes", "dlq": "bench.dlq", "prefix": prefix}
        lt = {k: (v.replace("bench.", "lat.") if k != "prefix" else "lat.state") for k, v in t.items()}
        _topics(settings, {t["input"]: parts, t["decisions"]: parts, t["latest"]: parts,
                           t["changes"]: parts, t["dlq"]: 1, "bench.raw-out": parts,
                           "bench.faust-out": parts, f"{prefix}.bench.in.changelog": parts,
                           lt["input"]: parts, lt["decisions"]: parts, lt["latest"]: parts,
                           lt["changes"]: parts, lt["dlq"]: 1, "lat.state.lat.in.changelog": parts},
                compacted=(t["latest"], f"{prefix}.bench.in.changelog", lt["latest"],
                           "lat.state.lat.in.changelog"))
        producer = Producer(settings.producer_config())
        produce_records(producer, t["input"], iter(lines))
        producer.flush(120)
        results: dict[str, object] = {"events": n, "users": args.users, "partitions": parts}
        results["raw"] = raw = bench_raw(settings, t["input"], "bench.raw-out", n)
        results["worker"] = worker = bench_worker(settings, t, parts, n)
        if not args.skip_faust:
            results["faust"] = faust_r = bench_faust(settings, t["input"], "bench.faust-out", parts, n)
        half = 0.5 * worker["events_per_s_wall"]
        results["latency"] = lat = bench_latency(settings, lt, parts, lines, half, args.latency_seconds)
    rows = [("raw confluent-kafka loop", raw["events_per_core_s"], 1.0),
            ("worker (all features)", worker["events_per_core_s"],
             worker["events_per_core_s"] / raw["events_per_core_s"])]
    if not args.skip_faust:
        rows.append(("faust agent + table", faust_r["events_per_core_s"],
                     faust_r["events_per_core_s"] / raw["events_per_core_s"]))
    print(f"\n{'what':28} {'events/s per core':>18} {'ratio to raw':>13}")
    for name, rate, ratio in rows:
        print(f"{name:28} {rate:18,.0f} {ratio:13.3f}")
    if not args.skip_faust and faust_r["events_per_core_s"]:
        ratio = worker["events_per_core_s"] / faust_r["events_per_core_s"]
        results["worker_to_faust"] = ratio
        print(f"worker / faust agent: {ratio:.1f}x")
    results["worker_to_raw"] = worker["events_per_core_s"] / raw["events_per_core_s"]
    print(f"latency at {lat['rate']:,.0f} events/s (half the worker's wall rate): "
          f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms over {lat['decisions']} decisions")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

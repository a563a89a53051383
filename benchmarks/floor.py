"""The worker's floor: its data plane with the decision logic taken out.

    .venv/bin/python -m benchmarks.floor                      # 100,000 events, 10,000 users
    .venv/bin/python -m benchmarks.floor --events 50000 --json var/bench/floor.json

How fast can the worker and the replay get if the pure core cost nothing? The same run
measures, on one embedded broker and one generated workload, the raw confluent-kafka loop
(as ``personalizer bench``), our worker with the defaults, and the worker *floor*: the same
data plane (batched consume, event decoding and validation, per-user state read and
written through the RocksDB store, changelog and 1 s checkpoints, the decisions and
segment changes encoded and produced) around an engine whose per-event step only reads
the user's profile, notes the event id in it, writes it back and hands over the outputs
the real engine emitted for that event, computed before the measurement. No profile
update, rules, recommendations, learning or offers: what is left is plumbing every
implementation of the service in Python pays, whatever its core is written in. Then
the same for ``personalizer replay`` from a file (profiles + rule segments, every output
file written): the raw file loop, the replay, and the replay floor.

The floor is optimistic: its profiles are smaller than real ones (only the event ids),
so reading and writing them costs less than in the real worker. It runs the core as
plain Python and patches :meth:`models.engine.Engine._process` in this process only. The
captured outputs are frozen out of the garbage collector's passes (``gc.freeze``), so
that holding them slows none of the phases.
Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from benchmarks.measure import write_json
from benchmarks.raw_loop import bench_raw
from benchmarks.replay import bench_replay, raw_file_loop
from benchmarks.worker import bench_worker
from benchmarks.workload import WorkerTopics, create_topics, fill_topic, make_workload, unique
from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.engine.batch import BatchOutput
from models.engine.engine import _WriteBack
from models.profiles.update import new_profile
from models.segments import DEFAULT_RULES_PATH, load_rules
from schemas.events import EventBase
from streams.broker import EmbeddedBroker
from streams.settings import Settings

#: event id -> (decisions, segment changes) the real engine emitted while processing it.
Captured = dict[str, tuple[list[Any], list[Any]]]


def capture_outputs(lines: list[bytes], config: EngineConfig) -> Captured:
    """Run the real engine over ``lines`` one event at a time; what each event emitted."""
    engine = Engine(load_rules(DEFAULT_RULES_PATH), config)
    captured: Captured = {}
    for line in lines:
        out = engine.process_many([InputRecord(line)])
        if out.decisions or out.segment_changes:
            event_id = orjson.loads(line).get("event_id")
            if isinstance(event_id, str):
                captured[event_id] = (out.decisions, out.segment_changes)
    return captured


@contextmanager
def floor_engine(captured: Captured) -> Iterator[None]:
    """``Engine._process`` reduced to one state read and write and the captured outputs,
    in this process, for the length of the block."""
    real = Engine._process
    none: tuple[list[Any], list[Any]] = ([], [])

    def _process(self: Engine, ev: EventBase, ts: float, wb: _WriteBack, out: BatchOutput) -> None:
        user = self.user_key(ev.user_key)
        profile = wb.get(user)
        if profile is None:
            profile = new_profile(user, ts)
        ids = profile.recent_event_ids
        ids.append(ev.event_id)
        if len(ids) > self.config.dedup_window:
            del ids[0]
        wb.put(user, profile)
        decisions, changes = captured.get(ev.event_id, none)
        out.decisions.extend(decisions)
        out.segment_changes.extend(changes)

    Engine._process = _process  # type: ignore[method-assign]
    try:
        yield
    finally:
        Engine._process = real  # type: ignore[method-assign]


def run(users: int, events: int, seed: int, partitions: int) -> dict[str, Any]:
    config = EngineConfig()
    with tempfile.TemporaryDirectory(prefix="personalizer-floor-") as tmp, EmbeddedBroker() as broker:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, _env_file=None)  # type: ignore[call-arg]
        path, lines = make_workload(users, events, seed, Path(tmp))
        captured = capture_outputs(lines, config)
        gc.collect()
        gc.freeze()  # the captured outputs (millions of objects) out of every later GC pass
        source = unique("floor.in")
        create_topics(settings, {source: partitions})
        fill_topic(settings, source, lines)
        raw_out = unique("floor.raw-out")
        create_topics(settings, {raw_out: partitions})
        n = len(lines)
        raw = bench_raw(settings, source, raw_out, n)
        worker = bench_worker(settings, WorkerTopics.create(settings, "floor.worker", partitions,
                                                            input_topic=source), n, config)
        with floor_engine(captured):
            floor = bench_worker(settings, WorkerTopics.create(settings, "floor.floor", partitions,
                                                               input_topic=source), n, config)
        file_raw = raw_file_loop(path, Path(tmp) / "raw-file.jsonl")
        replay = bench_replay(path, Path(tmp) / "replay", config, evaluate=False)
        with floor_engine(captured):
            replay_floor = bench_replay(path, Path(tmp) / "replay-floor", config, evaluate=False)
    decisions = sum(len(d) for d, _ in captured.values())
    rate = "events_per_core_s"
    return {
        "workload": {"events": n, "users": users, "seed": seed, "partitions": partitions,
                     "decisions": decisions},
        "raw": raw, "worker_default": worker, "worker_floor": floor,
        "replay_file_raw": file_raw, "replay_rules": replay, "replay_floor": replay_floor,
        "ratios": {"worker_default_to_raw": worker[rate] / raw[rate],
                   "worker_floor_to_raw": floor[rate] / raw[rate],
                   "worker_default_to_floor": worker[rate] / floor[rate],
                   "replay_rules_to_floor": replay[rate] / replay_floor[rate]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    result = run(args.users, args.events, args.seed, args.partitions)
    rate = "events_per_core_s"
    raw = result["raw"][rate]
    print(f"{result['workload']['events']:,} events, {args.users:,} users, "
          f"{result['workload']['decisions']:,} decisions; events/s per core (ratio to raw):")
    for name, label in (("raw", "raw confluent-kafka loop"), ("worker_default", "worker, defaults"),
                        ("worker_floor", "worker floor (no decision logic)"),
                        ("replay_file_raw", "raw file loop (read, decode, write)"),
                        ("replay_rules", "replay, profiles + rules"),
                        ("replay_floor", "replay floor (no decision logic)")):
        value = result[name][rate]
        print(f"  {label:<36} {value:>10,.0f}" + (f"  ({value / raw:.3f})" if "replay" not in name else ""))
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()

"""Run an event log through the same pure core as the live worker, deterministically.

One :class:`~models.engine.Engine` per partition, exactly like the worker: each staged
record goes to ``partition_for(user key, partitions)`` (records without a key, which can
only be dead-lettered, to partition 0) and each engine gets its records in staged order,
in batches (batch boundaries do not change outputs). With ``order="file"`` and the
partition count of the topic the log was produced to, the decisions are byte-identical
to the ones the worker emitted.

Erasure: users erased in the log (``erase`` events) or in the erasure list never come
back: their events dated before their (latest) erasure never reach the engine, so they
influence nothing (no profile, no decision, no dead letter with their data, no
popularity). Events after an erasure (the user came back) are processed as new.

Outputs (byte-identical for the same input and options; run metadata is in ``run.json``):
``decisions.jsonl``, ``segment_changes.jsonl``, ``dead_letters.jsonl`` (the
:mod:`schemas.outputs` structs, msgspec JSON), ``profiles.jsonl`` (final profiles, by
user), ``report.json`` and ``report.html`` (with evaluation).
"""

from __future__ import annotations

import heapq
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from models.compiled import describe_build
from models.config import EngineConfig
from models.engine import BatchOutput, Engine, InputRecord
from models.evaluation import PrequentialEvaluator, choose_bucket, predict_before
from models.offers.catalog import OfferCatalog
from models.profiles.profile import Profile
from models.segments import RuleSet
from models.state.codec import decode_profile
from models.state.memory import MemoryStore
from schemas.decode import Rejection, decode_event
from schemas.events import Feedback, Purchase
from streams.gc_tuning import batch_gc
from streams.partitioning import partition_for
from streams.replay.errors import ReplayInputError
from streams.replay.sources import RawRecord
from streams.replay.staging import Order, stage

__all__ = ["OUTPUT_FILES", "ReplayOptions", "ReplaySummary", "replay"]

#: Files every replay writes into its output directory (``run.json`` besides).
OUTPUT_FILES = ("decisions.jsonl", "segment_changes.jsonl", "dead_letters.jsonl", "profiles.jsonl",
                "report.json", "report.html")

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class ReplayOptions:
    partitions: int = 8
    order: Order = "time"
    batch_size: int = 5000
    since: float | None = None
    until: float | None = None
    limit: int | None = None
    erase_list: tuple[str, ...] = ()
    evaluate: bool = True
    #: ``day`` / ``week``; None picks by the span of the log.
    bucket: str | None = None
    #: RocksDB profile stores under this directory (None: in memory).
    state_dir: Path | None = None
    engine_config: EngineConfig = field(default_factory=EngineConfig)
    chunk_size: int = 500_000
    #: After the last event, move every partition's event time to the log's last event
    #: time, so time-based exits due by then happen (the live worker's idle tick).
    final_advance: bool = True
    #: The offer catalogue every engine starts with (``--offers``; None: no offers).
    offers: OfferCatalog | None = None
    #: Also given every batch's outputs, after the files (``--to-topics``:
    #: :meth:`streams.replay.publish.TopicPublisher.write`); None: files only.
    publish: Callable[[BatchOutput], None] | None = None


class ReplaySummary(msgspec.Struct, kw_only=True):
    records_read: int
    records_replayed: int
    excluded_before_since: int
    excluded_after_until: int
    excluded_beyond_limit: int
    withheld_erased: int
    erased_users: int
    untimed_records: int
    outcomes: dict[str, int]
    decisions: int
    segment_changes: int
    dead_letters: int
    profiles: int
    first_event_time: str | None
    last_event_time: str | None


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


class _Stores:
    """One profile store per partition: memory, or RocksDB under ``state_dir``."""

    def __init__(self, partitions: int, state_dir: Path | None) -> None:
        self.backings: list[Any] = []
        self.stores: list[Any] = []
        if state_dir is None:
            self.stores = [MemoryStore() for _ in range(partitions)]
            return
        from streams.state.checkpointed import CheckpointedStore
        from streams.state.rocksdb import RocksPartitionStore

        if state_dir.exists() and any(state_dir.iterdir()):
            raise ReplayInputError(f"{state_dir}: --state-dir must be empty or absent (a replay "
                                   "starts from no state)")
        for p in range(partitions):
            backing = RocksPartitionStore(state_dir / f"partition-{p}")
            self.backings.append(backing)
            self.stores.append(CheckpointedStore(backing))

    def after_batch(self, p: int) -> None:
        if self.backings:
            store = self.stores[p]
            store.apply_taken(store.take_pending(), {})

    def profiles(self, p: int) -> Iterator[tuple[str, Profile]]:
        """Partition ``p``'s profiles by user, decoded one at a time (RocksDB: streamed)."""
        if not self.backings:
            return self.stores[p].items()
        self.after_batch(p)
        return ((user, decode_profile(raw)) for user, raw in self.backings[p].items())

    def close(self) -> None:
        for b in self.backings:
            b.close()


class _Sink:
    """Writes batch outputs to the output files and feeds the evaluator."""

    def __init__(self, out_dir: Path, evaluator: PrequentialEvaluator | None,
                 publish: Callable[[BatchOutput], None] | None = None) -> None:
        self.enc = msgspec.json.Encoder()
        self.files: dict[str, IO[bytes]] = {
            name: open(out_dir / name, "wb", buffering=1 << 20)  # noqa: SIM115 (closed in close())
            for name in ("decisions.jsonl", "segment_changes.jsonl", "dead_letters.jsonl")
        }
        self.evaluator = evaluator
        self.publish = publish
        self.outcomes: dict[str, int] = {}
        self.counts = {"decisions": 0, "segment_changes": 0, "dead_letters": 0}

    def write(self, out: BatchOutput) -> None:
        if out.decisions:
            self.files["decisions.jsonl"].write(self.enc.encode_lines(out.decisions))
            self.counts["decisions"] += len(out.decisions)
        if out.segment_changes:
            self.files["segment_changes.jsonl"].write(self.enc.encode_lines(out.segment_changes))
            self.counts["segment_changes"] += len(out.segment_changes)
        if out.dead_letters:
            self.files["dead_letters.jsonl"].write(self.enc.encode_lines(out.dead_letters))
            self.counts["dead_letters"] += len(out.dead_letters)
        for k, v in out.outcomes.items():
            self.outcomes[k] = self.outcomes.get(k, 0) + v
        if self.evaluator is not None:
            self.evaluator.observe_output(out)
        if self.publish is not None:
            self.publish(out)

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def replay(
    records: Iterable[RawRecord],
    rules: RuleSet,
    out_dir: Path,
    options: ReplayOptions | None = None,
    progress: Progress | None = None,
    inputs: list[str] | None = None,
) -> ReplaySummary:
    """Replay ``records`` (input order) into ``out_dir``; see the module docstring."""
    with batch_gc():  # see streams/gc_tuning.py
        return _replay(records, rules, out_dir, options, progress, inputs)


def _replay(
    records: Iterable[RawRecord],
    rules: RuleSet,
    out_dir: Path,
    options: ReplayOptions | None,
    progress: Progress | None,
    inputs: list[str] | None,
) -> ReplaySummary:
    opts = options or ReplayOptions()
    if opts.partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {opts.partitions}")
    if opts.batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {opts.batch_size}")
    out_dir.mkdir(parents=True, exist_ok=True)
    wall0, cpu0 = time.time(), time.process_time()
    staged = stage(records, opts.order, opts.since, opts.until, opts.limit, opts.erase_list,
                   opts.chunk_size, tmp_dir=out_dir)
    staged_s = time.process_time() - cpu0
    erasures = staged.erasures
    evaluator = None
    if opts.evaluate:
        bucket = opts.bucket or choose_bucket(staged.min_ts, staged.max_ts)
        evaluator = PrequentialEvaluator(k=opts.engine_config.recommendations, bucket=bucket)
    stores = _Stores(opts.partitions, opts.state_dir)
    engines = [Engine(rules, opts.engine_config, store=s, offers=opts.offers) for s in stores.stores]
    pending: list[list[InputRecord]] = [[] for _ in range(opts.partitions)]
    sink = _Sink(out_dir, evaluator, opts.publish)
    part_cache: dict[str, int] = {}
    withheld = 0
    nparts = opts.partitions
    batch_size = opts.batch_size

    def flush(p: int) -> None:
        recs = pending[p]
        if recs:
            pending[p] = []
            sink.write(engines[p].process_many(recs))
            stores.after_batch(p)

    try:
        done = 0
        total = staged.count
        for _, _, raw, position, key, ts, etype in staged:
            done += 1
            if progress is not None and not done % 20_000:
                progress("replay", done, total)
            if key is None:
                p = 0
            else:
                if erasures and key in erasures and etype != "erase" and (
                        ts is None or ts < erasures[key]):
                    withheld += 1
                    continue
                p = part_cache.get(key, -1)
                if p < 0:
                    if len(part_cache) > 500_000:
                        part_cache.clear()
                    p = part_cache[key] = partition_for(key.encode(), nparts)
            if evaluator is not None and etype == "purchase" and key is not None and ts is not None:
                flush(p)
                _evaluate_purchase(engines[p], evaluator, sink, raw, key, ts)
                stores.after_batch(p)
            elif evaluator is not None and etype == "feedback" and key is not None:
                _observe_feedback(engines[p], evaluator, raw, key)
            pending[p].append(InputRecord(raw, position))
            if len(pending[p]) >= batch_size:
                flush(p)
        for p in range(nparts):
            flush(p)
        if opts.final_advance and staged.max_ts is not None:
            for p, engine in enumerate(engines):
                if engine.watermark is not None:
                    sink.write(engine.advance_to(staged.max_ts))
                    stores.after_batch(p)
        if evaluator is not None:
            evaluator.observe_engines(engines)  # catalogue, window, learned bandits: policy value
        if progress is not None:
            progress("replay", done, total)
        sink.close()
        n_profiles = _write_profiles(out_dir / "profiles.jsonl",
                                     [stores.profiles(p) for p in range(opts.partitions)])
        summary = ReplaySummary(
            records_read=staged.read, records_replayed=staged.count - withheld,
            excluded_before_since=staged.before_since, excluded_after_until=staged.after_until,
            excluded_beyond_limit=staged.beyond_limit, withheld_erased=withheld,
            erased_users=len(erasures), untimed_records=staged.untimed,
            outcomes=dict(sorted(sink.outcomes.items())), profiles=n_profiles,
            first_event_time=_iso(staged.min_ts), last_event_time=_iso(staged.max_ts),
            **sink.counts,
        )
        report = _report(summary, opts, rules, evaluator)
        (out_dir / "report.json").write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2)
                                              + b"\n")
        from streams.replay.html import render_report

        (out_dir / "report.html").write_text(render_report(report), encoding="utf-8")
    finally:
        sink.close()
        stores.close()
        staged.close()
    cpu = time.process_time() - cpu0
    wall = time.time() - wall0
    run = {
        "started_at": datetime.fromtimestamp(wall0, UTC).isoformat(),
        "wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
        "staging_cpu_seconds": round(staged_s, 3),
        "events_per_cpu_second": round(staged.count / cpu) if cpu > 0 else None,
        "inputs": inputs or [], "argv": sys.argv, "python": platform.python_version(),
        "core": describe_build(), "pid": os.getpid(), "summary": msgspec.to_builtins(summary),
    }
    (out_dir / "run.json").write_bytes(msgspec.json.format(msgspec.json.encode(run), indent=2) + b"\n")
    return summary


def _evaluate_purchase(engine: Engine, evaluator: PrequentialEvaluator, sink: _Sink, raw: bytes,
                       user: str, ts: float) -> None:
    """Predict (engine and baseline) for this purchase before the engine learns it."""
    ev = decode_event(raw)
    if isinstance(ev, Rejection) or not isinstance(ev, Purchase) or ev.user_key != user:
        return  # the engine dead-letters it; nothing to evaluate
    sink.write(engine.advance_to(ts))  # due changes fire now, exactly as the event would fire them
    profile = engine.lookup(user)
    if profile is not None and ev.event_id in profile.recent_event_ids:
        return  # a duplicate: the engine will skip it
    pred = predict_before(engine, user, ts)
    items = [line.item_id for line in ev.properties.items]
    evaluator.observe_purchase(ts, items, ev.properties.revenue, pred.segments, pred.model,
                               pred.baseline, pred.excluded)
    evaluator.observe_event(ev, engine.user_key(user))  # revenue for experiment lift


def _observe_feedback(engine: Engine, evaluator: PrequentialEvaluator, raw: bytes, user: str) -> None:
    """Feedback for the policy-value and lift sections (rewards of logged variants)."""
    ev = decode_event(raw)
    if isinstance(ev, Feedback) and ev.user_key == user:
        evaluator.observe_event(ev, engine.user_key(user))


def _write_profiles(path: Path, partitions: list[Iterator[tuple[str, Profile]]]) -> int:
    enc = msgspec.json.Encoder()
    n = 0
    with open(path, "wb", buffering=1 << 20) as fh:
        for _, profile in heapq.merge(*partitions, key=lambda kv: kv[0]):
            fh.write(enc.encode(profile))
            fh.write(b"\n")
            n += 1
    return n


def _report(summary: ReplaySummary, opts: ReplayOptions, rules: RuleSet,
            evaluator: PrequentialEvaluator | None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "replay": msgspec.to_builtins(summary),
        "options": {
            "partitions": opts.partitions, "order": opts.order, "batch_size": opts.batch_size,
            "since": _iso(opts.since), "until": _iso(opts.until), "limit": opts.limit,
            "erasure_list_users": len(opts.erase_list), "final_advance": opts.final_advance,
            "rules_version": rules.version, "segments": list(rules.segment_ids()),
            "offers": None if opts.offers is None else {
                "version": opts.offers.version, "placements": list(opts.offers.placement_ids())},
            "engine_config": {  # the pseudonymization key is a secret: never in a report
                **msgspec.to_builtins(opts.engine_config),
                "pseudonymize_key": None if opts.engine_config.pseudonymize_key is None else "**********",
            },
        },
    }
    if evaluator is not None:
        report["evaluation"] = evaluator.report()
    else:
        report["evaluation"] = {"available": False, "reason": "not requested (--no-eval)"}
    return report

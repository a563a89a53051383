"""The bench results as ratios and as a table (rich)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["ROWS", "compute_ratios", "render"]

#: (result key, label) of the throughput rows, in table order.
ROWS = (
    ("raw", "1 raw limit (consume, decode, produce)"),
    ("faust", "2a Faust agent + Table"),
    ("quix", "2b Quix Streams app + state"),
    ("worker_all", "3 worker, all features"),
    ("worker_default", "3' worker, defaults"),
    ("replay_all", "4 replay file, all features + eval"),
    ("replay_rules", "4' replay file, profiles + rules"),
    ("replay_file_raw", "raw file loop (read, decode, write)"),
)


def _rate(results: dict[str, Any], key: str) -> float | None:
    part = results.get(key)
    if isinstance(part, dict):
        rate = part.get("events_per_core_s")
        if isinstance(rate, int | float) and rate > 0:
            return float(rate)
    return None


def compute_ratios(results: dict[str, Any]) -> dict[str, float]:
    """Ratios of events/s per core measured in the same run (higher is better for all).

    >>> compute_ratios({"raw": {"events_per_core_s": 100.0}, "worker_all": {"events_per_core_s": 25.0},
    ...                 "faust": {"skipped": "not installed"}})
    {'worker_all_to_raw': 0.25}
    """
    pairs = [("worker_all", "raw"), ("worker_default", "raw"), ("worker_all", "faust"),
             ("worker_all", "quix"), ("worker_default", "faust"), ("worker_default", "quix"),
             ("replay_all", "raw"), ("replay_rules", "raw"), ("replay_all", "replay_file_raw"),
             ("replay_rules", "replay_file_raw")]
    ratios = {}
    for num, den in pairs:
        a, b = _rate(results, num), _rate(results, den)
        if a is not None and b is not None:
            ratios[f"{num}_to_{den}"] = a / b
    runs = results.get("scaling")
    if isinstance(runs, list):
        by_count = {r["workers"]: r["events_per_s"] for r in runs if isinstance(r, dict)}
        one = by_count.get(1)
        for n, rate in sorted(by_count.items()):
            if one and n != 1:
                ratios[f"scaling_{n}_workers_to_1"] = rate / one
    return ratios


def _fmt(v: Any, spec: str = ",.0f") -> str:
    return format(v, spec) if isinstance(v, int | float) else "-"


def render(results: dict[str, Any], console: Console | None = None) -> None:
    """Print the throughput table, the ratios, latency, restore and scaling."""
    if console is None:
        console = Console() if sys.stdout.isatty() else Console(width=120)
    raw = _rate(results, "raw")
    table = Table(title=f"personalizer bench — {results.get('workload', {}).get('events', '?'):,} events, "
                        f"{results.get('workload', {}).get('users', '?'):,} users "
                        f"(events/s per CPU-core; ratio to the raw limit of the same run)")
    table.add_column("what")
    table.add_column("events/s per core", justify="right")
    table.add_column("ratio to raw", justify="right")
    table.add_column("wall events/s", justify="right")
    table.add_column("peak RSS MB", justify="right")
    for key, label in ROWS:
        part = results.get(key)
        if part is None:
            continue
        if "skipped" in part:
            table.add_row(label, "skipped", "-", "-", "-")
            continue
        rate = _rate(results, key)
        ratio = f"{rate / raw:.3f}" if rate and raw and key != "replay_file_raw" else "-"
        table.add_row(label, _fmt(rate), ratio, _fmt(part.get("events_per_s_wall")),
                      _fmt(part.get("peak_rss_mb")))
    if table.row_count:
        console.print(table)
    for key in ("faust", "quix"):
        part = results.get(key)
        if isinstance(part, dict) and "skipped" in part:
            console.print(f"[yellow]{key} peer skipped:[/] {part['skipped']}")
    ratios = results.get("ratios", {})
    if ratios:
        console.print("ratios: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    lat = results.get("latency")
    if isinstance(lat, dict):
        console.print(f"event-to-decision latency at {lat['rate']:,.0f} events/s (half the worker's "
                      f"wall rate, all features): p50 {_fmt(lat['p50_ms'])} ms, "
                      f"p99 {_fmt(lat['p99_ms'])} ms, max {_fmt(lat['max_ms'])} ms "
                      f"over {lat['decisions']:,} decisions"
                      + (f"; after the first fifth (warm-up): p50 {_fmt(lat['p50_steady_ms'])} ms, "
                         f"p99 {_fmt(lat['p99_steady_ms'])} ms" if "p99_steady_ms" in lat else ""))
        if "in_worker_p99_ms" in lat:
            console.print(f"  inside the worker (arrival in its consumer queue, an upper bound, to the "
                          f"decision handed to the producer): p50 {_fmt(lat['in_worker_p50_ms'])} ms, "
                          f"p99 {_fmt(lat['in_worker_p99_ms'])} ms, max {_fmt(lat['in_worker_max_ms'])} ms; "
                          f"after the first fifth p99 {_fmt(lat['in_worker_p99_steady_ms'])} ms")
    rs = results.get("restore")
    if isinstance(rs, dict):
        console.print(
            f"state restore of a {rs['users']:,.0f}-user changelog partition: RocksDB "
            f"{_fmt(rs['rocksdb_records_per_s'])} records/s "
            f"({_fmt(rs['rocksdb_records_per_core_s'])} per core), "
            f"memory {_fmt(rs['memory_records_per_s'])} records/s; "
            f"profile {rs['profile_bytes_mean']:,.0f} B, "
            f"{_fmt(rs['changelog_mb_per_million_users'])} MB changelog and "
            f"{_fmt(rs['rocksdb_mb_per_million_users'])} MB RocksDB per million users")
    runs = results.get("scaling")
    if isinstance(runs, list) and runs:
        st = Table(title="scaling: worker processes on an 8-partition input (one consumer group)")
        for col in ("workers", "events/s (aggregate)", "x of 1 worker", "events/s per core",
                    "partitions per worker", "ownership"):
            st.add_column(col, justify="right")
        one = next((r["events_per_s"] for r in runs if r["workers"] == 1), None)
        for r in runs:
            st.add_row(str(r["workers"]), _fmt(r["events_per_s"]),
                       f"{r['events_per_s'] / one:.2f}" if one else "-", _fmt(r["events_per_core_s"]),
                       "/".join(str(n) for n in r["owned"]),
                       "ok" if r["ownership_ok"] else "; ".join(r["ownership_problems"]))
        console.print(st)
    console.print(f"machine: {results.get('machine', {}).get('cpus', '?')} CPUs; "
                  f"core: {results.get('machine', {}).get('core', '?')}; "
                  f"bench took {_fmt(results.get('duration_s'))} s")

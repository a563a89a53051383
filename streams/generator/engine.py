"""The generator's driver: plan users and sessions, then emit day by day, sorted.

Memory stays bounded: only the session plan (a few ints per session) is held for the
whole run; events are produced one day of sessions at a time as compact
``(ts_ms, user_index, seq, json_bytes)`` tuples, sorted, and written once no later
session can precede them (sessions last under an hour, so anything before the next
day's start is final). Every random draw comes from one ``random.Random(seed)`` in a
fixed order, and no set or dict of strings is ever iterated, so a seed gives
byte-identical files.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from random import Random

import msgspec

from streams.generator.catalog import CATEGORIES, build_catalog
from streams.generator.malformed import make_malformed
from streams.generator.population import (
    GROUPS,
    User,
    build_population,
    build_tables,
    plan_sessions,
)
from streams.generator.sessions import Pending, SessionGenerator
from streams.generator.writer import DAY_MS, OutputFile, TimeFormatter, to_ms, truth_path

_encode = msgspec.json.Encoder().encode

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
ERASE_FRACTION = 0.0005


@dataclass(slots=True)
class GenerateSummary:
    """What :func:`generate` wrote."""

    out: Path
    truth: Path
    events: int
    users: int
    active_users: int
    shifted_users: int
    erased_users: int
    withdrawn_users: int
    anonymous_users: int
    malformed: int
    seconds: float
    by_type: dict[str, int] = field(default_factory=dict)


def generate(
    users: int,
    events: int,
    seed: int,
    out: Path,
    *,
    start: datetime = DEFAULT_START,
    days: int = 90,
    shift_fraction: float = 0.2,
    malformed_fraction: float = 0.002,
    erase_fraction: float = ERASE_FRACTION,
) -> GenerateSummary:
    """Write exactly ``events`` JSONL lines to ``out`` and the ground truth beside it.

    ``out`` ending in ``.gz`` is gzip-compressed. The truth file is
    :func:`~streams.generator.writer.truth_path` of ``out``.
    """
    if users < 1 or events < 0 or days < 1:
        raise ValueError("need users >= 1, events >= 0, days >= 1")
    if not 0.0 <= shift_fraction <= 1.0 or not 0.0 <= malformed_fraction <= 1.0:
        raise ValueError("fractions must be within [0, 1]")
    t0 = time.perf_counter()
    out = Path(out)
    start_ms = to_ms(start)
    span = days * DAY_MS
    rng = Random(seed)
    fmt = TimeFormatter()
    catalog = build_catalog(rng)
    tables = build_tables(catalog)
    n_malformed = round(events * malformed_fraction)
    pop = build_population(
        rng,
        users=users,
        seed=seed,
        budget_total=events - n_malformed,
        start_ms=start_ms,
        days=days,
        shift_fraction=shift_fraction,
        erase_fraction=erase_fraction,
    )
    buckets: list[list[tuple[int, int, int]]] = [[] for _ in range(days)]
    for u in pop:
        plan_sessions(rng, u, start_ms=start_ms, days=days)
        for s_ms, n in u.sessions:
            buckets[(s_ms - start_ms) // DAY_MS].append((s_ms, u.index, n))

    # malformed lines: (ts, key, bytes), spread over the timeline, never for erased users
    candidates = [u for u in pop if not u.erase] or pop
    malformed: list[tuple[int, int, int, bytes]] = []
    for k in range(n_malformed):
        ts = start_ms + rng.randrange(span)
        u = candidates[rng.randrange(len(candidates))]
        raw = make_malformed(rng, k, u.user_id, fmt(ts), f"bad{seed}-{k}")
        malformed.append((ts, users + k, 0, raw))
    malformed.sort()

    pending: Pending = []
    gen = SessionGenerator(rng, catalog, tables, seed, fmt, pending)
    written = 0
    m_pos = 0
    with OutputFile(out) as f:
        for d, bucket in enumerate(buckets):
            bucket.sort()
            for s_ms, uidx, n in bucket:
                gen.run(pop[uidx], s_ms, n)
            boundary = start_ms + (d + 1) * DAY_MS
            while m_pos < len(malformed) and malformed[m_pos][0] < boundary:
                pending.append(malformed[m_pos])
                m_pos += 1
            pending.sort()
            cut = bisect_left(pending, (boundary,))
            f.write_lines([p[3] for p in pending[:cut]])
            written += cut
            del pending[:cut]
        pending.extend(malformed[m_pos:])
        pending.sort()
        f.write_lines([p[3] for p in pending])
        written += len(pending)
        pending.clear()

    truth = truth_path(out)
    _write_truth(
        truth,
        pop,
        seed=seed,
        users=users,
        events=events,
        malformed=n_malformed,
        start_ms=start_ms,
        days=days,
        shift_fraction=shift_fraction,
        fmt=fmt,
    )
    if written != events:  # pragma: no cover - an internal invariant
        raise RuntimeError(f"wrote {written} events, expected {events}")
    return GenerateSummary(
        out=out,
        truth=truth,
        events=written,
        users=users,
        active_users=sum(1 for u in pop if u.budget > 0),
        shifted_users=sum(1 for u in pop if u.shift_ms is not None),
        erased_users=sum(1 for u in pop if u.erased_ms is not None),
        withdrawn_users=sum(1 for u in pop if u.withdraw_session is not None),
        anonymous_users=gen.anonymous_users,
        malformed=n_malformed,
        seconds=round(time.perf_counter() - t0, 3),
        by_type={k: gen.counts[k] for k in sorted(gen.counts)},
    )


def _write_truth(
    path: Path,
    pop: list[User],
    *,
    seed: int,
    users: int,
    events: int,
    malformed: int,
    start_ms: int,
    days: int,
    shift_fraction: float,
    fmt: TimeFormatter,
) -> None:
    meta = {
        "kind": "meta",
        "seed": seed,
        "users": users,
        "events": events,
        "malformed": malformed,
        "start": fmt(start_ms),
        "days": days,
        "shift_fraction": shift_fraction,
        "categories": list(CATEGORIES),
        "groups": [g.describe() for g in GROUPS],
    }
    lines = [_encode(meta)]
    for u in pop:
        groups = [{"group": GROUPS[u.group].name, "from": fmt(start_ms)}]
        if u.shift_ms is not None and u.new_group is not None:
            groups.append({"group": GROUPS[u.new_group].name, "from": fmt(u.shift_ms)})
        rec: dict[str, object] = {"user_id": u.user_id, "groups": groups}
        if u.anonymous_id is not None:
            rec["anonymous_id"] = u.anonymous_id
        if u.erased_ms is not None:
            rec["erased_at"] = fmt(u.erased_ms)
        lines.append(_encode(rec))
    with OutputFile(path) as f:
        f.write_lines(lines)

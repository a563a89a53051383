"""What-if: compare two replays of the same log (e.g. with a changed segments file).

Users are compared through ``profiles.jsonl`` (both sorted by user: a merge join, no
full load), decisions through ``decisions.jsonl`` (both runs emit one decision per
decision-worthy event, in the same order, since routing does not depend on the rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from schemas.outputs import Decision

__all__ = ["diff_replays"]

_EXAMPLES = 20


class _Who(msgspec.Struct):
    user_id: str
    segments: list[str] = []


def _profiles(path: Path) -> Iterator[_Who]:
    dec = msgspec.json.Decoder(_Who)
    with open(path, "rb") as fh:
        for line in fh:
            yield dec.decode(line)


def diff_replays(base: Path, other: Path) -> dict[str, Any]:
    """Which users would change segment and how decisions would differ (``other`` vs ``base``)."""
    changed_users = 0
    examples: list[dict[str, Any]] = []
    per_segment: dict[str, dict[str, int]] = {}
    only: dict[str, int] = {"base": 0, "other": 0}
    a_it, b_it = _profiles(base / "profiles.jsonl"), _profiles(other / "profiles.jsonl")
    a, b = next(a_it, None), next(b_it, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.user_id < b.user_id):
            only["base"] += 1
            a = next(a_it, None)
            continue
        if a is None or b.user_id < a.user_id:
            only["other"] += 1
            b = next(b_it, None)
            continue
        if a.segments != b.segments:
            changed_users += 1
            left = [s for s in a.segments if s not in b.segments]
            joined = [s for s in b.segments if s not in a.segments]
            for s in left:
                per_segment.setdefault(s, {"leave": 0, "join": 0})["leave"] += 1
            for s in joined:
                per_segment.setdefault(s, {"leave": 0, "join": 0})["join"] += 1
            if len(examples) < _EXAMPLES:
                examples.append({"user_id": a.user_id, "base": a.segments, "other": b.segments})
        a, b = next(a_it, None), next(b_it, None)

    dec = msgspec.json.Decoder(Decision)
    total = differ = rec_differ = kind_differ = 0
    by_placement: dict[str, int] = {}
    dexamples: list[dict[str, Any]] = []
    with open(base / "decisions.jsonl", "rb") as fa, open(other / "decisions.jsonl", "rb") as fb:
        for la, lb in zip(fa, fb, strict=False):
            total += 1
            if la == lb:
                continue
            da, db = dec.decode(la), dec.decode(lb)
            if da.event_id != db.event_id:
                raise ValueError(f"{base} and {other} are not replays of the same log with the same "
                                 f"partitions and order (decision {total} is for different events)")
            ra = [r.item_id for r in da.recommendations]
            rb = [r.item_id for r in db.recommendations]
            if ra == rb and da.kind == db.kind and da.segments == db.segments:
                continue  # only the rules version in `policy` differs
            differ += 1
            rec_differ += ra != rb
            kind_differ += da.kind != db.kind
            by_placement[da.placement] = by_placement.get(da.placement, 0) + 1
            if len(dexamples) < _EXAMPLES:
                dexamples.append({"event_id": da.event_id, "user_id": da.user_id,
                                  "placement": da.placement,
                                  "base": {"kind": da.kind, "segments": da.segments, "items": ra},
                                  "other": {"kind": db.kind, "segments": db.segments, "items": rb}})
    return {
        "users": {"changed_segments": changed_users, "only_in_base": only["base"],
                  "only_in_other": only["other"],
                  "per_segment": dict(sorted(per_segment.items())), "examples": examples},
        "decisions": {"compared": total, "differ": differ, "recommendations_differ": rec_differ,
                      "kind_differs": kind_differ, "by_placement": dict(sorted(by_placement.items())),
                      "examples": dexamples},
    }

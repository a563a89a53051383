"""Prequential (predict, then learn) evaluation of a replay, in event-time buckets.

Protocol: events are processed in time order; at each purchase, *before* the engine
learns it, the engine's policy and a global-popularity baseline (same candidate rules:
same exclusions, same consent handling, same k) each give their top-k for the user
(:func:`models.evaluation.predict.predict_before`). A purchase is a *hit* when one of
its items is in the top-k. A purchase is *eligible* when at least one of its items was
not excluded (already bought or in the cart): an ineligible purchase can be hit by
neither. Coverage: distinct items recommended in a bucket's predictions / distinct items
purchased or recommended (by either) up to the end of that bucket.

Segments: sizes at the end of each bucket and entries/exits per bucket (from the
segment changes); per segment, decisions shown to members, purchases by members
(membership just before the purchase), revenue and conversion (purchases / decisions).

Sections (:mod:`models.evaluation.sections`: bandit policy value, experiment lift) see
every decision, the ``feedback`` and ``purchase`` events (:meth:`PrequentialEvaluator.
observe_event`) and, at the end, the engines' offer catalogue, attribution window and
learned bandits (:meth:`PrequentialEvaluator.observe_engines`).

>>> ev = PrequentialEvaluator(k=2, bucket="day")
>>> ev.observe_purchase(10.0, ["a"], 5.0, ("vip",), ["a", "b"], ["c", "d"], frozenset())
>>> r = ev.report()
>>> r["summary"]["model"]["hit_rate"], r["summary"]["baseline"]["hit_rate"]
(1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from models.engine.batch import BatchOutput
from models.engine.engine import Engine
from models.evaluation.buckets import bucket_function
from models.evaluation.sections import DEFAULT_SECTIONS, FinalState, Section
from schemas.events import EventBase
from schemas.outputs import Decision

__all__ = ["PROTOCOL", "PrequentialEvaluator", "final_state"]

PROTOCOL = (
    "prequential (predict, then learn) in event-time order; at each purchase, before it is "
    "learned, the engine's policy and a global-popularity baseline with the same candidate "
    "rules (exclusions of bought and in-cart items, consent, k) each give a top-k for the user; "
    "hit = a purchased item is in the top-k; eligible = a purchased item was not excluded"
)

_NO_SEGMENT = "(none)"


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


class _Arm:
    __slots__ = ("hits", "hits_eligible", "items")

    def __init__(self) -> None:
        self.hits = 0
        self.hits_eligible = 0
        self.items: dict[str, None] = {}


class _Bucket:
    __slots__ = ("baseline", "eligible", "entered", "exited", "model", "new_items", "purchases")

    def __init__(self) -> None:
        self.purchases = 0
        self.eligible = 0
        self.model = _Arm()
        self.baseline = _Arm()
        self.new_items = 0
        self.entered: dict[str, int] = {}
        self.exited: dict[str, int] = {}


class _SegmentStats:
    __slots__ = ("decisions", "purchases", "revenue")

    def __init__(self) -> None:
        self.decisions = 0
        self.purchases = 0
        self.revenue = 0.0


class PrequentialEvaluator:
    def __init__(self, k: int = 10, bucket: str = "day",
                 sections: Sequence[Section] | None = None) -> None:
        self.k = k
        self.bucket = bucket
        self._bucket_of = bucket_function(bucket)
        self.sections: list[Section] = (list(sections) if sections is not None
                                        else [f() for f in DEFAULT_SECTIONS])
        self._buckets: dict[str, _Bucket] = {}
        self._items_first: dict[str, str] = {}
        self._segments: dict[str, _SegmentStats] = {}
        self._decisions = 0
        self._changes = 0

    def _b(self, ts: float) -> _Bucket:
        key = self._bucket_of(ts)
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket()
        return b

    def _seg(self, seg: str) -> _SegmentStats:
        s = self._segments.get(seg)
        if s is None:
            s = self._segments[seg] = _SegmentStats()
        return s

    # -- observations --------------------------------------------------------------

    def observe_items(self, ts: float, items: Iterable[str]) -> None:
        """Items interacted with at ``ts`` (the catalogue seen so far, for coverage)."""
        for item in items:
            if item not in self._items_first:
                self._items_first[item] = self._bucket_of(ts)
                self._b(ts).new_items += 1

    def observe_purchase(
        self, ts: float, items: Sequence[str], revenue: float, segments: Sequence[str],
        model: Sequence[str], baseline: Sequence[str], excluded: frozenset[str],
    ) -> None:
        b = self._b(ts)
        b.purchases += 1
        eligible = any(i not in excluded for i in items)
        b.eligible += eligible
        for arm, top in ((b.model, model), (b.baseline, baseline)):
            top_k = top[: self.k]
            hit = any(i in top_k for i in items)
            arm.hits += hit
            arm.hits_eligible += hit and eligible
            for item in top_k:
                arm.items[item] = None
            self.observe_items(ts, top_k)
        for seg in segments or (_NO_SEGMENT,):
            s = self._seg(seg)
            s.purchases += 1
            s.revenue += revenue
        self.observe_items(ts, items)

    def observe_output(self, out: BatchOutput) -> None:
        for d in out.decisions:
            self._observe_decision(d)
        for c in out.segment_changes:
            self._changes += 1
            b = self._b(datetime.fromisoformat(c.event_time).timestamp())
            counts = b.entered if c.change == "entered" else b.exited
            counts[c.segment_id] = counts.get(c.segment_id, 0) + 1

    def observe_event(self, event: EventBase, user: str) -> None:
        """A ``feedback`` or ``purchase`` event for the sections; ``user``: the engine's key
        of its user (``Engine.user_key``). Feed each event once (not the duplicates the
        engine skips); order relative to the decisions does not matter."""
        for section in self.sections:
            section.observe_event(event, user)

    def observe_engines(self, engines: Sequence[Engine]) -> None:
        """At the end: the engines' offer catalogue, attribution window, event time and
        learned bandits (pooled over the engines) for the sections."""
        self.observe_final(final_state(engines))

    def observe_final(self, final: FinalState) -> None:
        for section in self.sections:
            section.observe_final(final)

    def _observe_decision(self, d: Decision) -> None:
        self._decisions += 1
        for seg in d.segments or (_NO_SEGMENT,):
            self._seg(seg).decisions += 1
        for section in self.sections:
            section.observe_decision(d)

    # -- the report ----------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        keys = sorted(self._buckets)
        catalogue = 0
        sizes: dict[str, int] = {}
        all_segments = sorted({s for b in self._buckets.values() for s in (*b.entered, *b.exited)})
        over_time: list[dict[str, Any]] = []
        seg_rows: list[dict[str, Any]] = []
        totals = {"purchases": 0, "eligible": 0}
        hits_total = {"model": 0, "baseline": 0}
        hits_eligible_total = {"model": 0, "baseline": 0}
        items_total: dict[str, dict[str, None]] = {"model": {}, "baseline": {}}
        for key in keys:
            b = self._buckets[key]
            catalogue += b.new_items
            row: dict[str, Any] = {"bucket": key, "purchases": b.purchases, "eligible": b.eligible,
                                   "catalogue_items": catalogue}
            for name, arm in (("model", b.model), ("baseline", b.baseline)):
                row[name] = {
                    "hits": arm.hits, "hit_rate": _rate(arm.hits, b.purchases),
                    "hit_rate_eligible": _rate(arm.hits_eligible, b.eligible),
                    "coverage": _rate(len(arm.items), catalogue),
                }
                hits_total[name] += arm.hits
                hits_eligible_total[name] += arm.hits_eligible
                items_total[name].update(arm.items)
            over_time.append(row)
            totals["purchases"] += b.purchases
            totals["eligible"] += b.eligible
            for seg in all_segments:
                sizes[seg] = sizes.get(seg, 0) + b.entered.get(seg, 0) - b.exited.get(seg, 0)
            seg_rows.append({
                "bucket": key,
                "sizes": {s: sizes[s] for s in all_segments},
                "entered": {s: b.entered[s] for s in all_segments if s in b.entered},
                "exited": {s: b.exited[s] for s in all_segments if s in b.exited},
            })
        summary: dict[str, Any] = {"purchases": totals["purchases"], "eligible": totals["eligible"],
                                   "catalogue_items": catalogue, "decisions": self._decisions,
                                   "segment_changes": self._changes}
        for name in ("model", "baseline"):
            summary[name] = {
                "hits": hits_total[name], "hit_rate": _rate(hits_total[name], totals["purchases"]),
                "hit_rate_eligible": _rate(hits_eligible_total[name], totals["eligible"]),
                "coverage": _rate(len(items_total[name]), catalogue),
            }
        per_segment = [
            {"segment": seg, "decisions": s.decisions, "purchases": s.purchases,
             "revenue": round(s.revenue, 2), "conversion": _rate(s.purchases, s.decisions),
             "revenue_per_decision": round(s.revenue / s.decisions, 4) if s.decisions else None}
            for seg, s in sorted(self._segments.items())
        ]
        return {
            "protocol": PROTOCOL,
            "k": self.k,
            "bucket": self.bucket,
            "summary": summary,
            "over_time": over_time,
            "segments_over_time": seg_rows,
            "per_segment": per_segment,
            "sections": {s.name: {"title": s.title, **s.result()} for s in self.sections},
        }


def final_state(engines: Sequence[Engine]) -> FinalState:
    """The :class:`FinalState` of partition engines: the earliest of their event times, the
    first engine's catalogue and window (every engine has the same), and the bandit means
    pooled over the engines (sum of rewards / rewards per context and variant)."""
    marks = [e.watermark for e in engines if e.watermark is not None]
    if not engines:
        return FinalState(end_time=None)
    first = engines[0]
    arms = {p.id: p.variant_ids() for p in first.offers.catalog}
    pooled: dict[str, dict[str, list[float]]] = {}
    for e in engines:
        for ctx, state in e.offers.to_state().bandits.items():
            cells = pooled.setdefault(ctx, {})
            for arm, n in state.counts.items():
                cell = cells.setdefault(arm, [0.0, 0.0])
                cell[0] += n
                cell[1] += state.sums.get(arm, 0.0)
    means = {ctx: {arm: cells[arm][1] / cells[arm][0] for arm in sorted(cells) if cells[arm][0]}
             for ctx, cells in sorted(pooled.items())}
    return FinalState(end_time=min(marks) if marks else None,
                      window_s=first.config.offer_attribution_window_s, arms=arms, bandit_means=means)

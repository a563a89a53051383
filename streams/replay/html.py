"""The replay report as one self-contained HTML page with small inline SVG plots.

No plotting library: line charts are a few SVG elements. Deterministic output (no
timestamps), so ``report.html`` is byte-identical across runs like every other output.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["interval_chart", "line_chart", "render_report"]

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]],
               width: int = 720, height: int = 260) -> str:
    """An SVG line chart: one polyline per series (None values are gaps).

    >>> svg = line_chart("t", ["a", "b"], {"s": [0.0, 1.0]})
    >>> svg.startswith("<svg") and "polyline" in svg
    True
    """
    left, right, top, bottom = 50, 150, 24, 30
    pw, ph = width - left - right, height - top - bottom
    values = [v for s in series.values() for v in s if v is not None]
    vmax = max(values) if values else 1.0
    vmin = min(0.0, min(values)) if values else 0.0
    span = (vmax - vmin) or 1.0
    n = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph - (v - vmin) / span * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{_fmt(vmax)}</text>',
             f'<text x="{left - 4}" y="{top + ph}" font-size="10" text-anchor="end">{_fmt(vmin)}</text>']
    if labels:
        parts.append(f'<text x="{left}" y="{height - 8}" font-size="10">{escape(labels[0])}</text>')
        parts.append(f'<text x="{left + pw}" y="{height - 8}" font-size="10" text-anchor="end">'
                     f'{escape(labels[-1])}</text>')
    for idx, (name, vals) in enumerate(series.items()):
        color = _COLORS[idx % len(_COLORS)]
        segment: list[str] = []
        runs: list[list[str]] = []
        for i, v in enumerate(vals):
            if v is None:
                if segment:
                    runs.append(segment)
                segment = []
            else:
                segment.append(f"{x(i):.1f},{y(v):.1f}")
        if segment:
            runs.append(segment)
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
            else:
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                             f'points="{" ".join(run)}"/>')
        ly = top + 12 + 14 * idx
        parts.append(f'<rect x="{left + pw + 10}" y="{ly - 8}" width="10" height="3" fill="{color}"/>')
        parts.append(f'<text x="{left + pw + 24}" y="{ly}" font-size="10">{escape(name[:22])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def interval_chart(title: str, rows: Sequence[tuple[str, float, float, float]],
                   width: int = 720) -> str:
    """An SVG of point estimates with their intervals, one row each: ``(label, value, low, high)``.

    >>> svg = interval_chart("t", [("a", 0.2, 0.1, 0.3)])
    >>> svg.startswith("<svg") and "<circle" in svg
    True
    """
    left, right, top, row_h = 190, 30, 24, 18
    height = top + row_h * len(rows) + 24
    pw = width - left - right
    lo = min([0.0, *(r[2] for r in rows)])
    hi = max([0.0, *(r[3] for r in rows)]) or 1.0
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return left + (v - lo) / span * pw

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    base = top + row_h * len(rows)
    parts.append(f'<line x1="{left}" y1="{base}" x2="{left + pw}" y2="{base}" stroke="#999"/>')
    parts.append(f'<text x="{left}" y="{base + 14}" font-size="10">{_fmt(lo)}</text>')
    parts.append(f'<text x="{left + pw}" y="{base + 14}" font-size="10" text-anchor="end">{_fmt(hi)}</text>')
    for i, (label, value, low, high) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        color = _COLORS[i % len(_COLORS)]
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                     f'{escape(label[:32])}</text>')
        parts.append(f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" '
                     f'stroke="{color}" stroke-width="2"/>')
        parts.append(f'<circle cx="{x(value):.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _ci(v: Any) -> str:
    return "" if not v else f"[{_fmt(v[0])}, {_fmt(v[1])}]"


def _policy_value(sec: dict[str, Any]) -> list[str]:
    parts = [f"<p>{sec['logged_decisions']} logged bandit decisions with a known reward "
             f"({escape(', '.join(f'{k} {v}' for k, v in sec['rewards'].items()))}); left out: "
             f"{escape(', '.join(f'{k} {v}' for k, v in sec['excluded'].items()))}. "
             f"Reward: {escape(sec['reward'])}. Intervals: {escape(sec['interval'])}.</p>"]
    rows: list[dict[str, Any]] = []
    points: list[tuple[str, float, float, float]] = []
    for name, pol in sec["policies"].items():
        shown = ("on_policy",) if name == "logging" else ("ips", "snips", "dm", "dr")
        for est in shown:
            e = pol[est]
            rows.append({"policy": name, "estimator": est, "value": e["value"], "95% interval": _ci(e["ci"]),
                         "note": pol["description"] if est == shown[0] else ""})
            if est in ("on_policy", "ips", "dr"):
                points.append((f"{name} {est}", e["value"], e["ci"][0], e["ci"][1]))
    parts.append(_table(rows, ["policy", "estimator", "value", "95% interval", "note"]))
    parts.append(interval_chart("policy value (reward per decision), 95% intervals", points))
    greedy = sec["current_policy"]["greedy"]
    parts.append(f"<p>Current policy ({escape(sec['current_policy']['source'])}), greedy variants per "
                 f"context ({len(greedy)} contexts{', first 30' if len(greedy) > 30 else ''}):</p>")
    parts.append(_table([{"context": c, "variants": ", ".join(a)} for c, a in list(greedy.items())[:30]],
                        ["context", "variants"]))
    return parts


def _experiment_lift(sec: dict[str, Any]) -> list[str]:
    parts = [f"<p>{escape('; '.join(f'{k}: {v}' for k, v in sec['metrics'].items()))}. "
             f"Feedback naming no experiment decision: {sec['unmatched_feedback']}.</p>"]
    cols = ["arm", "users", "decisions", "click_rate", "click_rate_ci", "user_conversion_rate",
            "user_conversion_rate_ci", "revenue_per_user", "revenue_per_user_ci"]
    for exp, e in sec["experiments"].items():
        parts.append(f"<h3>Experiment {escape(exp)}</h3>")
        rows = []
        for arm in ("treatment", "control"):
            if arm in e:
                rows.append({c: _ci(e[arm].get(c)) if c.endswith("_ci") else e[arm].get(c)
                             for c in cols[1:]} | {"arm": arm})
        lift = e.get("lift")
        if lift is not None:
            rows.append({"arm": "relative lift", **{c: _ci(lift.get(c)) if c.endswith("_ci") else lift.get(c)
                                                   for c in cols[3:]}})
        parts.append(_table(rows, cols))
        points = [(f"{m} lift", lift[m], *lift[f"{m}_ci"]) for m in
                  ("click_rate", "user_conversion_rate", "revenue_per_user")
                  if lift is not None and lift.get(m) is not None and lift.get(f"{m}_ci")]
        if points:
            parts.append(interval_chart(f"{exp}: relative lift, 95% intervals", points))
        segs = [{"segment": seg, "treatment users": v.get("treatment", {}).get("users"),
                 "control users": v.get("control", {}).get("users"),
                 "click_rate lift": (v.get("lift") or {}).get("click_rate"),
                 "95% interval": _ci((v.get("lift") or {}).get("click_rate_ci")),
                 "revenue_per_user lift": (v.get("lift") or {}).get("revenue_per_user")}
                for seg, v in list(e["segments"].items())[:20]]
        if segs:
            parts.append(_table(segs, ["segment", "treatment users", "control users", "click_rate lift",
                                       "95% interval", "revenue_per_user lift"]))
    return parts


_SECTION_HTML = {"policy_value": _policy_value, "experiment_lift": _experiment_lift}


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if r.get(c) is None else str(r.get(c)))}</td>" for c in columns)
        + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(report: dict[str, Any]) -> str:
    rp = report["replay"]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>personalizer replay report</title>",
             "<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:"
             "collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
             "th{background:#eee}.na{color:#a00}</style></head><body>",
             "<h1>Replay report</h1>",
             _table([{"what": k, "value": v if not isinstance(v, dict) else
                      ", ".join(f"{a}={b}" for a, b in v.items())} for k, v in rp.items()],
                    ["what", "value"])]
    ev = report.get("evaluation", {})
    if ev.get("available") is False:
        parts.append(f"<p class='na'>Evaluation {escape(ev.get('reason', ''))}</p>")
    else:
        s = ev["summary"]
        parts.append("<h2>Recommendations: hit-rate@{} vs. global popularity</h2>".format(ev["k"]))
        parts.append(f"<p>Protocol: {escape(ev['protocol'])}.</p>")
        parts.append(_table([
            {"policy": name, "hit_rate": s[name]["hit_rate"],
             "hit_rate_eligible": s[name]["hit_rate_eligible"], "coverage": s[name]["coverage"],
             "hits": s[name]["hits"]} for name in ("model", "baseline")],
            ["policy", "hits", "hit_rate", "hit_rate_eligible", "coverage"]))
        parts.append(f"<p>{s['purchases']} purchases ({s['eligible']} eligible), "
                     f"{s['catalogue_items']} items, buckets of one {escape(ev['bucket'])}.</p>")
        rows = ev["over_time"]
        labels = [r["bucket"] for r in rows]
        parts.append(line_chart("hit-rate@k over time", labels, {
            "model": [r["model"]["hit_rate"] for r in rows],
            "baseline": [r["baseline"]["hit_rate"] for r in rows]}))
        parts.append(line_chart("coverage over time", labels, {
            "model": [r["model"]["coverage"] for r in rows],
            "baseline": [r["baseline"]["coverage"] for r in rows]}))
        seg_rows = ev["segments_over_time"]
        if seg_rows:
            last = seg_rows[-1]["sizes"]
            top = sorted(last, key=lambda k: (-last[k], k))[:10]
            parts.append("<h2>Segments</h2>")
            parts.append(line_chart("segment sizes (10 largest at the end)",
                                    [r["bucket"] for r in seg_rows],
                                    {seg: [r["sizes"].get(seg, 0) for r in seg_rows] for seg in top}))
            parts.append(line_chart("segment entries per bucket", [r["bucket"] for r in seg_rows],
                                    {seg: [r["entered"].get(seg, 0) for r in seg_rows] for seg in top}))
        parts.append("<h2>Revenue and conversion per segment</h2>")
        parts.append("<p>Membership just before each purchase; conversion = purchases / decisions "
                     "shown to members.</p>")
        parts.append(_table(ev["per_segment"], ["segment", "decisions", "purchases", "revenue",
                                                "conversion", "revenue_per_decision"]))
        for key, sec in ev["sections"].items():
            parts.append(f"<h2>{escape(sec['title'])}</h2>")
            if not sec.get("available"):
                parts.append(f"<p class='na'>{escape(sec.get('reason', 'not available'))}</p>")
            elif key in _SECTION_HTML:
                parts.extend(_SECTION_HTML[key](sec))
    parts.append("<h2>Options</h2>")
    parts.append(_table([{"option": k, "value": str(v)} for k, v in report["options"].items()],
                        ["option", "value"]))
    parts.append("</body></html>\n")
    return "".join(parts)

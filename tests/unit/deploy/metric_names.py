"""Metric names that ``streams.metrics`` exports and PromQL name extraction, for the deploy tests."""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram, Info, Summary
from prometheus_client.metrics import MetricWrapperBase as Collector

from streams import metrics

#: Suffixes Prometheus adds to a metric family's samples.
SUFFIXES = {
    Counter: ("_total", "_created"),
    Gauge: ("",),
    Histogram: ("_bucket", "_sum", "_count", "_created"),
    Summary: ("", "_sum", "_count", "_created"),
    Info: ("_info",),
}

# A PromQL identifier that names a metric: not a function call, not a label name inside
# {...} or by(...)/without(...)/on(...)/ignoring(...)/group_left(...), not a keyword.
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "inf", "nan", "le",
}


def exported_series_names() -> set[str]:
    """Every sample name the collectors of ``streams.metrics`` expose."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if not isinstance(value, Collector):
            continue
        for kind, suffixes in SUFFIXES.items():
            if isinstance(value, kind):
                base = value._name
                names.update(base + s for s in suffixes)
    return names




def promql_metric_names(expr: str) -> set[str]:
    """Metric names referenced in a PromQL expression (heuristic, good for our queries)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery selectors
    names = set()
    for m in _IDENT.finditer(text):
        word = m.group(0)
        rest = text[m.end():].lstrip()
        if rest.startswith("("):  # a function or aggregation
            continue
        if word.lower() in _KEYWORDS or re.fullmatch(r"\d.*", word):
            continue
        if m.start() > 0 and (text[m.start() - 1].isdigit() or text[m.start() - 1] == "."):
            continue  # part of a number such as 1e-3 or a duration
        names.add(word)
    return names

"""The regression guard: a new bench run's ratios against the accepted baseline's.

    python -m benchmarks.compare var/bench/latest.json benchmarks/baseline.json

Only ratios are compared (the worker to the raw limit measured in the same run, and so
on): absolute numbers move with the machine and its load, ratios much less. Prints; never
fails on a slower run (no timing assertions anywhere)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = ["RatioChange", "compare_ratios", "format_changes", "main"]


@dataclass(frozen=True)
class RatioChange:
    """One ratio in the baseline and the new run; ``change`` = new / baseline."""

    name: str
    baseline: float | None
    new: float | None

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.new is None or self.baseline == 0:
            return None
        return self.new / self.baseline


def _ratios(run: dict[str, Any]) -> dict[str, float]:
    ratios = run.get("ratios")
    if not isinstance(ratios, dict):
        return {}
    return {str(k): float(v) for k, v in ratios.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


def compare_ratios(baseline: dict[str, Any], new: dict[str, Any]) -> list[RatioChange]:
    """Every ratio in either run, by name; a ratio missing from one run has None there.

    >>> [c.change for c in compare_ratios({"ratios": {"a": 0.25}}, {"ratios": {"a": 0.5}})]
    [2.0]
    """
    old, cur = _ratios(baseline), _ratios(new)
    return [RatioChange(name, old.get(name), cur.get(name)) for name in sorted(old.keys() | cur.keys())]


def format_changes(changes: list[RatioChange]) -> str:
    """A plain-text table: ratio, baseline, new run, new / baseline."""
    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    width = max([len(c.name) for c in changes] + [5])
    lines = [f"{'ratio':{width}}  {'baseline':>10}  {'new':>10}  {'new/baseline':>12}"]
    for c in changes:
        change = "-" if c.change is None else f"{c.change:.2f}x"
        lines.append(f"{c.name:{width}}  {num(c.baseline):>10}  {num(c.new):>10}  {change:>12}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("new", type=Path, help="JSON of the new run (personalizer bench --json)")
    ap.add_argument("baseline", type=Path, nargs="?", default=Path(__file__).with_name("baseline.json"))
    args = ap.parse_args(argv)
    changes = compare_ratios(orjson.loads(args.baseline.read_bytes()), orjson.loads(args.new.read_bytes()))
    print(f"{args.new} against {args.baseline} (ratios only; > 1 is better):")
    print(format_changes(changes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

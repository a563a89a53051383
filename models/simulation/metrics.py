"""Offline quality metrics used by the quality report and tests (pure functions).

>>> adjusted_rand_index([0, 0, 1, 1], ["a", "a", "b", "b"])
1.0
>>> round(adjusted_rand_index([0, 0, 1, 1], ["a", "b", "a", "b"]), 3)
-0.5
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence


def _comb2(n: int) -> float:
    return n * (n - 1) / 2.0


def adjusted_rand_index(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> float:
    """Adjusted Rand index of two labelings of the same items (Hubert & Arabie)."""
    if len(labels_a) != len(labels_b):
        raise ValueError("labelings differ in length")
    n = len(labels_a)
    if n < 2:
        return 1.0
    pairs = Counter(zip(labels_a, labels_b, strict=True))
    a = Counter(labels_a)
    b = Counter(labels_b)
    index = sum(_comb2(v) for v in pairs.values())
    sa = sum(_comb2(v) for v in a.values())
    sb = sum(_comb2(v) for v in b.values())
    expected = sa * sb / _comb2(n)
    top = (sa + sb) / 2.0
    if top == expected:
        return 1.0
    return (index - expected) / (top - expected)


def median(values: Sequence[float]) -> float:
    """Median (mean of the middle two for an even count); nan for none.

    >>> median([3, 1, 2]), median([1, 2, 3, 4])
    (2, 2.5)
    """
    if not values:
        return float("nan")
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2

"""The synthetic product catalog: items per category, prices, Zipf-like popularity.

Item ids look like ``sku-outdoor-0042``. Within a category, popularity follows a Zipf
law over a seeded permutation of the items (so item 0 is not always the best seller),
and every item has a price drawn log-normally around its category's median price.

>>> import random
>>> cat = build_catalog(random.Random(1), items_per_category=10)
>>> cat.item_ids[0][:2]
('sku-outdoor-0000', 'sku-outdoor-0001')
>>> len(cat.prices[0]) == 10 and all(p > 0 for p in cat.prices[0])
True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from streams.sources.categories import CATEGORIES as SOURCE_CATEGORIES

#: Catalog categories, in a fixed order (indices are used everywhere internally).
CATEGORIES: tuple[str, ...] = SOURCE_CATEGORIES[:12]  # the real log's first twelve, same names

#: Median item price per category, in EUR.
MEDIAN_PRICE: dict[str, float] = {
    "outdoor": 60.0,
    "electronics": 150.0,
    "fashion": 40.0,
    "home": 45.0,
    "beauty": 20.0,
    "sports": 50.0,
    "toys": 25.0,
    "books": 15.0,
    "grocery": 6.0,
    "garden": 30.0,
    "jewelry": 80.0,
    "pets": 18.0,
}

#: Search vocabulary per category (queries are one or two of these words).
SEARCH_TERMS: dict[str, tuple[str, ...]] = {
    "outdoor": ("tent", "sleeping bag", "hiking boots", "backpack", "camping stove", "rain jacket"),
    "electronics": ("headphones", "laptop", "phone case", "charger", "smart watch", "speaker"),
    "fashion": ("dress", "jeans", "sneakers", "coat", "t-shirt", "scarf"),
    "home": ("sofa", "lamp", "cushion", "rug", "curtains", "bedding"),
    "beauty": ("lipstick", "moisturizer", "perfume", "shampoo", "mascara", "serum"),
    "sports": ("yoga mat", "dumbbells", "running shoes", "football", "bike helmet", "racket"),
    "toys": ("lego", "puzzle", "doll", "board game", "plush", "rc car"),
    "books": ("novel", "cookbook", "biography", "fantasy", "crime", "travel guide"),
    "grocery": ("coffee", "olive oil", "pasta", "tea", "chocolate", "cereal"),
    "garden": ("seeds", "hose", "planter", "lawn mower", "pruner", "compost"),
    "jewelry": ("necklace", "ring", "earrings", "bracelet", "watch", "pendant"),
    "pets": ("dog food", "cat litter", "leash", "scratching post", "pet bed", "aquarium"),
}

ZIPF_EXPONENT = 1.1
PRICE_SIGMA = 0.6


@dataclass(frozen=True, slots=True)
class Catalog:
    """Items per category index: ids, prices and (Zipf) popularity weights."""

    categories: tuple[str, ...]
    item_ids: tuple[tuple[str, ...], ...]
    prices: tuple[tuple[float, ...], ...]
    popularity: tuple[tuple[float, ...], ...]

    @property
    def size(self) -> int:
        return sum(len(ids) for ids in self.item_ids)


def _round_price(p: float) -> float:
    if p >= 5.0:
        return round(max(1.0, round(p)) - 0.01, 2)
    return round(max(0.29, p), 2)


def build_catalog(rng: random.Random, items_per_category: int = 150) -> Catalog:
    """Build the catalog deterministically from ``rng``."""
    ids: list[tuple[str, ...]] = []
    prices: list[tuple[float, ...]] = []
    pops: list[tuple[float, ...]] = []
    for cat in CATEGORIES:
        ids.append(tuple(f"sku-{cat}-{i:04d}" for i in range(items_per_category)))
        median = MEDIAN_PRICE[cat]
        prices.append(
            tuple(
                _round_price(median * math.exp(rng.gauss(0.0, PRICE_SIGMA)))
                for _ in range(items_per_category)
            )
        )
        ranks = list(range(items_per_category))
        rng.shuffle(ranks)
        pops.append(tuple(1.0 / (r + 1) ** ZIPF_EXPONENT for r in ranks))
    return Catalog(CATEGORIES, tuple(ids), tuple(prices), tuple(pops))

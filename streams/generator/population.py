"""Latent taste groups and the synthetic user population.

Six taste groups, each with a distinct category mix (2-3 dominant categories carry 80%
of its views, the rest is spread evenly), a price level and a purchase propensity.
Every user belongs to one group; a chosen fraction of users moves to another group at
a time drawn in the middle third of the timeline. Activity (the number of events a user
produces) is log-normal, hence heavy-tailed.

>>> [g.name for g in GROUPS]
['active_outdoor', 'tech_reader', 'style_beauty', 'home_garden', 'family_budget', 'pet_parent']
>>> all(abs(sum(g.dominant.values()) - 0.8) < 1e-9 for g in GROUPS)
True
>>> allocate_budgets([1.0, 3.0], 10, minimum=1)
[3, 7]
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from streams.generator.catalog import CATEGORIES, MEDIAN_PRICE, Catalog

DOMINANT_SHARE = 0.8
PRICE_AFFINITY_SIGMA = 0.5


@dataclass(frozen=True, slots=True)
class TasteGroup:
    name: str
    dominant: dict[str, float]
    price_level: str
    price_multiplier: float
    purchase_propensity: float

    def mix(self) -> tuple[float, ...]:
        """Share of views per category index (sums to 1)."""
        rest = [c for c in CATEGORIES if c not in self.dominant]
        other = (1.0 - sum(self.dominant.values())) / len(rest)
        return tuple(self.dominant.get(c, other) for c in CATEGORIES)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "top_categories": list(self.dominant),
            "category_mix": {c: round(s, 4) for c, s in zip(CATEGORIES, self.mix(), strict=True)},
            "price_level": self.price_level,
            "price_multiplier": self.price_multiplier,
            "purchase_propensity": self.purchase_propensity,
        }


GROUPS: tuple[TasteGroup, ...] = (
    TasteGroup("active_outdoor", {"outdoor": 0.45, "sports": 0.35}, "mid", 1.0, 0.30),
    TasteGroup("tech_reader", {"electronics": 0.50, "books": 0.30}, "premium", 1.8, 0.25),
    TasteGroup(
        "style_beauty", {"fashion": 0.40, "beauty": 0.25, "jewelry": 0.15}, "premium", 1.8, 0.40
    ),
    TasteGroup("home_garden", {"home": 0.45, "garden": 0.35}, "mid", 1.0, 0.30),
    TasteGroup("family_budget", {"toys": 0.50, "grocery": 0.30}, "budget", 0.6, 0.45),
    TasteGroup("pet_parent", {"pets": 0.50, "grocery": 0.20, "garden": 0.10}, "budget", 0.6, 0.35),
)

#: Countries (all in the euro area) and cities.
COUNTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("DE", ("Berlin", "Hamburg", "Munich", "Cologne", "Leipzig")),
    ("FR", ("Paris", "Lyon", "Marseille", "Toulouse", "Lille")),
    ("NL", ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven")),
    ("ES", ("Madrid", "Barcelona", "Valencia", "Seville")),
    ("IT", ("Rome", "Milan", "Naples", "Turin")),
    ("IE", ("Dublin", "Cork", "Galway")),
    ("AT", ("Vienna", "Graz", "Salzburg")),
    ("BE", ("Brussels", "Antwerp", "Ghent")),
)
COUNTRY_WEIGHTS = (0.30, 0.22, 0.12, 0.12, 0.12, 0.04, 0.04, 0.04)
GENDERS = ("female", "male", "other")
GENDER_WEIGHTS = (0.49, 0.48, 0.03)
AREA_TYPES = ("urban", "suburban", "rural")
AREA_WEIGHTS = (0.55, 0.30, 0.15)

CONSENT_BOTH = 0.88
CONSENT_PERSONALIZATION_ONLY = 0.07
WITHDRAW_FRACTION = 0.03
SUBSCRIBER_FRACTION = 0.40
ANONYMOUS_FRACTION = 0.03
ACTIVITY_SIGMA = 1.1
MIN_EVENTS_PER_USER = 3


@dataclass(frozen=True, slots=True)
class GroupTables:
    """Precomputed sampling tables: category mix and item choice per group."""

    category_cum: tuple[tuple[float, ...], ...]  # [group][category] cumulative
    item_cum: tuple[tuple[tuple[float, ...], ...], ...]  # [group][category][item] cumulative


def build_tables(catalog: Catalog) -> GroupTables:
    cat_cum = []
    item_cum = []
    for g in GROUPS:
        cat_cum.append(tuple(accumulate(g.mix())))
        per_cat = []
        for ci, cat in enumerate(CATEGORIES):
            target = math.log(MEDIAN_PRICE[cat] * g.price_multiplier)
            weights = [
                pop * math.exp(-((math.log(price) - target) ** 2) / (2 * PRICE_AFFINITY_SIGMA**2))
                + pop * 0.02
                for pop, price in zip(catalog.popularity[ci], catalog.prices[ci], strict=True)
            ]
            per_cat.append(tuple(accumulate(weights)))
        item_cum.append(tuple(per_cat))
    return GroupTables(tuple(cat_cum), tuple(item_cum))


def pick(rng: random.Random, cum: tuple[float, ...]) -> int:
    """Index drawn with the weights whose running sum is ``cum``."""
    return bisect_right(cum, rng.random() * cum[-1])


@dataclass(slots=True)
class User:
    """One synthetic user: plan (fixed up front) and mutable generation state."""

    index: int
    user_id: str
    group: int
    traits: dict[str, object]
    consent: tuple[bool, bool] | None  # (personalization, marketing) at first session
    budget: int = 0
    sessions: list[tuple[int, int]] = field(default_factory=list)  # (start_ms, n_events)
    shift_ms: int | None = None
    new_group: int | None = None
    anonymous_id: str | None = None
    withdraw_session: int | None = None
    erase: bool = False
    # state while generating
    seq: int = 0
    session_no: int = 0
    orders: int = 0
    bought: list[int] = field(default_factory=list)  # packed (category << 16 | item)
    erased_ms: int | None = None

    def group_at(self, ms: int) -> int:
        if self.shift_ms is not None and self.new_group is not None and ms >= self.shift_ms:
            return self.new_group
        return self.group


def _weighted(rng: random.Random, values: tuple[str, ...], weights: tuple[float, ...]) -> str:
    return values[pick(rng, tuple(accumulate(weights)))]


def make_traits(rng: random.Random) -> dict[str, object]:
    ci = pick(rng, tuple(accumulate(COUNTRY_WEIGHTS)))
    country, cities = COUNTRIES[ci]
    age = min(80, max(18, int(rng.gauss(42, 14))))
    return {
        "age": age,
        "gender": _weighted(rng, GENDERS, GENDER_WEIGHTS),
        "country": country,
        "city": cities[min(len(cities) - 1, int(rng.expovariate(0.7)))],
        "area_type": _weighted(rng, AREA_TYPES, AREA_WEIGHTS),
        "email_subscriber": rng.random() < SUBSCRIBER_FRACTION,
    }


def allocate_budgets(weights: list[float], total: int, *, minimum: int) -> list[int]:
    """Split ``total`` events over users proportionally to ``weights`` (exact sum).

    Each user first gets ``minimum`` (or fewer when ``total`` is too small), the rest
    goes by largest remainder, ties broken by user index.
    """
    n = len(weights)
    if n == 0:
        return []
    base = min(minimum, total // n)
    budgets = [base] * n
    rest = total - base * n
    wsum = sum(weights)
    shares = [w / wsum * rest for w in weights]
    floors = [int(s) for s in shares]
    left = rest - sum(floors)
    order = sorted(range(n), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [b + f for b, f in zip(budgets, floors, strict=True)]


def build_population(
    rng: random.Random,
    *,
    users: int,
    seed: int,
    budget_total: int,
    start_ms: int,
    days: int,
    shift_fraction: float,
    erase_fraction: float,
) -> list[User]:
    """Create users with groups, traits, consent plan, shifts, erasures and budgets."""
    span = days * 86_400_000
    pop: list[User] = []
    for i in range(users):
        r = rng.random()
        consent: tuple[bool, bool] | None
        if r < CONSENT_BOTH:
            consent = (True, True)
        elif r < CONSENT_BOTH + CONSENT_PERSONALIZATION_ONLY:
            consent = (True, False)
        else:
            consent = None
        pop.append(
            User(
                index=i,
                user_id=f"user-{i:06d}",
                group=rng.randrange(len(GROUPS)),
                traits=make_traits(rng),
                consent=consent,
            )
        )
    n_shift = min(users, round(users * shift_fraction))
    for i in sorted(rng.sample(range(users), n_shift)):
        u = pop[i]
        u.new_group = (u.group + rng.randrange(1, len(GROUPS))) % len(GROUPS)
        u.shift_ms = start_ms + span // 3 + rng.randrange(max(1, span // 3))
    n_erase = 0 if erase_fraction <= 0 else min(users, max(1, round(users * erase_fraction)))
    for i in sorted(rng.sample(range(users), n_erase)):
        pop[i].erase = True
    for i in sorted(rng.sample(range(users), round(users * ANONYMOUS_FRACTION))):
        pop[i].anonymous_id = f"anon-{seed}-{rng.getrandbits(48):012x}"
    weights = [math.exp(rng.gauss(0.0, ACTIVITY_SIGMA)) for _ in range(users)]
    for u, b in zip(
        pop, allocate_budgets(weights, budget_total, minimum=MIN_EVENTS_PER_USER), strict=True
    ):
        u.budget = b
    return pop


DIURNAL = (
    0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.20, 0.40, 0.55, 0.60, 0.62, 0.65,
    0.75, 0.70, 0.62, 0.60, 0.65, 0.75, 0.90, 1.00, 1.00, 0.90, 0.65, 0.35,
)  # fmt: skip
SLOT_MS = 3_600_000
#: A session starts within the first 10 minutes of its hour slot and lasts < 50 minutes.
SESSION_OFFSET_MS = 600_000
SESSION_WINDOW_MS = 2_940_000


def plan_sessions(rng: random.Random, user: User, *, start_ms: int, days: int) -> None:
    """Split the user's budget into sessions placed in distinct hour slots."""
    budget = user.budget
    if budget <= 0:
        return
    n_slots = days * 24
    mean = max(7.0, budget / (0.4 * n_slots))
    sizes: list[int] = []
    left = budget
    while left > 0:
        size = min(left, 1 + int(rng.expovariate(1.0 / (mean - 1.0))) + 1)
        sizes.append(size)
        left -= size
    if len(sizes) > n_slots:  # only for absurd inputs: merge into the available slots
        merged = [0] * n_slots
        for k, s in enumerate(sizes):
            merged[k % n_slots] += s
        sizes = merged
    if len(sizes) * 2 >= n_slots:
        slots = sorted(rng.sample(range(n_slots), len(sizes)))
    else:
        chosen: set[int] = set()
        while len(chosen) < len(sizes):
            s = rng.randrange(n_slots)
            if s not in chosen and rng.random() < DIURNAL[s % 24]:
                chosen.add(s)
        slots = sorted(chosen)
    user.sessions = [
        (start_ms + s * SLOT_MS + rng.randrange(SESSION_OFFSET_MS), size)
        for s, size in zip(slots, sizes, strict=True)
    ]
    consented = user.consent is not None and user.consent[0]
    if consented and len(sizes) >= 2 and rng.random() < WITHDRAW_FRACTION:
        user.withdraw_session = rng.randrange(1, len(sizes))

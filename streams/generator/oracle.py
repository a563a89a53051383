"""What a recommender could know at best about the generator: the ceiling of its lift.

The generator draws a session's purchases from items the user viewed in that session
(category from the user's *current* taste group's mix, with a focus category drawn at
session start; item by the group's popularity x price affinity) and from the user's own
purchase history (buy-again: a uniform pick among the last ``BOUGHT_MEMORY`` distinct
items bought). Nothing else about a user shapes what they buy. So at session start -
where the prequential protocol (:mod:`models.simulation.prequential`) asks for the list -
the most any model can know is the user's true current group and their bought items.

:class:`TasteOracle` knows exactly that, read from the truth file and the catalogue the
generator built from the same seed: it ranks items by their probability of being viewed
in a session of the user's current group, and puts the user's bought items first
(``buy_again=True``). Its hit-rate is an upper bound for learned models under the same
protocol (a model that beats it sees something it should not: a leak in the protocol).

>>> catalog = build_catalog(Random(1))
>>> oracle = TasteOracle(build_tables(catalog), catalog, {"u1": [(0.0, 0), (100.0, 3)]})
>>> [GROUPS[oracle.group_at("u1", t)].name for t in (50.0, 150.0)]
['active_outdoor', 'home_garden']
>>> oracle.recommend("u1", 150.0, 3)[0].startswith("sku-home-")
True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from random import Random

from schemas.events import EventBase, Purchase
from streams.generator.catalog import Catalog, build_catalog
from streams.generator.population import GROUPS, GroupTables, build_tables
from streams.generator.sessions import BOUGHT_MEMORY
from streams.generator.writer import from_rfc3339, read_truth

#: Items of each group's ranking kept (the lists asked for are far shorter).
RANKING_DEPTH = 30

__all__ = ["TasteOracle", "load_oracle"]


class TasteOracle:
    """Top-k at session start from the true current group (and bought items)."""

    def __init__(
        self,
        tables: GroupTables,
        catalog: Catalog,
        groups_of: Mapping[str, list[tuple[float, int]]],
        *,
        buy_again: bool = True,
    ) -> None:
        #: user -> [(from ts, group index)], in time order
        self.groups_of = groups_of
        self.buy_again = buy_again
        #: group -> item -> probability that a view in a session of that group is this item
        self.view_share: list[dict[str, float]] = []
        #: group -> its RANKING_DEPTH most viewed items, best first
        self.ranking: list[list[str]] = []
        for gi, group in enumerate(GROUPS):
            shares: dict[str, float] = {}
            for ci, cat_share in enumerate(group.mix()):
                cum = tables.item_cum[gi][ci]
                prev = 0.0
                for ii, c in enumerate(cum):
                    shares[catalog.item_ids[ci][ii]] = cat_share * (c - prev) / cum[-1]
                    prev = c
            self.view_share.append(shares)
            self.ranking.append(sorted(shares, key=shares.__getitem__, reverse=True)[:RANKING_DEPTH])
        self._bought: dict[str, list[str]] = {}

    def group_at(self, user: str, ts: float) -> int | None:
        group = None
        for start, gi in self.groups_of.get(user, ()):
            if ts >= start:
                group = gi
        return group

    def recommend(self, user: str, ts: float, k: int) -> list[str]:
        group = self.group_at(user, ts)
        if group is None:
            return []
        bought = self._bought.get(user, []) if self.buy_again else []
        shares = self.view_share[group]
        # bought items first (the most viewed of them first), then the group's ranking
        out = sorted(bought, key=lambda item: -shares.get(item, 0.0))[:k]
        for item in self.ranking[group]:
            if len(out) >= k:
                break
            if item not in out:
                out.append(item)
        return out

    def observe(self, ev: EventBase) -> None:
        """Follow purchases as the generator's buy-again memory does."""
        if isinstance(ev, Purchase) and ev.user_id is not None:
            bought = self._bought.setdefault(ev.user_key, [])
            for line in ev.properties.items:
                if line.item_id not in bought:
                    bought.append(line.item_id)
            if len(bought) > BOUGHT_MEMORY:
                del bought[: len(bought) - BOUGHT_MEMORY]


def load_oracle(truth_file: Path, *, buy_again: bool = True) -> TasteOracle:
    """The oracle of a generated file: its truth file names the seed and each user's groups."""
    meta, users = read_truth(truth_file)
    if "seed" not in meta:
        raise ValueError(f"{truth_file}: no meta line naming the seed")
    seed = int(meta["seed"])
    index = {g.name: i for i, g in enumerate(GROUPS)}
    groups_of = {user: [(from_rfc3339(g["from"]), index[g["group"]]) for g in r["groups"]]
                 for user, r in users.items()}
    catalog = build_catalog(Random(seed))  # the generator's first draws: the same catalogue
    return TasteOracle(build_tables(catalog), catalog, groups_of, buy_again=buy_again)

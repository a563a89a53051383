"""The generator's oracle (what a model could know at best) and the prequential harness
that scores it beside the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.config import EngineConfig
from models.engine import Engine
from models.recommenders.popularity import GLOBAL
from models.segments import DEFAULT_RULES_PATH, load_rules
from models.simulation.prequential import prequential_hit_rate
from schemas.decode import Rejection, decode_event
from schemas.events import EventBase, ProductView, Purchase
from streams.generator import GROUPS, generate, truth_path
from streams.generator.oracle import RANKING_DEPTH, load_oracle
from streams.generator.sessions import BOUGHT_MEMORY
from tests.factories import at, purchase, raw


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[EventBase]]:
    out = tmp_path_factory.mktemp("gen") / "events.jsonl"
    generate(600, 30_000, 5, out)
    events = [e for e in map(decode_event, out.read_bytes().splitlines()) if not isinstance(e, Rejection)]
    return out, events


def test_oracle_knows_the_generated_catalogue_and_how_each_group_views_it(gen):
    out, events = gen
    oracle = load_oracle(truth_path(out))
    in_top = [0] * len(GROUPS)
    views = [0] * len(GROUPS)
    for ev in events:
        if isinstance(ev, ProductView) and ev.user_id is not None:
            item = ev.properties.item_id
            assert item in oracle.view_share[0], item  # the same catalogue (same seed)
            g = oracle.group_at(ev.user_key, ev.ts)
            assert g is not None
            views[g] += 1
            in_top[g] += item in oracle.ranking[g]
    for g, group in enumerate(GROUPS):
        # the share of a group's views that land in its ranking is what the oracle predicts
        expected = sum(oracle.view_share[g][i] for i in oracle.ranking[g])
        assert views[g] > 500, group.name
        assert abs(in_top[g] / views[g] - expected) < 0.05, (group.name, in_top[g] / views[g], expected)
        # and far more than any other group's ranking would catch
        other = max(sum(oracle.view_share[g][i] for i in oracle.ranking[h])
                    for h in range(len(GROUPS)) if h != g)
        assert expected > other + 0.1, group.name


def test_oracle_follows_group_shifts_from_the_truth_file(gen):
    out, _ = gen
    oracle = load_oracle(truth_path(out))
    shifted = {u: gs for u, gs in oracle.groups_of.items() if len(gs) > 1}
    assert shifted
    user, groups = next(iter(sorted(shifted.items())))
    (_, g0), (t1, g1) = groups
    assert g0 != g1
    assert oracle.group_at(user, t1 - 1.0) == g0
    assert oracle.group_at(user, t1) == g1
    assert oracle.recommend(user, t1, 5) == oracle.ranking[g1][:5]  # nothing bought yet
    assert oracle.group_at("nobody", t1) is None and oracle.recommend("nobody", t1, 5) == []


def test_oracle_puts_bought_items_first_and_forgets_as_the_generator_does(gen):
    out, events = gen
    oracle = load_oracle(truth_path(out))
    user = next(e for e in events if isinstance(e, Purchase) and e.user_id is not None).user_key
    t = next(e.ts for e in events if e.user_key == user)
    group = oracle.group_at(user, t)
    assert group is not None
    far = oracle.ranking[group][RANKING_DEPTH - 1]  # an item the oracle ranks low
    for n in range(BOUGHT_MEMORY + 5):
        item = far if n == 0 else f"x{n}"
        ev = decode_event(raw(purchase(user, at(1), [(item, "home", 1.0)])))
        assert isinstance(ev, Purchase)
        oracle.observe(ev)
    listed = oracle.recommend(user, t, 10)
    assert far not in listed  # dropped from the buy-again memory, as the generator drops it
    assert all(item.startswith("x") for item in listed)  # bought items first
    assert len(oracle._bought[user]) == BOUGHT_MEMORY


class _Fixed:
    """A lister that gives the engine's own global popularity: the baseline, exactly."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.observed = 0

    def recommend(self, user: str, ts: float, k: int) -> list[str]:
        return [item for item, _, _ in self.engine.popularity.top(GLOBAL, k)]

    def observe(self, ev: EventBase) -> None:
        self.observed += 1


class _Nothing:
    def recommend(self, user: str, ts: float, k: int) -> list[str]:
        return []

    def observe(self, ev: EventBase) -> None:
        pass


def test_prequential_scores_other_listers_on_the_same_purchases(gen):
    out, events = gen
    engine = Engine(load_rules(DEFAULT_RULES_PATH), EngineConfig(rebuy_after_days=0.0))
    fixed = _Fixed(engine)
    oracle = load_oracle(truth_path(out))
    others = {"baseline": fixed, "nothing": _Nothing(), "oracle": oracle}
    r = prequential_hit_rate(engine, events, others=others)
    assert r.purchases > 300
    assert fixed.observed == len(events)
    assert r.other_hits["baseline"] == r.baseline_hits  # asked at the same moments, same state
    assert r.other_hits["nothing"] == 0
    assert r.other("oracle") > 1.5 * r.baseline  # the true groups are worth a lot

"""Closed-loop bandit simulation: known click rates, the real engine, feedback in time order.

Users belong to latent taste groups. Each group browses mostly one category and has a
**known click rate per variant** of one placement (``home``), with a different best
variant per group. The engine only sees events: product views (``noise`` of them in
another category), then a ``page_view`` on ``home`` that the engine answers with a
decision and a variant; a click is drawn from the known rate of (group, variant) with a
seeded RNG and fed back as a ``feedback`` event 1-10 minutes later, in time order.

What makes the group observable (honestly): one rule segment per category,
``likes_<category>``: at least two product views of the category in 30 days and more than
of any other category. The engine never sees the latent group: a user whose browsing is
ambiguous is in no segment (the ``*`` bandit) or in another group's segment.

Measured after ``warmup_fraction`` of the decisions (in time order), on the treatment
decisions (the experiment's holdout gets the default variant):

- ``click_rate_vs_best``: per group, the mean known click rate of the chosen variants
  (and the realized click rate) over the best variant's rate (target >= 0.9);
- ``ips``: the inverse-propensity estimate of a uniform-random policy's click rate from
  all logged treatment decisions, ``mean(1/K / propensity * click)``
  (:func:`models.evaluation.ips`, with SNIPS and doubly robust beside it), against its
  true value (the mean over groups of the mean rate across variants, weighted by each
  group's share of those decisions; target within 10%);
- ``holdout``: control vs treatment click rate from :func:`models.offers.lift.lift_report`.

>>> res = simulate_bandit(BanditSimulation(users=300, sessions=3))
>>> sorted(res) == sorted(["config", "decisions", "click_rate_vs_best", "ips", "holdout", "context_accuracy",
...                        "outcomes"])
True
"""

from __future__ import annotations

import heapq
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from models.config import EngineConfig
from models.engine.batch import InputRecord
from models.engine.engine import Engine
from models.evaluation.policy_value import Logged, RewardModel, doubly_robust, ips, snips, uniform_policy
from models.offers.catalog import OfferCatalog
from models.offers.lift import LiftReport
from models.segments import parse_rules
from schemas.control import OfferRecord

#: Epoch of simulated time (2026-01-01T00:00:00Z).
T0 = 1_767_225_600.0
VARIANTS: tuple[str, ...] = ("a", "b", "c", "d")


@dataclass(frozen=True, slots=True)
class Group:
    """A latent taste group: the category it browses, its share, its click rate per variant."""

    name: str
    category: str
    share: float
    rates: tuple[float, ...]


DEFAULT_GROUPS: tuple[Group, ...] = (
    Group("outdoor-fans", "outdoor", 0.5, (0.10, 0.30, 0.15, 0.20)),
    Group("readers", "books", 0.3, (0.12, 0.10, 0.28, 0.16)),
    Group("parents", "toys", 0.2, (0.15, 0.12, 0.10, 0.26)),
)


@dataclass(frozen=True, slots=True)
class BanditSimulation:
    """Size and hyperparameters of one simulation run."""

    users: int = 6000
    #: Sessions per user; each ends with one ``home`` decision.
    sessions: int = 8
    #: Product views per session before the decision.
    views: int = 2
    #: Probability a product view is in another group's category.
    noise: float = 0.15
    #: Users arrive over the first half of ``days``; sessions follow every ~1.5 days.
    days: float = 30.0
    groups: tuple[Group, ...] = DEFAULT_GROUPS
    seed: int = 7
    epsilon: float = 0.1
    #: Experiment holdout on the placement (control gets the default variant ``a``).
    holdout: float = 0.1
    #: ``segment`` (a bandit per segment) or ``global`` (one bandit for the placement).
    context: str = "segment"
    warmup_fraction: float = 0.25
    batch_s: float = 60.0
    #: Further ``EngineConfig`` fields, as (name, value) pairs (e.g. ``(("offer_cap", 3),)``).
    engine: tuple[tuple[str, Any], ...] = ()


def rules_text(categories: tuple[str, ...]) -> str:
    """One ``likes_<category>`` rule segment per category (see the module docstring)."""
    lines = ["version: 1", "segments:"]
    for c in categories:
        mine = f'category_count(product_view, "{c}", 30d)'
        others = " and ".join(
            f'{mine} > category_count(product_view, "{o}", 30d)' for o in categories if o != c)
        lines += [f"  - id: likes_{c}", f"    name: Browses {c} most",
                  f"    when: '{mine} >= 2 and {others}'"]
    return "\n".join(lines) + "\n"


def catalog(holdout: float) -> OfferCatalog:
    """The ``home`` placement: four banner variants, default ``a``, an experiment."""
    rec = msgspec.convert({
        "placement": "home", "default_variant": "a",
        "variants": [{"id": v, "title": f"Banner {v.upper()}"} for v in VARIANTS],
        "experiment": {"id": "home-banner", "holdout_fraction": holdout},
    }, OfferRecord)
    return OfferCatalog.from_records([rec])


def engine_config(sim: BanditSimulation) -> EngineConfig:
    """The engine configuration of a simulation run (to replay its recorded log)."""
    cats = tuple(g.category for g in sim.groups)
    return EngineConfig(
        seed=sim.seed, offer_epsilon=sim.epsilon, offer_context=sim.context,
        offer_segments=tuple(f"likes_{c}" for c in cats), **dict(sim.engine),
    )


def _iso(t: float) -> str:
    return datetime.fromtimestamp(T0 + t, UTC).isoformat()


def _schedule(sim: BanditSimulation, rng: random.Random) -> tuple[list[tuple[float, int, bytes]], list[int]]:
    """Every user's views and page views, in time order; and each user's group index."""
    cats = tuple(g.category for g in sim.groups)
    weights = [g.share for g in sim.groups]
    groups = rng.choices(range(len(sim.groups)), weights=weights, k=sim.users)
    events: list[tuple[float, int, bytes]] = []
    seq = 0
    enc = msgspec.json.encode
    for u in range(sim.users):
        g = groups[u]
        t = rng.uniform(0.0, sim.days * 86_400.0 / 2)
        for s in range(sim.sessions):
            for v in range(sim.views):
                cat = cats[g] if rng.random() >= sim.noise else rng.choice([c for c in cats if c != cats[g]])
                item = f"{cat}-{rng.randrange(50)}"
                events.append((t, seq, enc({
                    "type": "product_view", "event_id": f"v{u}-{s}-{v}", "user_id": f"u{u}",
                    "event_time": _iso(t), "properties": {"item_id": item, "category": cat, "price": 20.0},
                })))
                seq += 1
                t += 30.0
            events.append((t, seq, enc({
                "type": "page_view", "event_id": f"p{u}-{s}", "user_id": f"u{u}",
                "event_time": _iso(t), "properties": {"path": "/"},
            })))
            seq += 1
            t += rng.expovariate(1.0 / (1.5 * 86_400.0)) + 600.0
    events.sort()
    return events, groups


def run(sim: BanditSimulation, record: bool = False) -> dict[str, Any]:
    """Run the closed loop; returns the logged decisions and the lift report, and with
    ``record`` the input log (``events``: every record the engine read, in order, feedback
    included; replaying it with the same rules, config and catalogue on one partition gives
    the same decisions) and each user's group (``groups``, by user id)."""
    rng = random.Random(sim.seed)
    events, groups = _schedule(sim, rng)
    cats = tuple(g.category for g in sim.groups)
    config = engine_config(sim)
    engine = Engine(parse_rules(rules_text(cats)), config, offers=catalog(sim.holdout))
    click_rng = random.Random(sim.seed * 1_000_003 + 1)
    queue: list[tuple[float, int, bytes]] = list(events)
    heapq.heapify(queue)
    seq = len(events)
    log: list[dict[str, Any]] = []
    lift = LiftReport()
    outcomes: dict[str, int] = {}
    k = len(VARIANTS)
    recorded: list[bytes] = []
    while queue:
        start = queue[0][0]
        batch: list[InputRecord] = []
        while queue and queue[0][0] < start + sim.batch_s:
            batch.append(InputRecord(heapq.heappop(queue)[2]))
        if record:
            recorded.extend(r.raw for r in batch)
        out = engine.process_many(batch)
        for name, n in out.outcomes.items():
            outcomes[name] = outcomes.get(name, 0) + n
        for d in out.decisions:
            lift.add_decision(d)
            if d.variant is None:
                continue
            u = int(d.user_id[1:])
            g = groups[u]
            rate = sim.groups[g].rates[VARIANTS.index(d.variant.variant_id)]
            clicked = click_rng.random() < rate
            t = datetime.fromisoformat(d.event_time).timestamp() - T0
            log.append({
                "t": t, "group": g, "variant": d.variant.variant_id, "propensity": d.variant.propensity,
                "rate": rate, "clicked": clicked, "control": d.kind == "control",
                "context": d.variant.policy.rpartition("|")[2],
            })
            if clicked:
                lift.add_feedback(d.decision_id, "click")
                ft = t + click_rng.uniform(60.0, 600.0)
                heapq.heappush(queue, (ft, seq, msgspec.json.encode({
                    "type": "feedback", "event_id": f"f-{d.decision_id}", "user_id": d.user_id,
                    "event_time": _iso(ft),
                    "properties": {"decision_id": d.decision_id, "action": "click",
                                   "variant_id": d.variant.variant_id},
                })))
                seq += 1
    out = engine.advance_to(T0 + max(e[0] for e in events) + 2 * config.offer_attribution_window_s)
    for name, n in out.outcomes.items():
        outcomes[name] = outcomes.get(name, 0) + n
    res = {"log": log, "lift": lift.report(), "outcomes": dict(sorted(outcomes.items())), "k": k,
           "engine": engine}
    if record:
        res["events"] = recorded
        res["groups"] = {f"u{u}": g for u, g in enumerate(groups)}
    return res


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def simulate_bandit(sim: BanditSimulation = BanditSimulation()) -> dict[str, Any]:
    """Run the simulation and measure the two bandit targets and the holdout lift."""
    res = run(sim)
    log: list[dict[str, Any]] = res["log"]
    treat = [r for r in log if not r["control"]]
    cut = sorted(r["t"] for r in log)[int(len(log) * sim.warmup_fraction)] if log else 0.0
    after = [r for r in treat if r["t"] >= cut]
    per_group: dict[str, Any] = {}
    for gi, g in enumerate(sim.groups):
        rows = [r for r in after if r["group"] == gi]
        n = len(rows)
        best = max(g.rates)
        expected = sum(r["rate"] for r in rows) / n if n else 0.0
        realized = sum(r["clicked"] for r in rows) / n if n else 0.0
        per_group[g.name] = {
            "decisions": n, "best_variant": VARIANTS[g.rates.index(best)], "best_rate": best,
            "chosen_rate": round(expected, 4), "realized_rate": round(realized, 4),
            "ratio": _ratio(expected, best), "realized_ratio": _ratio(realized, best),
            "best_variant_share": round(
                sum(r["variant"] == VARIANTS[g.rates.index(best)] for r in rows) / n, 4) if n else 0.0,
        }
    # IPS (SNIPS, DR) of the uniform-random policy over every logged treatment decision
    n = len(treat)
    logs = [Logged(f"home|{r['context']}", r["variant"], r["propensity"], float(r["clicked"]), VARIANTS)
            for r in treat]
    uni_ips = ips(logs, uniform_policy)
    uni_snips = snips(logs, uniform_policy)
    uni_dr = doubly_robust(logs, uniform_policy, RewardModel.fit(logs))
    shares = [sum(r["group"] == gi for r in treat) / n if n else 0.0 for gi in range(len(sim.groups))]
    truth = sum(s * sum(g.rates) / len(g.rates) for s, g in zip(shares, sim.groups, strict=True))
    truth_config = sum(g.share * sum(g.rates) / len(g.rates) for g in sim.groups) / sum(
        g.share for g in sim.groups)
    exp = res["lift"]["experiments"].get("home-banner", {})
    ctx_ok = sum(r["context"] == f"likes_{sim.groups[r['group']].category}" for r in after)
    return {
        "config": {k_: v for k_, v in asdict(sim).items() if k_ != "groups"}
        | {"groups": [asdict(g) for g in sim.groups]},
        "decisions": {"total": len(log), "treatment": n, "control": len(log) - n,
                      "after_warmup_treatment": len(after)},
        "click_rate_vs_best": per_group,
        "ips": {"uniform_policy_estimate": round(uni_ips.value, 5),
                "uniform_policy_ci": [round(uni_ips.low, 5), round(uni_ips.high, 5)],
                "snips_estimate": round(uni_snips.value, 5), "dr_estimate": round(uni_dr.value, 5),
                "dr_ci": [round(uni_dr.low, 5), round(uni_dr.high, 5)],
                "truth": round(truth, 5), "truth_config_shares": round(truth_config, 5),
                "relative_error": round(abs(uni_ips.value - truth) / truth, 4) if truth else 0.0,
                "dr_relative_error": round(abs(uni_dr.value - truth) / truth, 4) if truth else 0.0,
                "logged_decisions": n},
        "holdout": {
            "treatment_click_rate": exp.get("treatment", {}).get("click_rate"),
            "control_click_rate": exp.get("control", {}).get("click_rate"),
            "lift": exp.get("lift", {}).get("click_rate"),
            "treatment_decisions": exp.get("treatment", {}).get("decisions"),
            "control_decisions": exp.get("control", {}).get("decisions"),
            "segments": {s: v.get("lift", {}).get("click_rate") for s, v in exp.get("segments", {}).items()},
        },
        "context_accuracy": round(ctx_ok / len(after), 4) if after else 0.0,
        "outcomes": res["outcomes"],
    }


def main() -> None:  # pragma: no cover - a CLI for people
    """``python -m models.simulation.bandit [users] [sessions]``: print the JSON report."""
    import sys

    users = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
    sessions = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    report = {ctx: simulate_bandit(BanditSimulation(users=users, sessions=sessions, context=ctx))
              for ctx in ("segment", "global")}
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(report), indent=2).decode() + "\n")


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["DEFAULT_GROUPS", "BanditSimulation", "Group", "catalog", "engine_config", "rules_text", "run",
           "simulate_bandit"]

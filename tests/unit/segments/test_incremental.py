"""Incremental rule evaluation (only the rules an event can change) == evaluating every rule.

The engine re-evaluates only the rules whose inputs an event touched
(models/segments/dependencies.py) plus the time-dependent ones at due times. These tests
run the same input through an engine with incremental evaluation and one without, and
require byte-identical outputs: random event sequences (late events, identify, consent,
returns, sessions, bucket pruning) over a rule set that uses every input the language has,
and the generator's stream over the shipped segments.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from models.config import EngineConfig
from models.engine import Engine, InputRecord
from models.profiles.update import AFFINITY_WEIGHTS
from models.segments import DEFAULT_RULES_PATH, load_rules, parse_rules
from models.segments.dependencies import rule_dependencies
from models.segments.parser import parse_expression
from tests.factories import at, event, purchase

EVERY_INPUT = """
version: 1
segments:
  - {id: buyer_60d, name: a, when: "count(purchase, 60d) >= 1"}
  - {id: never_bought_sub, name: b, when: "traits.email_subscriber == true and count(purchase) == 0"}
  - {id: outdoor, name: c, when: 'category_count(purchase, "outdoor", 365d) >= 1'}
  - {id: rfm, name: d, when: "days_since(purchase) <= 3 and revenue(30d) >= 50"}
  - {id: lapsed, name: e, when: "count(purchase) >= 1 and days_since(purchase) > 5"}
  - {id: clock_vs_field, name: f, when: "days_since(page_view) > traits.age"}
  - {id: fan, name: g, when: 'affinity("fashion") >= 2'}
  - {id: newbie, name: h, when: "profile.days_since_first_seen <= 2"}
  - {id: sessions, name: i, when: "profile.sessions >= 3"}
  - {id: events, name: j, when: "profile.events >= 5"}
  - {id: aov, name: k, when: "profile.avg_order_value >= 40"}
  - {id: cart, name: l, when: "profile.cart_items >= 2"}
  - {id: consented, name: m, when: "consent.marketing == true"}
  - {id: decade, name: n, when: "count(page_view, 3000d) >= 2"}
  - {id: returner, name: o, when: "count(return, 30d) >= 1 or revenue() < 0"}
  - {id: extra, name: p, when: 'traits.extra.tier in ["gold", 3]'}
"""

USERS = ["u1", "u2", "u3"]
CATS = ["fashion", "outdoor", None]


def _event(kind: str, user: str, day: float, n: int) -> dict[str, object]:
    when = at(days=day)
    cat = CATS[n % len(CATS)]
    if kind == "purchase":
        return purchase(user, when, [(f"sku-{n % 4}", cat or "home", 10.0 + 20 * (n % 3))])
    if kind == "return":
        return event("return", user, when, order_id=f"o{n}", revenue=15.0)
    if kind == "identify":
        return event("identify", user, when, traits={
            "age": n % 9, "email_subscriber": n % 2 == 0, "extra": {"tier": ["gold", 3, "x"][n % 3]}})
    if kind == "consent":
        return event("consent", user, when, marketing=n % 2 == 0)
    if kind == "add_to_cart":
        return event("add_to_cart", user, when, item_id=f"sku-{n % 4}", category=cat, quantity=1)
    if kind == "remove_from_cart":
        return event("remove_from_cart", user, when, item_id=f"sku-{n % 4}", quantity=1)
    props = {"category": cat} if cat else {}
    if kind == "product_view":
        return event("product_view", user, when, item_id=f"sku-{n % 4}", **props)
    return event("page_view", user, when, session_id=f"s{n // 3}", **props)


KINDS = ["page_view", "product_view", "add_to_cart", "remove_from_cart", "purchase", "return",
         "identify", "consent"]  # fmt: skip

steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.sampled_from(USERS),
              st.floats(min_value=-3.0, max_value=12.0, allow_nan=False)),  # negative: late events
    min_size=1, max_size=60,
)


def _run(records: list[bytes], rules_text: str, incremental: bool, cfg: EngineConfig) -> list[bytes]:
    eng = Engine(parse_rules(rules_text), cfg)
    eng.incremental_rules = incremental
    outs = []
    for i in range(0, len(records), 7):
        o = eng.process_many([InputRecord(r) for r in records[i : i + 7]])
        outs.append(msgspec.json.encode([o.decisions, o.segment_changes, o.dead_letters]))
    if eng.watermark is not None:  # let every pending time-based change fire
        o = eng.advance_to(eng.watermark + 4000 * 86400.0)
        outs.append(msgspec.json.encode([o.decisions, o.segment_changes]))
    return outs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
# an event 0.864 s after a clock threshold, before its due time (threshold + 1 s): found by a
# longer run; the engine now evaluates every timed rule for events that close to a due time
@example([("page_view", "u1", 0.0), ("page_view", "u1", 2.00001)])
def test_incremental_evaluation_equals_evaluating_every_rule(seq):
    day = 0.0
    records = []
    for n, (kind, user, jump) in enumerate(seq):
        if jump >= 0:
            day += jump
        when = day if jump >= 0 else max(day + jump, 0.0)  # negative jump: a late event
        records.append(orjson.dumps(_event(kind, user, when, n)))
    cfg = EngineConfig(bucket_retention_days=10, max_past_s=1e9)  # pruning reachable in the test
    full = _run(records, EVERY_INPUT, False, cfg)
    assert b"processing_error" not in b"".join(full) and b"invalid" not in b"".join(full)
    assert _run(records, EVERY_INPUT, True, cfg) == full


def test_incremental_equals_full_on_the_generator_with_the_shipped_segments(tmp_path: Path):
    from streams.generator import generate

    path = tmp_path / "events.jsonl"
    generate(300, 6000, 11, path)
    lines = path.read_bytes().splitlines()
    rules = load_rules(DEFAULT_RULES_PATH)
    runs = []
    for incremental in (True, False):
        eng = Engine(rules)
        eng.incremental_rules = incremental
        outs = [eng.process_many([InputRecord(r) for r in lines[i : i + 200]])
                for i in range(0, len(lines), 200)]
        outs.append(eng.advance_to((eng.watermark or 0.0) + 400 * 86400.0))
        runs.append(msgspec.json.encode([[o.decisions, o.segment_changes] for o in outs]))
    assert runs[0] == runs[1]
    assert runs[0].count(b'"change":"exited"') > 50  # time-based exits happened and matched


def test_dependencies_of_each_input():
    deps = {src: rule_dependencies(parse_expression(src)) for src in [
        "count(purchase, 60d) >= 1", "traits.age > 3", "consent.marketing == true",
        "profile.sessions >= 2", "profile.events >= 2", 'affinity("x") > 1',
        'affinity("x") > traits.age',
        "days_since(purchase) > 3", "days_since(purchase) > traits.age",
        "profile.days_since_first_seen <= 7", "profile.cart_items > 1",
    ]}  # fmt: skip
    assert deps["count(purchase, 60d) >= 1"].keys == ("$pruned", "purchase")
    assert deps["traits.age > 3"].keys == ("identify",) and not deps["traits.age > 3"].timed
    assert deps["consent.marketing == true"].keys == ("consent",)
    assert deps["profile.sessions >= 2"].keys == ("$sessions",)
    assert deps["profile.events >= 2"].volatile
    fan = deps['affinity("x") > 1']
    assert not fan.volatile and fan.timed and fan.timers == ("$affinity:x",)
    assert set(fan.keys) == set(AFFINITY_WEIGHTS)  # every event type that moves an affinity
    assert deps['affinity("x") > traits.age'].volatile
    assert not deps["days_since(purchase) > 3"].volatile and deps["days_since(purchase) > 3"].timed
    assert deps["days_since(purchase) > traits.age"].volatile
    assert deps["profile.days_since_first_seen <= 7"].keys == ("$first_seen",)
    assert deps["profile.cart_items > 1"].keys == ("add_to_cart", "purchase", "remove_from_cart")


def test_a_profile_from_another_rule_set_is_fully_re_evaluated_once():
    first = parse_rules('segments: [{id: a, name: A, when: "count(page_view) >= 1"}]')
    second = parse_rules('segments: [{id: a, name: A, when: "count(page_view) >= 1"},'
                         ' {id: b, name: B, when: "count(page_view) >= 1"}]')
    eng = Engine(first)
    eng.process_many([InputRecord(orjson.dumps(event("page_view", "u1", at(0))))])
    state = {k: v for k, v in eng.store.items()}
    later = Engine(second)  # e.g. a restart with an edited rules file, state restored
    later.store.write_many(state)
    out = later.process_many([InputRecord(orjson.dumps(event("product_view", "u1", at(1), item_id="i")))])
    assert [(c.segment_id, c.change) for c in out.segment_changes] == [("b", "entered")]

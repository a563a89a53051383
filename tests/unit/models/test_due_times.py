"""Due times on real profiles: between two due times, with no new event, no rule changes.

The rule-level tests (tests/unit/segments/test_timing.py) use a fake view whose
affinities do not decay; here the engine builds real profiles (day buckets, last times,
decaying affinities, first-seen age) from random events, and membership is probed at
instants between consecutive due times with :class:`ProfileAt`, the view the engine uses.
"""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.engine import Engine, InputRecord
from models.profiles.view import ProfileAt
from models.segments import DEFAULT_RULES_PATH, parse_rules
from models.segments.timing import EPSILON_SECONDS
from tests.factories import at, event, purchase

DAY = 86400.0
#: The shipped rules plus affinity thresholds crossed from above and from below.
RULES = DEFAULT_RULES_PATH.read_text() + """
  - {id: outdoor_mid, name: x, when: 'affinity("outdoor") between 1 and 4'}
  - {id: outdoor_cooling, name: y, when: 'affinity("outdoor") < 2.5 and count(purchase) >= 1'}
  - {id: fashion_fading, name: z, when: 'affinity("fashion") > 0.75 and days_since(purchase) <= 3'}
"""
CATS = ["fashion", "outdoor", "pets", "home"]
KINDS = ["page_view", "product_view", "add_to_cart", "purchase", "return", "email_open",
         "email_click", "search"]  # fmt: skip

steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.sampled_from(CATS), st.floats(0.0, 9.0)),
    min_size=1, max_size=25,
)


def _event(kind: str, cat: str, day: float, n: int) -> dict[str, object]:
    when = at(days=day)
    if kind == "purchase":
        return purchase("u1", when, [(f"sku-{n % 5}", cat, 20.0 + 40 * (n % 4))])
    if kind == "return":
        line = {"item_id": f"sku-{n % 5}", "category": cat, "price": 15.0, "quantity": 1}
        return event("return", "u1", when, order_id=f"o{n}", items=[line], revenue=15.0)
    if kind in ("email_open", "email_click"):
        return event(kind, "u1", when, campaign_id="c1", message_id=f"m{n}")
    if kind == "search":
        return event("search", "u1", when, query="q", category=cat)
    if kind == "page_view":
        return event("page_view", "u1", when, session_id=f"s{n // 4}", category=cat)
    return event(kind, "u1", when, item_id=f"sku-{n % 5}", category=cat, quantity=1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seq=steps, probes=st.lists(st.floats(0.0, 0.999), min_size=1, max_size=4))
def test_membership_is_constant_between_due_times(seq, probes):
    eng = Engine(parse_rules(RULES))
    day = 0.0
    records = []
    for n, (kind, cat, jump) in enumerate(seq):
        day += jump
        records.append(InputRecord(orjson.dumps(_event(kind, cat, day, n))))
    out = eng.process_many(records)
    assert not out.dead_letters
    profile = eng.lookup("u1")
    assert profile is not None
    hl = eng.config.affinity_half_life_days
    now = eng.watermark
    assert now is not None
    rules = eng.rules
    for _ in range(300):
        view = ProfileAt(profile, now, hl)
        due = rules.next_due(view)
        before = rules.members(view)
        end = due if due is not None else now + 800 * DAY
        # a threshold is crossed up to EPSILON_SECONDS before its due time (by design);
        # probes stay clear of the crossing instant itself (a float tie)
        span = max(0.0, end - now - EPSILON_SECONDS)
        for frac in (0.5, 0.999, *probes):
            probe = now + span * frac
            assert rules.members(ProfileAt(profile, probe, hl)) == before, (probe, now, due)
        if due is None:
            break
        assert due > now
        now = due
    else:
        raise AssertionError("next_due never settled")

"""Time-based entry and exit: membership changes as `now` advances with no new event,
and next_due says exactly when."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.segments import DEFAULT_RULES_PATH, load_rules, parse_rules
from models.segments.timing import EPSILON_SECONDS


def one(segment_id: str, when: str):
    return parse_rules(f"segments: [{{id: {segment_id}, when: '{when}'}}]")


def test_lapsed_enters_exactly_at_next_due(fake):
    rules = one("lapsed", "count(purchase) >= 1 and days_since(purchase) > 60")
    bought = fake.T0 - 10 * fake.DAY
    view = fake.View(fake.T0, (fake.Ev("purchase", bought),))
    due = rules.next_due(view)
    assert due == bought + 60 * fake.DAY + 1
    assert rules.members(view) == ()
    assert rules.members(view.at(due - 1)) == ()  # exactly 60 days: not > 60 yet
    assert rules.members(view.at(due)) == ("lapsed",)
    assert rules.next_due(view.at(due)) is None  # nothing left to change without an event


def test_recent_buyer_exits_exactly_at_next_due(fake):
    rules = one("recent_buyer", "count(purchase, 60d) >= 1")
    bought = fake.T0 - 3.5 * fake.DAY
    view = fake.View(fake.T0, (fake.Ev("purchase", bought),))
    due = rules.next_due(view)
    assert due == (math.floor(bought / fake.DAY) + 60) * fake.DAY
    assert rules.members(view) == ("recent_buyer",)
    assert rules.members(view.at(due - 1)) == ("recent_buyer",)
    assert rules.members(view.at(due)) == ()
    assert rules.next_due(view.at(due)) is None


def test_next_due_takes_the_earliest_bucket_and_window(fake):
    rules = parse_rules(
        """
segments:
  - {id: a, when: "count(purchase, 30d) >= 2"}
  - {id: b, when: "count(page_view, 7d) >= 1"}
"""
    )
    today = math.floor(fake.T0 / fake.DAY)
    events = (
        fake.Ev("purchase", (today - 20) * fake.DAY + 5),
        fake.Ev("page_view", (today - 2) * fake.DAY + 5),
        fake.Ev("page_view", (today - 40) * fake.DAY + 5),  # already out of every window
    )
    view = fake.View(fake.T0, events)
    # Candidates: (today-2)+7, (today-2)+30, (today-20)+30 -> earliest is today+5.
    assert rules.next_due(view) == (today + 5) * fake.DAY


def test_next_due_is_none_without_time_dependence(fake):
    rules = one("buyer", "count(purchase) >= 1 and traits.age >= 18")
    view = fake.View(fake.T0, (fake.Ev("purchase", fake.T0 - fake.DAY),), {"traits.age": 30})
    assert rules.next_due(view) is None
    windowed = one("recent", "count(purchase, 60d) >= 1")
    assert windowed.next_due(fake.View(fake.T0)) is None  # no activity, nothing to expire
    since = one("lapsed", "days_since(purchase) > 60")
    assert since.next_due(fake.View(fake.T0)) is None  # never bought


def test_next_due_for_between_and_both_comparison_orders(fake):
    rules = parse_rules(
        """
segments:
  - {id: mid, when: "days_since(purchase) between 7 and 14"}
  - {id: flipped, when: "30 < days_since(email_open)"}
"""
    )
    bought = fake.T0 - fake.DAY
    opened = fake.T0 - 20 * fake.DAY
    view = fake.View(fake.T0, (fake.Ev("purchase", bought), fake.Ev("email_open", opened)))
    assert rules.next_due(view) == bought + 7 * fake.DAY + 1
    later = view.at(bought + 7 * fake.DAY + 1)
    assert rules.members(later) == ("mid",)
    assert rules.next_due(later) == opened + 30 * fake.DAY + 1
    later = later.at(opened + 30 * fake.DAY + 1)
    assert rules.members(later) == ("mid", "flipped")
    assert rules.next_due(later) == bought + 14 * fake.DAY + 1
    assert rules.members(later.at(bought + 14 * fake.DAY + 1)) == ("flipped",)


def test_next_due_for_days_since_first_seen(fake):
    rules = one("new_visitor", "profile.days_since_first_seen <= 7")
    view = fake.View(fake.T0, fields={"profile.days_since_first_seen": 2.5})
    assert rules.next_due(view) == pytest.approx(fake.T0 + 4.5 * fake.DAY + 1)


def test_membership_is_constant_until_next_due_for_the_default_rules(fake):
    """Walk the shipped rules through time with no new event: every change happens at a due."""
    rules = load_rules(DEFAULT_RULES_PATH)
    t = fake.T0
    events = (
        *(fake.Ev("purchase", t - d * fake.DAY, "outdoor", 120.0) for d in (1, 20, 50, 100, 200)),
        fake.Ev("add_to_cart", t - 0.5 * fake.DAY),
        fake.Ev("email_open", t - 2 * fake.DAY),
        fake.Ev("email_click", t - 3 * fake.DAY),
    )
    view = fake.View(t, events, {"profile.days_since_first_seen": 250.0})
    seen = [rules.members(view)]
    changes = 0
    for _ in range(100):
        due = rules.next_due(view)
        if due is None:
            break
        assert due > view.now
        before = rules.members(view)
        for frac in (0.25, 0.5, 0.999):
            probe = view.now + (due - view.now) * frac
            probe_view = view.at(probe)
            assert rules.members(probe_view) == before, (probe, due)
        # fields that grow with time are the profile's business; keep it consistent here
        age = 250.0 + (due - t) / fake.DAY
        view = fake.View(due, events, {"profile.days_since_first_seen": age})
        after = rules.members(view)
        changes += after != before
        seen.append(after)
    else:
        pytest.fail("next_due never settled")
    assert changes >= 5
    assert "lapsed" in seen[-1] and "rfm_hibernating" in seen[-1]
    assert "recent_buyer" in seen[0] and "recent_buyer" not in seen[-1]


# -- no change between due times, for random time-dependent rules and activity -----------
TYPES = ["purchase", "page_view", "add_to_cart", "email_open", "return"]
_reads = st.one_of(
    st.builds("count({}, {}d)".format, st.sampled_from(TYPES), st.sampled_from([1, 7, 30, 60])),
    st.builds('category_count({}, "outdoor", {}d)'.format, st.sampled_from(TYPES),
              st.sampled_from([7, 30])),
    st.builds("revenue({}d)".format, st.sampled_from([7, 30])),
    st.builds("days_since({})".format, st.sampled_from(TYPES)),
)
_atoms = st.builds("{} {} {}".format, _reads, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
                   st.sampled_from(["0", "1", "2", "5", "20", "45"]))
_rules = st.lists(st.recursive(_atoms, lambda inner: st.one_of(
    st.builds("{} and {}".format, inner, inner), st.builds("{} or {}".format, inner, inner),
    st.builds("not ({})".format, inner)), max_leaves=4), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions=_rules, data=st.data())
def test_no_rule_changes_between_due_times(fake, conditions, data):
    """Walk random rules through time with no new event: membership at random instants
    before each due time equals membership at the previous one (a missed due time, e.g.
    a window that a day of another event type leaves, or a skipped relevant day, fails).

    A clock threshold is due one second after it is crossed (``EPSILON_SECONDS``: so that
    a strict comparison has flipped by then), so a rule such as ``days_since(x) >= c`` or
    ``days_since(x) == 0`` changes up to that second before its due time: probes stay a
    second short of it."""
    rules = parse_rules(yaml.safe_dump({"segments": [
        {"id": f"r{i}", "when": when} for i, when in enumerate(conditions)]}))
    events = tuple(data.draw(st.lists(st.builds(
        fake.Ev, st.sampled_from(TYPES), st.floats(fake.T0 - 70 * fake.DAY, fake.T0),
        st.sampled_from([None, "outdoor"]), st.floats(0, 300)), min_size=1, max_size=12)))
    view = fake.View(fake.T0, events)
    for _ in range(200):
        due = rules.next_due(view)
        before = rules.members(view)
        end = due if due is not None else view.now + 200 * fake.DAY
        more = data.draw(st.lists(st.floats(0.0, 0.999), max_size=3))  # 1 - 1e-16 rounds to due
        for frac in (0.0, 0.5, 0.999, *more):
            probe = view.now + max(0.0, end - EPSILON_SECONDS - view.now) * frac
            assert rules.members(view.at(probe)) == before, (probe, due)
        if due is None:
            return
        view = view.at(due)
    pytest.fail("next_due never settled")

"""The example segments of the rules format, evaluated against a fake profile view."""

from __future__ import annotations

import pytest

from models.segments import RuleSet, parse_rules

EXAMPLES = """\
version: 1
segments:
  - id: recent_buyer                # [a-z0-9_]{1,64}, unique
    name: Bought in the last 60 days
    description: optional text
    when: count(purchase, 60d) >= 1
  - id: subscriber_never_bought
    name: Subscribed to email but never bought
    when: traits.email_subscriber == true and count(purchase) == 0
  - id: outdoor_buyer_365d
    name: Bought outdoor gear in the last year
    when: category_count(purchase, "outdoor", 365d) >= 1
  - id: urban_women_25_35
    name: Women 25-35 in urban areas
    when: traits.gender == "female" and traits.age between 25 and 35 and traits.area_type == "urban"
  - id: rfm_champion
    name: "RFM: champion"
    when: days_since(purchase) <= 30 and count(purchase, 365d) >= 5 and revenue(365d) >= 500
  - id: rfm_at_risk
    name: "RFM: at risk"
    when: count(purchase) >= 2 and days_since(purchase) > 60 and days_since(purchase) <= 180
  - id: lapsed
    name: "No purchase for 60 days"
    when: count(purchase) >= 1 and days_since(purchase) > 60
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return parse_rules(EXAMPLES, "examples.yaml")


def is_in(rules: RuleSet, segment: str, view: object) -> bool:
    return segment in rules.members(view)  # type: ignore[arg-type]


def test_segments_in_file_order(rules):
    assert rules.segment_ids() == (
        "recent_buyer",
        "subscriber_never_bought",
        "outdoor_buyer_365d",
        "urban_women_25_35",
        "rfm_champion",
        "rfm_at_risk",
        "lapsed",
    )
    first = rules.segments[0]
    assert (first.name, first.description, first.expression, first.line) == (
        "Bought in the last 60 days",
        "optional text",
        "count(purchase, 60d) >= 1",
        3,
    )
    assert rules.segments[1].description == ""
    assert rules.segments[4].name == "RFM: champion"


def test_empty_profile_is_in_no_segment(rules, fake):
    assert rules.members(fake.View(fake.T0)) == ()


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [(0, True), (59, True), (60, False), (61, False)],
)
def test_recent_buyer_window_is_60_calendar_days(rules, fake, days_ago, expected):
    # A purchase on day(now) - 59 is inside [day(now) - 59, day(now)]; day(now) - 60 is not.
    view = fake.View(fake.T0, (fake.Ev("purchase", fake.T0 - days_ago * fake.DAY),))
    assert is_in(rules, "recent_buyer", view) is expected


def test_recent_buyer_window_uses_calendar_days_not_seconds(rules, fake):
    day_start = (fake.T0 // fake.DAY) * fake.DAY
    # Bought at the very start of day(now) - 59; seen at the very end of today: still in.
    view = fake.View(day_start + fake.DAY - 1, (fake.Ev("purchase", day_start - 59 * fake.DAY),))
    assert is_in(rules, "recent_buyer", view)
    assert not is_in(rules, "recent_buyer", view.at(day_start + fake.DAY))


@pytest.mark.parametrize(
    ("subscriber", "purchases", "expected"),
    [
        (True, 0, True),
        (True, 1, False),
        (False, 0, False),
        (None, 0, False),
        ("true", 0, False),  # wrong type reads as null
        (1, 0, False),  # 1 is not true
    ],
)
def test_subscriber_never_bought(rules, fake, subscriber, purchases, expected):
    events = tuple(fake.Ev("purchase", fake.T0 - 5 * fake.DAY) for _ in range(purchases))
    view = fake.View(fake.T0, events, {"traits.email_subscriber": subscriber})
    assert is_in(rules, "subscriber_never_bought", view) is expected


@pytest.mark.parametrize(
    ("event", "days_ago", "expected"),
    [
        (("purchase", "outdoor"), 0, True),
        (("purchase", "outdoor"), 364, True),
        (("purchase", "outdoor"), 365, False),
        (("purchase", "fashion"), 10, False),
        (("product_view", "outdoor"), 10, False),
    ],
)
def test_outdoor_buyer_365d(rules, fake, event, days_ago, expected):
    etype, category = event
    view = fake.View(fake.T0, (fake.Ev(etype, fake.T0 - days_ago * fake.DAY, category),))
    assert is_in(rules, "outdoor_buyer_365d", view) is expected


@pytest.mark.parametrize(
    ("traits", "expected"),
    [
        ({"gender": "female", "age": 30, "area_type": "urban"}, True),
        ({"gender": "female", "age": 25, "area_type": "urban"}, True),  # inclusive low
        ({"gender": "female", "age": 35, "area_type": "urban"}, True),  # inclusive high
        ({"gender": "female", "age": 35.0, "area_type": "urban"}, True),
        ({"gender": "female", "age": 24, "area_type": "urban"}, False),
        ({"gender": "female", "age": 35.5, "area_type": "urban"}, False),
        ({"gender": "female", "age": 36, "area_type": "urban"}, False),
        ({"gender": "male", "age": 30, "area_type": "urban"}, False),
        ({"gender": "female", "age": 30, "area_type": "rural"}, False),
        ({"gender": "female", "area_type": "urban"}, False),  # null age
        ({"gender": "female", "age": "30", "area_type": "urban"}, False),  # wrong type
        ({"gender": "female", "age": True, "area_type": "urban"}, False),  # bool is not a number
        ({"age": 30, "area_type": "urban"}, False),  # null gender
    ],
)
def test_urban_women_25_35(rules, fake, traits, expected):
    view = fake.View(fake.T0, fields={f"traits.{k}": v for k, v in traits.items()})
    assert is_in(rules, "urban_women_25_35", view) is expected


def champion_events(fake, last_days_ago: float, n: int = 5, amount: float = 100.0):
    last = fake.T0 - last_days_ago * fake.DAY
    return tuple(fake.Ev("purchase", last - i * 10 * fake.DAY, amount=amount) for i in range(n))


def test_rfm_champion(rules, fake):
    view = fake.View(fake.T0, champion_events(fake, 30))
    assert is_in(rules, "rfm_champion", view)  # exactly 30 days: <= 30 holds
    assert not is_in(rules, "rfm_champion", view.at(fake.T0 + 1))  # 30 days + 1 s
    assert not is_in(rules, "rfm_champion", fake.View(fake.T0, champion_events(fake, 1, n=4)))
    assert not is_in(rules, "rfm_champion", fake.View(fake.T0, champion_events(fake, 1, amount=99.99)))
    # Net of returns: a return takes revenue below 500.
    with_return = (*champion_events(fake, 1), fake.Ev("return", fake.T0 - fake.DAY, amount=1.0))
    assert not is_in(rules, "rfm_champion", fake.View(fake.T0, with_return))


@pytest.mark.parametrize(
    ("purchases", "days_ago", "expected"),
    [
        (2, 61, True),
        (2, 60, False),  # exactly 60 days: not > 60
        (2, 180, True),  # exactly 180 days: <= 180
        (2, 180.001, False),
        (1, 100, False),
        (3, 100, True),
    ],
)
def test_rfm_at_risk(rules, fake, purchases, days_ago, expected):
    last = fake.T0 - days_ago * fake.DAY
    events = tuple(fake.Ev("purchase", last - i * fake.DAY) for i in range(purchases))
    assert is_in(rules, "rfm_at_risk", fake.View(fake.T0, events)) is expected


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [(60, False), (60 + 1 / 86400, True), (59.9, False), (400, True)],
)
def test_lapsed(rules, fake, days_ago, expected):
    view = fake.View(fake.T0, (fake.Ev("purchase", fake.T0 - days_ago * fake.DAY),))
    assert is_in(rules, "lapsed", view) is expected


def test_lapsed_needs_a_purchase(rules, fake):
    # days_since(purchase) is null -> '> 60' is false.
    view = fake.View(fake.T0, (fake.Ev("page_view", fake.T0 - 100 * fake.DAY),))
    assert not is_in(rules, "lapsed", view)


def test_members_in_file_order_for_several_segments(rules, fake):
    events = champion_events(fake, 2)
    view = fake.View(fake.T0, events, {"traits.email_subscriber": True})
    assert rules.members(view) == ("recent_buyer", "rfm_champion")


def test_explain_true_gives_values(rules, fake):
    p1 = fake.T0 - 61.3 * fake.DAY
    view = fake.View(fake.T0, (fake.Ev("purchase", p1), fake.Ev("purchase", p1 - fake.DAY)))
    assert rules.explain("lapsed", view) == ("count(purchase) = 2 >= 1 and days_since(purchase) = 61.3 > 60")
    recent = fake.View(fake.T0, (fake.Ev("purchase", fake.T0), fake.Ev("purchase", fake.T0)))
    assert rules.explain("recent_buyer", recent) == "count(purchase, 60d) = 2 >= 1"


def test_explain_false_gives_the_deciding_parts(rules, fake):
    view = fake.View(fake.T0, fields={"traits.gender": "female", "traits.age": 40})
    assert rules.explain("urban_women_25_35", view) == (
        'traits.age = 40 not between 25 and 35 and traits.area_type = null != "urban"'
    )
    assert rules.explain("lapsed", fake.View(fake.T0)) == (
        "count(purchase) = 0 < 1 and days_since(purchase) = null, not > 60"
    )
    assert rules.explain("recent_buyer", fake.View(fake.T0)) == "count(purchase, 60d) = 0 < 1"


def test_explain_unknown_segment(rules, fake):
    with pytest.raises(KeyError, match="nope"):
        rules.explain("nope", fake.View(fake.T0))

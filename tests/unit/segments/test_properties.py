"""Property tests: parse_rules only ever raises RuleError; valid rules evaluate without error."""

from __future__ import annotations

import contextlib
import pickle

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.segments import RuleError, parse_rules
from models.segments.nodes import unparse
from models.segments.parser import parse_expression

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = [
    "count(", "revenue(", "category_count(", "days_since(", "affinity(", "cnt(",
    "purchase", "page_view", "email_open", "bogus", '"outdoor"', '"a\\"b"', '"', "\\",
    "60d", "0d", "1d", "3651d", "1", "-2.5", "0", "1e5", "30", ",", "(", ")", "[", "]",
    "==", "!=", "<", "<=", ">", ">=", "=", "!", "and", "or", "not", "in", "between",
    "true", "false", "null", "traits.age", "traits.gender", "traits.extra.x",
    "traits.email_subscriber", "profile.days_since_first_seen", "traits.", "..", "#", ":",
    "'", "\n", "\t",
]  # fmt: skip


def one_rule(when: str) -> str:
    return yaml.safe_dump({"version": 1, "segments": [{"id": "x", "name": "X", "when": when}]})


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_only_raises_rule_error(text):
    try:
        parse_rules(text)
    except RuleError as err:
        assert str(err).startswith("<string>:")
        assert err.line >= 1 and err.column >= 1


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from([" ", ""]))
def test_random_token_soup_only_raises_rule_error(tokens, sep):
    when = sep.join(tokens)
    try:
        parse_rules(one_rule(when))
    except RuleError as err:
        assert "segment 'x'" in err.reason or err.reason.startswith("YAML")
        assert err.line >= 1 and err.column >= 1


@SETTINGS
@given(st.text(max_size=200))
def test_random_expression_text_only_raises_rule_error(when):
    with contextlib.suppress(RuleError):
        parse_rules(one_rule(when))


# -- well-typed random rules ------------------------------------------------------------
EVENTS = st.sampled_from(["purchase", "page_view", "add_to_cart", "email_open"])
WINDOWS = st.sampled_from(["", ", 1d", ", 7d", ", 60d", ", 365d"])
OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
NUMS = st.sampled_from(["0", "1", "2", "2.5", "-1", "30", "60", "500"])
ORDERED_LITERALS = st.sampled_from(['"a"', "1", "2.5"])
ANY_LITERALS = st.sampled_from(['"a"', "1", "2.5", "true", "false"])

numeric = st.one_of(
    st.builds("count({}{})".format, EVENTS, WINDOWS),
    st.builds('category_count({}, "outdoor"{})'.format, EVENTS, WINDOWS),
    st.builds("revenue({})".format, WINDOWS.map(lambda w: w[2:])),
    st.builds("days_since({})".format, EVENTS),
    st.just('affinity("fashion")'),
    st.sampled_from(["traits.age", "profile.days_since_first_seen", "profile.avg_order_value"]),
)
atoms = st.one_of(
    st.builds("{} {} {}".format, numeric, OPS, NUMS),
    st.builds("{} {} {}".format, NUMS, OPS, numeric),
    st.builds("{} {} {}".format, numeric, OPS, numeric),
    st.builds("{} between {} and {}".format, numeric, NUMS, NUMS),
    st.builds("{} in [{}, {}]".format, numeric, NUMS, NUMS),
    st.builds("traits.extra.x {} {}".format, OPS, ORDERED_LITERALS),
    st.builds("traits.extra.x {} {}".format, st.sampled_from(["==", "!="]), ANY_LITERALS),
    st.builds("traits.extra.x {} [{}, null]".format, st.sampled_from(["in", "not in"]), ANY_LITERALS),
    st.sampled_from(
        [
            "traits.email_subscriber",
            "traits.extra.vip",
            'traits.gender == "female"',
            "traits.city != null",
            "days_since(purchase) == null",
            "consent.marketing == false",
            'traits.country not in ["US", "CA"]',
            "true",
        ]
    ),
)
conditions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds("{} and {}".format, inner, inner),
        st.builds("{} or {}".format, inner, inner),
        st.builds("not {}".format, inner),
        st.builds("({})".format, inner),
    ),
    max_leaves=8,
)

VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=True), st.text(max_size=3)
)


def views(fake):
    events = st.lists(
        st.builds(
            fake.Ev,
            st.sampled_from(["purchase", "page_view", "add_to_cart", "email_open", "return"]),
            st.floats(fake.T0 - 400 * fake.DAY, fake.T0 + 2 * fake.DAY),
            st.sampled_from([None, "outdoor", "fashion"]),
            st.floats(0, 300),
        ),
        max_size=8,
    )
    fields = st.fixed_dictionaries(
        {},
        optional={
            "traits.age": VALUE,
            "traits.gender": VALUE,
            "traits.city": VALUE,
            "traits.country": VALUE,
            "traits.email_subscriber": VALUE,
            "traits.extra.x": VALUE,
            "traits.extra.vip": VALUE,
            "consent.marketing": VALUE,
            "profile.days_since_first_seen": VALUE,
            "profile.avg_order_value": VALUE,
        },
    )
    affinity = st.dictionaries(st.sampled_from(["fashion", "outdoor"]), st.floats(0, 50))
    return st.builds(fake.View, st.just(fake.T0), events.map(tuple), fields, affinity)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), first=conditions, second=conditions)
def test_valid_rules_evaluate_without_errors(fake, data, first, second):
    text = yaml.safe_dump(
        {
            "segments": [
                {"id": "a", "when": first},
                {"id": "b", "when": second},
                {"id": "not_a", "when": f"not ({first})"},
            ]
        }
    )
    rules = parse_rules(text)
    view = data.draw(views(fake))
    members = rules.members(view)
    assert set(members) <= {"a", "b", "not_a"}
    assert ("a" in members) != ("not_a" in members)
    for sid in rules.segment_ids():
        assert isinstance(rules.explain(sid, view), str)
    due = rules.next_due(view)
    assert due is None or due > view.now
    # canonical text re-parses to the same canonical text and the same decisions
    canonical = unparse(parse_expression(first))
    assert unparse(parse_expression(canonical)) == canonical
    again = parse_rules(yaml.safe_dump({"segments": [{"id": "a", "when": canonical}]}))
    assert again.members(view) == (("a",) if "a" in members else ())
    # evaluation is deterministic and survives pickling
    copy = pickle.loads(pickle.dumps(rules))
    assert copy.members(view) == members
    assert copy.explain("a", view) == rules.explain("a", view)

"""Load errors: file, line, column and a reason that says what is wrong and what to do."""

from __future__ import annotations

import pytest

from models.segments import RuleError, load_rules, parse_rules

KNOWN_FUNCTIONS = "(known: count, revenue, category_count, days_since, affinity)"


def error(text: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_rules(text, "rules.yaml")
    err = info.value
    assert str(err) == f"{err.source}:{err.line}:{err.column}: {err.reason}"
    assert err.source == "rules.yaml"
    return err


def segment(when: str, sid: str = "x") -> str:
    return f"version: 1\nsegments:\n  - id: {sid}\n    name: X\n    when: {when}\n"


def col_of(text: str, needle: str) -> tuple[int, int]:
    """1-based (line, column) of the first occurrence of ``needle`` in ``text``."""
    index = text.index(needle)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def test_unknown_function():
    err = error(segment("cnt(purchase) >= 1"))
    assert str(err) == (f"rules.yaml:5:11: unknown function 'cnt' in segment 'x' {KNOWN_FUNCTIONS}")
    assert isinstance(err, ValueError)


def test_unknown_field_lists_the_known_ones():
    err = error(segment("traits.shoe_size >= 42"))
    assert (err.line, err.column) == (5, 11)
    assert err.reason.startswith("unknown field 'traits.shoe_size' in segment 'x'")
    assert "traits.extra.<name>" in err.reason
    for known in ("traits.age", "consent.marketing", "profile.cart_items"):
        assert known in err.reason


def test_unknown_field_outside_traits():
    err = error(segment("profile.balance > 1 and count(purchase) >= 1"))
    assert err.reason.startswith("unknown field 'profile.balance' in segment 'x' (known: ")


@pytest.mark.parametrize(
    ("when", "needle", "reason"),
    [
        (
            "count() >= 1",
            "count",
            "wrong number of arguments for count(): expected 1 to 2, got 0 in segment 'x'; "
            "write e.g. count(purchase) or count(purchase, 60d)",
        ),
        (
            "days_since(purchase, 30d) > 1",
            "days_since",
            "wrong number of arguments for days_since(): expected 1, got 2 in segment 'x'; "
            "write e.g. days_since(purchase)",
        ),
        (
            "affinity() > 1",
            "affinity",
            "wrong number of arguments for affinity(): expected 1, got 0 in segment 'x'; "
            'write e.g. affinity("outdoor")',
        ),
    ],
)
def test_bad_arity(when, needle, reason):
    text = segment(when)
    err = error(text)
    assert (err.line, err.column) == col_of(text, needle)
    assert err.reason == reason


@pytest.mark.parametrize(
    ("when", "needle", "start"),
    [
        ('count(purchase) == "x"', "==", 'cannot compare count(purchase) (a number) with "x"'),
        ("traits.gender > 3", ">", "cannot compare traits.gender (a string) with 3 (a number)"),
        ("count(purchase)", "count", "count(purchase) (a number) is not a condition"),
        ("traits.age > null", "null", "'>' with null is always false"),
        ("revenue() == null", "==", "revenue() is never null"),
        ("traits.email_subscriber < true", "traits", "'<' needs numbers or strings"),
        ('traits.age in [1, "2"]', '"2"', 'list item "2" (a string) can never equal traits.age'),
        ('traits.age between "a" and 3', "between", "cannot compare traits.age (a number)"),
        ("not revenue()", "revenue", "revenue() (a number) is not a condition"),
    ],
)
def test_type_errors(when, needle, start):
    text = segment(f"'{when}'")
    err = error(text)
    assert err.reason.startswith(start), err.reason
    assert "in segment 'x'" in err.reason
    assert (err.line, err.column) == col_of(text, needle)


def test_unknown_event_type():
    text = segment("count(purchse) >= 1")
    err = error(text)
    assert (err.line, err.column) == (5, 17)
    assert err.reason == (
        "unknown event type 'purchse' in segment 'x' (known: page_view, product_view, search, "
        "add_to_cart, remove_from_cart, purchase, return, email_open, email_click, identify, "
        "consent, feedback, erase)"
    )


@pytest.mark.parametrize(
    ("when", "needle", "start"),
    [
        ('count("purchase") >= 1', '"purchase"', 'event type "purchase" must not be quoted'),
        ("category_count(purchase, outdoor) >= 1", "outdoor", "category outdoor must be a quoted"),
        ("count(purchase, 60) >= 1", "60", "second argument of count() must be a window like 60d"),
        ("revenue(purchase) > 1", "purchase", "first argument of revenue() must be a window"),
        ("count(purchase, 0d) >= 1", "0d", "window 0d is empty"),
        ("count(purchase, 60d) >= 60d", "60d) >= 60d"[-3:], "unexpected duration '60d'"),
    ],
)
def test_bad_argument_kinds(when, needle, start):
    text = segment(f"'{when}'")
    err = error(text)
    assert err.reason.startswith(start), err.reason
    assert (err.line, err.column) == col_of(text, needle) if needle != "60d" else True


def test_duplicate_id_points_at_the_second():
    text = "segments:\n  - id: a\n    when: count(purchase) >= 1\n  - id: a\n    when: count(purchase) >= 2\n"
    err = error(text)
    assert str(err) == ("rules.yaml:4:9: duplicate segment id 'a' (first on line 2); ids must be unique")


@pytest.mark.parametrize(
    ("when", "needle", "start"),
    [
        ("count(purchase) >=", None, "unexpected end of expression in segment 'x'; expected a value"),
        ("(count(purchase) >= 1", None, "unexpected end of expression in segment 'x'; expected ')'"),
        ("count(purchase) >= 1)", ")", "unexpected ')' in segment 'x'; remove it"),
        ("count(purchase) >= 1 >= 2", ">= 2", "unexpected '>=' in segment 'x'; comparisons cannot"),
        ("count(purchase) = 1", "= 1", "unexpected '=' in segment 'x'; comparisons are"),
        ("traits.age between 1 or 2", "or", "unexpected 'or' in segment 'x'; write 'X between"),
        ("traits.city == 'x'", "'x'", "unexpected \"'\" in segment 'x'; strings use double quotes"),
        ('traits.city == "x', '"x', "unterminated string in segment 'x'"),
        ("count(purchase) >= 1 count(purchase) >= 1", "count(purchase) >= 1\n", ""),
        ("traits.country in []", "[", "empty list in segment 'x'"),
        ("traits.age > 1.5.2", "1.5", "bad number '1.5.'"),
        ("count(purchase, 1.5d) >= 1", "1.5d", "bad window '1.5d'"),
        ("traits.age > 3 $", "$", "unexpected character '$'"),
    ],
)
def test_syntax_errors_with_position(when, needle, start):
    text = segment(when)
    err = error(text)
    assert err.reason.startswith(start), err.reason
    if needle is None:  # at the end of the expression
        assert (err.line, err.column) == (5, 11 + len(when))
    elif needle.endswith("\n"):
        assert (err.line, err.column) == (5, 11 + when.rindex("count"))
    else:
        assert (err.line, err.column) == (5, 11 + when.rindex(needle))


def test_position_inside_a_double_quoted_expression_with_escapes():
    text = segment('"traits.city == \\"a\\\\\\\\b\\" and cnt(purchase) >= 1"')
    err = error(text)
    assert err.reason.startswith("unknown function 'cnt'"), err.reason
    assert (err.line, err.column) == col_of(text, "cnt")


def test_position_inside_a_single_quoted_expression():
    text = segment("'traits.city == \"it''s\" and cnt(purchase) >= 1'")
    err = error(text)
    assert (err.line, err.column) == col_of(text, "cnt")


def test_position_inside_a_folded_block_expression():
    text = "segments:\n  - id: x\n    when: >-\n      count(purchase) >= 1\n      and cnt(purchase) >= 1\n"
    err = error(text)
    assert (err.line, err.column) == (5, 11)
    assert err.reason.startswith("unknown function 'cnt'")


def test_position_inside_a_flow_mapping():
    text = 'segments: [{id: x, when: "count(purchase) >= 1 and traits.foo"}]'
    err = error(text)
    assert (err.line, err.column) == col_of(text, "traits.foo")


def test_caps_expression_length():
    when = " or ".join(["count(purchase) >= 1"] * 100)
    assert len(when) > 2000
    err = error(segment(f"'{when}'"))
    assert err.reason.startswith(f"expression too long: {len(when)} characters (max 2000)")
    assert (err.line, err.column) == (5, 12 + 2000)


def test_caps_node_count():
    when = " or ".join(["traits.age == 1"] * 80)  # 1 + 80 * 3 nodes, short text
    assert len(when) < 2000
    err = error(segment(f"'{when}'"))
    assert err.reason.startswith("expression too complex: more than 200 nodes in segment 'x'")


def test_caps_nesting_depth():
    ok = "(" * 32 + "count(purchase) >= 1" + ")" * 32
    parse_rules(segment(f"'{ok}'"))
    deep = "(" * 33 + "count(purchase) >= 1" + ")" * 33
    err = error(segment(f"'{deep}'"))
    assert err.reason.startswith("expression nested too deeply: more than 32 levels")
    assert err.column == 12 + 32
    nots = "not " * 40 + "traits.email_subscriber"
    assert error(segment(nots)).reason.startswith("expression nested too deeply")


def test_caps_window_length():
    parse_rules(segment("count(purchase, 3650d) >= 1"))
    err = error(segment("count(purchase, 3651d) >= 1"))
    assert err.reason.startswith("window 3651d is too long (max 3650d) in segment 'x'")
    assert (err.line, err.column) == (5, 27)


def test_caps_segment_count():
    items = "".join(f"  - {{id: s{i}, when: 'count(purchase) >= 1'}}\n" for i in range(257))
    err = error("segments:\n" + items)
    assert err.reason.startswith("too many segments: 257 (max 256)")
    assert err.line == 2 + 256
    parse_rules("segments:\n" + "".join(items.splitlines(keepends=True)[:256]))


def test_yaml_syntax_error_has_the_line():
    err = error("segments:\n  - id: x\n    when: [count(purchase) >= 1\n  - id: y\n")
    assert err.reason.startswith("YAML syntax error:")
    assert err.line == 4
    err = error("segments:\n  - id: x\n\twhen: count(purchase) >= 1\n")
    assert err.reason.startswith("YAML syntax error:")
    assert err.line == 3


def test_yaml_unquoted_colon_in_expression():
    err = error('segments:\n  - id: x\n    name: RFM: champion\n    when: "true"\n')
    assert err.line == 3
    assert "quote" in err.reason


@pytest.mark.parametrize(
    ("text", "pos", "start"),
    [
        ("", (1, 1), "empty rules file"),
        ("- a\n- b\n", (1, 1), "rules file must be a mapping with 'version' and 'segments'"),
        ("version: 1\n", (1, 1), "missing 'segments'"),
        ("segments: {id: x}\n", (1, 11), "'segments' must be a list of segments, got a mapping"),
        ("version: 2\nsegments: []\n", (1, 10), "unsupported rules version '2'"),
        ("segment: []\n", (1, 1), "unknown key 'segment' in the rules file (allowed: version"),
        ("segments:\n  - just text\n", (2, 5), "segment #1 must be a mapping with id, name"),
        ("segments:\n  - {name: X, when: 'true'}\n", (2, 5), "segment #1 has no 'id'"),
        ("segments:\n  - {id: x, name: X}\n", (2, 5), "segment 'x' has no 'when'; add a condition"),
        ("segments:\n  - {id: X-1, when: 'true'}\n", (2, 10), "bad segment id 'X-1'; use 1-64"),
        ("segments:\n  - {id: '" + "a" * 65 + "', when: 'true'}\n", (2, 10), "bad segment id"),
        (
            "segments:\n  - {id: x, whne: 'true'}\n",
            (2, 13),
            "unknown key 'whne' in segment #1 (allowed: id, name, description, when)",
        ),
        ("segments:\n  - {id: x, id: y, when: 'true'}\n", (2, 13), "duplicate key 'id'"),
        ("segments:\n  - {id: [x], when: 'true'}\n", (2, 10), "'id' of segment #1 must be text"),
        ("segments:\n  - {id: x, when: ''}\n", (2, 20), "empty expression in segment 'x'"),
    ],
)
def test_structure_errors(text, pos, start):
    err = error(text)
    assert err.reason.startswith(start), err.reason
    assert (err.line, err.column) == pos


def test_load_rules_uses_the_path_as_source(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(segment("cnt(purchase) >= 1"), encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert str(info.value).startswith(f"{path}:5:11: unknown function 'cnt'")
    with pytest.raises(RuleError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.yaml")


def test_yaml_tags_are_never_constructed():
    # A python tag would run code with a full loader; here it is just text to validate.
    err = error("segments:\n  - id: x\n    when: !!python/object/apply:os.system ['true']\n")
    assert err.reason.startswith("'when' of segment 'x' must be text, got a list")


def test_rule_error_pickles():
    import pickle

    err = error(segment("cnt(purchase) >= 1"))
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.source, copy.line, copy.column, copy.reason) == (
        err.source,
        err.line,
        err.column,
        err.reason,
    )
    assert str(copy) == str(err)

"""The generated evaluation function agrees with the closure compiler (the reference).

Membership runs on :mod:`models.segments.codegen`; explanations on the closures of
:mod:`models.segments.compiler`. Random well-typed rules (every node kind, null and
wrongly typed field values, NaN) over random profiles must give the same truth values,
for a full evaluation and for an incremental one (only some rules re-evaluated).
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.segments import DEFAULT_RULES_PATH, load_rules, parse_rules
from models.segments.codegen import generate
from models.segments.compiler import compile_rules
from models.segments.parser import parse_expression
from tests.unit.segments.test_properties import conditions, views


def _reference(pairs, view, dirty=None, old=()):  # type: ignore[no-untyped-def]
    program = compile_rules(pairs)
    memo = program.new_memo()
    return tuple(
        sid for i, (sid, rule) in enumerate(program.rules)
        if (rule(view, memo) if dirty is None or i in dirty else sid in old)
    )


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), rules=st.lists(conditions, min_size=1, max_size=4))
def test_generated_rules_agree_with_the_closures(fake, data, rules):
    pairs = [(f"r{i}", parse_expression(text)) for i, text in enumerate(rules)]
    generated = generate(pairs)
    view = data.draw(views(fake))
    assert generated.evaluate(view, None, ()) == _reference(pairs, view)
    # incremental: rules outside ``dirty`` keep their old membership, whatever it was
    dirty = frozenset(data.draw(st.sets(st.integers(0, len(pairs) - 1))))
    old = data.draw(st.lists(st.sampled_from([sid for sid, _ in pairs]), unique=True))
    assert generated.evaluate(view, dirty, old) == _reference(pairs, view, dirty, old)


@pytest.mark.parametrize("rules", [
    # found by the property above: (1, None) == (True, None), so the two lists were one constant
    ["traits.extra.x not in [1, null]",
     "traits.extra.x not in [true, null] or count(add_to_cart, 60d) in [2, 60]"],
    ["traits.extra.x in [true, null]", "traits.extra.x in [1, null]"],
    ["traits.extra.x in [1, 2]", "traits.extra.x in [1.0, 2]", "traits.extra.x in [true, 2]"],
])
@pytest.mark.parametrize("x", [True, 1, 1.0, None, False])
def test_lists_equal_in_python_but_not_in_the_rule_language_stay_apart(fake, rules, x):
    pairs = [(f"r{i}", parse_expression(text)) for i, text in enumerate(rules)]
    view = fake.View(1728043200.0, (), {"traits.extra.x": x}, {})
    assert generate(pairs).evaluate(view, None, ()) == _reference(pairs, view)


def test_the_shipped_segments_agree_on_random_profiles(fake):
    rules = load_rules(DEFAULT_RULES_PATH)
    pairs = list(zip(rules.segment_ids(), rules._conditions, strict=True))
    generated = generate(pairs)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(view=views(fake))
    def check(view):  # type: ignore[no-untyped-def]
        assert generated.evaluate(view, None, ()) == _reference(pairs, view)

    check()


def test_values_from_the_rule_text_never_reach_the_generated_source():
    hostile = "__import__('os').system('echo pwned')"
    when = f'traits.gender == "{hostile}" or category_count(purchase, "{hostile}", 7d) >= 1'
    rules = parse_rules(yaml.safe_dump({"segments": [{"id": "evil_id", "when": when}]}))
    pairs = list(zip(rules.segment_ids(), rules._conditions, strict=True))
    generated = generate(pairs)
    for word in ("import", "pwned", "evil_id", "gender", "purchase"):
        assert word not in generated.source
    assert all(ch not in generated.source for ch in "\"'")  # no string literal of any kind
    assert generated.evaluate(fake_view := _Traits({"traits.gender": hostile}), None, ()) == ("evil_id",)
    assert fake_view.reads == ["traits.gender"]  # the value was read, compared, never run


class _Traits:
    """The smallest view: fields only, no events; records what was read."""

    now = 0.0

    def __init__(self, fields: dict[str, object]) -> None:
        self.fields = fields
        self.reads: list[str] = []

    def field(self, path: str) -> object:
        self.reads.append(path)
        return self.fields.get(path)

    def category_count(self, event_type: str, category: str, window: int | None) -> float:
        return 0.0

"""The generated evaluation function agrees with the closure compiler (the reference).

Membership runs on :mod:`models.segments.codegen`; explanations on the closures of
:mod:`models.segments.compiler`. Random well-typed rules (every node kind, null and
wrongly typed field values, NaN) over random profiles must give the same truth values,
for a full evaluation and for an incremental one (only some rules re-evaluated).
"""

from __future__ import annotations

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

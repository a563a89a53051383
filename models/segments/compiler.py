"""Compile checked syntax trees into plain Python closures (no eval, exec or compile).

The reference semantics of the language, and what explanations evaluate node by node;
membership itself runs on :mod:`models.segments.codegen`, held equal to this by a test.

Every closure takes ``(view, memo)``: ``memo`` is a fresh list per evaluation in which each
distinct profile read (a field, or a function call with its arguments) has a slot fixed
at compile time, so rules sharing ``count(purchase, 60d)`` read it once per evaluation.

Run-time semantics: a field whose value has the wrong type for its declared kind reads as
null; ordering comparisons and ``between`` are false when a side is null or the two sides
are not both numbers or both strings; ``==`` / ``!=`` compare presence for null and never
equate booleans with numbers; a bare boolean field is a condition that is true only when
the value is ``true``.

>>> from models.segments.parser import parse_expression
>>> program = compile_rules([("any_purchase", parse_expression("revenue() > 0"))])
>>> program.slots
1
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from models.segments.checker import type_of
from models.segments.fields import FIELDS, ValueType, field_type
from models.segments.nodes import (
    And,
    Between,
    Call,
    Compare,
    Field,
    In,
    Literal,
    Node,
    Not,
    Or,
)
from models.segments.view import DAY_SECONDS, ProfileView

Memo = list[Any]
Value = Callable[[ProfileView, Memo], Any]
Cond = Callable[[ProfileView, Memo], bool]

#: Marks a memo slot that has not been read yet in this evaluation.
MISSING: Any = object()

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
#: ``a op b`` == ``b FLIP[op] a``.
FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def is_number(x: object) -> bool:
    """A real number (not a boolean)."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def orderable(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` can be ordered: both numbers or both strings."""
    if isinstance(a, str):
        return isinstance(b, str)
    return is_number(a) and is_number(b)


def loose_eq(a: object, b: object) -> bool:
    """Equality for values of unknown type: null only equals null, booleans only booleans."""
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) != isinstance(b, str):
        return False
    return bool(a == b)


def _coerce(kind: str) -> Callable[[object], Any]:
    if kind == "number":
        return lambda x: x if is_number(x) else None
    if kind == "string":
        return lambda x: x if isinstance(x, str) else None
    if kind == "bool":
        return lambda x: x if x is True or x is False else None
    return lambda x: x if x is None or isinstance(x, str | int | float | bool) else None


class Program:
    """The compiled rules of one rule set.

    ``rules``: (segment id, condition) in file order; ``slots``: memo size;
    ``values`` / ``conds``: closure of each node by ``id(node)`` (for explanations);
    ``texts``: canonical text of each node by ``id(node)``, filled as explanations ask.
    """

    __slots__ = ("conds", "rules", "slots", "texts", "values")

    def __init__(
        self,
        rules: tuple[tuple[str, Cond], ...],
        slots: int,
        values: dict[int, Value],
        conds: dict[int, Cond],
    ) -> None:
        self.rules = rules
        self.slots = slots
        self.values = values
        self.conds = conds
        self.texts: dict[int, str] = {}

    def new_memo(self) -> Memo:
        """A fresh memo for one evaluation."""
        return [MISSING] * self.slots


def compile_rules(rules: Sequence[tuple[str, Node]]) -> Program:
    """Compile checked conditions; the nodes must stay alive as long as the program."""
    compiler = _Compiler()
    compiled = tuple((sid, compiler.condition(node)) for sid, node in rules)
    return Program(compiled, len(compiler.slot_ids), compiler.values, compiler.conds)


class _Compiler:
    def __init__(self) -> None:
        self.slot_ids: dict[tuple[object, ...], int] = {}
        self.values: dict[int, Value] = {}
        self.conds: dict[int, Cond] = {}

    # -- values -----------------------------------------------------------------------
    def value(self, node: Node) -> Value:
        fn = self.values.get(id(node))
        if fn is None:
            fn = self._value(node)
            self.values[id(node)] = fn
        return fn

    def _memo(self, key: tuple[object, ...], read: Callable[[ProfileView], Any]) -> Value:
        slot = self.slot_ids.setdefault(key, len(self.slot_ids))

        def memoized(v: ProfileView, m: Memo) -> Any:
            x = m[slot]
            if x is MISSING:
                x = m[slot] = read(v)
            return x

        return memoized

    def _value(self, node: Node) -> Value:
        if isinstance(node, Literal):
            const = node.value
            return lambda v, m: const
        if isinstance(node, Field):
            path = node.path
            t = FIELDS.get(path) or field_type(path)
            coerce = _coerce(t.kind if t is not None else "any")
            return self._memo(("field", path), lambda v: coerce(v.field(path)))
        if isinstance(node, Call):
            return self._call(node)
        return self.condition(node)

    def _call(self, node: Call) -> Value:
        key = ("call", node.func, node.event_type, node.category, node.window)
        etype, cat, window = node.event_type or "", node.category or "", node.window
        read: Callable[[ProfileView], Any]
        if node.func == "count":
            read = lambda v: v.count(etype, window)  # noqa: E731
        elif node.func == "revenue":
            read = lambda v: v.revenue(window)  # noqa: E731
        elif node.func == "category_count":
            read = lambda v: v.category_count(etype, cat, window)  # noqa: E731
        elif node.func == "affinity":
            read = lambda v: v.affinity(cat)  # noqa: E731
        else:  # days_since

            def read(v: ProfileView) -> float | None:
                last = v.last_time(etype)
                return None if last is None else (v.now - last) / DAY_SECONDS

        return self._memo(key, read)

    # -- conditions -------------------------------------------------------------------
    def condition(self, node: Node) -> Cond:
        fn = self.conds.get(id(node))
        if fn is None:
            fn = self._condition(node)
            self.conds[id(node)] = fn
        return fn

    def _condition(self, node: Node) -> Cond:
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Between):
            return self._between(node)
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Not):
            inner = self.condition(node.operand)
            return lambda v, m: not inner(v, m)
        if isinstance(node, And):
            return self._and([self.condition(p) for p in node.parts])
        if isinstance(node, Or):
            return self._or([self.condition(p) for p in node.parts])
        get = self.value(node)
        return lambda v, m: get(v, m) is True

    @staticmethod
    def _and(parts: list[Cond]) -> Cond:
        if len(parts) == 2:
            a, b = parts
            return lambda v, m: a(v, m) and b(v, m)
        if len(parts) == 3:
            a, b, c = parts
            return lambda v, m: a(v, m) and b(v, m) and c(v, m)
        all_parts = tuple(parts)

        def all_true(v: ProfileView, m: Memo) -> bool:
            return all(part(v, m) for part in all_parts)

        return all_true

    @staticmethod
    def _or(parts: list[Cond]) -> Cond:
        if len(parts) == 2:
            a, b = parts
            return lambda v, m: a(v, m) or b(v, m)
        any_parts = tuple(parts)

        def any_true(v: ProfileView, m: Memo) -> bool:
            return any(part(v, m) for part in any_parts)

        return any_true

    def _compare(self, node: Compare) -> Cond:
        op_name, left, right = node.op, node.left, node.right
        if isinstance(left, Literal) and not isinstance(right, Literal):
            op_name, left, right = FLIP[op_name], right, left
        lt, rt = type_of(left), type_of(right)
        get = self.value(left)
        op = _OPS[op_name]
        loose = "any" in (lt.kind, rt.kind)
        if op_name in ("==", "!="):
            if isinstance(right, Literal) and right.value is None:
                if op_name == "==":
                    return lambda v, m: get(v, m) is None
                return lambda v, m: get(v, m) is not None
            if loose:
                other = self.value(right)
                if op_name == "==":
                    return lambda v, m: loose_eq(get(v, m), other(v, m))
                return lambda v, m: not loose_eq(get(v, m), other(v, m))
            if isinstance(right, Literal):
                const = right.value
                return lambda v, m: op(get(v, m), const)
            other = self.value(right)
            return lambda v, m: op(get(v, m), other(v, m))
        if isinstance(right, Literal) and not loose:
            const = right.value
            if not lt.nullable:
                return lambda v, m: op(get(v, m), const)

            def ordered_const(v: ProfileView, m: Memo) -> bool:
                x = get(v, m)
                return x is not None and op(x, const)

            return ordered_const
        other = self.value(right)

        def ordered(v: ProfileView, m: Memo) -> bool:
            a, b = get(v, m), other(v, m)
            return orderable(a, b) and op(a, b)

        return ordered

    def _between(self, node: Between) -> Cond:
        get = self.value(node.operand)
        t: ValueType = type_of(node.operand)
        if isinstance(node.low, Literal) and isinstance(node.high, Literal) and t.kind != "any":
            lo, hi = node.low.value, node.high.value

            def between_const(v: ProfileView, m: Memo) -> bool:
                x = get(v, m)
                return x is not None and lo <= x <= hi

            return between_const
        low, high = self.value(node.low), self.value(node.high)

        def between(v: ProfileView, m: Memo) -> bool:
            x, lo, hi = get(v, m), low(v, m), high(v, m)
            return orderable(x, lo) and orderable(x, hi) and lo <= x <= hi

        return between

    def _in(self, node: In) -> Cond:
        get = self.value(node.operand)
        negated = node.negated
        items = tuple(item.value for item in node.items)
        if type_of(node.operand).kind != "any":
            members = frozenset(items)
            return lambda v, m: (get(v, m) in members) != negated

        def contains(v: ProfileView, m: Memo) -> bool:
            x = get(v, m)
            for item in items:
                if loose_eq(x, item):
                    return not negated
            return negated

        return contains

"""Compile a rule set into one generated Python function: the fast path of evaluation.

:mod:`models.segments.compiler` turns each node into a closure, so evaluating a rule is
a call per node. Rules are evaluated on every event, so this module generates the source
of a single function that evaluates every rule inline, with each distinct profile read
(a field, or a function call with its arguments) in a local variable read at most once
per evaluation, lazily (``(s3 if s3 is not _M else (s3 := v.count(...)))``).

The semantics are the closure compiler's, node for node (a property test checks that the
two agree on random rules and profiles); the closures stay the reference and serve the
explanations, which need a value per node.

Safety: the generated source contains only identifiers made here (``s<n>`` slots, ``c<n>``
constants, helper names), rule indexes and operators from a fixed table. Every value that
comes from the rule text (literals, event types, categories, field paths, segment ids) is
bound in the function's namespace and referenced by name, never written into the source,
so a definition from a control topic cannot inject code.

>>> from models.segments.parser import parse_expression
>>> fn = generate([("buyer", parse_expression("count(purchase, 60d) >= 1"))])
>>> "c0" in fn.source and "purchase" not in fn.source
True
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from models.segments.checker import type_of
from models.segments.compiler import FLIP, MISSING, is_number, loose_eq, orderable
from models.segments.fields import FIELDS, field_type
from models.segments.nodes import And, Between, Call, Compare, Field, In, Literal, Node, Not, Or
from models.segments.view import DAY_SECONDS, ProfileView

#: Comparison operators as they are written in generated source (a fixed table).
_SOURCE_OPS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def _number(x: object) -> Any:
    return x if is_number(x) else None


def _string(x: object) -> Any:
    return x if isinstance(x, str) else None


def _boolean(x: object) -> Any:
    return x if x is True or x is False else None


def _scalar(x: object) -> Any:
    return x if x is None or isinstance(x, str | int | float | bool) else None


_COERCE = {"number": "_number", "string": "_string", "bool": "_boolean"}


def _days_since(v: ProfileView, event_type: str) -> float | None:
    last = v.last_time(event_type)
    return None if last is None else (v.now - last) / DAY_SECONDS


def _ordered(op: Callable[[Any, Any], bool], a: object, b: object) -> bool:
    return orderable(a, b) and op(a, b)


def _ordered_const(op: Callable[[Any, Any], bool], x: object, const: object) -> bool:
    return x is not None and op(x, const)


def _between_const(x: Any, lo: Any, hi: Any) -> bool:
    return x is not None and bool(lo <= x <= hi)


def _between(x: Any, lo: Any, hi: Any) -> bool:
    return orderable(x, lo) and orderable(x, hi) and bool(lo <= x <= hi)


def _loose_in(x: object, items: tuple[object, ...], negated: bool) -> bool:
    for item in items:
        if loose_eq(x, item):
            return not negated
    return negated


_HELPERS: dict[str, Any] = {
    "_M": MISSING, "_number": _number, "_string": _string, "_boolean": _boolean, "_scalar": _scalar,
    "_days_since": _days_since, "_ordered": _ordered, "_ordered_const": _ordered_const,
    "_between_const": _between_const, "_between": _between, "_loose_in": _loose_in, "_loose_eq": loose_eq,
}  # fmt: skip

#: ``evaluate(view, dirty, old)``: the member ids in rule order. ``dirty`` is the set of rule
#: indexes to evaluate (None: all); the others keep their membership in ``old``.
Evaluate = Callable[[ProfileView, "frozenset[int] | None", Sequence[str]], tuple[str, ...]]


class GeneratedRules:
    """The generated evaluation function of a rule set, with its source (for debugging)."""

    __slots__ = ("evaluate", "source")

    def __init__(self, evaluate: Evaluate, source: str) -> None:
        self.evaluate = evaluate
        self.source = source


def generate(rules: Sequence[tuple[str, Node]]) -> GeneratedRules:
    """Generate the evaluation function of checked conditions ``(segment id, node)``."""
    gen = _Generator()
    body: list[str] = []
    for i, (sid, node) in enumerate(rules):
        cond = gen.condition(node)
        k = gen.const(sid)
        body += [
            f"    if dirty is None or {i} in dirty:",
            f"        if {cond}:",
            f"            out.append({k})",
            f"    elif {k} in old:",
            f"        out.append({k})",
        ]
    head = ["def evaluate(v, dirty, old):"]
    if gen.slots:
        head.append("    " + " = ".join(f"s{n}" for n in range(len(gen.slots))) + " = _M")
    head.append("    out = []")
    source = "\n".join([*head, *body, "    return tuple(out)", ""])
    namespace: dict[str, Any] = {"__builtins__": {"tuple": tuple}, **_HELPERS, **gen.consts}
    exec(compile(source, "<generated rules>", "exec"), namespace)  # safe: see the module docstring
    return GeneratedRules(namespace["evaluate"], source)


def _const_key(value: object) -> tuple[type, object]:
    """What two constants must share to share a name: type and value, and for a tuple or
    frozenset its members' types too (``(1, None) == (True, None)``, but the rule language
    keeps booleans apart from numbers: ``in [1, null]`` is not ``in [true, null]``)."""
    if isinstance(value, tuple):
        return (tuple, tuple(_const_key(v) for v in value))
    if isinstance(value, frozenset):
        return (frozenset, frozenset(_const_key(v) for v in value))
    return (type(value), value)


class _Generator:
    def __init__(self) -> None:
        self.slots: dict[tuple[object, ...], int] = {}
        self.consts: dict[str, object] = {}
        self._const_names: dict[tuple[type, object], str] = {}

    def const(self, value: object) -> str:
        """A name bound to ``value`` in the function's namespace (equal values of the same
        types, member by member, share one)."""
        try:
            key: tuple[type, object] = _const_key(value)
            hash(key)
        except TypeError:
            key = (type(value), id(value))
        name = self._const_names.get(key)
        if name is None or value != value:  # NaN is not equal to itself: never share it
            name = f"c{len(self.consts)}"
            self.consts[name] = value
            self._const_names[key] = name
        return name

    def _slot(self, key: tuple[object, ...], read: str) -> tuple[str, str]:
        """(lazy read expression, slot variable) of a profile read."""
        n = self.slots.setdefault(key, len(self.slots))
        return f"(s{n} if s{n} is not _M else (s{n} := {read}))", f"s{n}"

    # -- values: (expression, slot variable or None) -------------------------------------
    def value(self, node: Node) -> tuple[str, str | None]:
        if isinstance(node, Literal):
            return self.const(node.value), None
        if isinstance(node, Field):
            t = FIELDS.get(node.path) or field_type(node.path)
            coerce = _COERCE.get(t.kind, "_scalar") if t is not None else "_scalar"
            return self._slot(("field", node.path), f"{coerce}(v.field({self.const(node.path)}))")
        if isinstance(node, Call):
            return self._call(node)
        return self.condition(node), None

    def _call(self, node: Call) -> tuple[str, str | None]:
        key = ("call", node.func, node.event_type, node.category, node.window)
        etype = self.const(node.event_type or "")
        cat = self.const(node.category or "")
        window = self.const(node.window)
        if node.func == "count":
            read = f"v.count({etype}, {window})"
        elif node.func == "revenue":
            read = f"v.revenue({window})"
        elif node.func == "category_count":
            read = f"v.category_count({etype}, {cat}, {window})"
        elif node.func == "affinity":
            read = f"v.affinity({cat})"
        else:  # days_since
            read = f"_days_since(v, {etype})"
        return self._slot(key, read)

    # -- conditions: an expression ---------------------------------------------------------
    def condition(self, node: Node) -> str:
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Between):
            return self._between(node)
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Not):
            return f"(not {self.condition(node.operand)})"
        if isinstance(node, And):
            return "(" + " and ".join(self.condition(p) for p in node.parts) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.condition(p) for p in node.parts) + ")"
        expr, _ = self.value(node)
        return f"({expr} is True)"

    def _compare(self, node: Compare) -> str:
        op_name, left, right = node.op, node.left, node.right
        if isinstance(left, Literal) and not isinstance(right, Literal):
            op_name, left, right = FLIP[op_name], right, left
        lt, rt = type_of(left), type_of(right)
        get, slot = self.value(left)
        op = _SOURCE_OPS[op_name]
        loose = "any" in (lt.kind, rt.kind)
        if op_name in ("==", "!="):
            if isinstance(right, Literal) and right.value is None:
                return f"({get} is None)" if op_name == "==" else f"({get} is not None)"
            other, _ = self.value(right)
            if loose:
                test = f"_loose_eq({get}, {other})"
                return test if op_name == "==" else f"(not {test})"
            return f"({get} {op} {other})"
        if isinstance(right, Literal) and not loose:
            const = self.const(right.value)
            if not lt.nullable:
                return f"({get} {op} {const})"
            if slot is not None:
                return f"({get} is not None and {slot} {op} {const})"
            return f"_ordered_const({self.const(_OPS[op_name])}, {get}, {const})"
        other, _ = self.value(right)
        return f"_ordered({self.const(_OPS[op_name])}, {get}, {other})"

    def _between(self, node: Between) -> str:
        get, slot = self.value(node.operand)
        constant = isinstance(node.low, Literal) and isinstance(node.high, Literal)
        if constant and type_of(node.operand).kind != "any":
            assert isinstance(node.low, Literal) and isinstance(node.high, Literal)
            lo, hi = self.const(node.low.value), self.const(node.high.value)
            if slot is not None:
                return f"({get} is not None and {lo} <= {slot} <= {hi})"
            return f"_between_const({get}, {lo}, {hi})"
        low, _ = self.value(node.low)
        high, _ = self.value(node.high)
        return f"_between({get}, {low}, {high})"

    def _in(self, node: In) -> str:
        get, _ = self.value(node.operand)
        items = tuple(item.value for item in node.items)
        if type_of(node.operand).kind != "any":
            members = self.const(frozenset(items))
            return f"({get} not in {members})" if node.negated else f"({get} in {members})"
        return f"_loose_in({get}, {self.const(items)}, {self.const(node.negated)})"

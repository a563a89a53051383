"""Static type checking of a parsed expression, before it is compiled.

Kinds: ``number``, ``string``, ``bool``, ``null`` (the literal) and ``any`` (free-form
``traits.extra.*``, known only at run time). Fields may be null; ``days_since`` is null
when the event never happened; the other functions are never null.

>>> from models.segments.parser import parse_expression
>>> check_condition(parse_expression('count(purchase) >= 1'))
>>> try:
...     check_condition(parse_expression('count(purchase) == "x"'))
... except ExprError as err:
...     print(err.reason)
cannot compare count(purchase) (a number) with "x" (a string)
"""

from __future__ import annotations

from models.segments.errors import ExprError
from models.segments.fields import BOOL, FUNCTIONS, NULL, NUMBER, STRING, ValueType, field_type
from models.segments.nodes import (
    CONDITION_NODES,
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
    unparse,
)

_PLURAL = {"number": "numbers", "string": "strings", "bool": "true or false"}
_ARTICLE = {"number": "a number", "string": "a string", "bool": "a boolean", "null": "null"}


def _describe(node: Node, t: ValueType) -> str:
    return f"{unparse(node)} ({_ARTICLE.get(t.kind, 'a value')})"


def literal_type(value: object) -> ValueType:
    """Type of a constant."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, str):
        return STRING
    return NUMBER


def type_of(node: Node) -> ValueType:
    """Type of ``node``, checking it (and everything under it) on the way."""
    if isinstance(node, Literal):
        return literal_type(node.value)
    if isinstance(node, Field):
        t = field_type(node.path)
        if t is None:  # the parser rejects unknown paths; keep the checker total anyway
            raise ExprError(node.offset, f"unknown field {node.path!r}")
        return t
    if isinstance(node, Call):
        return FUNCTIONS[node.func].result
    check_condition(node)
    return BOOL


def _compatible(a: ValueType, b: ValueType) -> bool:
    return a.kind == b.kind or "any" in (a.kind, b.kind) or "null" in (a.kind, b.kind)


def _check_compare(node: Compare) -> None:
    lt, rt = type_of(node.left), type_of(node.right)
    if node.op in ("==", "!="):
        for side, t, ot in ((node.left, lt, rt), (node.right, rt, lt)):
            if ot.kind == "null" and not t.nullable:
                raise ExprError(
                    node.offset,
                    f"{unparse(side)} is never null, so '{node.op} null' is always "
                    + ("false" if node.op == "==" else "true"),
                    "; remove this comparison",
                )
        if not _compatible(lt, rt):
            raise ExprError(
                node.offset,
                f"cannot compare {_describe(node.left, lt)} with {_describe(node.right, rt)}",
            )
        return
    _check_ordered(node.offset, node.op, ((node.left, lt), (node.right, rt)))


def _check_ordered(offset: int, op: str, sides: tuple[tuple[Node, ValueType], ...]) -> None:
    for side, t in sides:
        if t.kind == "null":
            raise ExprError(
                side.offset,
                f"'{op}' with null is always false",
                "; test presence with '== null' or '!= null'",
            )
        if t.kind == "bool":
            raise ExprError(
                side.offset,
                f"'{op}' needs numbers or strings, got {_describe(side, t)}",
                "; compare booleans with == or !=",
            )
    first, ft = sides[0]
    for side, t in sides[1:]:
        if not _compatible(ft, t):
            raise ExprError(offset, f"cannot compare {_describe(first, ft)} with {_describe(side, t)}")


def check_condition(node: Node) -> None:
    """Check that ``node`` is a well-typed condition (something true or false)."""
    if isinstance(node, Compare):
        _check_compare(node)
    elif isinstance(node, Between):
        sides = ((node.operand, type_of(node.operand)), (node.low, type_of(node.low)),
                 (node.high, type_of(node.high)))  # fmt: skip
        _check_ordered(node.offset, "between", sides)
    elif isinstance(node, In):
        t = type_of(node.operand)
        for item in node.items:
            it = literal_type(item.value)
            if not _compatible(t, it):
                raise ExprError(
                    item.offset,
                    f"list item {unparse(item)} ({_ARTICLE[it.kind]}) "
                    f"can never equal {_describe(node.operand, t)}",
                    f"; list only {_PLURAL.get(t.kind, 'matching values')}",
                )
    elif isinstance(node, Not):
        check_condition(node.operand)
    elif isinstance(node, And | Or):
        for part in node.parts:
            check_condition(part)
    else:
        t = type_of(node)
        if t.kind not in ("bool", "any"):
            example = {
                "number": f"{unparse(node)} >= 1",
                "string": f'{unparse(node)} == "..."',
            }.get(t.kind, "count(purchase) >= 1")
            raise ExprError(
                node.offset,
                f"{_describe(node, t)} is not a condition",
                f"; compare it, e.g. {example}",
            )


def is_condition_node(node: Node) -> bool:
    """Whether ``node`` is an operator producing true/false (rather than a value)."""
    return isinstance(node, CONDITION_NODES)

"""The syntax tree of a rule expression: small frozen dataclasses, plus :func:`unparse`.

Every node carries ``offset``: 0-based position of its first character (of the operator
for binary nodes) in the expression text, used for error positions.

>>> from models.segments.parser import parse_expression
>>> unparse(parse_expression('not(traits.age  between 25 and 35)or count(purchase,60d)>=1'))
'not traits.age between 25 and 35 or count(purchase, 60d) >= 1'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: number, string, true/false or null."""

    value: Scalar
    offset: int


@dataclass(frozen=True, slots=True)
class Field:
    """A field path such as ``traits.age``, read through ``ProfileView.field``."""

    path: str
    offset: int


@dataclass(frozen=True, slots=True)
class Call:
    """A function call with its validated arguments (unused ones are None)."""

    func: str
    event_type: str | None
    category: str | None
    window: int | None
    offset: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` with op one of ``== != < <= > >=``."""

    op: str
    left: Node
    right: Node
    offset: int


@dataclass(frozen=True, slots=True)
class Between:
    """``operand between low and high`` (inclusive)."""

    operand: Node
    low: Node
    high: Node
    offset: int


@dataclass(frozen=True, slots=True)
class In:
    """``operand in [items]`` or, when ``negated``, ``operand not in [items]``."""

    operand: Node
    items: tuple[Literal, ...]
    negated: bool
    offset: int


@dataclass(frozen=True, slots=True)
class Not:
    """``not operand``."""

    operand: Node
    offset: int


@dataclass(frozen=True, slots=True)
class And:
    """``parts[0] and parts[1] and ...`` (at least two parts)."""

    parts: tuple[Node, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Or:
    """``parts[0] or parts[1] or ...`` (at least two parts)."""

    parts: tuple[Node, ...]
    offset: int


Node = Literal | Field | Call | Compare | Between | In | Not | And | Or

#: Nodes that produce a condition (true/false) rather than a value.
CONDITION_NODES = (Compare, Between, In, Not, And, Or)


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-nodes of ``node``."""
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, Between):
        return (node.operand, node.low, node.high)
    if isinstance(node, In):
        return (node.operand, *node.items)
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, And | Or):
        return node.parts
    return ()


def walk(node: Node) -> Iterator[Node]:
    """``node`` and all its descendants, depth first, left to right."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def format_scalar(value: Scalar) -> str:
    """A constant as it is written in the language."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _operand(node: Node) -> str:
    text = unparse(node)
    return f"({text})" if isinstance(node, CONDITION_NODES) else text


def unparse(node: Node) -> str:
    """Canonical text of ``node``: single spaces, minimal parentheses."""
    if isinstance(node, Literal):
        return format_scalar(node.value)
    if isinstance(node, Field):
        return node.path
    if isinstance(node, Call):
        args: list[str] = []
        if node.event_type is not None:
            args.append(node.event_type)
        if node.category is not None:
            args.append(format_scalar(node.category))
        if node.window is not None:
            args.append(f"{node.window}d")
        return f"{node.func}({', '.join(args)})"
    if isinstance(node, Compare):
        return f"{_operand(node.left)} {node.op} {_operand(node.right)}"
    if isinstance(node, Between):
        return f"{_operand(node.operand)} between {_operand(node.low)} and {_operand(node.high)}"
    if isinstance(node, In):
        items = ", ".join(unparse(item) for item in node.items)
        keyword = "not in" if node.negated else "in"
        return f"{_operand(node.operand)} {keyword} [{items}]"
    if isinstance(node, Not):
        inner = unparse(node.operand)
        return f"not ({inner})" if isinstance(node.operand, And | Or) else f"not {inner}"
    if isinstance(node, And):
        return " and ".join(f"({unparse(p)})" if isinstance(p, Or) else unparse(p) for p in node.parts)
    return " or ".join(unparse(p) for p in node.parts)

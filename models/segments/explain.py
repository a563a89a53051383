"""Human-readable reasons: which parts of a rule decided it, with the values read.

Each part is stated as a fact about the profile, e.g. ``count(purchase, 60d) = 2 >= 1``
when true and ``count(purchase, 60d) = 0 < 1`` when false (``days_since(purchase) = null,
not > 60`` when a null side makes an ordering false). For ``and`` the parts shown are all
parts when true and the false parts when false; for ``or`` the true parts when true and
all parts when false.

>>> format_value(61.3333), format_value(2.0), format_value(None), format_value("x")
('61.3', '2', 'null', '"x"')
"""

from __future__ import annotations

from models.segments.compiler import Memo, Program, orderable
from models.segments.nodes import (
    CONDITION_NODES,
    And,
    Between,
    Compare,
    In,
    Literal,
    Node,
    Not,
    Or,
    format_scalar,
    unparse,
)
from models.segments.view import ProfileView

_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def format_value(value: object, near: object = None) -> str:
    """A value for display; floats are rounded unless rounding would make them equal ``near``."""
    if isinstance(value, float) and not isinstance(value, bool):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
        if isinstance(near, int | float) and float(text) == near:
            text = repr(value)
        return text
    if value is None or isinstance(value, str | int | bool):
        return format_scalar(value)
    return repr(value)


class _Explainer:
    def __init__(self, program: Program, view: ProfileView, memo: Memo) -> None:
        self.program = program
        self.view = view
        self.memo = memo

    def value(self, node: Node) -> object:
        if isinstance(node, Literal):
            return node.value
        return self.program.values[id(node)](self.view, self.memo)

    def truth(self, node: Node) -> bool:
        return self.program.conds[id(node)](self.view, self.memo)

    def text(self, node: Node) -> str:
        """``unparse(node)``, once per node and program."""
        texts = self.program.texts
        text = texts.get(id(node))
        if text is None:
            text = texts[id(node)] = unparse(node)
        return text

    def side(self, node: Node, near: object = None) -> str:
        if isinstance(node, Literal):
            return self.text(node)
        text = self.text(node)
        if isinstance(node, CONDITION_NODES):
            text = f"({text})"
        return f"{text} = {format_value(self.value(node), near)}"

    def explain(self, node: Node) -> tuple[bool, str, bool]:
        """(truth, text, text is several parts joined)."""
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Between):
            ok = self.truth(node)
            word = "between" if ok else "not between"
            lo = node.low.value if isinstance(node.low, Literal) else None
            hi = node.high.value if isinstance(node.high, Literal) else None
            near = lo if lo is not None else hi
            subject = self.side(node.operand, near)
            return ok, f"{subject} {word} {self.side(node.low)} and {self.side(node.high)}", False
        if isinstance(node, In):
            ok = self.truth(node)
            word = "in" if ok != node.negated else "not in"
            items = ", ".join(self.text(item) for item in node.items)
            return ok, f"{self.side(node.operand)} {word} [{items}]", False
        if isinstance(node, Not):
            ok, text, compound = self.explain(node.operand)
            return not ok, text, compound
        if isinstance(node, And | Or):
            return self.junction(node)
        ok = self.truth(node)
        if isinstance(node, Literal):
            return ok, self.text(node), False
        return ok, self.side(node), False

    def compare(self, node: Compare) -> tuple[bool, str, bool]:
        ok = self.truth(node)
        lv = node.left.value if isinstance(node.left, Literal) else None
        rv = node.right.value if isinstance(node.right, Literal) else None
        left, right = self.side(node.left, rv), self.side(node.right, lv)
        if ok:
            return True, f"{left} {node.op} {right}", False
        a, b = self.value(node.left), self.value(node.right)
        if node.op in ("==", "!=") or orderable(a, b):
            return False, f"{left} {_NEGATE[node.op]} {right}", False
        return False, f"{left}, not {node.op} {right}", False

    def junction(self, node: And | Or) -> tuple[bool, str, bool]:
        results = [self.explain(part) for part in node.parts]
        # the junction's truth from its parts' (no second evaluation of the subtree)
        ok = all(r[0] for r in results) if isinstance(node, And) else any(r[0] for r in results)
        if isinstance(node, And):
            shown = results if ok else [r for r in results if not r[0]]
            joiner = " and "
        else:
            shown = [r for r in results if r[0]] if ok else results
            joiner = " or " if ok else " and "
        texts = [f"({text})" if compound else text for _, text, compound in shown]
        return ok, joiner.join(texts), len(texts) > 1


def explain(program: Program, condition: Node, view: ProfileView) -> str:
    """Why ``condition`` (compiled in ``program``) is true or false for ``view``."""
    return _Explainer(program, view, program.new_memo()).explain(condition)[1]

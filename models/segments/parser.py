"""Recursive-descent parser: expression text -> syntax tree (:mod:`models.segments.nodes`).

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``;
comparisons bind tighter than all three)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := value [ ("=="|"!="|"<"|"<="|">"|">=") value
                        | ["not"] "in" "[" literal ("," literal)* [","] "]"
                        | "between" value "and" value ]
    value      := number | string | "true" | "false" | "null"
                | field_path | name "(" [arg ("," arg)*] ")" | "(" expr ")"
    arg        := event_type | string | duration        (duration: 60d)

Function names, arity, argument kinds, event types, windows and field paths are
checked here; value types are checked by :mod:`models.segments.checker`.

>>> parse_expression('revenue(30d) >= 1')
Compare(op='>=', left=Call(func='revenue', event_type=None, category=None, window=30, offset=0), \
right=Literal(value=1, offset=16), offset=13)
>>> parse_expression('cnt(purchase) >= 1')
Traceback (most recent call last):
...
models.segments.errors.ExprError: at offset 0: unknown function 'cnt' (known: count, ...)
"""

from __future__ import annotations

from models.segments.errors import ExprError
from models.segments.fields import (
    EVENT_TYPES,
    EXTRA_PREFIX,
    FUNCTIONS,
    MAX_WINDOW_DAYS,
    ArgKind,
    Signature,
    field_type,
    known_event_types_text,
    known_fields_text,
    known_functions_text,
)
from models.segments.lexer import KEYWORDS, Token, tokenize
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

#: Most syntax-tree nodes (values, operators, function arguments, list items) per expression.
MAX_NODES = 200
#: Deepest nesting of parentheses and ``not``.
MAX_DEPTH = 32

_LITERAL_KEYWORDS = {"true": True, "false": False, "null": None}
_ORDINALS = ("first", "second", "third")


def parse_expression(text: str) -> Node:
    """Parse one expression; raises :class:`ExprError` with an offset into ``text``."""
    return _Parser(text).parse()


def _flatten(parts: list[Node], kind: type[And] | type[Or]) -> list[Node]:
    """``a or (b or c)`` -> ``[a, b, c]``: parenthesized parts of the same junction merge."""
    out: list[Node] = []
    for part in parts:
        if isinstance(part, kind):
            out.extend(part.parts)
        else:
            out.append(part)
    return out


def _describe(tok: Token) -> str:
    return "end of expression" if tok.kind == "eof" else repr(tok.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.nodes = 0

    # -- helpers ----------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def is_keyword(self, word: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind == "name" and tok.value == word

    def expect(self, kind: str, what: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            raise ExprError(tok.offset, f"unexpected {_describe(tok)}", f"; expected {what}")
        return self.advance()

    def count(self, offset: int, n: int = 1) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise ExprError(
                offset,
                f"expression too complex: more than {MAX_NODES} nodes",
                "; split it into several segments",
            )

    def enter(self, offset: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(
                offset,
                f"expression nested too deeply: more than {MAX_DEPTH} levels",
                "; remove parentheses or split it into several segments",
            )

    # -- grammar ----------------------------------------------------------------------
    def parse(self) -> Node:
        if self.peek().kind == "eof":
            raise ExprError(0, "empty expression", "; write a condition, e.g. count(purchase) >= 1")
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "eof":
            hint = "; join conditions with 'and' / 'or'"
            if tok.kind == "op":
                hint = "; comparisons cannot be chained, join them with 'and'"
            elif tok.kind == ")":
                hint = "; remove it or add the matching '('"
            raise ExprError(tok.offset, f"unexpected {_describe(tok)}", hint)
        return node

    def or_expr(self) -> Node:
        first = self.and_expr()
        parts = [first]
        offset = -1
        while self.is_keyword("or"):
            tok = self.advance()
            if offset < 0:
                offset = tok.offset
                self.count(tok.offset)
            parts.append(self.and_expr())
        if len(parts) == 1:
            return first
        return Or(tuple(_flatten(parts, Or)), offset)

    def and_expr(self) -> Node:
        first = self.not_expr()
        parts = [first]
        offset = -1
        while self.is_keyword("and"):
            tok = self.advance()
            if offset < 0:
                offset = tok.offset
                self.count(tok.offset)
            parts.append(self.not_expr())
        if len(parts) == 1:
            return first
        return And(tuple(_flatten(parts, And)), offset)

    def not_expr(self) -> Node:
        if self.is_keyword("not"):
            tok = self.advance()
            self.count(tok.offset)
            self.enter(tok.offset)
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand, tok.offset)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.value()
        tok = self.peek()
        if tok.kind == "op":
            self.advance()
            self.count(tok.offset)
            right = self.value()
            return Compare(str(tok.value), left, right, tok.offset)
        if self.is_keyword("in") or (self.is_keyword("not") and self.is_keyword("in", 1)):
            negated = self.is_keyword("not")
            self.advance()
            if negated:
                self.advance()
            self.count(tok.offset)
            return In(left, self.literal_list(), negated, tok.offset)
        if self.is_keyword("between"):
            self.advance()
            self.count(tok.offset)
            low = self.value()
            if not self.is_keyword("and"):
                bad = self.peek()
                raise ExprError(
                    bad.offset,
                    f"unexpected {_describe(bad)}",
                    "; write 'X between LOW and HIGH'",
                )
            self.advance()
            high = self.value()
            return Between(left, low, high, tok.offset)
        return left

    def literal_list(self) -> tuple[Literal, ...]:
        start = self.expect("[", 'a list after \'in\', e.g. in ["a", "b"]')
        items: list[Literal] = []
        while self.peek().kind != "]":
            tok = self.advance()
            if tok.kind in ("number", "string"):
                items.append(Literal(tok.value, tok.offset))
            elif tok.kind == "name" and tok.value in _LITERAL_KEYWORDS:
                items.append(Literal(_LITERAL_KEYWORDS[str(tok.value)], tok.offset))
            else:
                raise ExprError(
                    tok.offset,
                    f"unexpected {_describe(tok)} in list",
                    "; list items are constants: numbers, strings, true, false or null",
                )
            self.count(tok.offset)
            if self.peek().kind == ",":
                self.advance()
            elif self.peek().kind != "]":
                bad = self.peek()
                raise ExprError(bad.offset, f"unexpected {_describe(bad)}", "; expected ',' or ']'")
        self.advance()
        if not items:
            raise ExprError(start.offset, "empty list", "; 'in []' is always false, list some values")
        return tuple(items)

    def value(self) -> Node:
        tok = self.peek()
        if tok.kind == "(":
            self.advance()
            self.enter(tok.offset)
            node = self.or_expr()
            self.expect(")", "')' to close the '(' at offset " + str(tok.offset))
            self.depth -= 1
            return node
        if tok.kind in ("number", "string"):
            self.advance()
            self.count(tok.offset)
            return Literal(tok.value, tok.offset)
        if tok.kind == "duration":
            raise ExprError(
                tok.offset,
                f"unexpected duration {tok.text!r}",
                "; durations are only window arguments, e.g. count(purchase, 60d)",
            )
        if tok.kind == "name":
            name = str(tok.value)
            if name in _LITERAL_KEYWORDS:
                self.advance()
                self.count(tok.offset)
                return Literal(_LITERAL_KEYWORDS[name], tok.offset)
            if name in KEYWORDS:
                raise ExprError(tok.offset, f"unexpected {name!r}", "; expected a value before it")
            self.advance()
            self.count(tok.offset)
            if self.peek().kind == "(":
                return self.call(tok)
            return self.field(tok)
        if tok.kind == "[":
            raise ExprError(tok.offset, "unexpected '['", "; a list is only allowed after 'in' or 'not in'")
        raise ExprError(tok.offset, f"unexpected {_describe(tok)}", "; expected a value")

    def field(self, tok: Token) -> Node:
        path = str(tok.value)
        if field_type(path) is not None:
            return Field(path, tok.offset)
        if path in FUNCTIONS:
            raise ExprError(
                tok.offset,
                f"function {path!r} needs parentheses",
                f"; write e.g. {FUNCTIONS[path].usage}",
            )
        if path in EVENT_TYPES:
            hint = f"; event types are function arguments, e.g. count({path})"
        elif path.startswith("traits.") and not path.startswith(EXTRA_PREFIX):
            hint = f"; custom traits are read as {EXTRA_PREFIX}<name> (known: {known_fields_text()})"
        else:
            hint = f" (known: {known_fields_text()})"
        raise ExprError(tok.offset, f"unknown field {path!r}", hint)

    def call(self, name_tok: Token) -> Node:
        name = str(name_tok.value)
        sig = FUNCTIONS.get(name)
        if sig is None:
            raise ExprError(
                name_tok.offset, f"unknown function {name!r}", f" (known: {known_functions_text()})"
            )
        self.advance()  # "("
        args: list[Token] = []
        while self.peek().kind != ")":
            tok = self.advance()
            if tok.kind not in ("name", "string", "duration", "number"):
                raise ExprError(
                    tok.offset,
                    f"unexpected {_describe(tok)} in arguments of {name}()",
                    f"; write e.g. {sig.usage}",
                )
            args.append(tok)
            self.count(tok.offset)
            if self.peek().kind == ",":
                self.advance()
            elif self.peek().kind != ")":
                bad = self.peek()
                raise ExprError(
                    bad.offset,
                    f"unexpected {_describe(bad)} in arguments of {name}()",
                    "; expected ',' or ')'",
                )
        self.advance()  # ")"
        return self.build_call(sig, name_tok, args)

    def build_call(self, sig: Signature, name_tok: Token, args: list[Token]) -> Call:
        low, high = len(sig.required), len(sig.required) + len(sig.optional)
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise ExprError(
                name_tok.offset,
                f"wrong number of arguments for {sig.name}(): expected {expected}, got {len(args)}",
                f"; write e.g. {sig.usage}",
            )
        values: dict[ArgKind, str | int] = {}
        for index, (kind, tok) in enumerate(zip(sig.required + sig.optional, args, strict=False)):
            values[kind] = self.argument(sig, index, kind, tok)
        event = values.get("event")
        category = values.get("category")
        window = values.get("window")
        return Call(
            sig.name,
            event if isinstance(event, str) else None,
            category if isinstance(category, str) else None,
            window if isinstance(window, int) else None,
            name_tok.offset,
        )

    def argument(self, sig: Signature, index: int, kind: ArgKind, tok: Token) -> str | int:
        where = f"{_ORDINALS[index]} argument of {sig.name}()"
        if kind == "event":
            if tok.kind == "name" and tok.value in EVENT_TYPES:
                return str(tok.value)
            if tok.kind == "name":
                raise ExprError(
                    tok.offset,
                    f"unknown event type {tok.value!r}",
                    f" (known: {known_event_types_text()})",
                )
            if tok.kind == "string" and tok.value in EVENT_TYPES:
                raise ExprError(
                    tok.offset,
                    f"event type {tok.text} must not be quoted",
                    f"; write {sig.name}({tok.value}...)",
                )
            raise ExprError(
                tok.offset,
                f"{where} must be an event type, got {tok.text!r}",
                f" (known: {known_event_types_text()}); write e.g. {sig.usage}",
            )
        if kind == "category":
            if tok.kind == "string" and tok.value:
                return str(tok.value)
            if tok.kind == "name":
                raise ExprError(
                    tok.offset,
                    f"category {tok.text} must be a quoted string",
                    f'; write "{tok.value}"',
                )
            raise ExprError(
                tok.offset,
                f"{where} must be a category name in quotes, got {tok.text!r}",
                f"; write e.g. {sig.usage}",
            )
        if tok.kind != "duration":
            raise ExprError(
                tok.offset,
                f"{where} must be a window like 60d, got {tok.text!r}",
                f"; write e.g. {sig.usage}",
            )
        days = int(tok.value or 0)
        if days < 1:
            raise ExprError(tok.offset, f"window {tok.text} is empty", "; use at least 1d")
        if days > MAX_WINDOW_DAYS:
            raise ExprError(
                tok.offset,
                f"window {tok.text} is too long (max {MAX_WINDOW_DAYS}d)",
                f"; use at most {MAX_WINDOW_DAYS}d",
            )
        return days

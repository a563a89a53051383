"""Tokenizer of rule expressions: a hand-written scanner, no regular expressions, no eval.

Token kinds: ``number``, ``duration`` (``60d``), ``string``, ``name`` (identifiers and
dotted field paths such as ``traits.age``; keywords are names too), ``op``
(``== != < <= > >=``), punctuation ``( ) [ ] ,`` and a final ``eof``.

>>> [(t.kind, t.value) for t in tokenize('count(purchase, 60d) >= 1')][3:]
[(',', ','), ('duration', 60), (')', ')'), ('op', '>='), ('number', 1), ('eof', None)]
>>> tokenize('"a \\\\"b\\\\""')[0].value
'a "b"'
"""

from __future__ import annotations

from dataclasses import dataclass

from models.segments.errors import ExprError

#: Longest accepted expression, in characters.
MAX_EXPRESSION_CHARS = 2000

KEYWORDS = frozenset({"and", "or", "not", "in", "between", "true", "false", "null"})

_PUNCT = {"(": "(", ")": ")", "[": "[", "]": "]", ",": ","}
_OPS_2 = {"==", "!=", "<=", ">="}
_OPS_1 = {"<", ">"}
_DIGITS = "0123456789"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``kind``, its decoded ``value`` and its 0-based ``offset`` in the text."""

    kind: str
    value: str | int | float | None
    offset: int
    text: str


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ch in _DIGITS


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raises :class:`ExprError` at the first bad character."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExprError(
            MAX_EXPRESSION_CHARS,
            f"expression too long: {len(text)} characters (max {MAX_EXPRESSION_CHARS})",
            "; split it into several segments",
        )
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch in _PUNCT:
            tokens.append(Token(_PUNCT[ch], ch, i, ch))
            i += 1
        elif text[i : i + 2] in _OPS_2:
            tokens.append(Token("op", text[i : i + 2], i, text[i : i + 2]))
            i += 2
        elif ch in _OPS_1:
            tokens.append(Token("op", ch, i, ch))
            i += 1
        elif ch == "=" or ch == "!":
            raise ExprError(i, f"unexpected {ch!r}", "; comparisons are == != < <= > >=")
        elif ch == '"':
            i = _string(text, i, tokens)
        elif ch in _DIGITS or (ch == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            i = _number(text, i, tokens)
        elif _is_name_start(ch):
            i = _name(text, i, tokens)
        elif ch == "'":
            raise ExprError(i, 'unexpected "\'"', '; strings use double quotes, e.g. "outdoor"')
        else:
            raise ExprError(i, f"unexpected character {ch!r}")
    tokens.append(Token("eof", None, n, ""))
    return tokens


def _string(text: str, start: int, out: list[Token]) -> int:
    chars: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            out.append(Token("string", "".join(chars), start, text[start : i + 1]))
            return i + 1
        if ch == "\\":
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt not in ('"', "\\"):
                raise ExprError(i, "bad escape in string", '; only \\" and \\\\ are allowed')
            chars.append(nxt)
            i += 2
        elif ch == "\n":
            break
        else:
            chars.append(ch)
            i += 1
    raise ExprError(start, "unterminated string", '; add the closing "')


def _number(text: str, start: int, out: list[Token]) -> int:
    i, n = start + 1, len(text)
    while i < n and text[i] in _DIGITS:
        i += 1
    is_float = False
    if i + 1 < n and text[i] == "." and text[i + 1] in _DIGITS:
        is_float = True
        i += 1
        while i < n and text[i] in _DIGITS:
            i += 1
    raw = text[start:i]
    if i < n and text[i] == "d" and not (i + 1 < n and _is_name_char(text[i + 1])):
        if is_float or raw.startswith("-"):
            raise ExprError(start, f"bad window '{raw}d'", "; use a whole number of days, e.g. 30d")
        out.append(Token("duration", int(raw), start, raw + "d"))
        return i + 1
    if i < n and (_is_name_char(text[i]) or text[i] == "."):
        raise ExprError(start, f"bad number {text[start : i + 1]!r}", "; write numbers like 5 or 2.5")
    if is_float:
        out.append(Token("number", float(raw), start, raw))
    else:
        if len(raw.lstrip("-")) > 18:
            raise ExprError(start, f"number {raw} is too large", "; use at most 18 digits")
        out.append(Token("number", int(raw), start, raw))
    return i


def _name(text: str, start: int, out: list[Token]) -> int:
    i, n = start, len(text)
    while True:
        while i < n and _is_name_char(text[i]):
            i += 1
        if i + 1 < n and text[i] == "." and _is_name_char(text[i + 1]):
            i += 1
            continue
        if i < n and text[i] == ".":
            raise ExprError(i, f"bad field path {text[start : i + 1]!r}", "; a name must follow '.'")
        break
    raw = text[start:i]
    out.append(Token("name", raw, start, raw))
    return i

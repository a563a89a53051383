"""Errors of the rule language: :class:`RuleError` (public) and :class:`ExprError` (internal).

>>> err = RuleError("rules.yaml", 4, 11, "unknown function 'cnt' in segment 'x'")
>>> str(err)
"rules.yaml:4:11: unknown function 'cnt' in segment 'x'"
>>> isinstance(err, ValueError)
True
"""

from __future__ import annotations


class RuleError(ValueError):
    """A rules file or expression that cannot be loaded.

    ``line`` and ``column`` are 1-based and point into the YAML file (or the text
    given to :func:`~models.segments.loader.parse_rules`).
    """

    def __init__(self, source: str, line: int, column: int, reason: str) -> None:
        super().__init__(source, line, column, reason)
        self.source = source
        self.line = line
        self.column = column
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.reason}"


class ExprError(Exception):
    """An error inside one expression; ``offset`` is 0-based into the expression text.

    ``what`` says what is wrong, ``hint`` (may be empty) what to do; the loader inserts
    the segment id between them and turns it into a :class:`RuleError` at the file position.

    >>> ExprError(3, "unknown function 'cnt'", " (known: count)").reason
    "unknown function 'cnt' (known: count)"
    """

    def __init__(self, offset: int, what: str, hint: str = "") -> None:
        super().__init__(offset, what, hint)
        self.offset = offset
        self.what = what
        self.hint = hint

    @property
    def reason(self) -> str:
        """The full message without a segment id."""
        return self.what + self.hint

    def __str__(self) -> str:
        return f"at offset {self.offset}: {self.reason}"

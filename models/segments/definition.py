"""One rule segment definition, as loaded from a segments file or the control topic.

Its own module (not :mod:`models.segments.rule_set`): a frozen dataclass that pickles by
its fields stays plain Python, while the rule set can be compiled (``setup.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleSegment:
    """One segment definition; ``line`` is the 1-based line of its entry in the file."""

    id: str
    name: str
    description: str
    expression: str
    line: int

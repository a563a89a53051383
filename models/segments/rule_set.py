"""Loaded rule segments: :class:`RuleSet`, the evaluation of :class:`RuleSegment` s.

A RuleSet pickles by its source text: unpickling parses and compiles it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from models.segments.codegen import generate
from models.segments.compiler import compile_rules
from models.segments.definition import RuleSegment
from models.segments.dependencies import SOON, DependencyIndex
from models.segments.explain import explain
from models.segments.nodes import Node, unparse
from models.segments.timing import collect_timers
from models.segments.view import ProfileView


def rules_version(segments: Sequence[RuleSegment], conditions: Sequence[Node]) -> str:
    """Short stable hash of the normalized definitions (canonical expression text)."""
    canonical = [
        [s.id, s.name, s.description, unparse(node)] for s, node in zip(segments, conditions, strict=True)
    ]
    blob = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


#: ``touched`` of a due-time re-evaluation (:meth:`RuleSet.members_after`).
DUE: tuple[str, ...] = ("$due",)


class RuleSet:
    """Compiled rule segments, in file order.

    Two rule sets are equal when their normalized definitions (``version``) are.

    Build it with :func:`~models.segments.loader.parse_rules` or
    :func:`~models.segments.loader.load_rules`.
    """

    __slots__ = ("_conditions", "_deps", "_evaluate", "_index", "_program", "_timers", "segments",
                 "source", "text", "version")  # fmt: skip

    def __init__(
        self,
        segments: Sequence[RuleSegment],
        conditions: Sequence[Node],
        *,
        text: str,
        source: str,
    ) -> None:
        """``conditions[i]`` is the checked syntax tree of ``segments[i]``."""
        self.segments: tuple[RuleSegment, ...] = tuple(segments)
        self._conditions: tuple[Node, ...] = tuple(conditions)
        self.text = text
        self.source = source
        self.version: str = rules_version(self.segments, self._conditions)
        self._index = {s.id: i for i, s in enumerate(self.segments)}
        pairs = [(s.id, node) for s, node in zip(self.segments, self._conditions, strict=True)]
        #: closures per node: the reference semantics, read by the explanations
        self._program = compile_rules(pairs)
        #: one generated function evaluating every rule: what membership runs on
        self._evaluate = generate(pairs).evaluate
        self._timers = collect_timers(self._conditions)
        self._deps = DependencyIndex.build(self._conditions)

    def segment_ids(self) -> tuple[str, ...]:
        """Segment ids in file order."""
        return tuple(s.id for s in self.segments)

    def members(self, view: ProfileView) -> tuple[str, ...]:
        """Ids of the segments whose rule is true for ``view``, in file order."""
        return self._evaluate(view, None, ())

    def members_after(
        self, view: ProfileView, old: Sequence[str], touched: tuple[str, ...] | None,
    ) -> tuple[str, ...]:
        """:meth:`members`, re-evaluating only the rules an event could have changed.

        ``old`` is the membership evaluated under this rule set at the user's previous
        event or due time; ``touched`` the keys the new event touched (see
        :mod:`models.segments.dependencies`), or ``("$due",)`` for a due time (only the
        time-dependent rules), or None to evaluate every rule. Equal to :meth:`members`
        as long as no due time passed unfired since ``old`` was evaluated (the engine's
        schedule guarantees it).
        """
        if touched is None:
            return self.members(view)
        dirty = self._deps.dirty(touched)
        if DUE[0] in touched:  # only the rules whose timers fire now (view.now is the due time)
            dirty = dirty | self._deps.firing(self._timers.firing(view, view.now))
        if SOON in touched:
            dirty = dirty | self._deps.timed
        return self._evaluate(view, dirty, old)

    def explain(self, segment_id: str, view: ProfileView) -> str:
        """Why segment ``segment_id`` is (or is not) true for ``view``, with the values read."""
        index = self._index.get(segment_id)
        if index is None:
            raise KeyError(f"unknown segment id {segment_id!r} (known: {', '.join(self._index)})")
        return explain(self._program, self._conditions[index], view)

    def next_due(self, view: ProfileView) -> float | None:
        """Earliest time after ``view.now`` at which a rule may change with no new event.

        None when nothing is time-dependent for this user. See :mod:`models.segments.timing`.
        """
        return self._timers.next_due(view)

    def __len__(self) -> int:
        return len(self.segments)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuleSet):
            return NotImplemented
        return self.version == other.version

    def __hash__(self) -> int:
        return hash(self.version)

    def __repr__(self) -> str:
        return f"RuleSet(source={self.source!r}, version={self.version!r}, segments={len(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        from models.segments.loader import parse_rules

        return (parse_rules, (self.text, self.source))

"""Which inputs can change a rule's value: what lets the engine re-evaluate only those rules.

A rule's value at time ``now`` changes only when (a) an event changes something the rule
reads, or (b) time alone moves it. (b) is scheduled by :mod:`models.segments.timing` (a
window boundary, a ``days_since`` threshold, a ``days_since_first_seen`` threshold, an
affinity decaying through a threshold), except what cannot be scheduled: clocks and
affinities compared with a non-constant, and ``profile.events`` (every event changes
it). Those rules are *volatile*: evaluated on every event. Every other rule depends on
a set of *keys*:

* an event type (``count``, ``category_count`` and ``days_since`` of that type;
  ``revenue`` and ``profile.avg_order_value`` on ``purchase`` and ``return``;
  ``affinity`` on :data:`AFFINITY_EVENT_TYPES`;
  ``traits.*`` on ``identify``; ``consent.*`` on ``consent``; ``profile.cart_items`` on the
  cart-changing types);
* :data:`SESSIONS` when the event started a session, :data:`FIRST_SEEN` when it moved
  ``first_seen`` back (a late event), :data:`PRUNED` when day buckets were dropped (a
  window longer than the retention then loses counts).

So, between two events of a user and before the next due time, a rule none of whose keys
the event touched keeps its value: re-evaluating it would give the same answer.

>>> from models.segments.parser import parse_expression
>>> d = rule_dependencies(parse_expression("count(purchase, 60d) >= 1 and traits.age > 30"))
>>> d.keys, d.volatile, d.timed, d.timers
(('$pruned', 'identify', 'purchase'), False, True, ('$window:60',))
>>> rule_dependencies(parse_expression('affinity("fashion") >= 5')).timers
('$affinity:fashion',)
>>> rule_dependencies(parse_expression('affinity("fashion") >= traits.age')).volatile
True
>>> rule_dependencies(parse_expression("days_since(purchase) > traits.age")).volatile
True
"""

from __future__ import annotations

from dataclasses import dataclass

from models.segments.compiler import is_number
from models.segments.fields import DAYS_SINCE_FIRST_SEEN
from models.segments.nodes import Call, Field, Literal, Node, walk
from models.segments.timing import affinity_key, compared_pairs, since_key, window_key

#: Touched when an event starts a new session.
SESSIONS = "$sessions"
#: Touched when an event moves ``first_seen`` earlier (a late event).
FIRST_SEEN = "$first_seen"
#: Touched when day buckets were pruned from the profile.
PRUNED = "$pruned"
#: Touched when the event comes within ``EPSILON_SECONDS`` before the profile's next due
#: time: a clock threshold may already have passed (a due time is scheduled one second
#: after it, so that a strict comparison has flipped), so every timed rule is evaluated.
SOON = "$soon"

#: Event types that change a category's affinity: the profile's ``AFFINITY_WEIGHTS``
#: (:mod:`models.profiles.update`; a test holds the two equal).
AFFINITY_EVENT_TYPES: tuple[str, ...] = ("add_to_cart", "page_view", "product_view", "purchase", "search")

_FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "profile.sessions": (SESSIONS,),
    "profile.avg_order_value": ("purchase", "return"),
    "profile.cart_items": ("add_to_cart", "remove_from_cart", "purchase"),
    DAYS_SINCE_FIRST_SEEN: (FIRST_SEEN,),
}


@dataclass(frozen=True, slots=True)
class Dependencies:
    """What can change one rule: ``keys`` (sorted), or anything (``volatile``).

    ``timed``: the rule may change with time alone (re-evaluated at due times).
    """

    keys: tuple[str, ...]
    volatile: bool
    timed: bool
    #: Timer keys (:func:`~models.segments.timing.window_key`, ``since_key``) that can
    #: change the rule at a due time; ``age_timed``: a scheduled ``days_since_first_seen``.
    timers: tuple[str, ...] = ()
    age_timed: bool = False


def _is_clock(node: Node) -> bool:
    """Moves with time alone: ``days_since``, ``days_since_first_seen``, ``affinity``."""
    return (isinstance(node, Call) and node.func in ("days_since", "affinity")) or (
        isinstance(node, Field) and node.path == DAYS_SINCE_FIRST_SEEN
    )


def _scheduled_clocks(root: Node) -> set[int]:
    """ids of the clock nodes compared only with numeric constants (the schedulable ones)."""
    scheduled: set[int] = set()
    for node in walk(root):
        for subject, others in compared_pairs(node):
            if _is_clock(subject) and all(isinstance(o, Literal) and is_number(o.value) for o in others):
                scheduled.add(id(subject))
    return scheduled


def rule_dependencies(root: Node) -> Dependencies:
    """The keys whose change can change ``root``'s value (see the module docstring)."""
    keys: set[str] = set()
    timers: set[str] = set()
    volatile = False
    timed = False
    age_timed = False
    scheduled = _scheduled_clocks(root)
    for node in walk(root):
        if isinstance(node, Call):
            if node.func in ("count", "category_count", "days_since") and node.event_type:
                keys.add(node.event_type)
            elif node.func == "revenue":
                keys.update(("purchase", "return"))
            elif node.func == "affinity":
                keys.update(AFFINITY_EVENT_TYPES)
                timed = True
                if id(node) not in scheduled:
                    volatile = True
                elif node.category:
                    timers.add(affinity_key(node.category))
            if node.window is not None:
                timed = True
                keys.add(PRUNED)
                timers.add(window_key(node.window))
            if node.func == "days_since":
                timed = True
                if id(node) not in scheduled:
                    volatile = True
                elif node.event_type:
                    timers.add(since_key(node.event_type))
        elif isinstance(node, Field):
            root_name = node.path.partition(".")[0]
            if root_name == "traits":
                keys.add("identify")
            elif root_name == "consent":
                keys.add("consent")
            elif node.path in _FIELD_KEYS:
                keys.update(_FIELD_KEYS[node.path])
                if node.path == DAYS_SINCE_FIRST_SEEN:
                    timed = True
                    age_timed = True
                    if id(node) not in scheduled:
                        volatile = True
            else:  # profile.events, and anything this module does not know: every event
                volatile = True
    return Dependencies(tuple(sorted(keys)), volatile, timed, tuple(sorted(timers)), age_timed)


@dataclass(frozen=True, slots=True)
class DependencyIndex:
    """Per rule-set: which rule indexes to re-evaluate for a set of touched keys."""

    volatile: frozenset[int]
    timed: frozenset[int]
    by_key: dict[str, frozenset[int]]
    #: Evaluated at every due time: volatile rules and scheduled first-seen clocks.
    every_due: frozenset[int] = frozenset()
    by_timer: dict[str, frozenset[int]] | None = None

    @classmethod
    def build(cls, conditions: tuple[Node, ...]) -> DependencyIndex:
        deps = [rule_dependencies(c) for c in conditions]
        by_key: dict[str, set[int]] = {}
        by_timer: dict[str, set[int]] = {}
        for i, d in enumerate(deps):
            for k in d.keys:
                by_key.setdefault(k, set()).add(i)
            for k in d.timers:
                by_timer.setdefault(k, set()).add(i)
        return cls(
            volatile=frozenset(i for i, d in enumerate(deps) if d.volatile),
            timed=frozenset(i for i, d in enumerate(deps) if d.timed or d.volatile),
            by_key={k: frozenset(v) for k, v in by_key.items()},
            every_due=frozenset(i for i, d in enumerate(deps) if d.volatile or d.age_timed),
            by_timer={k: frozenset(v) for k, v in by_timer.items()},
        )

    def firing(self, timer_keys: list[str]) -> frozenset[int]:
        """Rules that may change at a due time whose firing timers are ``timer_keys``."""
        out = self.every_due
        by_timer = self.by_timer or {}
        for key in timer_keys:
            hit = by_timer.get(key)
            if hit is not None:
                out = out | hit
        return out

    def dirty(self, touched: tuple[str, ...]) -> frozenset[int]:
        """Rules that an event touching ``touched`` may change."""
        out = self.volatile
        for key in touched:
            hit = self.by_key.get(key)
            if hit is not None:
                out = out | hit
        return out

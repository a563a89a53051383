"""When may a rule's value change with no new event? (:meth:`RuleSet.next_due` support.)

Four things move with time alone:

* windows: an event on UTC day ``d`` leaves an ``N``-day window at ``(d + N) * 86400``
  (and a bucket dated after ``now`` enters at ``d * 86400``). Only a day holding an event
  of a type that some ``N``-day call reads (``count(purchase, 60d)`` reads purchases,
  ``revenue(365d)`` purchases and returns) is scheduled: a day of page views leaving a
  60-day window of purchases changes nothing;
* ``days_since(t)`` compared with a constant ``c`` (in ``== != < <= > >=``, ``between``
  or ``in``): it crosses ``c`` at ``last_time(t) + c * 86400``; one second is added so a
  strict ``>`` has flipped;
* ``profile.days_since_first_seen`` compared with a constant, likewise;
* ``affinity(c)`` compared with a constant ``x``: with no new event it only decays, and
  falls through ``x`` at a time :meth:`ProfileView.affinity_at` computes (one second is
  added, as for ``days_since``).

Not scheduled (re-evaluated on the user's next event only): clocks and affinities
compared with a non-constant.

A clock crossing is due ``EPSILON_SECONDS`` (1 s) after the threshold itself, so a rule
that changes at the threshold (``>=``, ``<``) or just after it (``>``, ``<=``, ``==``)
has changed by its due time: such a change is emitted up to one second late. Window
boundaries are exact (midnight UTC).

>>> from models.segments.parser import parse_expression
>>> rule = parse_expression("count(purchase, 60d) >= 1 and days_since(purchase) > 30")
>>> timers = collect_timers([rule])
>>> timers.windows, timers.window_types, timers.since
((60,), (('purchase',),), (('purchase', (30,)),))
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from models.segments.compiler import is_number
from models.segments.fields import DAYS_SINCE_FIRST_SEEN
from models.segments.nodes import Between, Call, Compare, Field, In, Literal, Node, walk
from models.segments.view import DAY_SECONDS, ProfileView

#: Added to a days_since crossing so that a strict comparison has flipped.
EPSILON_SECONDS = 1.0


def window_key(days: int) -> str:
    """Timer key of an ``days``-day window (see :meth:`Timers.firing`)."""
    return f"$window:{days}"


def affinity_key(category: str) -> str:
    """Timer key of ``affinity(category)`` compared with constants."""
    return f"$affinity:{category}"


def since_key(event_type: str) -> str:
    """Timer key of ``days_since(event_type)`` compared with constants."""
    return f"$since:{event_type}"


@dataclass(frozen=True, slots=True)
class Timers:
    """The time-dependent parts of a rule set, sorted for deterministic results."""

    windows: tuple[int, ...]
    since: tuple[tuple[str, tuple[int | float, ...]], ...]
    first_seen: tuple[int | float, ...]
    #: per window, in the same order: the event types its calls read (sorted)
    window_types: tuple[tuple[str, ...], ...]
    #: (category, the constants its affinity is compared with), sorted
    affinity: tuple[tuple[str, tuple[int | float, ...]], ...] = ()

    def next_due(self, view: ProfileView) -> float | None:
        """Earliest time after ``view.now`` at which some rule may change with no event."""
        now = view.now
        best = math.inf
        if self.windows:
            days = sorted(view.bucket_days())
            if days:
                today = math.floor(now / DAY_SECONDS)
                ahead = bisect_right(days, today)
                if ahead < len(days):
                    best = days[ahead] * DAY_SECONDS
                oldest = days[0]
                for n, types in zip(self.windows, self.window_types, strict=True):
                    # the window's oldest day (up to today) with an event it reads leaves
                    # first; days after today enter before they leave (``best`` above)
                    start = today + 1 - n
                    latest = -math.inf
                    for event_type in types:
                        last = view.last_time(event_type)
                        if last is not None and last > latest:
                            latest = last
                    if latest < start * DAY_SECONDS:
                        continue  # none in the window (the common case for purchases)
                    i = 0 if start <= oldest else bisect_left(days, start)
                    while i < ahead:
                        if view.day_has(days[i], types):
                            due = (days[i] + n) * DAY_SECONDS
                            if due < best:
                                best = due
                            break
                        i += 1
        for event_type, constants in self.since:
            last = view.last_time(event_type)
            if last is None:
                continue
            for c in constants:
                due = last + c * DAY_SECONDS + EPSILON_SECONDS
                if now < due < best:
                    best = due
        for category, thresholds in self.affinity:
            for x in thresholds:
                below = view.affinity_at(category, float(x))
                if below is not None:
                    due = below + EPSILON_SECONDS
                    if now < due < best:
                        best = due
        if self.first_seen:
            age = view.field(DAYS_SINCE_FIRST_SEEN)
            if isinstance(age, int | float) and not isinstance(age, bool):
                for c in self.first_seen:
                    due = now + (c - age) * DAY_SECONDS + EPSILON_SECONDS
                    if now < due < best:
                        best = due
        return None if best == math.inf else float(best)

    def firing(self, view: ProfileView, due: float) -> list[str]:
        """Keys of the timers that fire at ``due`` (a time :meth:`next_due` returned for
        this profile): :func:`window_key` of each window that a day with an event it reads
        leaves (every window when a bucket enters), :func:`since_key` of each
        ``days_since`` crossing, :func:`affinity_key` of each affinity that falls through
        a threshold. Clocks on ``days_since_first_seen`` are not keyed (their
        rules are re-evaluated at every due time). Both sides are computed by the same
        float operations as :meth:`next_due`, so equality is exact."""
        keys: list[str] = []
        if self.windows and due % DAY_SECONDS == 0.0:
            day = int(due // DAY_SECONDS)
            days = set(view.bucket_days())
            entering = day in days
            for n, types in zip(self.windows, self.window_types, strict=True):
                if entering or (day - n in days and view.day_has(day - n, types)):
                    keys.append(window_key(n))
        for event_type, constants in self.since:
            last = view.last_time(event_type)
            if last is not None:
                for c in constants:
                    if last + c * DAY_SECONDS + EPSILON_SECONDS == due:
                        keys.append(since_key(event_type))
                        break
        for category, thresholds in self.affinity:
            for x in thresholds:
                below = view.affinity_at(category, float(x))
                if below is not None and below + EPSILON_SECONDS == due:
                    keys.append(affinity_key(category))
                    break
        return keys


def window_reads(call: Call) -> tuple[str, ...]:
    """Event types whose day buckets a windowed ``call`` sums: its own, or purchases and
    returns for ``revenue`` (every event counts its type in its day's bucket)."""
    if call.func == "revenue":
        return ("purchase", "return")
    return (call.event_type,) if call.event_type else ()


def _numbers(nodes: Iterable[Node]) -> list[int | float]:
    out: list[int | float] = []
    for n in nodes:
        if isinstance(n, Literal) and is_number(n.value):
            out.append(n.value)  # type: ignore[arg-type]
    return out


def _clock(node: Node) -> tuple[str, str] | None:
    """("since", event type), ("first_seen", "") or ("affinity", category) when ``node``
    moves with time alone (the first two grow, an affinity decays)."""
    if isinstance(node, Call) and node.func == "days_since" and node.event_type:
        return ("since", node.event_type)
    if isinstance(node, Call) and node.func == "affinity" and node.category:
        return ("affinity", node.category)
    if isinstance(node, Field) and node.path == DAYS_SINCE_FIRST_SEEN:
        return ("first_seen", "")
    return None


def compared_pairs(node: Node) -> list[tuple[Node, list[Node]]]:
    """(subject, what it is compared with) for each side of a comparison node."""
    if isinstance(node, Compare):
        return [(node.left, [node.right]), (node.right, [node.left])]
    if isinstance(node, Between):
        return [(node.operand, [node.low, node.high])]
    if isinstance(node, In):
        return [(node.operand, list(node.items))]
    return []


def collect_timers(conditions: Iterable[Node]) -> Timers:
    """Collect windows and clock thresholds used anywhere in ``conditions``."""
    windows: dict[int, set[str]] = {}
    found: dict[tuple[str, str], set[int | float]] = {}
    for root in conditions:
        for node in walk(root):
            if isinstance(node, Call) and node.window is not None:
                windows.setdefault(node.window, set()).update(window_reads(node))
            for subject, others in compared_pairs(node):
                clock = _clock(subject)
                constants = _numbers(others)
                if clock is not None and constants:
                    found.setdefault(clock, set()).update(constants)
    since = tuple(
        (etype, tuple(sorted(found[(kind, etype)]))) for kind, etype in sorted(found) if kind == "since"
    )
    first_seen = tuple(sorted(found.get(("first_seen", ""), ())))
    affinity = tuple(
        (cat, tuple(sorted(found[(kind, cat)]))) for kind, cat in sorted(found) if kind == "affinity"
    )
    order = tuple(sorted(windows))
    return Timers(order, since, first_seen, tuple(tuple(sorted(windows[n])) for n in order), affinity)

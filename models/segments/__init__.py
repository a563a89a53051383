"""Rule segments: a small, safe, declarative language (no eval) for grouping users.

Segments are defined in a YAML file (default :data:`DEFAULT_RULES_PATH`)::

    version: 1
    segments:
      - id: recent_buyer
        name: Bought in the last 60 days
        when: count(purchase, 60d) >= 1

An expression combines functions (``count``, ``revenue``, ``category_count``,
``days_since``, ``affinity``), field paths (``traits.age`` ...) and constants with
``== != < <= > >=``, ``in [...]``, ``not in [...]``, ``between A and B``, ``and``, ``or``,
``not`` and parentheses. The rules are parsed by a hand-written tokenizer and
recursive-descent parser, type-checked at load, and compiled twice: into one generated
function that evaluates every rule (:mod:`models.segments.codegen`; no text of the rules
appears in its source) and into closures per node that serve the explanations
(:mod:`models.segments.compiler`, the reference semantics).

Window semantics: a window of ``N`` days evaluated at time ``now`` covers the UTC calendar
days ``[day(now) - N + 1, day(now)]``, ``day(t) = floor(t / 86400)``; the profile (a
:class:`ProfileView`) implements the window, rules only pass ``N``. So an event on day
``d`` counts in ``count(purchase, 60d)`` until ``(d + 60) * 86400``.

Null semantics: fields and ``days_since`` may be null; any ordering comparison or
``between`` with a null side is false; ``== null`` / ``!= null`` test presence.

>>> rules = parse_rules('segments: [{id: buyer, name: Buyer, when: "count(purchase) >= 1"}]')
>>> rules.segment_ids(), len(rules.version)
(('buyer',), 12)
"""

from models.segments.errors import RuleError
from models.segments.loader import DEFAULT_RULES_PATH, load_rules, parse_rules
from models.segments.rule_set import RuleSegment, RuleSet
from models.segments.view import ProfileView

__all__ = [
    "DEFAULT_RULES_PATH",
    "ProfileView",
    "RuleError",
    "RuleSegment",
    "RuleSet",
    "load_rules",
    "parse_rules",
]

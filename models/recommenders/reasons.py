"""Recommendation reasons, kept short in per-user state and spelled out for people.

A decision's recommendations carry a sentence each ("often viewed or bought together with
sku-1, which you looked at"). The hybrid policy caches its last list in the profile
(checkpointed with it), where these sentences were about half of a profile's bytes. So
candidates carry a code (a marker, a template letter and the one variable part) and
:func:`text` spells it out when a decision is made; the sentences are the same as before,
and a reason stored in full by an older version is passed through unchanged.

>>> text(code(COVISIT, "sku-1"))
'often viewed or bought together with sku-1, which you looked at'
>>> text("some reason written in full")
'some reason written in full'
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["COVISIT", "GLOBAL_TOP", "IN_SEGMENT", "LIKE_YOU", "REBUY", "STEADY", "TEMPLATES", "TRENDING",
           "code", "text"]

#: Starts every coded reason; never the start of a sentence.
_MARK = "\x1f"

COVISIT, REBUY, LIKE_YOU, IN_SEGMENT, TRENDING, GLOBAL_TOP, STEADY = "c", "b", "l", "s", "t", "g", "d"

TEMPLATES = {
    COVISIT: "often viewed or bought together with {}, which you looked at",
    REBUY: "you bought this {} days ago: buy it again",
    LIKE_YOU: "popular with shoppers like you ('{}')",
    IN_SEGMENT: "popular with shoppers in '{}', a segment you are in",
    TRENDING: "trending with all shoppers today",
    GLOBAL_TOP: "popular with all shoppers this week",
    STEADY: "a steady seller with all shoppers this month",
}


def code(kind: str, arg: str = "") -> str:
    """The short form of template ``kind`` with its variable part ``arg``."""
    return _MARK + kind + arg


@lru_cache(maxsize=8192)
def text(reason: str) -> str:
    """The sentence of a coded reason (anything else is already one)."""
    if not reason.startswith(_MARK):
        return reason
    return TEMPLATES[reason[1]].format(reason[2:])

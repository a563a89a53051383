"""Forward decay: time-decayed scores that are never rewritten as time passes.

An interaction of weight ``w`` at time ``t`` adds ``w * 2 ** ((t - anchor) / half_life)``
to a stored score. Ranking by stored score equals ranking by decayed score at any later
time. Only when the exponent grows past :data:`RESCALE_AT` half-lives does the anchor
move, and every stored score is multiplied by the returned factor.

>>> forward_gain(None, 0.0, 7.0)
(0.0, 1.0, 1.0)
>>> forward_gain(0.0, 7 * 86400.0, 7.0)[1]
2.0
"""

from __future__ import annotations

#: Exponent (in half-lives) past which the anchor moves.
RESCALE_AT = 64.0


def forward_gain(anchor: float | None, ts: float, half_life_days: float) -> tuple[float, float, float]:
    """``(new anchor, gain at ts, factor to multiply every stored score by)``."""
    hl = half_life_days * 86400.0
    if anchor is None:
        anchor = ts
    exponent = (ts - anchor) / hl
    factor = 1.0
    if exponent > RESCALE_AT:
        shift = exponent - 1.0
        factor = 2.0 ** (-shift)
        anchor += shift * hl
        exponent = 1.0
    return anchor, 2.0 ** exponent, factor

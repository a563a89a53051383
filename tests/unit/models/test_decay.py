"""Forward decay keeps scores finite and rankings right across hundreds of half-lives."""

import math

from models.recommenders.decay import RESCALE_AT, forward_gain
from models.recommenders.popularity import SegmentPopularity

DAY = 86400.0


def test_gain_doubles_per_half_life_and_rescales_past_the_limit():
    anchor, gain, factor = forward_gain(0.0, 7 * DAY, 7.0)
    assert (anchor, gain, factor) == (0.0, 2.0, 1.0)
    far = (RESCALE_AT + 10) * 7 * DAY
    anchor, gain, factor = forward_gain(0.0, far, 7.0)
    assert gain == 2.0 and factor == 2.0 ** -(RESCALE_AT + 9)
    assert anchor == (RESCALE_AT + 9) * 7 * DAY


def test_popularity_over_a_thousand_half_lives_stays_finite_and_ranks_recent_first():
    pop = SegmentPopularity(half_life_days=1.0, max_items=10)
    for day in range(1000):
        pop.learn_one(("s",), "old" if day < 990 else "new", None, 1.0, day * DAY)
    top = pop.top("s", 2)
    assert [item for item, _, _ in top] == ["new", "old"]
    assert all(math.isfinite(share) for _, share, _ in top)

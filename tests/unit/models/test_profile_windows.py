"""Profile windows: what a rule sees at a given time."""

from models.config import EngineConfig
from models.profiles import ProfileAt, apply_event, new_profile, prune_days
from schemas.decode import decode_event
from tests.factories import T0, at, event, purchase, raw

DAY = 86400.0
CFG = EngineConfig()


def _profile(*events):
    decoded = [decode_event(raw(e)) for e in events]
    p = new_profile("u1", decoded[0].ts)
    for ev in decoded:
        apply_event(p, ev, CFG)
    return p


def test_window_counts_cover_whole_utc_days():
    p = _profile(
        purchase("u1", at(0, hours=23), [("a", "outdoor", 10.0)]),
        purchase("u1", at(30), [("b", "home", 5.0)]),
        event("page_view", "u1", at(59)),
    )
    # at day 59 a 60-day window covers days 0..59: both purchases
    view = ProfileAt(p, (T0.timestamp() + 59 * DAY))
    assert view.count("purchase", 60) == 2
    assert view.revenue(60) == 15.0
    # at day 60 day 0 has left the 60-day window
    view = ProfileAt(p, (T0.timestamp() + 60 * DAY))
    assert view.count("purchase", 60) == 1
    assert view.revenue(60) == 5.0
    assert view.count("purchase", None) == 2  # all time
    assert view.count("page_view", 30) == 1
    assert view.category_count("purchase", "outdoor", 365) == 1
    assert view.category_count("purchase", "outdoor", 30) == 0


def test_returns_net_revenue_and_days_since():
    p = _profile(
        purchase("u1", at(0), [("a", "outdoor", 100.0)]),
        event("return", "u1", at(2), order_id="o-r", revenue=40.0,
              items=[{"item_id": "a", "price": 40.0}]),
    )
    view = ProfileAt(p, T0.timestamp() + 10 * DAY)
    assert view.revenue(None) == 60.0
    assert view.revenue(30) == 60.0
    assert view.last_time("purchase") == T0.timestamp()
    assert view.field("profile.avg_order_value") == 60.0


def test_affinity_decays_with_half_life():
    p = _profile(event("product_view", "u1", at(0), item_id="x", category="outdoor"))
    now0 = ProfileAt(p, T0.timestamp()).affinity("outdoor")
    later = ProfileAt(p, T0.timestamp() + 14 * DAY).affinity("outdoor")
    assert now0 == 1.0
    assert abs(later - 0.5) < 1e-9


def test_traits_consent_and_session_stats():
    p = _profile(
        event("identify", "u1", at(0), traits={"age": 30, "gender": "female",
                                                 "area_type": "urban", "extra": {"vip": True}}),
        event("consent", "u1", at(0, hours=1), personalization=False),
        event("page_view", "u1", at(1)),
    )
    view = ProfileAt(p, T0.timestamp() + DAY)
    assert view.field("traits.age") == 30
    assert view.field("traits.extra.vip") is True
    assert view.field("consent.personalization") is False
    assert view.field("consent.marketing") is None
    assert p.sessions == 3  # no session ids: a gap of more than 30 minutes starts a new one


def test_buckets_pruned_past_retention():
    p = _profile(purchase("u1", at(0), [("a", "outdoor", 1.0)]), event("page_view", "u1", at(500)))
    prune_days(p, T0.timestamp() + 500 * DAY, CFG)
    assert min(p.days) >= int(T0.timestamp() // DAY) + 500 - CFG.bucket_retention_days
    assert p.counts["purchase"] == 1  # all-time counts survive pruning


def test_recent_and_purchased_items_are_bounded():
    cfg = EngineConfig(max_recent_items=3, max_purchased_items=2)
    p = new_profile("u1", T0.timestamp())
    for i in range(5):
        apply_event(p, decode_event(raw(event("product_view", "u1", at(i), item_id=f"i{i}"))), cfg)
        apply_event(p, decode_event(raw(purchase("u1", at(i), [(f"p{i}", "home", 1.0)]))), cfg)
    assert p.recent_items == ["i2", "i3", "i4"]
    assert list(p.purchased) == ["p3", "p4"]

"""OffersState and OfferCatalog: replace, remove, reject invalid, deterministic version, caps."""

from __future__ import annotations

import doctest
import json
import pickle

import pytest

import models.offers.catalog as catalog_module
import schemas.control as control_schema
import streams.control.offers as offers_module
from models.offers import MAX_PLACEMENTS, OfferCatalog
from schemas.control import MAX_VARIANTS
from streams.control.errors import ControlError
from streams.control.offers import OffersState

TOPIC = "ctl.offers"


def offer(pid: str, n: int = 2, **extra: object) -> bytes:
    body: dict[str, object] = {
        "placement": pid,
        "variants": [{"id": f"v{i}", "title": f"Variant {i}", "content": {"url": f"/v{i}", "rank": i}}
                     for i in range(n)],
        "default_variant": "v0",
    }
    body.update(extra)
    return json.dumps(body).encode()


def test_apply_replace_and_remove():
    s = OffersState(TOPIC)
    assert s.apply(b"home_banner", offer("home_banner", experiment={"id": "x1", "holdout_fraction": 0.1})) \
        == "applied"
    s.apply(b"cart-upsell", offer("cart-upsell", 3))
    cat = s.catalog
    assert cat.placement_ids() == ("cart-upsell", "home_banner")
    assert cat["home_banner"].experiment is not None and cat["home_banner"].experiment.holdout_fraction == 0.1
    assert cat["cart-upsell"].variant_ids() == ("v0", "v1", "v2")
    assert cat["cart-upsell"].default.content["url"] == "/v0"
    s.apply(b"home_banner", offer("home_banner", 1))
    assert s.catalog["home_banner"].experiment is None and s.catalog.version != cat.version
    assert s.apply(b"home_banner", None) == "removed"
    assert s.catalog.placement_ids() == ("cart-upsell",)


def test_version_is_independent_of_arrival_order_and_pickles():
    a, b = OffersState(TOPIC), OffersState(TOPIC)
    for pid in ("p1", "p2", "p3"):
        a.apply(pid.encode(), offer(pid))
    for pid in ("p3", "p1", "p2"):
        b.apply(pid.encode(), offer(pid))
    assert a.catalog.version == b.catalog.version and a.catalog == b.catalog
    again = pickle.loads(pickle.dumps(a.catalog))
    assert again == a.catalog and again.version == a.catalog.version


def test_catalog_is_immutable():
    s = OffersState(TOPIC)
    s.apply(b"p", offer("p"))
    cat = s.catalog
    with pytest.raises(AttributeError):
        cat.placements = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        cat["p"].variants[0].content["url"] = "/evil"  # type: ignore[index]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (b"p", offer("p", MAX_VARIANTS + 1), f"length <= {MAX_VARIANTS}"),
        (b"p", offer("p", 0), "length >= 1"),
        (b"p", offer("p", default_variant="nope"), "default_variant 'nope' is not one of the variants"),
        (b"p", offer("other"), "key 'p' and placement 'other' differ"),
        (b"p", offer("p", experiment={"id": "x", "holdout_fraction": 0.6}), "experiment.holdout_fraction"),
        (b"p", b'{"placement": "p", "default_variant": "a", "variants": [{"id": "a", "title": "t",'
               b' "content": {"nested": {"x": 1}}}]}', "content"),
        (b"p", b'{"placement": "p", "default_variant": "A", "variants": [{"id": "A", "title": "t"}]}',
         "regex"),
        (b"p", b'{"placement": "p", "default_variant": "a", "variants": [{"id": "a", "title": "t"},'
               b' {"id": "a", "title": "u"}]}', "duplicate variant id 'a'"),
        (b"p", b'{"placement": "p", "default_variant": "a", "variants": [{"id": "a", "title": "t",'
               b' "weight": 0}]}', "weight"),
        (b"p", b"\x80\x81", "invalid offer"),
        (b"bad key!", offer("p"), "bad placement id in key"),
    ],
)
def test_invalid_offer_is_rejected_and_the_catalog_stays(key, value, expected):
    s = OffersState(TOPIC)
    s.apply(b"p", offer("p"))
    before = s.catalog
    with pytest.raises(ControlError) as info:
        s.apply(key, value)
    assert expected in str(info.value) and str(info.value).startswith(f"{TOPIC}:")
    assert s.catalog is before


def test_at_most_max_placements():
    s = OffersState(TOPIC)
    for i in range(MAX_PLACEMENTS):
        s.apply(f"p{i}".encode(), offer(f"p{i}", 1))
    with pytest.raises(ControlError, match="max 256"):
        s.apply(b"one_more", offer("one_more", 1))
    assert s.apply(b"p0", offer("p0", 2)) == "applied"  # replacing is fine
    assert len(s.catalog) == MAX_PLACEMENTS


def test_empty_catalog():
    assert len(OfferCatalog()) == 0 and OfferCatalog().get("x") is None
    with pytest.raises(KeyError, match="unknown placement 'x'"):
        OfferCatalog()["x"]


@pytest.mark.parametrize("module", [catalog_module, control_schema, offers_module])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0

"""The Online Retail source: every row accounted for, returns, order, normalisation."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from schemas.decode import Rejection, decode_event
from schemas.events import EventBase, Identify, Purchase, Return
from streams.sources import (
    SOURCE_CATEGORIES,
    categorize,
    iter_online_retail,
    load_online_retail,
)

DATA = Path("/work/shared/data/online_retail_sample.csv")
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="online retail sample not present")


@pytest.fixture(scope="module")
def loaded():
    records, summary = load_online_retail(DATA)
    decoded = [decode_event(r.raw) for r in records]
    return records, summary, decoded


@pytest.fixture(scope="module")
def csv_rows() -> list[list[str]]:
    with DATA.open(newline="") as f:
        return list(csv.reader(f))


def test_every_row_accounted_for(loaded) -> None:
    records, summary, decoded = loaded
    in_events = in_missing = invalid = 0
    for rec, ev in zip(records, decoded, strict=True):
        if isinstance(ev, (Purchase, Return)):
            in_events += len(ev.properties.items)
        elif isinstance(ev, Rejection) and ev.reason == "missing_user":
            in_missing += len(msgspec.json.decode(rec.raw)["properties"]["items"])
        elif isinstance(ev, Rejection):
            assert ev.reason == "unknown_type"
            assert msgspec.json.decode(rec.raw)["type"] == "invalid_source_row"
            invalid += 1
    assert in_events + in_missing + invalid == 30_000 == summary.rows_read
    assert (in_events, in_missing, invalid) == (
        summary.rows_in_orders,
        summary.rows_in_missing_user,
        summary.invalid_rows,
    )
    assert summary.rows_without_customer == 2_000


def test_dead_letter_counts(loaded, csv_rows) -> None:
    _, summary, decoded = loaded
    reasons = Counter(d.reason for d in decoded if isinstance(d, Rejection))
    invoices_without_customer = {r[0] for r in csv_rows[1:] if not r[6]}
    # an invoice without a customer whose rows are all invalid yields no event
    assert reasons["missing_user"] == summary.missing_user_events
    assert 0 < reasons["missing_user"] <= len(invoices_without_customer)
    assert set(reasons) == {"missing_user", "unknown_type"}
    assert reasons["unknown_type"] == summary.invalid_rows == 13  # stock adjustments
    assert summary.missing_user_events == 652


def test_returns_for_cancellations(loaded, csv_rows) -> None:
    _, summary, decoded = loaded
    events = [d for d in decoded if isinstance(d, EventBase)]
    returns = [e for e in events if isinstance(e, Return)]
    purchases = [e for e in events if isinstance(e, Purchase)]
    assert returns and len(returns) == summary.returns
    assert all(e.properties.order_id.startswith("C") for e in returns)
    assert not any(e.properties.order_id.startswith("C") for e in purchases)
    cancelled = {r[0] for r in csv_rows[1:] if r[0].startswith("C") and r[6]}
    assert {e.properties.order_id for e in returns} == cancelled
    for e in returns + purchases:
        p = e.properties
        assert p.currency == "GBP"
        assert e.event_id == "retail-" + p.order_id == e.session_id
        assert p.revenue == pytest.approx(sum(i.price * i.quantity for i in p.items), abs=0.006)


def test_sorted_by_event_time(loaded) -> None:
    records, _, _ = loaded
    times = []
    for r in records:
        obj = msgspec.json.decode(r.raw)
        if obj["type"] == "invalid_source_row":  # placed at the row's own date
            when = next(csv.reader([obj["source_line"]]))[4]
            times.append(when.replace(" ", "T") + "Z")
        else:
            times.append(obj["event_time"])
    timed = times
    assert timed == sorted(timed)
    assert timed[0].startswith("2010-12-01") and timed[-1].startswith("2011-12-09")
    assert list(iter_online_retail(DATA)) == records


def test_customer_id_normalised_and_identify_once(loaded, csv_rows) -> None:
    _, summary, decoded = loaded
    events = [d for d in decoded if isinstance(d, EventBase)]
    assert "17841.0" in {r[6] for r in csv_rows[1:]}
    users = {e.user_id for e in events}
    assert "17841" in users
    assert all(u is not None and u.isdigit() for u in users)
    identifies = [e for e in events if isinstance(e, Identify)]
    assert len(identifies) == len({e.user_id for e in identifies}) == summary.customers == 3_569
    seen: set[str] = set()
    for e in events:
        if isinstance(e, Identify):
            assert e.user_id not in seen
            seen.add(e.user_id or "")
            assert e.properties.traits.country
        else:
            assert e.user_id in seen  # identify comes first


def test_positions_point_at_the_invoice_line(loaded, csv_rows) -> None:
    records, _, decoded = loaded
    for rec, ev in zip(records, decoded, strict=True):
        assert rec.position.file == DATA.name
        line = rec.position.line
        assert line is not None and 2 <= line <= 30_001
        if isinstance(ev, (Purchase, Return)):
            assert csv_rows[line - 1][0] == ev.properties.order_id


def test_category_coverage(loaded) -> None:
    _, summary, decoded = loaded
    cats = Counter(
        i.category for e in decoded if isinstance(e, (Purchase, Return)) for i in e.properties.items
    )
    assert set(cats) <= set(SOURCE_CATEGORIES)
    assert cats["other"] / sum(cats.values()) < 0.35
    rows = summary.rows_in_orders + summary.rows_in_missing_user
    assert summary.other_category_rows / rows < 0.35
    assert len(cats) >= 12


@pytest.mark.parametrize(
    ("description", "category"),
    [
        ("JUMBO BAG RED RETROSPOT", "bags"),
        ("PARTY BUNTING", "party"),
        ("WHITE HANGING HEART T-LIGHT HOLDER", "decor"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN ", "kitchen"),
        ("SET OF 72 PINK HEART PAPER DOILIES", "kitchen"),
        ("ROUND SNACK BOXES SET OF4 WOODLAND ", "kitchen"),
        ("PACK OF 12 PINK PAISLEY TISSUES ", "beauty"),
        ("GARDENERS KNEELING PAD KEEP CALM ", "garden"),
        ("DIAMANTE NECKLACE GOLD", "jewelry"),
        ("SPACEBOY BIRTHDAY CARD", "party"),
        ("CHILDRENS DOLLY GIRL MUG", "toys"),
        ("POSTAGE", "other"),
        ("", "other"),
    ],
)
def test_categorize(description: str, category: str) -> None:
    assert categorize(description) == category


BAD_CSV = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER ,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,six,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,yesterday,1.85,17850.0,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,0,2010-12-01 08:34:00,1.69,13047.0,United Kingdom
536367,22745,POPPY'S PLAYHOUSE BEDROOM ,6,2010-12-01 08:34:00,-2.10,13047.0,United Kingdom
536368,22960,JAM MAKING SET WITH JARS,6,2010-11-30 08:34:00,4.25,,France
C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom
"""


def test_invalid_rows_are_kept_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    records, summary = load_online_retail(path)
    assert summary.rows_read == 7 and summary.invalid_rows == 4
    assert summary.rows_in_orders + summary.rows_in_missing_user + summary.invalid_rows == 7
    decoded = [decode_event(r.raw) for r in records]
    bad = [
        msgspec.json.decode(r.raw)
        for r, d in zip(records, decoded, strict=True)
        if isinstance(d, Rejection) and d.reason == "unknown_type"
    ]
    lines = BAD_CSV.splitlines()
    assert sorted(b["source_line_number"] for b in bad) == [3, 4, 5, 6]
    for b in bad:
        assert b["source_line"] == lines[b["source_line_number"] - 1]
        assert b["error"]
    missing = [d for d in decoded if isinstance(d, Rejection) and d.reason == "missing_user"]
    assert len(missing) == 1
    first = msgspec.json.decode(records[0].raw)
    assert first["event_time"] == "2010-11-30T08:34:00Z"  # the missing-user invoice, earliest
    ret = [d for d in decoded if isinstance(d, Return)]
    assert len(ret) == 1 and ret[0].properties.revenue == 27.5
    assert ret[0].user_id == "14527"


def test_wrong_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="expected header"):
        load_online_retail(path)

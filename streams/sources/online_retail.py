"""The UCI "Online Retail" purchase log (CSV) as event records: the documented mapping.

Input columns: ``InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
CustomerID, Country`` (one row per purchased line item; the file need not be in time
order). Output: :class:`~streams.sources.record.SourceRecord` s whose ``raw`` is one
encoded event (or one record the decoder must reject, see below) and whose ``position``
is ``SourcePosition(file=<file name>, line=<1-based CSV line, the header is line 1>)``.

Mapping
-------
* Rows are grouped by ``InvoiceNo``: **one event per invoice**. An invoice whose number
  starts with ``"C"`` (a cancellation, negative quantities) becomes a ``return`` with
  the quantities made positive and ``revenue`` = the refunded amount; any other invoice
  becomes a ``purchase``.
* Line items, in CSV order (rows are never merged): ``{"item_id": StockCode,
  "quantity": |Quantity|, "price": UnitPrice, "category": categorize(Description),
  "description": Description stripped}``. ``description`` is not in the event contract;
  the decoder ignores it, it is kept so a dead-lettered record holds the full row.
* ``revenue`` = sum(price * quantity), computed in decimal and rounded to cents;
  ``currency`` = ``"GBP"``; ``order_id`` = ``InvoiceNo``; ``properties.country`` =
  ``Country`` (also ignored by the decoder, kept for the same reason).
* ``event_id`` = ``session_id`` = ``"retail-" + InvoiceNo``; ``user_id`` =
  ``str(int(float(CustomerID)))`` (``"17841.0"`` -> ``"17841"``).
* ``event_time`` = the invoice's earliest ``InvoiceDate`` (``YYYY-MM-DD HH:MM:SS``, or
  the original UCI ``M/D/YYYY H:MM``) **interpreted as UTC** (the data has no zone; the
  retailer is in the UK), written ``YYYY-MM-DDTHH:MM:SSZ``.
* An invoice with more than :data:`~schemas.limits.MAX_LINE_ITEMS` valid rows is split
  into parts of at most that many items; part ``k >= 2`` has event id
  ``"retail-<InvoiceNo>-<k>"`` (the same ``order_id``).
* ``identify`` is not invented, except one per customer, at the customer's first
  invoice event (same time, ordered just before it), with ``traits = {"country":
  Country}`` and event id ``"retail-identify-<customer>"``.

Rows that cannot be attributed or parsed (nothing is dropped)
-------------------------------------------------------------
* **No CustomerID**: the invoice event is still emitted, but without ``user_id`` or
  ``anonymous_id``; the standard decoder dead-letters it with reason ``missing_user``
  and the dead letter keeps the full content.
* **Invalid row** (wrong number of columns, empty InvoiceNo/StockCode, unparseable
  date, non-numeric or zero quantity, quantity sign not matching the invoice kind —
  e.g. a negative quantity on a non-"C" invoice, a stock adjustment — quantity or price
  beyond the contract's bounds, negative or non-numeric price, non-numeric CustomerID,
  or a CustomerID/Country differing from the invoice's first valid row): the row is
  emitted on its own as ``{"type": "invalid_source_row", "event_id":
  "retail-invalid-<line>", "source_file": ..., "source_line_number": ...,
  "source_line": <the original CSV text>, "error": <why>}``. That type is unknown to the
  decoder, so it dead-letters with reason ``unknown_type`` and the original line kept.
  Invalid rows are counted in the summary.
* Blank lines are skipped (not counted as rows).

Order: records are sorted by event time, ties by the first CSV line of the record (an
``identify`` just before its invoice). An invalid row is placed at its own date if it
parses, else at its invoice's time, else after everything else (in line order).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import msgspec

from schemas.limits import MAX_AMOUNT, MAX_ID_LEN, MAX_LINE_ITEMS, MAX_QUANTITY
from schemas.outputs import SourcePosition
from streams.sources.categories import categorize
from streams.sources.record import SourceRecord

HEADER: tuple[str, ...] = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
CURRENCY = "GBP"
PREFIX = "retail-"
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")
_encode = msgspec.json.Encoder().encode


class OnlineRetailSummary(msgspec.Struct, kw_only=True):
    """Counts of what was read and emitted.

    ``rows_read == rows_in_orders + rows_in_missing_user + invalid_rows`` always holds.
    """

    rows_read: int = 0
    invoices: int = 0
    customers: int = 0
    purchases: int = 0  #: purchase events with a user
    returns: int = 0  #: return events with a user
    identifies: int = 0
    missing_user_events: int = 0  #: purchase/return events without a user
    rows_in_orders: int = 0  #: rows inside purchase/return events with a user
    rows_in_missing_user: int = 0  #: rows inside events without a user
    rows_without_customer: int = 0  #: rows read with an empty CustomerID (valid or not)
    invalid_rows: int = 0
    other_category_rows: int = 0  #: rows (in events) whose category is "other"
    records: int = 0


class RowError(ValueError):
    """A CSV row that cannot be mapped (the message says why)."""


@dataclass(slots=True)
class _Row:
    line: int
    text: str
    invoice: str
    stock: str
    description: str
    quantity: int
    when: datetime
    price_text: str
    price: float
    customer: str | None
    country: str


@dataclass(slots=True)
class _Invoice:
    number: str
    rows: list[_Row] = field(default_factory=list)


def parse_time(text: str) -> datetime:
    """An ``InvoiceDate`` as a naive datetime (UTC by convention)."""
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise RowError(f"unparseable InvoiceDate {text!r}")


def normalize_customer(text: str) -> str | None:
    """``"17841.0"`` -> ``"17841"``; empty -> ``None``.

    >>> normalize_customer("17841.0"), normalize_customer(" "), normalize_customer("12")
    ('17841', None, '12')
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"non-numeric CustomerID {text!r}") from None
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise RowError(f"invalid CustomerID {text!r}")
    return str(int(value))


def _parse_row(fields: list[str], line: int, text: str) -> _Row:
    if len(fields) != len(HEADER):
        raise RowError(f"expected {len(HEADER)} columns, got {len(fields)}")
    invoice, stock, desc, qty_s, date_s, price_s, cust_s, country = fields
    invoice, stock = invoice.strip(), stock.strip()
    if not invoice or len(invoice) > MAX_ID_LEN - len(PREFIX) - 4:
        raise RowError("empty or too long InvoiceNo")
    if not stock or len(stock) > MAX_ID_LEN:
        raise RowError("empty or too long StockCode")
    try:
        qty = int(qty_s.strip())
    except ValueError:
        raise RowError(f"non-numeric Quantity {qty_s!r}") from None
    if qty == 0:
        raise RowError("zero Quantity")
    if abs(qty) > MAX_QUANTITY:
        raise RowError(f"Quantity {qty} beyond {MAX_QUANTITY}")
    is_return = invoice.startswith("C")
    if is_return != (qty < 0):
        kind = "cancellation" if is_return else "non-cancellation"
        raise RowError(f"Quantity {qty} has the wrong sign for a {kind} invoice")
    when = parse_time(date_s)
    try:
        price = float(price_s.strip())
        Decimal(price_s.strip())
    except (ValueError, InvalidOperation):
        raise RowError(f"non-numeric UnitPrice {price_s!r}") from None
    if not math.isfinite(price) or price < 0 or price > MAX_AMOUNT:
        raise RowError(f"UnitPrice {price_s!r} out of range")
    customer = normalize_customer(cust_s)
    return _Row(
        line=line,
        text=text,
        invoice=invoice,
        stock=stock,
        description=desc.strip(),
        quantity=abs(qty),
        when=when,
        price_text=price_s.strip(),
        price=price,
        customer=customer,
        country=country.strip(),
    )


class _LineTracker:
    """Feeds a file to :func:`csv.reader` while keeping the raw text of each record."""

    def __init__(self, f: Iterator[str]) -> None:
        self._f = f
        self.lineno = 0
        self.buf: list[str] = []

    def __iter__(self) -> _LineTracker:
        return self

    def __next__(self) -> str:
        line = next(self._f)
        self.lineno += 1
        self.buf.append(line)
        return line

    def take(self) -> tuple[int, str]:
        first = self.lineno - len(self.buf) + 1
        text = "".join(self.buf).rstrip("\r\n")
        self.buf.clear()
        return first, text


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def load_online_retail(path: str | Path) -> tuple[list[SourceRecord], OnlineRetailSummary]:
    """Read the CSV and map it (see the module docstring): sorted records and counts."""
    path = Path(path)
    name = path.name
    summary = OnlineRetailSummary()
    invoices: dict[str, _Invoice] = {}
    invalid: list[tuple[int, str, str, datetime | None, str]] = []  # line, text, error, ...
    owner: dict[str, tuple[str | None, str]] = {}  # invoice -> (customer, country)
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        tracker = _LineTracker(f)
        reader = csv.reader(tracker)
        header = next(reader, None)
        tracker.take()
        if header is None or tuple(h.strip() for h in header) != HEADER:
            raise ValueError(f"{name}: expected header {','.join(HEADER)}, got {header!r}")
        for fields in reader:
            line, text = tracker.take()
            if not fields or all(not x.strip() for x in fields):
                continue
            summary.rows_read += 1
            if len(fields) > 6 and not fields[6].strip():
                summary.rows_without_customer += 1
            try:
                row = _parse_row(fields, line, text)
                first = owner.setdefault(row.invoice, (row.customer, row.country))
                if first != (row.customer, row.country):
                    raise RowError(
                        f"CustomerID/Country {row.customer!r}/{row.country!r} differ from "
                        f"the invoice's first row ({first[0]!r}/{first[1]!r})"
                    )
            except RowError as exc:
                when: datetime | None = None
                if len(fields) == len(HEADER):
                    try:
                        when = parse_time(fields[4])
                    except RowError:
                        when = None
                invoice_no = fields[0].strip() if fields else ""
                invalid.append((line, text, str(exc), when, invoice_no))
                continue
            inv = invoices.get(row.invoice)
            if inv is None:
                inv = invoices[row.invoice] = _Invoice(row.invoice)
            inv.rows.append(row)

    # (sort key, record); key = (0, time, line, sub) or (1, 0, line, 0) when untimed
    keyed: list[tuple[tuple[int, str, int, int], bytes, int, str | None, str]] = []
    inv_time: dict[str, datetime] = {}
    customers: dict[str, None] = {}
    for inv in invoices.values():
        when = min(r.when for r in inv.rows)
        inv_time[inv.number] = when
        is_return = inv.number.startswith("C")
        customer = inv.rows[0].customer
        for part, start in enumerate(range(0, len(inv.rows), MAX_LINE_ITEMS)):
            rows = inv.rows[start : start + MAX_LINE_ITEMS]
            event_id = PREFIX + inv.number + (f"-{part + 1}" if part else "")
            raw = _order_event(inv.number, event_id, rows, when, is_return, customer)
            first_line = min(r.line for r in rows)
            keyed.append(
                ((0, _iso(when), first_line, 1), raw, first_line, customer, rows[0].country)
            )
            summary.other_category_rows += sum(
                1 for r in rows if categorize(r.description) == "other"
            )
            if customer is None:
                summary.missing_user_events += 1
                summary.rows_in_missing_user += len(rows)
            else:
                customers[customer] = None
                summary.rows_in_orders += len(rows)
                if is_return:
                    summary.returns += 1
                else:
                    summary.purchases += 1
    summary.invoices = len(invoices)
    summary.customers = len(customers)
    for line, text, error, when, invoice_no in invalid:
        t = when or inv_time.get(invoice_no)
        key = (0, _iso(t), line, 1) if t is not None else (1, "", line, 0)
        rec = {
            "type": "invalid_source_row",
            "event_id": f"{PREFIX}invalid-{line}",
            "source_file": name,
            "source_line_number": line,
            "source_line": text,
            "error": error,
        }
        keyed.append((key, _encode(rec), line, None, ""))
    summary.invalid_rows = len(invalid)
    keyed.sort(key=lambda k: k[0])

    # identify at each customer's first invoice event, just before it
    seen: dict[str, None] = {}
    out: list[SourceRecord] = []
    for key, raw, line, customer, country in keyed:
        position = SourcePosition(file=name, line=line)
        if customer is not None and customer not in seen:
            seen[customer] = None
            out.append(SourceRecord(_identify_event(customer, country, key[1]), position))
            summary.identifies += 1
        out.append(SourceRecord(raw, position))
    summary.records = len(out)
    return out, summary


def iter_online_retail(path: str | Path) -> Iterator[SourceRecord]:
    """The records of :func:`load_online_retail`, in event-time order."""
    records, _ = load_online_retail(path)
    yield from records


def _order_event(
    number: str,
    event_id: str,
    rows: list[_Row],
    when: datetime,
    is_return: bool,
    customer: str | None,
) -> bytes:
    total = Decimal(0)
    items = []
    for r in rows:
        total += Decimal(r.price_text) * r.quantity
        items.append(
            {
                "item_id": r.stock,
                "quantity": r.quantity,
                "price": r.price,
                "category": categorize(r.description),
                "description": r.description,
            }
        )
    revenue = float(total.quantize(Decimal("0.01")))
    props: dict[str, object] = {
        "order_id": number,
        "items": items,
        "revenue": revenue,
        "currency": CURRENCY,
    }
    if rows[0].country:
        props["country"] = rows[0].country
    ev: dict[str, object] = {"type": "return" if is_return else "purchase", "event_id": event_id}
    if customer is not None:
        ev["user_id"] = customer
    ev["event_time"] = _iso(when)
    ev["session_id"] = PREFIX + number
    ev["properties"] = props
    ev["schema_version"] = 1
    return _encode(ev)


def _identify_event(customer: str, country: str, event_time: str) -> bytes:
    traits: dict[str, object] = {"country": country} if country else {}
    return _encode(
        {
            "type": "identify",
            "event_id": f"{PREFIX}identify-{customer}",
            "user_id": customer,
            "event_time": event_time,
            "properties": {"traits": traits},
            "schema_version": 1,
        }
    )

"""Replay a CSV log nobody wrote for us: a column mapping turns each row into one event.

A mapping is a flat set of keys, given on the command line (``--map user=CustomerID``,
repeatable) or in a small YAML file (``--mapping FILE``; command-line keys win)::

    user: CustomerID            # column with the user id (required)
    anonymous: false            # true: the user column holds anonymous ids
    type: purchase              # constant event type ...
    event_type: Action          # ... or a column with it (values mapped by type_map)
    type_map: {view: product_view, cart: add_to_cart, buy: purchase}
    timestamp: InvoiceDate      # column with the event time (required)
    time_format: "%Y-%m-%d %H:%M:%S"   # iso | unix_s | unix_ms | a strptime pattern
    timezone: UTC               # for times without an offset (an IANA name)
    item: StockCode             # item column (product_view, add_to_cart, purchase ...)
    value: UnitPrice            # unit price
    quantity: Quantity
    category: Category
    event_id: Id                # column with a unique id (default: <file>:<line>)
    delimiter: ","

Each row becomes one event of our schema: ``product_view`` / ``add_to_cart`` /
``remove_from_cart`` (item, category, price, quantity), ``purchase`` / ``return`` (one
line item; revenue = price x quantity, order id = event id), ``page_view``, ``erase``, or
any other type as ``{type, ids, time}`` (the decoder then says what is missing). A row
that cannot be mapped (missing column, unparseable time or number) becomes an
``invalid_source_row`` record (dead-lettered as ``unknown_type`` with the row's file,
line and text), so nothing is dropped.

>>> m = CsvMapping.from_pairs(["user=u", "type=product_view", "timestamp=t", "item=i",
...                            "time_format=unix_s"])
>>> m.event({"u": "7", "t": "86400", "i": "sku-1"}, "log.csv", 2)
b'{"type":"product_view","event_id":"log.csv:2","user_id":"7","event_time":"1970-01-02T00:00:00Z","properties":{"item_id":"sku-1"}}'
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from schemas.outputs import SourcePosition
from streams.replay.errors import ReplayInputError
from streams.replay.sources import RawRecord

__all__ = ["CsvMapping", "MappingError", "RowError", "iter_csv_records"]

_encode = msgspec.json.Encoder().encode
_ITEM_TYPES = ("product_view", "add_to_cart", "remove_from_cart")
_ORDER_TYPES = ("purchase", "return")


class MappingError(ValueError):
    """The mapping itself is wrong (unknown key, missing required key, bad value)."""


class RowError(ValueError):
    """One row cannot be mapped; the message says why."""


@dataclass(frozen=True)
class CsvMapping:
    user: str
    timestamp: str
    type: str | None = None
    event_type: str | None = None
    type_map: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    time_format: str = "iso"
    timezone: str = "UTC"
    item: str | None = None
    value: str | None = None
    quantity: str | None = None
    category: str | None = None
    event_id: str | None = None
    delimiter: str = ","

    def __post_init__(self) -> None:
        if (self.type is None) == (self.event_type is None):
            raise MappingError("give exactly one of 'type' (a constant event type) or "
                               "'event_type' (the column holding it)")
        if len(self.delimiter) != 1:
            raise MappingError(f"delimiter must be one character, got {self.delimiter!r}")
        self.zone()  # validate early

    def zone(self) -> tzinfo:
        if self.timezone.upper() == "UTC":
            return UTC
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise MappingError(f"unknown timezone {self.timezone!r} (use an IANA name such as "
                               "Europe/London, or UTC)") from None

    # -- construction ------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "mapping") -> CsvMapping:
        known = {f.name for f in fields(cls)}
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise MappingError(f"{source}: unknown key(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(known))}")
        for required in ("user", "timestamp"):
            if not data.get(required):
                raise MappingError(f"{source}: '{required}' (the column with the "
                                   f"{'user id' if required == 'user' else 'event time'}) is required")
        values = dict(data)
        if "type_map" in values and not isinstance(values["type_map"], dict):
            raise MappingError(f"{source}: type_map must be a mapping of source value -> event type")
        if "anonymous" in values and not isinstance(values["anonymous"], bool):
            values["anonymous"] = str(values["anonymous"]).lower() in ("1", "true", "yes")
        for key, val in values.items():
            if key not in ("type_map", "anonymous") and val is not None and not isinstance(val, str):
                values[key] = str(val)
        try:
            return cls(**values)
        except MappingError as exc:
            raise MappingError(f"{source}: {exc}") from None

    @classmethod
    def from_pairs(cls, pairs: list[str], base: Mapping[str, Any] | None = None) -> CsvMapping:
        """``key=value`` pairs (``type_map.view=product_view`` for one type_map entry)."""
        data: dict[str, Any] = dict(base or {})
        type_map = dict(data.get("type_map") or {})
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise MappingError(f"--map {pair!r}: expected key=value, e.g. user=CustomerID")
            key = key.strip()
            if key.startswith("type_map."):
                type_map[key[len("type_map."):]] = value
            else:
                data[key] = value
        if type_map:
            data["type_map"] = type_map
        return cls.from_dict(data, "--map")

    @classmethod
    def load(cls, path: Path, pairs: list[str] | None = None) -> CsvMapping:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise MappingError(f"{path}: cannot read mapping: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise MappingError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise MappingError(f"{path}: a mapping file is a YAML mapping of key: value")
        if pairs:
            return cls.from_pairs(pairs, base=data)
        return cls.from_dict(data, str(path))

    # -- rows -> events ----------------------------------------------------------

    def _col(self, row: Mapping[str, str], column: str) -> str:
        value = row.get(column)
        if value is None:
            raise RowError(f"missing column {column!r}")
        return value.strip()

    def _time(self, text: str, zone: tzinfo) -> str:
        fmt = self.time_format
        try:
            if fmt == "iso":
                when = datetime.fromisoformat(text)
            elif fmt in ("unix_s", "unix_ms"):
                seconds = float(text) / (1000.0 if fmt == "unix_ms" else 1.0)
                if not math.isfinite(seconds):
                    raise ValueError(text)
                when = datetime.fromtimestamp(seconds, UTC)
            else:
                when = datetime.strptime(text, fmt)
        except (ValueError, OverflowError, OSError):
            raise RowError(f"unparseable time {text!r} (time_format {fmt!r})") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        when = when.astimezone(UTC)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S")
        if when.microsecond:
            stamp += f".{when.microsecond:06d}".rstrip("0")
        return stamp + "Z"

    def _number(self, row: Mapping[str, str], column: str | None,
                kind: Callable[[str], float]) -> float | None:
        if column is None:
            return None
        text = self._col(row, column)
        if not text:
            return None
        try:
            value = kind(text)
        except ValueError:
            raise RowError(f"non-numeric {column} {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise RowError(f"non-finite {column} {text!r}")
        return value

    def event(self, row: Mapping[str, str], file: str, line: int, zone: tzinfo | None = None) -> bytes:
        """The event for one row (raises :class:`RowError` when it cannot be mapped)."""
        if self.type is not None:
            etype = self.type
        else:
            source_type = self._col(row, self.event_type)  # type: ignore[arg-type]
            etype = self.type_map.get(source_type, source_type)
        user = self._col(row, self.user)
        event_id = self._col(row, self.event_id) if self.event_id else f"{file}:{line}"
        ev: dict[str, Any] = {"type": etype, "event_id": event_id}
        if user:
            ev["anonymous_id" if self.anonymous else "user_id"] = user
        ev["event_time"] = self._time(self._col(row, self.timestamp), zone or self.zone())
        item = self._col(row, self.item) if self.item else None
        price = self._number(row, self.value, float)
        quantity = self._number(row, self.quantity, int)
        category = self._col(row, self.category) if self.category else None
        props: dict[str, Any] = {}
        if etype in _ITEM_TYPES or etype in _ORDER_TYPES:
            if not item:
                raise RowError(f"a {etype} needs an item: map 'item' to a column" if self.item is None
                               else f"empty item column {self.item!r}")
            line_item: dict[str, Any] = {"item_id": item}
            if category:
                line_item["category"] = category
            if price is not None:
                line_item["price"] = price
            if quantity is not None:
                line_item["quantity"] = abs(quantity)
            if etype in _ORDER_TYPES:
                revenue = round((price or 0.0) * abs(quantity or 1), 2)
                props = {"order_id": event_id, "items": [line_item], "revenue": revenue}
            else:
                props = line_item
        elif etype == "page_view" and category:
            props = {"category": category}
        if props:
            ev["properties"] = props
        return _encode(ev)


def iter_csv_records(path: Path, mapping: CsvMapping) -> Iterator[RawRecord]:
    """One record per CSV data row, in file order (the header row names the columns)."""
    name = path.name
    zone = mapping.zone()
    try:
        fh = open(path, encoding="utf-8-sig", errors="replace", newline="")  # noqa: SIM115
    except OSError as exc:
        raise ReplayInputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with fh:
        reader = csv.reader(fh, delimiter=mapping.delimiter)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise ReplayInputError(f"{path}:1: cannot read the header: {exc}") from None
        if header is None:
            raise ReplayInputError(f"{path}:1: empty file: expected a header row naming the columns")
        header = [h.strip() for h in header]
        wanted = [c for c in (mapping.user, mapping.timestamp, mapping.event_type, mapping.item,
                              mapping.value, mapping.quantity, mapping.category, mapping.event_id)
                  if c is not None]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise ReplayInputError(f"{path}:1: column(s) {', '.join(missing)} not in the header "
                                   f"({', '.join(header)})")
        while True:
            start = reader.line_num + 1
            try:
                fields_ = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise ReplayInputError(f"{path}:{start}: unreadable CSV: {exc}") from None
            if not fields_ or all(not f.strip() for f in fields_):
                continue
            position = SourcePosition(file=name, line=start)
            try:
                if len(fields_) != len(header):
                    raise RowError(f"expected {len(header)} columns, got {len(fields_)}")
                raw = mapping.event(dict(zip(header, fields_, strict=True)), name, start, zone)
            except RowError as exc:
                raw = _encode({
                    "type": "invalid_source_row", "event_id": f"{name}:{start}",
                    "source_file": name, "source_line_number": start,
                    "source_line": mapping.delimiter.join(fields_), "error": str(exc),
                })
            yield raw, position

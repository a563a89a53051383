"""The offer catalogue from the control topic: :class:`OffersState`.

Pure (no Kafka, no I/O): records ``(key, value | None)`` go in, an immutable
:class:`~models.offers.OfferCatalog` comes out. A record replaces its placement, a
tombstone removes it; an invalid record raises :class:`ControlError` and changes
nothing, so the previous catalogue stays in force.

>>> state = OffersState()
>>> state.apply(b"home_banner", b'{"placement": "home_banner", "default_variant": "a",'
...             b' "variants": [{"id": "a", "title": "Sale"}]}')
'applied'
>>> state.catalog.placement_ids()
('home_banner',)
>>> try:
...     state.apply(b"home_banner", b'{"placement": "home_banner", "default_variant": "b",'
...                 b' "variants": [{"id": "a", "title": "Sale"}]}')
... except ControlError as err:
...     print(err)
personalization.offers:home_banner: invalid offer: default_variant 'b' is not one of the variants (a)
>>> state.catalog["home_banner"].default_variant, state.apply(b"home_banner", None), len(state.catalog)
('a', 'removed', 0)
"""

from __future__ import annotations

import re

import msgspec

from models.offers import MAX_PLACEMENTS, OfferCatalog, Placement
from schemas.control import OFFER_ID_PATTERN, OfferRecord, decode_offer
from streams.control.definitions import Outcome
from streams.control.errors import ControlError, show_key

__all__ = ["DEFAULT_OFFERS_TOPIC", "OffersState"]

#: Default name of the offers topic (used in messages when none is given).
DEFAULT_OFFERS_TOPIC = "personalization.offers"

_OFFER_ID = re.compile(OFFER_ID_PATTERN)


class OffersState:
    """Placements by id, folded from the offers topic. Not thread-safe: one reader folds."""

    def __init__(self, topic: str = DEFAULT_OFFERS_TOPIC) -> None:
        self.topic = topic
        self._placements: dict[str, Placement] = {}
        self._catalog: OfferCatalog | None = OfferCatalog()

    @property
    def catalog(self) -> OfferCatalog:
        """The current catalogue (built once per change, on first use)."""
        if self._catalog is None:
            self._catalog = OfferCatalog(tuple(self._placements.values()))
        return self._catalog

    def key_of(self, key: bytes | str | None) -> str:
        """The placement id a record key names; :class:`ControlError` when it is not one."""
        shown = show_key(key)
        if key is None:
            raise ControlError(self.topic, shown, "record has no key; key offers by placement id")
        if isinstance(key, bytes):
            try:
                key = key.decode("utf-8")
            except UnicodeDecodeError:
                raise ControlError(self.topic, shown, "key is not UTF-8 text") from None
        if not _OFFER_ID.fullmatch(key):
            raise ControlError(
                self.topic, shown, "bad placement id in key; use 1-64 characters of a-z, 0-9, _ and -"
            )
        return key

    def validate(self, key: bytes | str | None, value: bytes) -> OfferRecord:
        """Decode and check one record; raises :class:`ControlError`."""
        pid = self.key_of(key)
        try:
            record = decode_offer(value)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ControlError(self.topic, pid, f"invalid offer: {exc}") from None
        if record.placement != pid:
            raise ControlError(
                self.topic, pid, f"key {pid!r} and placement {record.placement!r} differ; they must match"
            )
        return record

    def apply(self, key: bytes | str | None, value: bytes | None) -> Outcome:
        """Fold one record: ``"applied"``, ``"removed"`` (tombstone), or :class:`ControlError`."""
        if value is None:
            pid = self.key_of(key)
            if self._placements.pop(pid, None) is not None:
                self._catalog = None
            return "removed"
        record = self.validate(key, value)
        if record.placement not in self._placements and len(self._placements) >= MAX_PLACEMENTS:
            raise ControlError(
                self.topic, record.placement,
                f"would make {len(self._placements) + 1} placements (max {MAX_PLACEMENTS}); "
                "delete some first",
            )
        placement = Placement.from_record(record)
        if self._placements.get(placement.id) != placement:
            self._placements[placement.id] = placement
            self._catalog = None
        return "applied"

"""The offer catalogue: placements, their variants and experiments, validated and immutable.

Built from validated control records (:mod:`schemas.control`); the decision policy reads
it. ``version`` is a short stable hash of the content, so two catalogues with the same
placements compare equal whatever order they were folded in.

>>> from schemas.control import decode_offer
>>> rec = decode_offer(b'{"placement": "home_banner", "default_variant": "a",'
...                    b' "variants": [{"id": "a", "title": "Sale", "content": {"url": "/sale"}}]}')
>>> catalog = OfferCatalog.from_records([rec])
>>> catalog.placement_ids(), catalog["home_banner"].default.title, len(catalog.version)
(('home_banner',), 'Sale', 12)
>>> OfferCatalog.from_records([]).version == OfferCatalog().version
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import msgspec

from schemas.control import OfferRecord

#: Most placements in one catalogue.
MAX_PLACEMENTS = 256

ContentScalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Variant:
    """One variant of a placement: what is shown (``content``) and its prior ``weight``."""

    id: str
    title: str
    content: Mapping[str, ContentScalar]
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Experiment:
    """An experiment on a placement; ``holdout_fraction`` of users get the default variant."""

    id: str
    holdout_fraction: float = 0.0


@dataclass(frozen=True, slots=True)
class Placement:
    """A placement (e.g. ``home_banner``) with its variants in record order."""

    id: str
    variants: tuple[Variant, ...]
    default_variant: str
    experiment: Experiment | None = None

    @property
    def default(self) -> Variant:
        """The default variant (shown to hold-out users and when no policy decides)."""
        return next(v for v in self.variants if v.id == self.default_variant)

    def variant_ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.variants)

    @classmethod
    def from_record(cls, record: OfferRecord) -> Placement:
        """A placement from a validated :class:`~schemas.control.OfferRecord`."""
        variants = tuple(
            Variant(v.id, v.title, MappingProxyType(dict(sorted(v.content.items()))), float(v.weight))
            for v in record.variants
        )
        experiment = (
            Experiment(record.experiment.id, float(record.experiment.holdout_fraction))
            if record.experiment is not None
            else None
        )
        return cls(record.placement, variants, record.default_variant, experiment)

    def __reduce__(self) -> tuple[object, ...]:
        return (Placement.from_record, (self.to_record(),))

    def to_record(self) -> OfferRecord:
        """Back to the control-topic record (for publishing and ``version``)."""
        return msgspec.convert(
            {
                "placement": self.id,
                "variants": [
                    {"id": v.id, "title": v.title, "content": dict(v.content), "weight": v.weight}
                    for v in self.variants
                ],
                "default_variant": self.default_variant,
                "experiment": (
                    {"id": self.experiment.id, "holdout_fraction": self.experiment.holdout_fraction}
                    if self.experiment is not None
                    else None
                ),
            },
            OfferRecord,
        )


def catalog_version(placements: Iterable[Placement]) -> str:
    """Short stable hash of the placements (in id order)."""
    blob = msgspec.json.encode([p.to_record() for p in sorted(placements, key=lambda p: p.id)])
    return hashlib.sha256(blob).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class OfferCatalog:
    """Every placement, sorted by id. Immutable; compare by ``version``."""

    placements: tuple[Placement, ...] = ()
    version: str = field(default="", compare=True)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.placements, key=lambda p: p.id))
        ids = [p.id for p in ordered]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"placements {', '.join(duplicates)} appear more than once")
        if len(ordered) > MAX_PLACEMENTS:
            raise ValueError(f"too many placements: {len(ordered)} (max {MAX_PLACEMENTS})")
        object.__setattr__(self, "placements", ordered)
        object.__setattr__(self, "version", catalog_version(ordered))

    @classmethod
    def from_records(cls, records: Iterable[OfferRecord]) -> OfferCatalog:
        return cls(tuple(Placement.from_record(r) for r in records))

    def __reduce__(self) -> tuple[object, ...]:
        return (OfferCatalog.from_records, ([p.to_record() for p in self.placements],))

    def placement_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.placements)

    def get(self, placement_id: str) -> Placement | None:
        for p in self.placements:
            if p.id == placement_id:
                return p
        return None

    def __getitem__(self, placement_id: str) -> Placement:
        p = self.get(placement_id)
        if p is None:
            raise KeyError(f"unknown placement {placement_id!r} (known: {', '.join(self.placement_ids())})")
        return p

    def __iter__(self) -> Iterator[Placement]:
        return iter(self.placements)

    def __len__(self) -> int:
        return len(self.placements)

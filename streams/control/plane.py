"""Fold control records into rules and offers, count and log them: :class:`ControlPlane`.

No Kafka here: the reader hands records in (:mod:`streams.control.reader`), the plane
validates and folds them in order and calls ``on_rules`` / ``on_offers`` with each new
valid version. Rejections are logged with topic, key, partition, offset and reason only
(never the payload) and counted in ``personalizer_control_records_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Literal

from prometheus_client import Counter

from models.offers import OfferCatalog
from models.segments import RuleSet
from streams.control.definitions import DefinitionsState
from streams.control.errors import ControlError
from streams.control.offers import OffersState
from streams.control.reader import ControlRecord

__all__ = ["CONTROL_RECORDS", "ControlPlane", "TopicKind"]

log = logging.getLogger(__name__)

TopicKind = Literal["segment_definitions", "offers"]

CONTROL_RECORDS = Counter(
    "personalizer_control_records_total",
    "Control-topic records read, by topic kind (segment_definitions, offers) and outcome "
    "(applied, rejected, removed).",
    ["topic_kind", "outcome"],
)
for _kind in ("segment_definitions", "offers"):
    for _outcome in ("applied", "rejected", "removed"):
        CONTROL_RECORDS.labels(_kind, _outcome)


class ControlPlane:
    """The segment definitions and offers in force, folded from their control topics."""

    def __init__(
        self,
        base_rules: RuleSet,
        *,
        definitions_topic: str,
        offers_topic: str,
        on_rules: Callable[[RuleSet], None],
        on_offers: Callable[[OfferCatalog], None],
    ) -> None:
        self.definitions = DefinitionsState(base_rules, definitions_topic)
        self.offers = OffersState(offers_topic)
        self.on_rules = on_rules
        self.on_offers = on_offers
        self.rules_version = base_rules.version
        self.offers_version: str | None = None
        self.rejected = 0

    def apply(self, records: Iterable[ControlRecord]) -> None:
        """Fold records in order; an invalid one is logged, counted and left out."""
        for record in records:
            kind: TopicKind
            state: DefinitionsState | OffersState
            if record.topic == self.definitions.topic:
                kind, state = "segment_definitions", self.definitions
            elif record.topic == self.offers.topic:
                kind, state = "offers", self.offers
            else:
                continue
            try:
                outcome = state.apply(record.key, record.value)
            except ControlError as exc:
                self.rejected += 1
                CONTROL_RECORDS.labels(kind, "rejected").inc()
                log.warning(
                    "control record rejected (partition %d, offset %d), previous version kept: %s",
                    record.partition, record.offset, exc,
                )
            else:
                CONTROL_RECORDS.labels(kind, outcome).inc()

    def publish(self) -> None:
        """Call ``on_rules`` / ``on_offers`` when the version in force changed.

        ``on_offers`` is also called once with the first catalogue (even an empty one), so
        its receiver knows the topic was read; ``on_rules`` only when the rules differ from
        the worker's file. A callback that raises is logged and retried on the next call.
        """
        try:
            rules = self.definitions.rules
        except ControlError as exc:
            log.error("segment definitions not applied: %s", exc)
        else:
            if rules.version != self.rules_version:
                try:
                    self.on_rules(rules)
                except Exception:
                    log.exception("on_rules failed for segment definitions %s", rules.version)
                else:
                    self.rules_version = rules.version
                    log.info(
                        "segment definitions %s in force: %d segments (%d from the control topic)",
                        rules.version, len(rules), len(self.definitions.records()),
                    )
        catalog = self.offers.catalog
        if catalog.version != self.offers_version:
            try:
                self.on_offers(catalog)
            except Exception:
                log.exception("on_offers failed for offer catalogue %s", catalog.version)
            else:
                self.offers_version = catalog.version
                log.info("offer catalogue %s in force: %d placements", catalog.version, len(catalog))

"""A replay's outputs to Kafka topics (``personalizer replay --to-topics PREFIX``).

For backfills: a downstream system that reads our topics gets a replay's decisions,
segment changes and dead letters as records exactly like the live worker's (same keys,
same value bytes, same ``kafka_dlt-*`` headers; the worker's :class:`OutputWriter` makes
them), in topics of their own:

* ``<PREFIX>.decisions`` and ``<PREFIX>.segment-changes`` (7 days' retention),
* ``<PREFIX>.decisions.latest`` (compacted: the last decision per user; an erased user's
  is tombstoned),
* ``<PREFIX>.dlq`` (30 days).

They are created when missing, with the replay's partition count. A prefix whose topics
would be one the live service reads or writes is refused before anything connects: a
replay never writes into production topics. The output files are written as always; the
topics get the same records, in the same order per engine.

Dead letters carry the original bytes and headers as the worker's do, with
``personalizer-replay`` as the original consumer group and no key (the staged records
keep the user, not the Kafka key).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from models.engine.batch import BatchOutput
from streams.dataplane.produce import OutputWriter
from streams.settings import Settings
from streams.topics import (
    DLQ_RETENTION_MS,
    EVENTS_RETENTION_MS,
    TopicSpec,
    compacted_config,
    delete_config,
    ensure_topics,
    topic_specs,
)

__all__ = ["REPLAY_GROUP", "OutputTopics", "PublishError", "TopicPublisher"]

#: ``kafka_dlt-original-consumer-group`` of a replay's dead letters.
REPLAY_GROUP = "personalizer-replay"


class PublishError(RuntimeError):
    """The outputs could not be published (a refused prefix, a delivery that failed)."""


@dataclass(frozen=True, slots=True)
class OutputTopics:
    """The four topics of a prefix."""

    decisions: str
    latest_decisions: str
    segment_changes: str
    dlq: str

    @classmethod
    def for_prefix(cls, prefix: str) -> OutputTopics:
        """The topics of ``prefix``.

        >>> OutputTopics.for_prefix("backfill.2026-11").dlq
        'backfill.2026-11.dlq'
        """
        prefix = prefix.strip().rstrip(".")
        if not prefix:
            raise PublishError("--to-topics needs a non-empty prefix, e.g. backfill.2026-11")
        return cls(f"{prefix}.decisions", f"{prefix}.decisions.latest",
                   f"{prefix}.segment-changes", f"{prefix}.dlq")

    def names(self) -> tuple[str, ...]:
        return (self.decisions, self.latest_decisions, self.segment_changes, self.dlq)

    def specs(self, partitions: int, replication_factor: int) -> list[TopicSpec]:
        events = delete_config(EVENTS_RETENTION_MS)
        return [
            TopicSpec(self.decisions, partitions, events, replication_factor),
            TopicSpec(self.latest_decisions, partitions, compacted_config(), replication_factor),
            TopicSpec(self.segment_changes, partitions, events, replication_factor),
            TopicSpec(self.dlq, partitions, delete_config(DLQ_RETENTION_MS), replication_factor),
        ]

    def check_not_live(self, settings: Settings) -> None:
        """Raise :class:`PublishError` if a name is a topic of the live service."""
        live = {spec.name for spec in topic_specs(settings)}
        clash = sorted(live.intersection(self.names()))
        if clash:
            raise PublishError(
                f"--to-topics would write to the live service's topic(s) {', '.join(clash)}: "
                "choose a prefix of its own (e.g. backfill.<date>); a replay never writes "
                "into production topics")


class TopicPublisher:
    """Produces every batch of a replay's outputs (:meth:`write`); :meth:`close` waits for
    every delivery and raises :class:`PublishError` if one failed."""

    def __init__(self, settings: Settings, topics: OutputTopics, partitions: int,
                 flush_timeout_s: float = 60.0) -> None:
        topics.check_not_live(settings)
        ensure_topics(settings.admin_config(), topics.specs(partitions, settings.replication_factor))
        self.topics = topics
        self.flush_timeout_s = flush_timeout_s
        self.errors: list[str] = []
        self.records = 0
        self.producer = Producer({
            **settings.producer_config(),
            "delivery.report.only.error": True,  # no callback per message: only failures
            "on_delivery": self._on_delivery,
        })
        self.writer = OutputWriter(
            self.producer, decisions_topic=topics.decisions,
            latest_decisions_topic=topics.latest_decisions,
            segment_changes_topic=topics.segment_changes, dlq_topic=topics.dlq,
            group_id=REPLAY_GROUP, clock=time.time, record_metrics=False,
        )

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err.str()}")

    def write(self, out: BatchOutput) -> None:
        """Queue one batch's outputs (they are sent in the background)."""
        self.records += len(out.decisions) + len(out.segment_changes) + len(out.dead_letters)
        self.writer.write(out, "replay", {})

    def close(self) -> None:
        """Wait until every record is delivered (at most ``flush_timeout_s``)."""
        remaining = self.producer.flush(self.flush_timeout_s)
        if remaining:
            raise PublishError(f"{remaining} output records not delivered within "
                               f"{self.flush_timeout_s:g} s to {', '.join(self.topics.names())}")
        if self.errors:
            raise PublishError(f"{len(self.errors)} output records failed: {'; '.join(self.errors[:3])}")

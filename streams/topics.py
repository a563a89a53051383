"""The topics the service uses, and creating them.

:func:`topic_specs` lists every topic with its partition count and an explicit topic
configuration. The configuration is always explicit (``cleanup.policy``,
``retention.ms``, ...), never the broker's default: the embedded Tansu broker only
reports the configs a topic was created with, and clients such as Quix Streams fail on
topics without them.

:func:`ensure_topics` creates the missing ones; it is idempotent and safe to run from
several workers at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from streams.settings import Settings

__all__ = [
    "BrokerUnreachableError",
    "TopicError",
    "TopicSpec",
    "changelog_topic",
    "compacted_config",
    "delete_config",
    "ensure_topics",
    "tombstone_retention_problems",
    "topic_specs",
]

log = logging.getLogger(__name__)

DAY_MS = 24 * 60 * 60 * 1000
#: Retention of event and output topics.
EVENTS_RETENTION_MS = 7 * DAY_MS
#: Retention of the dead-letter topic: long enough to investigate and replay.
DLQ_RETENTION_MS = 30 * DAY_MS
#: How long tombstones stay in compacted topics, so that readers catch deletions.
TOMBSTONE_RETENTION_MS = 1 * DAY_MS


class TopicError(RuntimeError):
    """Topics could not be created or checked."""


class BrokerUnreachableError(TopicError):
    """No broker answered at the bootstrap address within the timeout."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: its name, partition count and topic-level configuration."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    replication_factor: int = 1

    @property
    def compacted(self) -> bool:
        """True when the topic keeps the latest record per key (``cleanup.policy`` compact)."""
        return "compact" in self.config.get("cleanup.policy", "").split(",")


def delete_config(retention_ms: int) -> dict[str, str]:
    """Configuration of a topic whose records expire after ``retention_ms``."""
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(retention_ms),
        "retention.bytes": "-1",
    }


def compacted_config() -> dict[str, str]:
    """Configuration of a compacted topic: the latest record per key is kept forever."""
    return {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "delete.retention.ms": str(TOMBSTONE_RETENTION_MS),
        "min.compaction.lag.ms": "0",
    }


def changelog_topic(settings: Settings, input_topic: str) -> str:
    """Name of the state changelog topic of ``input_topic``."""
    return f"{settings.changelog_topic_prefix}.{input_topic}.changelog"


def topic_specs(
    settings: Settings, input_partitions: Mapping[str, int] | None = None
) -> list[TopicSpec]:
    """Every topic the service reads or writes, with its configuration.

    ``input_partitions`` gives the real partition count of input topics that exist
    already (e.g. created by the storefront); their changelog topics must have the
    same count, one changelog partition per input partition. Other topics get
    ``settings.partitions``.

    >>> from streams.settings import Settings
    >>> specs = topic_specs(Settings(_env_file=None), {"clickstream.events": 12})
    >>> [(s.name, s.partitions, s.compacted) for s in specs if "state" in s.name]
    [('personalization.state.clickstream.events.changelog', 12, True)]
    """
    input_partitions = dict(input_partitions or {})
    rf = settings.replication_factor
    n = settings.partitions

    def spec(name: str, config: dict[str, str], partitions: int = n) -> TopicSpec:
        return TopicSpec(name, partitions, config, rf)

    specs: list[TopicSpec] = []
    for topic in settings.input_topics:
        specs.append(
            spec(topic, delete_config(EVENTS_RETENTION_MS), input_partitions.get(topic, n))
        )
    specs += [
        spec(settings.decisions_topic, delete_config(EVENTS_RETENTION_MS)),
        spec(settings.latest_decisions_topic, compacted_config()),
        spec(settings.segment_changes_topic, delete_config(EVENTS_RETENTION_MS)),
        spec(settings.dlq_topic, delete_config(DLQ_RETENTION_MS)),
        spec(settings.segment_definitions_topic, compacted_config()),
        spec(settings.offers_topic, compacted_config()),
    ]
    for topic in settings.input_topics:
        specs.append(
            spec(
                changelog_topic(settings, topic),
                compacted_config(),
                input_partitions.get(topic, n),
            )
        )
    return specs


def _bootstrap(admin_config: Mapping[str, object]) -> str:
    return str(admin_config.get("bootstrap.servers", "<no bootstrap.servers>"))


def ensure_topics(
    admin_config: Mapping[str, Any],
    specs: Iterable[TopicSpec],
    timeout: float = 30,
) -> list[str]:
    """Create the topics of ``specs`` that do not exist yet; return the names created.

    Idempotent: existing topics are left alone (a topic that another process created
    meanwhile counts as existing). An existing topic whose partition count differs
    from its spec is logged as a warning, not changed.

    Raises :class:`BrokerUnreachableError` naming the bootstrap address when no broker
    answers within ``timeout`` seconds, and :class:`TopicError` listing every topic
    that could not be created.
    """
    specs = list(specs)
    names = [s.name for s in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"topic specs name {', '.join(duplicates)} more than once")
    deadline = time.monotonic() + timeout
    bootstrap = _bootstrap(admin_config)
    admin = AdminClient(dict(admin_config))

    def remaining() -> float:
        return max(deadline - time.monotonic(), 0.1)

    try:
        metadata = admin.list_topics(timeout=remaining())
    except KafkaException as exc:
        raise BrokerUnreachableError(
            f"Could not reach a Kafka broker at {bootstrap} within {timeout:g}s "
            f"({exc.args[0].str() if exc.args else exc}). Is the broker running "
            "(`personalizer broker` starts one locally)? Check PERSONALIZER_BOOTSTRAP_SERVERS."
        ) from None

    existing = metadata.topics
    for s in specs:
        if s.name in existing and len(existing[s.name].partitions) != s.partitions:
            log.warning(
                "topic %s exists with %d partitions, expected %d; leaving it as it is",
                s.name,
                len(existing[s.name].partitions),
                s.partitions,
            )
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []

    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=s.replication_factor,
                config=dict(s.config),
            )
            for s in missing
        ],
        operation_timeout=remaining(),
        request_timeout=remaining(),
    )
    created: list[str] = []
    failures: list[str] = []
    for s in missing:
        try:
            futures[s.name].result(timeout=remaining())
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            failures.append(f"{s.name}: {error.str() if isinstance(error, KafkaError) else exc}")
        except TimeoutError:
            failures.append(f"{s.name}: no answer from {bootstrap} within {timeout:g}s")
        else:
            created.append(s.name)
    if failures:
        raise TopicError(
            f"Could not create {len(failures)} topic(s) on {bootstrap}:\n  " + "\n  ".join(failures)
        )

    # Brokers may answer CreateTopics before the topics show up in metadata.
    while created:
        topics = admin.list_topics(timeout=remaining()).topics
        if all(name in topics for name in created):
            break
        if time.monotonic() >= deadline:
            raise TopicError(
                f"Topics {', '.join(n for n in created if n not in topics)} were created on "
                f"{bootstrap} but did not appear in its metadata within {timeout:g}s"
            )
        time.sleep(0.1)
    log.info("created topics %s on %s", ", ".join(created), bootstrap)
    return created


def tombstone_retention_problems(
    admin_config: Mapping[str, Any], changelogs: Iterable[str], max_age_s: float, timeout: float = 5.0
) -> list[str]:
    """One line per changelog topic that drops tombstones (``delete.retention.ms``) before
    a local state store counts as too old to restore on top of
    (``PERSONALIZER_STATE_MAX_AGE_S``): a worker could then restore a store that missed an
    erasure whose tombstone is gone, and bring the user back. Topics that do not exist
    yet are skipped (they get :func:`compacted_config`'s retention when created).

    Raises :class:`KafkaException` when the broker does not answer."""
    names = sorted(set(changelogs))
    admin = AdminClient(dict(admin_config))
    existing = admin.list_topics(timeout=timeout).topics
    resources = [ConfigResource("topic", name) for name in names if name in existing]
    if not resources:
        return []
    problems = []
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        entry = future.result(timeout=timeout).get("delete.retention.ms")
        retention_ms = int(entry.value) if entry is not None and entry.value is not None else None
        if retention_ms is not None and retention_ms <= max_age_s * 1000:
            problems.append(
                f"PERSONALIZER_STATE_MAX_AGE_S: {max_age_s:g} s is not below the tombstone "
                f"retention of {resource.name} (delete.retention.ms {retention_ms} = "
                f"{retention_ms / 1000:g} s); a local store that old could bring back an erased "
                "user. Lower it, or raise the topic's delete.retention.ms."
            )
    return problems

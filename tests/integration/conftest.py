"""Fixtures for tests against a real Kafka-protocol broker.

One embedded Tansu broker (:class:`streams.broker.EmbeddedBroker`) runs per test session
on a free port. Tests get unique topic and group names from the factories, so they never
see each other's data. Every test in this folder is marked ``integration``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from confluent_kafka import Consumer, Producer

from streams.broker import EmbeddedBroker
from streams.settings import Settings
from streams.topics import TopicSpec, delete_config, ensure_topics

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items: mark only the ones under this folder.
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The session's embedded broker, started once and stopped at the end."""
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    embedded = EmbeddedBroker(log_path=log_path)
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def bootstrap_servers(broker: EmbeddedBroker) -> str:
    """``host:port`` of the session's broker."""
    return broker.bootstrap_servers


@pytest.fixture(scope="session")
def broker_settings(bootstrap_servers: str) -> Settings:
    """Default settings pointed at the session's broker (no .env file)."""
    return Settings(bootstrap_servers=bootstrap_servers, _env_file=None)  # type: ignore[call-arg]


def unique_name(prefix: str = "t") -> str:
    """A name no other test uses: ``t-<10 hex digits>``."""
    return f"{prefix}-{uuid4().hex[:10]}"


TopicFactory = Callable[..., str]


@pytest.fixture
def topic_factory(broker_settings: Settings) -> TopicFactory:
    """Create a uniquely named topic: ``topic_factory(partitions=1, config=None) -> name``.

    ``config`` defaults to a delete-policy topic with 7 days' retention; pass e.g.
    ``streams.topics.compacted_config()`` for a compacted one.
    """

    def create(
        partitions: int = 1, config: dict[str, str] | None = None, name: str | None = None
    ) -> str:
        topic = name or unique_name("t")
        spec = TopicSpec(topic, partitions, config or delete_config(7 * 24 * 3600 * 1000))
        ensure_topics(broker_settings.admin_config(), [spec], timeout=10)
        return topic

    return create


@pytest.fixture
def producer_factory(broker_settings: Settings) -> Iterator[Callable[..., Producer]]:
    """``producer_factory(**overrides)``: the service's producer config (murmur2, idempotent).

    Producers are flushed at teardown.
    """
    producers: list[Producer] = []

    def create(**overrides: Any) -> Producer:
        producer = Producer({**broker_settings.producer_config(), **overrides})
        producers.append(producer)
        return producer

    yield create
    for producer in producers:
        producer.flush(5)


@pytest.fixture
def consumer_factory(broker_settings: Settings) -> Iterator[Callable[..., Consumer]]:
    """``consumer_factory(group_id=None, **overrides)``: the service's consumer config.

    Each call without ``group_id`` gets a new unique group. Fast group joins
    (session.timeout.ms=6000, heartbeat.interval.ms=500). Consumers are closed at
    teardown.
    """
    consumers: list[Consumer] = []

    def create(group_id: str | None = None, **overrides: Any) -> Consumer:
        config = broker_settings.consumer_config(group_id=group_id or unique_name("g"))
        consumer = Consumer({**config, **overrides})
        consumers.append(consumer)
        return consumer

    yield create
    for consumer in consumers:
        with contextlib.suppress(RuntimeError):  # the test may have closed it already
            consumer.close()

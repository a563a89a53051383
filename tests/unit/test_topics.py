"""Topic specs: names, partitions and explicit configs (no broker needed)."""

from __future__ import annotations

import os
import time

import pytest

from streams.broker import find_free_port
from streams.settings import Settings
from streams.topics import (
    DLQ_RETENTION_MS,
    EVENTS_RETENTION_MS,
    BrokerUnreachableError,
    TopicSpec,
    changelog_topic,
    ensure_topics,
    topic_specs,
)

DAY_MS = 24 * 3600 * 1000


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PERSONALIZER_"):
            monkeypatch.delenv(name)


def make_settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def by_name(specs: list[TopicSpec]) -> dict[str, TopicSpec]:
    return {s.name: s for s in specs}


def test_every_topic_is_listed_once() -> None:
    settings = make_settings()
    specs = topic_specs(settings)
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert set(names) == {
        "clickstream.events",
        "personalization.decisions",
        "personalization.decisions.latest",
        "personalization.segment-changes",
        "personalization.dlq",
        "personalization.segment-definitions",
        "personalization.offers",
        "personalization.state.clickstream.events.changelog",
    }


def test_compacted_and_retention() -> None:
    specs = by_name(topic_specs(make_settings()))
    compacted = {name for name, s in specs.items() if s.compacted}
    assert compacted == {
        "personalization.decisions.latest",
        "personalization.segment-definitions",
        "personalization.offers",
        "personalization.state.clickstream.events.changelog",
    }
    for name in (
        "clickstream.events",
        "personalization.decisions",
        "personalization.segment-changes",
    ):
        assert specs[name].config["cleanup.policy"] == "delete"
        assert specs[name].config["retention.ms"] == str(7 * DAY_MS) == str(EVENTS_RETENTION_MS)
    assert specs["personalization.dlq"].config["cleanup.policy"] == "delete"
    assert specs["personalization.dlq"].config["retention.ms"] == str(30 * DAY_MS)
    assert str(DLQ_RETENTION_MS) == str(30 * DAY_MS)


def test_configs_are_explicit_strings() -> None:
    # Tansu only reports configs a topic was created with: always send them.
    for spec in topic_specs(make_settings()):
        assert {"cleanup.policy", "retention.ms", "retention.bytes"} <= spec.config.keys()
        assert all(isinstance(v, str) for v in spec.config.values()), spec


def test_partitions_and_replication_follow_settings() -> None:
    specs = topic_specs(make_settings(partitions=3, replication_factor=2))
    assert {s.partitions for s in specs} == {3}
    assert {s.replication_factor for s in specs} == {2}


def test_one_changelog_per_input_topic_following_its_partitions() -> None:
    settings = make_settings(input_topics=["clicks", "orders"], partitions=8)
    specs = by_name(topic_specs(settings, input_partitions={"orders": 12}))
    assert changelog_topic(settings, "clicks") == "personalization.state.clicks.changelog"
    assert specs["clicks"].partitions == 8
    assert specs["personalization.state.clicks.changelog"].partitions == 8
    assert specs["orders"].partitions == 12
    assert specs["personalization.state.orders.changelog"].partitions == 12
    assert specs["personalization.state.orders.changelog"].compacted
    # Outputs keep the configured count.
    assert specs["personalization.decisions"].partitions == 8


def test_names_follow_settings() -> None:
    settings = make_settings(
        decisions_topic="d",
        latest_decisions_topic="dl",
        segment_changes_topic="sc",
        dlq_topic="q",
        segment_definitions_topic="sd",
        offers_topic="o",
        changelog_topic_prefix="st",
        input_topics=["i"],
    )
    assert [s.name for s in topic_specs(settings)] == [
        "i",
        "d",
        "dl",
        "sc",
        "q",
        "sd",
        "o",
        "st.i.changelog",
    ]


def test_duplicate_specs_are_rejected() -> None:
    spec = TopicSpec("a", 1, {"cleanup.policy": "delete"})
    with pytest.raises(ValueError, match="more than once"):
        ensure_topics({"bootstrap.servers": "127.0.0.1:1"}, [spec, spec])


def test_unreachable_broker_is_a_clear_error() -> None:
    address = f"127.0.0.1:{find_free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(
        BrokerUnreachableError, match=rf"Could not reach a Kafka broker at {address} within 1\.5s"
    ):
        ensure_topics({"bootstrap.servers": address}, topic_specs(make_settings()), timeout=1.5)
    assert time.monotonic() - started < 5

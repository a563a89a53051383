"""The broker goes away and comes back (its process stopped, then started again) while a
worker runs: the worker survives with no manual action, answers ``/ready`` 503 during the
outage and 200 after, and no event is lost.

The session broker keeps everything in memory, so this test runs its own broker whose
storage outlives the process (:class:`tests.chaos.durable_broker.DurableBroker`).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.broker import find_free_port
from streams.commands.produce import iter_jsonl, produce_records
from streams.generator import generate
from streams.process import stop_process
from streams.settings import Settings
from streams.topics import TopicSpec, delete_config, ensure_topics
from tests.chaos.durable_broker import DurableBroker
from tests.integration.conftest import unique_name
from tests.integration.planes import (
    all_committed,
    assert_decisions_equal_reference,
    assert_state_equals_reference,
    make_topics,
    reference_replay,
    restored_state,
    start_worker,
    wait_for,
    worker_env,
)

pytest.importorskip("moto", reason="the restartable broker keeps its storage in a local S3 (moto)")

RULES = load_rules(DEFAULT_RULES_PATH)


def _status(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def test_worker_survives_a_broker_restart_and_loses_nothing(tmp_path: Path):
    events = tmp_path / "events.jsonl"
    generate(users=200, events=3000, seed=31, out=events)
    lines = list(iter_jsonl(events))
    with DurableBroker(tmp_path / "broker") as broker:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, _env_file=None)  # type: ignore[call-arg]

        def create(partitions: int = 1, config: dict[str, str] | None = None, name: str | None = None) -> str:
            topic = name or unique_name("t")
            spec = TopicSpec(topic, partitions, config or delete_config(7 * 24 * 3600 * 1000))
            ensure_topics(settings.admin_config(), [spec], timeout=20)
            return topic

        topics = make_topics(create, partitions=2)
        group = unique_name("g")
        port = find_free_port()
        env: dict[str, Any] = worker_env(topics, broker.bootstrap_servers, group, tmp_path / "state", port,
                                          "at_least_once")
        producer = Producer(settings.producer_config())
        produce_records(producer, topics.input, iter(lines[:1500]))
        assert producer.flush(30) == 0
        worker = start_worker(env, tmp_path / "worker.log")
        try:
            wait_for(lambda: _status(port) == 200, 90, "worker ready")
            wait_for(lambda: all_committed(settings, topics, group, 1500), 60, "first part committed")

            produce_records(producer, topics.input, iter(lines[1500:2200]))  # in flight as it stops
            assert producer.flush(30) == 0
            broker.stop()
            wait_for(lambda: _status(port) == 503, 30, "not ready while the broker is away")
            produce_records(producer, topics.input, iter(lines[2200:]))  # buffered by the client
            assert worker.poll() is None, "the worker is still running"
            broker.start()
            assert producer.flush(60) == 0, "the producer delivered once the broker was back"
            wait_for(lambda: _status(port) == 200, 60, "ready again")
            wait_for(lambda: all_committed(settings, topics, group, len(lines)), 90, "everything committed")
            assert worker.poll() is None, "the same worker process did it: no restart"
        finally:
            stop_process(worker, timeout=30)
            producer.flush(5)

        ref = reference_replay(settings, topics, RULES)
        assert_decisions_equal_reference(settings, topics, ref)
        assert_state_equals_reference(restored_state(settings, topics, group), ref.engines)

"""Slow and stuck: batches slower than the group's session timeout cause no rebalance.

librdkafka heartbeats from its own thread, so the session (``session.timeout.ms`` 6 s)
survives a batch that takes longer; what bounds a batch is ``max.poll.interval.ms``
(librdkafka's default, 300 s, is kept by ``Settings.consumer_config``): a batch slower
than that makes the consumer leave the group. Here two batches take 7 s each while
events keep coming: the lag rises, then drains, the worker is assigned its partitions
exactly once, and every event has its decision.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from confluent_kafka import Message

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.commands.produce import iter_jsonl, produce_records
from streams.dataplane.loop import DataPlane
from streams.generator import generate
from streams.settings import Settings
from tests.integration.conftest import unique_name
from tests.integration.planes import (
    PlaneTopics,
    all_committed,
    assert_decisions_equal_reference,
    committed_offsets,
    make_topics,
    plane_config,
    reference_replay,
    running,
    wait_for,
)

RULES = load_rules(DEFAULT_RULES_PATH)
DELAY_S = 7.0  # > session.timeout.ms (6 s), << max.poll.interval.ms (300 s)


class SlowPlane(DataPlane):
    """Test-only: the first ``slow_batches`` batches take ``DELAY_S`` longer (a slow store,
    a GC pause, a stuck downstream)."""

    slow_batches = 2

    def _process(self, msgs: list[Message]) -> None:
        if self.slow_batches > 0:
            self.slow_batches -= 1
            time.sleep(DELAY_S)
        super()._process(msgs)


def committed_total(settings: Settings, topics: PlaneTopics, group: str) -> int:
    """Input records the group has committed (offsets are contiguous from 0)."""
    return sum(max(o, 0) for o in committed_offsets(settings, topics.input, topics.partitions, group))


def test_slow_batches_cause_no_rebalance_and_the_lag_drains(
    tmp_path: Path, topic_factory, broker_settings, producer_factory
):
    topics = make_topics(topic_factory, partitions=2)
    events = tmp_path / "events.jsonl"
    generate(users=200, events=6000, seed=23, out=events)
    lines = list(iter_jsonl(events))
    group = unique_name("g")
    lags: list[int] = []  # produced (acknowledged) minus committed, every 0.5 s
    produced = [0]
    stop = threading.Event()

    def feed() -> None:  # ~10 s of traffic, through the slow batches
        producer = producer_factory()
        for i in range(0, len(lines), 600):
            produce_records(producer, topics.input, iter(lines[i:i + 600]))
            assert producer.flush(10) == 0
            produced[0] += len(lines[i:i + 600])
            time.sleep(1.0)

    def sample() -> None:
        while not stop.wait(0.5):
            done = produced[0]
            lags.append(done - committed_total(broker_settings, topics, group))

    plane = SlowPlane(plane_config(topics, broker_settings, group), RULES)
    feeder = threading.Thread(target=feed, name="feeder")
    sampler = threading.Thread(target=sample, name="lag-sampler")
    with running(plane):
        feeder.start()
        sampler.start()
        try:
            feeder.join(60)
            wait_for(lambda: all_committed(broker_settings, topics, group, len(lines)), 90, "lag drained")
        finally:
            stop.set()
            sampler.join(30)
        assert plane.slow_batches == 0, "both slow batches happened"
        assert plane.error is None and plane.ready
        kinds = [kind for _, _, _, kind in plane.ownership_log]  # before stop() revokes
    assert max(lags) >= 1000, f"lag rose while batches were slow (samples: {lags})"
    assert committed_total(broker_settings, topics, group) == len(lines), "and drained"
    assert kinds.count("assigned") == topics.partitions and set(kinds) == {"assigned"}, (
        f"assigned once, never revoked or lost: {kinds}")
    ref = reference_replay(broker_settings, topics, RULES)
    assert_decisions_equal_reference(broker_settings, topics, ref)

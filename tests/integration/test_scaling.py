"""Two worker processes in one group on an 8-partition input: every partition has exactly
one owner, and every input event yields its decision exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import msgspec

from benchmarks.scaling import (
    committed_total,
    owned_partitions,
    ownership_problems,
    start_workers,
    stop_workers,
    wait_for_ownership,
    wait_until,
)
from schemas.outputs import Decision
from streams.commands.produce import produce_records
from tests.factories import at, event, raw
from tests.integration.conftest import unique_name
from tests.integration.planes import make_topics, read_all


def test_two_workers_split_eight_partitions_and_decide_each_event_once(
    tmp_path: Path, topic_factory, broker_settings, producer_factory, bootstrap_servers
):
    topics = make_topics(topic_factory, partitions=8)
    group = unique_name("g")
    env = {**topics.env(), "PERSONALIZER_BOOTSTRAP_SERVERS": bootstrap_servers,
           "PERSONALIZER_GROUP_ID": group, "PERSONALIZER_STATE_BACKEND": "memory",
           "PERSONALIZER_BATCH_SIZE": "500"}
    workers = start_workers(2, env, tmp_path)
    try:
        owned = wait_for_ownership(workers, topics.input, topics.partitions, 50)
        assert all(owned), f"each worker owns some partitions: {owned}"
        # produced once ownership settled: no rebalance while they work
        events = [event("page_view", f"user-{i % 60}", at(0, hours=i / 100), event_id=f"scale-{i}")
                  for i in range(400)]
        producer = producer_factory()
        produce_records(producer, topics.input, iter(raw(e) for e in events))
        assert producer.flush(10) == 0
        wait_until(lambda: committed_total(broker_settings, topics.input, topics.partitions, group)
                   == len(events), 40, "every event committed", workers)
        after = owned_partitions(workers)
        assert ownership_problems(after, topics.input, topics.partitions) == []
        assert sorted(tp for o in after for tp in o or []) == [(topics.input, p) for p in range(8)]
    finally:
        stop_workers(workers)
    decided = Counter(msgspec.json.decode(m.value() or b"", type=Decision).event_id
                      for m in read_all(broker_settings, topics.decisions, topics.partitions))
    assert decided == Counter(e["event_id"] for e in events), "one decision per event, no duplicate"

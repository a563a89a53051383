"""A real worker's /metrics after a small generated load: every live series, sane values, no user ids."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streams import __version__
from streams.broker import find_free_port
from streams.commands.produce import iter_jsonl, produce_records
from streams.generator import generate
from streams.process import stop_process
from streams.settings import Settings
from streams.topics import compacted_config
from tests.integration.conftest import unique_name
from tests.integration.planes import committed_offsets, make_topics, wait_for

ROOT = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == val for k, val in labels.items()))


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls) in samples if n == name]


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def test_worker_metrics_after_a_small_load(
    tmp_path: Path, topic_factory: Callable[..., str], producer_factory: Callable[..., object],
    bootstrap_servers: str, broker_settings: Settings,
) -> None:
    partitions = 2
    topics = make_topics(topic_factory, partitions=partitions)
    events = tmp_path / "events.jsonl"
    generate(users=80, events=2000, seed=7, out=events, malformed_fraction=0.01)
    lines = list(iter_jsonl(events))
    users: set[str] = set()
    for line in lines:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict):
            users |= {str(doc[k]) for k in ("user_id", "anonymous_id") if doc.get(k)}
    assert users

    group = unique_name("g")
    port = find_free_port()
    env = {**os.environ, **topics.env(),
           "PERSONALIZER_BOOTSTRAP_SERVERS": bootstrap_servers, "PERSONALIZER_GROUP_ID": group,
           "PERSONALIZER_SEGMENT_DEFINITIONS_TOPIC": topic_factory(config=compacted_config()),
           "PERSONALIZER_OFFERS_TOPIC": topic_factory(config=compacted_config()),
           "PERSONALIZER_STATE_BACKEND": "memory", "PERSONALIZER_STATE_DIR": str(tmp_path / "state"),
           "PERSONALIZER_WEB_PORT": str(port), "PERSONALIZER_BATCH_SIZE": "500"}
    producer = producer_factory()
    produce_records(producer, topics.input, iter(lines))  # type: ignore[arg-type]
    assert producer.flush(30) == 0  # type: ignore[attr-defined]

    log = tmp_path / "worker.log"
    with open(log, "ab") as fh:
        worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "-l", "info"],
                                  cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        def all_committed() -> bool:
            offsets = committed_offsets(broker_settings, topics.input, partitions, group)
            return sum(max(o, 0) for o in offsets) == len(lines)

        wait_for(lambda: worker.poll() is None and _ready(port), 60, "worker ready")
        wait_for(all_committed, 90, "the load consumed and committed")
        # the lag gauge is refreshed at every checkpoint (1 s): wait for the one after the commit
        wait_for(lambda: [float(v) for (n, _), v in scrape(port).items()
                          if n == "personalizer_consumer_lag_records"] == [0.0] * partitions,
                 30, "lag 0 on every partition")
        m = scrape(port)
    except BaseException:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        stop_process(worker, timeout=30)

    # consumption: every record counted once, by outcome
    consumed = total(m, "personalizer_events_consumed_total", topic=topics.input)
    assert consumed == len(lines)
    assert total(m, "personalizer_events_consumed_total", topic=topics.input, outcome="ok") > 0
    assert total(m, "personalizer_events_consumed_total", topic=topics.input, outcome="invalid") > 0
    assert total(m, "personalizer_dead_letters_total") > 0
    assert total(m, "personalizer_batch_records_sum") == len(lines)
    for hist in ("personalizer_batch_duration_seconds", "personalizer_event_processing_seconds",
                 "personalizer_event_to_decision_seconds", "personalizer_checkpoint_duration_seconds",
                 "personalizer_in_worker_latency_seconds"):
        count = total(m, f"{hist}_count")
        assert count > 0, hist
        assert total(m, f"{hist}_bucket", le="+Inf") == count, hist
        assert total(m, f"{hist}_sum") >= 0, hist
    assert 0 < total(m, "personalizer_event_processing_seconds_sum") / total(
        m, "personalizer_event_processing_seconds_count") < 0.1
    # one in-worker latency sample per partition batch, as for the core time per event; each
    # covers at least its batch's core time, hence at least that batch's time per event
    assert total(m, "personalizer_in_worker_latency_seconds_count") == total(
        m, "personalizer_event_processing_seconds_count")
    assert total(m, "personalizer_in_worker_latency_seconds_sum") >= total(
        m, "personalizer_event_processing_seconds_sum")
    # every partition checkpoint with new input observed once per kind; profiles changed
    checkpoints = total(m, "personalizer_checkpoint_bytes_count", kind="profiles")
    assert checkpoints > 0
    assert total(m, "personalizer_checkpoint_bytes_count", kind="engine_core") == checkpoints
    assert total(m, "personalizer_checkpoint_bytes_sum", kind="profiles") > 0
    assert total(m, "personalizer_checkpoint_bytes_sum", kind="engine_core") > 0
    # outputs
    assert total(m, "personalizer_decisions_total") > 0
    assert {s["kind"] for s in series(m, "personalizer_decisions_total")} <= {
        "personalized", "segment_level", "default", "control"}
    assert total(m, "personalizer_segment_transitions_total", change="entered") > 0
    # group, lag, state
    assert total(m, "personalizer_assigned_partitions") == partitions
    assert total(m, "personalizer_rebalances_total", kind="assigned") >= 1
    lag = series(m, "personalizer_consumer_lag_records")
    assert sorted((s["topic"], s["partition"]) for s in lag) == [
        (topics.input, str(p)) for p in range(partitions)]
    assert total(m, "personalizer_state_users") > 0
    assert total(m, "personalizer_state_restore_partitions_remaining") == 0
    assert ("personalizer_state_restored_records_total", ()) in m
    assert total(m, "personalizer_state_restore_duration_seconds_count") == partitions
    assert total(m, "personalizer_ready") == 1
    assert total(m, "personalizer_build_info", version=__version__) == 1

    # no label value anywhere is a user id of the load
    leaked = {v for (_, ls) in m for _, v in ls} & users
    assert not leaked, f"user ids used as label values: {sorted(leaked)[:5]}"


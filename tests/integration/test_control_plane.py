"""The control plane against the real broker: publish through the command, read back with
``show``, and live segment definitions applied by a running worker process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer

from streams.broker import find_free_port
from streams.commands.control import control_command
from streams.control.publish import publish
from streams.settings import Settings
from streams.topics import compacted_config, ensure_topics, topic_specs
from tests.integration.conftest import unique_name

ROOT = Path(__file__).resolve().parents[2]
#: The worker as operators run it; the lead wires the control plane into streams/app.py.
WORKER_CMD = [sys.executable, "-m", "streams.cli", "worker", "-l", "info"]

SEGMENTS = """\
version: 1
segments:
  - id: big_spender
    name: Big spender
    description: Spent a lot this year.
    when: revenue(365d) >= 1000
  - id: searcher
    name: Searches
    when: count(search) >= 2
"""
OFFERS = """\
- placement: home_banner
  default_variant: spring
  variants:
    - {id: spring, title: Spring sale, content: {url: /sale, discount: 10}}
    - {id: summer, title: Summer, weight: 2}
  experiment: {id: banner_test, holdout_fraction: 0.1}
- placement: cart-upsell
  default_variant: socks
  variants: [{id: socks, title: Socks}]
"""


@pytest.fixture
def control_env(topic_factory: Callable[..., str], bootstrap_servers: str,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {
        "PERSONALIZER_BOOTSTRAP_SERVERS": bootstrap_servers,
        "PERSONALIZER_SEGMENT_DEFINITIONS_TOPIC": topic_factory(3, compacted_config()),
        "PERSONALIZER_OFFERS_TOPIC": topic_factory(2, compacted_config()),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PERSONALIZER_SEGMENTS_FILE", raising=False)
    yield env


def run(*args: str) -> Any:
    return CliRunner().invoke(control_command, list(args), catch_exceptions=False)


def show() -> dict[str, Any]:
    result = run("show", "--json", "--timeout", "20")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_publish_then_show_reads_back_and_invalid_files_publish_nothing(control_env, tmp_path: Path):
    segments = tmp_path / "segments.yaml"
    segments.write_text(SEGMENTS)
    offers = tmp_path / "offers.yaml"
    offers.write_text(OFFERS)
    assert run("publish-segments", str(segments)).exit_code == 0
    result = run("publish-offers", str(offers))
    assert result.exit_code == 0 and "published 2 records" in result.output

    shown = show()
    assert [d["id"] for d in shown["segment_definitions"]] == ["big_spender", "searcher"]
    assert shown["segment_definitions"][0] == {
        "id": "big_spender", "name": "Big spender", "description": "Spent a lot this year.",
        "when": "revenue(365d) >= 1000", "enabled": True,
    }
    assert shown["rules"]["segments"][-2:] == ["big_spender", "searcher"]  # after the shipped file's
    assert [o["placement"] for o in shown["offers"]] == ["cart-upsell", "home_banner"]
    banner = shown["offers"][1]
    assert banner["experiment"] == {"id": "banner_test", "holdout_fraction": 0.1}
    assert banner["variants"][0]["content"] == {"discount": 10, "url": "/sale"}
    assert banner["variants"][1]["weight"] == 2.0
    assert shown["rejected"] == []

    # An invalid file: file:line:column: reason, non-zero exit, nothing published.
    bad = tmp_path / "bad.yaml"
    bad.write_text(SEGMENTS.replace("count(search) >= 2", "count(search) >= 2 and cnt(purchase) > 1")
                   + "  - id: another\n    when: count(purchase) >= 1\n")
    result = run("publish-segments", str(bad))
    assert result.exit_code != 0
    assert f"{bad}:9:" in result.output and "unknown function 'cnt'" in result.output
    bad_offers = tmp_path / "bad_offers.yaml"
    bad_offers.write_text(OFFERS.replace("default_variant: socks", "default_variant: shoes")
                          .replace("home_banner", "home_banner_2"))
    result = run("publish-offers", str(bad_offers))
    assert result.exit_code != 0
    assert f"{bad_offers}:7:3: invalid offer: default_variant 'shoes'" in result.output
    assert show() == shown

    # Tombstones and disabling.
    assert run("publish-segments", "--delete", "searcher", "--disable", "recent_buyer").exit_code == 0
    assert run("publish-offers", "--delete", "cart-upsell").exit_code == 0
    after = show()
    assert [(d["id"], d["enabled"]) for d in after["segment_definitions"]] == [
        ("big_spender", True), ("recent_buyer", False)]
    assert "searcher" not in after["rules"]["segments"] and "recent_buyer" not in after["rules"]["segments"]
    assert [o["placement"] for o in after["offers"]] == ["home_banner"]
    result = run("show")
    assert result.exit_code == 0 and "big_spender" in result.output and "home_banner" in result.output


def test_show_reports_invalid_records_on_the_topic(control_env, broker_settings: Settings):
    topic = control_env["PERSONALIZER_SEGMENT_DEFINITIONS_TOPIC"]
    publish(broker_settings, topic, [("ok_one", b'{"id": "ok_one", "when": "count(search) >= 1"}'),
                                     ("broken", b'{"id": "broken", "when": "count(search) >="}')])
    shown = show()
    assert [d["id"] for d in shown["segment_definitions"]] == ["ok_one"]
    assert len(shown["rejected"]) == 1 and shown["rejected"][0].startswith(f"{topic}:broken: ")


# --- end to end: a real worker process ---------------------------------------------------


class Worker:
    """A worker subprocess whose output lines are collected by a reader thread."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            WORKER_CMD, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self._reader = threading.Thread(target=self._read, name="worker-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except OSError:
            return 0, ""

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert self.proc.poll() is None, f"worker exited while waiting for {what}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {what} within {timeout:g}s:\n{self.output[-6000:]}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._reader.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def search(user: str, day: int, n: int) -> bytes:
    return orjson.dumps({"type": "search", "event_id": f"{user}-s{n}", "user_id": user,
                         "event_time": f"2026-01-{day:02d}T10:00:0{n}Z", "properties": {"query": "tent"}})


def changes_for(consumer: Consumer, want: Callable[[dict[str, Any]], bool], timeout: float) -> list[dict]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in consumer.consume(100, 0.5):
            value = msg.value()
            if msg.error() is None and value:
                seen.append(orjson.loads(value))
        if any(want(c) for c in seen):
            return seen
    raise AssertionError(f"no matching segment change within {timeout:g}s; seen: {seen}")


def test_worker_applies_definitions_live_and_keeps_old_rules_on_invalid_ones(
    bootstrap_servers: str, broker_settings: Settings, producer_factory: Callable[..., Producer],
    consumer_factory: Callable[..., Consumer], tmp_path: Path,
):
    name = unique_name("ctl")
    env_settings = {
        "PERSONALIZER_BOOTSTRAP_SERVERS": bootstrap_servers,
        "PERSONALIZER_INPUT_TOPICS": f"{name}.events",
        "PERSONALIZER_DECISIONS_TOPIC": f"{name}.decisions",
        "PERSONALIZER_LATEST_DECISIONS_TOPIC": f"{name}.decisions.latest",
        "PERSONALIZER_SEGMENT_CHANGES_TOPIC": f"{name}.segment-changes",
        "PERSONALIZER_DLQ_TOPIC": f"{name}.dlq",
        "PERSONALIZER_SEGMENT_DEFINITIONS_TOPIC": f"{name}.segment-definitions",
        "PERSONALIZER_OFFERS_TOPIC": f"{name}.offers",
        "PERSONALIZER_CHANGELOG_TOPIC_PREFIX": f"{name}.state",
        "PERSONALIZER_PARTITIONS": "1",
        "PERSONALIZER_GROUP_ID": name,
        "PERSONALIZER_STATE_BACKEND": "memory",
        "PERSONALIZER_STATE_DIR": str(tmp_path / "state"),
        "PERSONALIZER_BATCH_TIMEOUT_S": "0.1",
        "PERSONALIZER_WEB_PORT": str(find_free_port()),
    }
    settings = Settings(**{k.removeprefix("PERSONALIZER_").lower(): v for k, v in env_settings.items()
                           if k not in {"PERSONALIZER_STATE_DIR"}}, _env_file=None)  # type: ignore[arg-type,call-arg]
    ensure_topics(settings.admin_config(), topic_specs(settings), timeout=20)
    changes = consumer_factory()
    changes.subscribe([settings.segment_changes_topic])
    producer = producer_factory()

    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONALIZER_")}
    worker = Worker({**env, **env_settings}, int(env_settings["PERSONALIZER_WEB_PORT"]))
    try:
        worker.wait_for(lambda: worker.get("/ready")[0] == 200, 90, "/ready")

        # 1. a new definition is applied live
        publish(settings, settings.segment_definitions_topic,
                [("live_searcher", b'{"id": "live_searcher", "name": "Searched", '
                                   b'"when": "count(search) >= 1", "enabled": true}')])
        worker.wait_for(lambda: re.search(r"segment definitions \w+ applied", worker.output) is not None,
                        30, "the new definition applied by the data plane")
        producer.produce(settings.input_topics[0], key=b"u1", value=search("u1", 5, 1))
        producer.flush(10)
        seen = changes_for(changes, lambda c: c["user_id"] == "u1" and c["segment_id"] == "live_searcher"
                           and c["change"] == "entered", 30)
        assert any(c["segment_id"] == "live_searcher" for c in seen)

        # 2. an invalid definition is rejected and the old rules keep running
        publish(settings, settings.segment_definitions_topic,
                [("live_searcher", b'{"id": "live_searcher", "when": "cnt(search) >= 1"}')])
        worker.wait_for(lambda: "control record rejected" in worker.output, 30, "the rejection logged")
        rejected_line = next(line for line in worker.lines if "control record rejected" in line)
        assert f"{settings.segment_definitions_topic}:live_searcher:" in rejected_line
        assert "unknown function 'cnt'" in rejected_line
        producer.produce(settings.input_topics[0], key=b"u2", value=search("u2", 6, 1))
        producer.flush(10)
        seen = changes_for(changes, lambda c: c["user_id"] == "u2" and c["segment_id"] == "live_searcher"
                           and c["change"] == "entered", 30)
        status, metrics = worker.get("/metrics")
        assert status == 200
        assert 'personalizer_control_records_total{outcome="rejected",topic_kind="segment_definitions"} 1.0' \
            in metrics
        assert 'personalizer_control_records_total{outcome="applied",topic_kind="segment_definitions"} 1.0' \
            in metrics
    finally:
        worker.stop()
    assert worker.proc.returncode is not None

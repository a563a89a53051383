"""``personalizer demo``: the whole service on one machine, with live output.

Starts the embedded broker, creates the topics, starts a worker process, feeds the real
purchase log and a synthetic clickstream, and prints decisions, segment changes and
dead letters as they arrive, with the metrics URL. Stops everything it started on exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import click
import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from rich.console import Console

from streams.broker import EmbeddedBroker
from streams.commands.produce import iter_jsonl, produce_records
from streams.dlq.records import parse_dlq_record
from streams.process import stop_process
from streams.settings import Settings
from streams.topics import ensure_topics, topic_specs

SHARED_RETAIL = Path(__file__).resolve().parents[2].parent / "shared/data/online_retail_sample.csv"


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"worker exited with code {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise click.ClickException(f"worker not ready after {timeout:.0f} s ({url})")


class _Viewer:
    """Tails the output topics from the beginning and prints a readable sample."""

    def __init__(self, settings: Settings, console: Console, lines_per_second: float) -> None:
        self.console = console
        self.interval = 1.0 / lines_per_second
        self.counts: Counter[str] = Counter()
        self.dead_reasons: Counter[str] = Counter()
        self.first_decision_at: float | None = None
        self._last_print: dict[str, float] = {}
        conf = settings.consumer_config(group_id="personalizer-demo-viewer")
        conf["isolation.level"] = "read_committed"
        self.consumer = Consumer(conf)
        topics = [settings.decisions_topic, settings.segment_changes_topic, settings.dlq_topic]
        md = self.consumer.list_topics(timeout=10)
        self.consumer.assign([
            TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in md.topics[t].partitions
        ])
        self.topics = {settings.decisions_topic: "decision",
                       settings.segment_changes_topic: "segment", settings.dlq_topic: "dead"}

    def _due(self, kind: str) -> bool:
        now = time.monotonic()
        if now - self._last_print.get(kind, 0.0) >= self.interval:
            self._last_print[kind] = now
            return True
        return False

    def poll(self) -> None:
        for msg in self.consumer.consume(2000, 0.2):
            if msg.error() is not None:
                continue
            kind = self.topics.get(msg.topic() or "", "?")
            self.counts[kind] += 1
            if kind == "decision":
                if self.first_decision_at is None:
                    self.first_decision_at = time.monotonic()
                if self._due(kind):
                    d = orjson.loads(msg.value() or b"{}")
                    recs = ", ".join(r["item_id"] for r in d["recommendations"][:3])
                    why = d["recommendations"][0]["reason"] if d["recommendations"] else "-"
                    self.console.print(
                        f"[bold green]decision[/] user={d['user_id']} {d['placement']} "
                        f"kind={d['kind']} segments={d['segments']} top=[{recs}] reason: {why}"
                    )
            elif kind == "segment":
                if self._due(kind):
                    c = orjson.loads(msg.value() or b"{}")
                    self.console.print(
                        f"[bold cyan]segment[/]  user={c['user_id']} {c['change']} "
                        f"{c['segment_id']}: {c['reason']}"
                    )
            elif kind == "dead":
                dl = parse_dlq_record(msg.partition() or 0, msg.offset() or 0, None, msg.key(),
                                      msg.value(), msg.headers())
                reason = dl.reason or "?"
                self.dead_reasons[reason] += 1
                if self._due(kind):
                    offset = "?" if dl.original_offset is None else dl.original_offset
                    self.console.print(
                        f"[bold red]dead-letter[/] reason={reason} "
                        f"from {dl.original_topic or '?'}@{offset}"
                    )

    def close(self) -> None:
        self.consumer.close()


@click.command("demo")
@click.option("--duration", type=float, default=None,
              help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--users", default=2_000, show_default=True, help="Synthetic users.")
@click.option("--events", default=100_000, show_default=True, help="Synthetic events.")
@click.option("--rate", default=2_000.0, show_default=True,
              help="Synthetic events per second fed to the broker.")
@click.option("--web-port", default=6066, show_default=True, help="Worker web port (/metrics).")
@click.option("--retail-log", type=click.Path(path_type=Path), default=SHARED_RETAIL,
              show_default=True, help="The real purchase log to replay first.")
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("var/demo"),
              show_default=True, help="Where logs and generated files go.")
def demo_command(duration: float | None, users: int, events: int, rate: float, web_port: int,
                 retail_log: Path, workdir: Path) -> None:
    """Run everything locally: embedded broker, a worker, sample data, live decisions."""
    from streams.generator import generate

    console = Console(highlight=False)

    def _terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup
        raise KeyboardInterrupt  # SIGTERM stops the demo like Ctrl-C: children stopped by pid

    signal.signal(signal.SIGTERM, _terminate)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    broker = EmbeddedBroker(log_path=workdir / "broker.log")
    broker.start()
    worker: subprocess.Popen[bytes] | None = None
    stop_feed = threading.Event()
    viewer: _Viewer | None = None
    try:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, partitions=4,
                            web_port=web_port, state_backend="memory")
        ensure_topics(settings.admin_config(), topic_specs(settings))
        console.print(f"[bold]broker[/] {broker.bootstrap_servers} (pid {broker.pid}), "
                      f"topics created")
        env = {**os.environ,
               "PERSONALIZER_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
               "PERSONALIZER_PARTITIONS": "4",
               "PERSONALIZER_WEB_PORT": str(web_port),
               "PERSONALIZER_STATE_BACKEND": "memory",
               "PERSONALIZER_STATE_DIR": str(workdir / "state"),
               # the demo prints a /users/<id> lookup URL: enable that personal-data view
               # here explicitly (off by default); local synthetic data, no token
               "PERSONALIZER_USER_VIEW_ENABLED": "true"}
        log_file = open(workdir / "worker.log", "wb")  # noqa: SIM115 - closed in finally
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "-l", "info"],
            env=env, stdout=log_file, stderr=subprocess.STDOUT,
            # as the broker: a terminal's Ctrl-C reaches the demo only, which stops the worker
            # by pid (otherwise the worker could exit first and the demo report it as a failure)
            start_new_session=True,
        )
        log_file.close()
        console.print(f"[bold]worker[/] pid {worker.pid}, log {workdir / 'worker.log'}")
        events_file = workdir / "events.jsonl"
        summary = generate(users=users, events=events, seed=7, out=events_file)
        console.print(f"[bold]generator[/] {summary}")
        _wait_ready(f"http://127.0.0.1:{web_port}/ready", worker, timeout=90)
        console.print(f"[bold]worker ready[/] after {time.monotonic() - started:.1f} s — "
                      f"metrics: http://127.0.0.1:{web_port}/metrics  "
                      f"user lookup: http://127.0.0.1:{web_port}/users/<id>")

        def feed() -> None:
            producer = Producer(settings.producer_config())
            if retail_log.exists():
                from streams.sources.online_retail import iter_online_retail

                n = produce_records(producer, settings.input_topics[0],
                                    (r.raw for r in iter_online_retail(retail_log)))
                producer.flush(30)
                console.print(f"[bold]fed[/] {n} records from the real purchase log {retail_log}")
            else:
                console.print(f"[yellow]no purchase log at {retail_log}: skipped[/]")
            lines = iter_jsonl(events_file)
            while not stop_feed.is_set():
                chunk = [line for _, line in zip(range(max(1, int(rate // 10))), lines, strict=False)]
                if not chunk:
                    break
                produce_records(producer, settings.input_topics[0], iter(chunk))
                producer.poll(0)
                stop_feed.wait(0.1)
            producer.flush(30)
            console.print("[bold]fed[/] the synthetic clickstream")

        feeder = threading.Thread(target=feed, name="demo-feed", daemon=True)
        feeder.start()
        viewer = _Viewer(settings, console, lines_per_second=2.0)
        last_summary = time.monotonic()
        while duration is None or time.monotonic() - started < duration:
            viewer.poll()
            if worker.poll() is not None:
                raise click.ClickException(f"worker exited with code {worker.returncode}")
            if time.monotonic() - last_summary >= 5:
                last_summary = time.monotonic()
                dead = ", ".join(f"{r} {n}" for r, n in viewer.dead_reasons.most_common())
                console.print(
                    f"[bold]totals[/] decisions {viewer.counts['decision']:,} | segment changes "
                    f"{viewer.counts['segment']:,} | dead letters {viewer.counts['dead']:,}"
                    f"{' (' + dead + ')' if dead else ''} | metrics http://127.0.0.1:{web_port}/metrics"
                )
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        stop_feed.set()
        if viewer is not None:
            viewer.close()
        if worker is not None:
            stop_process(worker)
        broker.stop()
        console.print("demo stopped: worker and broker processes ended")

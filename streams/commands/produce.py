"""``personalizer produce``: send an event log to the input topic, keyed by user."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import click
import orjson
from confluent_kafka import Producer


def user_key(raw: bytes) -> bytes | None:
    """The partition key of a raw event: its user_id, else anonymous_id, else None.

    Records that do not parse are still sent (unkeyed): the worker dead-letters them
    with a reason, so nothing is dropped on the way in.

    >>> user_key(b'{"user_id": "u1"}'), user_key(b'{"anonymous_id": "a"}'), user_key(b'{')
    (b'u1', b'a', None)
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    key = obj.get("user_id") or obj.get("anonymous_id")
    return key.encode() if isinstance(key, str) else None


def iter_jsonl(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for line in fh:
            line = line.rstrip(b"\r\n")
            if line:
                yield line


def produce_records(
    producer: Producer, topic: str, records: Iterator[bytes], rate: float | None = None
) -> int:
    """Produce every record (key = user) with no per-message callback; returns the count."""
    n = 0
    started = time.monotonic()
    for raw in records:
        while True:
            try:
                producer.produce(topic, value=raw, key=user_key(raw))
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 10_000 == 0:
            producer.poll(0)
        if rate:
            ahead = n / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    return n


@click.command("produce")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--topic", default=None, help="Target topic (default: the first input topic).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "online-retail"]), default="jsonl",
              show_default=True,
              help="jsonl: one event per line (.gz ok); online-retail: the UCI purchase log CSV.")
@click.option("--rate", type=float, default=None, help="Events per second (default: as fast as possible).")
def produce_command(files: tuple[Path, ...], topic: str | None, fmt: str, rate: float | None) -> None:
    """Send event files to the input topic, keyed by user id (murmur2, like Kafka's Java clients)."""
    from streams.settings import load_settings

    settings = load_settings()
    target = topic or settings.input_topics[0]
    producer = Producer(settings.producer_config())
    total = 0
    for path in files:
        if fmt == "online-retail":
            from streams.sources.online_retail import iter_online_retail

            records: Iterator[bytes] = (r.raw for r in iter_online_retail(path))
        else:
            records = iter_jsonl(path)
        total += produce_records(producer, target, records, rate)
    left = producer.flush(60)
    if left:
        raise click.ClickException(f"{left} records not delivered to {target} within 60 s")
    click.echo(f"produced {total} records to {target}")

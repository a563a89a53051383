"""The raw limit: a confluent-kafka loop that consumes, decodes (orjson) and produces one
small record per event, with no logic. Every other figure is read as a ratio to this one."""

from __future__ import annotations

import time

import orjson
from confluent_kafka import Consumer, Message, Producer

from benchmarks.measure import per_core, proc_peak_rss_mb, reset_peak_rss
from benchmarks.workload import unique
from streams.settings import Settings

__all__ = ["bench_raw"]


def bench_raw(settings: Settings, topic: str, out: str, n: int) -> dict[str, float]:
    """Consume ``n`` records of ``topic`` (group join outside the measurement), decode each,
    produce one small record per event to ``out``; CPU time of this process."""
    consumer = Consumer(settings.consumer_config(group_id=unique("raw")))
    producer = Producer(settings.producer_config())
    consumer.subscribe([topic])
    reset_peak_rss()
    try:
        msgs: list[Message] = []
        while not msgs:  # group join + first fetch outside the measurement
            msgs = consumer.consume(10_000, 1.0)
        got = len(msgs)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while True:
            for m in msgs:
                if m.error() is not None:
                    continue
                event = orjson.loads(m.value() or b"null") or {}
                value = orjson.dumps({"id": event.get("event_id")})
                while True:
                    try:
                        producer.produce(out, key=m.key(), value=value)
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.poll(0)
            if got >= n:
                break
            msgs = consumer.consume(10_000, 1.0)
            got += len(msgs)
        producer.flush(60)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        consumer.close()
    return {"events": got, "cpu_s": cpu, "wall_s": wall, "events_per_core_s": per_core(got, cpu),
            "events_per_s_wall": got / wall if wall else 0.0, "peak_rss_mb": proc_peak_rss_mb()}

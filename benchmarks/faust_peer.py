"""The Faust peer for the worker benchmark: an agent doing the same minimal work per event
(decode, one Table write per user, one small record out). Run by benchmarks/peers.py as
``faust -A benchmarks.faust_peer worker``; configured through BENCH_* variables."""

from __future__ import annotations

import os

import faust
import orjson

app = faust.App(
    os.environ.get("BENCH_APP_ID", "bench-faust"),
    broker=f"kafka://{os.environ.get('BENCH_BOOTSTRAP', '127.0.0.1:9092')}",
    store="memory://",
    web_enabled=False,
    topic_partitions=int(os.environ.get("BENCH_PARTITIONS", "4")),
    broker_session_timeout=6.0,
    broker_heartbeat_interval=0.5,
    autodiscover=False,
)
source = app.topic(os.environ.get("BENCH_INPUT", "bench-in"), value_serializer="raw",
                   key_serializer="raw")
sink = app.topic(os.environ.get("BENCH_OUTPUT", "bench-out"), value_serializer="raw",
                 key_serializer="raw")
counts = app.Table("bench-counts", default=int, partitions=int(os.environ.get("BENCH_PARTITIONS", "4")))


@app.agent(source)
async def process(stream: faust.StreamT) -> None:
    async for key, value in stream.items():
        event = orjson.loads(value)
        user = event.get("user_id") or event.get("anonymous_id") or "?"
        counts[user] += 1
        await sink.send(key=key, value=b'{"n":%d}' % counts[user])

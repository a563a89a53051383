"""The Quix Streams peer: the same minimal work per event as the Faust peer (decode, one
state write per user with its changelog, one small record out), as a Quix Streams
application with RocksDB state. Run by :mod:`benchmarks.peers` as
``python -m benchmarks.quix_peer`` with an interpreter that has ``quixstreams``
(it pins confluent-kafka < 2.13, so it may live in its own virtualenv); configured
through BENCH_* variables."""

from __future__ import annotations

import os
from typing import Any

import orjson


def main() -> None:
    from quixstreams import Application

    app = Application(
        broker_address=os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:9092"),
        consumer_group=os.environ.get("BENCH_APP_ID", "bench-quix"),
        auto_offset_reset="earliest",
        state_dir=os.environ.get("BENCH_STATE_DIR", "state"),
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
        loglevel="WARNING",
    )
    source = app.topic(os.environ.get("BENCH_INPUT", "bench-in"), value_deserializer="bytes",
                       key_deserializer="bytes")
    sink = app.topic(os.environ.get("BENCH_OUTPUT", "bench-out"), value_serializer="bytes",
                     key_serializer="bytes")

    def count(value: bytes, state: Any) -> bytes:
        orjson.loads(value)  # the same decode as the other peers; state is keyed by user
        n = int(state.get("n", 0)) + 1
        state.set("n", n)
        return b'{"n":%d}' % n

    app.dataframe(source).apply(count, stateful=True).to_topic(sink)
    app.run()


if __name__ == "__main__":
    main()

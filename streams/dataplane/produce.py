"""Turning a batch's outputs into Kafka records, without per-message callbacks.

Dead letters follow Spring Kafka's ``kafka_dlt-*`` header names, so existing tooling
reads them: the value is the original bytes, untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

import msgspec
from confluent_kafka import Producer

from models.engine.batch import BatchOutput
from schemas.outputs import DeadLetter
from streams import metrics

_encode = msgspec.json.Encoder().encode


def dlq_headers(dl: DeadLetter, group_id: str) -> list[tuple[str, bytes]]:
    src = dl.source
    headers = [
        ("kafka_dlt-exception-fqcn", dl.error_class.encode()),
        ("kafka_dlt-exception-message", dl.detail.encode()[:1000]),
        ("kafka_dlt-exception-cause-fqcn", dl.reason.encode()),
        ("x-personalizer-reason", dl.reason.encode()),
        ("kafka_dlt-original-consumer-group", group_id.encode()),
    ]
    if src is not None:
        if src.topic is not None:
            headers.append(("kafka_dlt-original-topic", src.topic.encode()))
        if src.partition is not None:
            headers.append(("kafka_dlt-original-partition", str(src.partition).encode()))
        if src.offset is not None:
            headers.append(("kafka_dlt-original-offset", str(src.offset).encode()))
        if src.timestamp_ms is not None:
            headers.append(("kafka_dlt-original-timestamp", str(src.timestamp_ms).encode()))
        if src.file is not None:
            headers.append(("x-personalizer-source-file", src.file.encode()))
            headers.append(("x-personalizer-source-line", str(src.line).encode()))
    return headers


class OutputWriter:
    """Produces one batch's outputs to the decision, segment-change and DLQ topics."""

    def __init__(
        self,
        producer: Producer,
        *,
        decisions_topic: str,
        latest_decisions_topic: str | None,
        segment_changes_topic: str,
        dlq_topic: str,
        group_id: str,
        clock: Callable[[], float],
        record_metrics: bool = True,
    ) -> None:
        """``record_metrics`` False: no Prometheus metric moves (a replay publishing its
        outputs is not the live service)."""
        self.producer = producer
        self.decisions_topic = decisions_topic
        self.latest_topic = latest_decisions_topic
        self.changes_topic = segment_changes_topic
        self.dlq_topic = dlq_topic
        self.group_id = group_id
        self.clock = clock
        self.record_metrics = record_metrics

    def _produce(self, topic: str, key: bytes | None, value: bytes | None,
                 headers: list[tuple[str, bytes]] | None = None) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key,
                                      headers=cast("list[tuple[str, str | bytes | None]] | None", headers))
                return
            except BufferError:
                self.producer.poll(0.05)  # local queue full: let deliveries drain

    def write(
        self, out: BatchOutput, source_topic: str, keys_by_offset: Mapping[int, bytes | None]
    ) -> None:
        """Queue every output of ``out``; ``keys_by_offset`` gives dead letters their key."""
        for d in out.decisions:
            key = d.user_id.encode()
            value = _encode(d)
            self._produce(self.decisions_topic, key, value)
            if self.latest_topic:
                self._produce(self.latest_topic, key, value)
        for c in out.segment_changes:
            self._produce(self.changes_topic, c.user_id.encode(), _encode(c))
        for dl in out.dead_letters:
            offset = dl.source.offset if dl.source is not None else None
            dl_key = keys_by_offset.get(offset) if offset is not None else None
            self._produce(self.dlq_topic, dl_key, dl.raw, dlq_headers(dl, self.group_id))
        if self.latest_topic:
            for user, profile in out.state_updates.items():
                if profile is None:  # erased: tombstone the latest decision too
                    self._produce(self.latest_topic, user.encode(), None)
        if self.record_metrics:
            metrics.record_outputs(out, source_topic, self.clock())
        self.producer.poll(0)

"""The state changelog: one compacted topic partition per input partition.

Record kinds (key prefixes keep them apart from any user id):
``u:<user>`` -> msgpack profile, or a tombstone (``None``) for an erased user;
``e:engine`` -> the core of the engine's non-profile state (models, watermark);
``e:p:<name>`` -> one part of it (a co-visitation list), or a tombstone for a part
dropped; a checkpoint writes the parts changed since the previous one
(models.engine.checkpoint).
Every record carries ``x-source-offset``: the input offset its checkpoint covers up to
(exclusive) — the offset that checkpoint commits.

Recovery applies a record only when ``local < source_offset <= committed``: records of
a checkpoint whose offset commit never happened are skipped (the input will be
re-processed and re-produce them), and records already reflected in the local store are
not re-applied (applying an older snapshot would regress a user). Reading from the start
of the partition is therefore always correct.

The changelog's ``min.compaction.lag.ms`` must exceed the checkpoint interval, so that
compaction never removes a committed record in favour of one that may still be skipped.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from streams.state.partition import (
    META_CHECKPOINT_WALL_MS,
    META_ENGINE_PART,
    META_ENGINE_STATE,
    META_SOURCE_OFFSET,
    PartitionStore,
    wall_stamp,
)

USER_PREFIX = b"u:"
ENGINE_KEY = b"e:engine"
ENGINE_PART_PREFIX = b"e:p:"
SOURCE_OFFSET_HEADER = "x-source-offset"


def changelog_topic(prefix: str, input_topic: str) -> str:
    return f"{prefix}.{input_topic}.changelog"


def produce_checkpoint(
    producer: Producer, topic: str, partition: int, updates: Mapping[str, bytes | None],
    engine_state: bytes | None, source_offset: int,
    engine_parts: Mapping[str, bytes | None] | None = None,
) -> int:
    """Queue one checkpoint's changelog records (no callbacks); returns how many."""
    headers: list[tuple[str, str | bytes | None]] = [(SOURCE_OFFSET_HEADER, str(source_offset).encode())]
    n = 0
    records = [(USER_PREFIX + u.encode(), v) for u, v in updates.items()]
    if engine_parts:
        records.extend((ENGINE_PART_PREFIX + name.encode(), v) for name, v in engine_parts.items())
    if engine_state is not None:
        records.append((ENGINE_KEY, engine_state))
    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, partition=partition, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
    return n


@dataclass
class RestoreResult:
    records_read: int = 0
    records_applied: int = 0
    seconds: float = 0.0
    source_offset: int = -1


def stored_source_offset(store: PartitionStore) -> int:
    raw = store.get_meta(META_SOURCE_OFFSET)
    return int(raw) if raw is not None else -1


def restore_partition(
    consumer_config: Mapping[str, Any], topic: str, partition: int, store: PartitionStore,
    committed: int, batch: int = 10_000, timeout_s: float = 300.0, apply_every: int = 50_000,
) -> RestoreResult:
    """Bring ``store`` up to ``committed`` from the changelog partition (see module doc).

    Profiles are written to ``store`` every ``apply_every`` distinct users (so a restore
    holds at most that many in memory, not the whole partition); the source offset and the
    engine state are written last, with the final ones."""
    started = time.monotonic()
    local = stored_source_offset(store)
    result = RestoreResult(source_offset=local)
    if committed <= local:
        result.seconds = time.monotonic() - started
        return result
    conf = {k: v for k, v in consumer_config.items()
            if k not in ("group.instance.id", "partition.assignment.strategy")}
    conf.update({"group.id": f"restore-{uuid.uuid4().hex}", "enable.partition.eof": True,
                 "enable.auto.commit": False, "isolation.level": "read_committed"})
    consumer = Consumer(conf)
    updates: dict[str, bytes | None] = {}
    engine_state: bytes | None = None
    engine_parts: dict[str, bytes | None] = {}
    newest = local
    try:
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout_s
        done = False
        while not done:
            if time.monotonic() > deadline:
                raise TimeoutError(f"restore of {topic}[{partition}] did not reach the end in {timeout_s}s")
            for msg in consumer.consume(batch, 1.0):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        done = True
                        break
                    raise RuntimeError(f"restore of {topic}[{partition}]: {err.str()}")
                result.records_read += 1
                src = _source_offset(msg.headers())
                if src is None or not (local < src <= committed):
                    continue
                result.records_applied += 1
                newest = max(newest, src)
                key = msg.key() or b""
                if key == ENGINE_KEY:
                    engine_state = msg.value()
                elif key.startswith(ENGINE_PART_PREFIX):
                    engine_parts[META_ENGINE_PART + key[len(ENGINE_PART_PREFIX):].decode()] = msg.value()
                elif key.startswith(USER_PREFIX):
                    updates[key[len(USER_PREFIX):].decode()] = msg.value()
                    if len(updates) >= apply_every:
                        # committed records only, in changelog order: safe to write before the
                        # offset (a restore cut short re-applies them from the start)
                        store.apply(updates, {})
                        updates = {}
    finally:
        consumer.close()
    # every committed checkpoint wrote records up to its offset; one that changed nothing
    # wrote none, and the state is complete up to ``committed`` all the same
    newest = committed
    # every record up to the committed offset is applied now: the store is current as of now
    meta: dict[str, bytes | None] = {META_SOURCE_OFFSET: str(newest).encode(),
                                     META_CHECKPOINT_WALL_MS: wall_stamp(time.time()),
                                     **engine_parts}
    if engine_state is not None:
        meta[META_ENGINE_STATE] = engine_state
    store.apply(updates, meta)
    result.source_offset = newest
    result.seconds = time.monotonic() - started
    return result


def _source_offset(headers: Any) -> int | None:
    """The source offset header of a changelog record (librdkafka gives a list of pairs)."""
    for name, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        if name == SOURCE_OFFSET_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None

"""Build and publish control records from files: validate everything first, then publish.

:func:`segment_records` reads a rules file (the format of ``models/segments.yaml``) and
:func:`offer_records` a YAML/JSON list of placements; both raise :class:`FileError`
(``file:line:column: reason``) and return nothing when anything is invalid.
:func:`publish` sends ``(key, value | None)`` pairs and waits until every one is
acknowledged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaError, Message, Producer

from models.segments import RuleError, load_rules
from schemas.control import MAX_CONTROL_RECORD_BYTES, SegmentDefinitionRecord, encode_control
from streams.control.definitions import DefinitionsState
from streams.control.errors import ControlError
from streams.control.offers import OffersState
from streams.settings import Settings
from streams.topics import TopicSpec, compacted_config, ensure_topics

__all__ = ["FileError", "KeyedValue", "offer_records", "publish", "segment_records"]

KeyedValue = tuple[str, bytes | None]


class FileError(ValueError):
    """An input file that cannot be published: ``file:line:column: reason``."""

    def __init__(self, source: str, line: int, column: int, reason: str) -> None:
        super().__init__(source, line, column, reason)
        self.source, self.line, self.column, self.reason = source, line, column, reason

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.reason}"


def segment_records(path: str | os.PathLike[str], topic: str) -> list[KeyedValue]:
    """One record per segment of the rules file, key = segment id, in file order."""
    source = os.fspath(path)
    try:
        rules = load_rules(path)
    except RuleError as exc:
        raise FileError(exc.source, exc.line, exc.column, exc.reason) from None
    check = DefinitionsState(rules, topic)
    out: list[KeyedValue] = []
    for seg in rules.segments:
        record = SegmentDefinitionRecord(
            id=seg.id, name=seg.name, description=seg.description, when=seg.expression, enabled=True
        )
        value = encode_control(record)
        try:
            check.validate(seg.id, value)
        except ControlError as exc:
            raise FileError(source, seg.line, 1, exc.reason) from None
        out.append((seg.id, value))
    return out


def offer_records(path: str | os.PathLike[str], topic: str) -> list[KeyedValue]:
    """One record per placement of a YAML/JSON list, key = placement id, in file order."""
    source = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FileError(source, 1, 1, f"cannot read offers file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise FileError(source, 1, 1, f"offers file is not valid UTF-8 (byte {exc.start})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise FileError(source, line, column, f"YAML syntax error: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise FileError(source, 1, 1, f"YAML error: {exc}") from None
    if not isinstance(root, yaml.SequenceNode) or not isinstance(data, list):
        raise FileError(source, 1, 1, "an offers file is a list of placements ('- placement: ...')")
    check = OffersState(topic)
    out: list[KeyedValue] = []
    seen: dict[str, int] = {}
    for node, item in zip(root.value, data, strict=True):
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if not isinstance(item, dict) or not isinstance(item.get("placement"), str):
            raise FileError(source, line, column, "each entry needs 'placement: <id>' and its variants")
        key = item["placement"]
        try:
            value = json.dumps(item, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            reason = f"not plain JSON data (text, numbers, lists, maps): {exc}"
            raise FileError(source, line, column, reason) from None
        if len(value) > MAX_CONTROL_RECORD_BYTES:
            raise FileError(source, line, column, f"placement too large: {len(value)} bytes > "
                            f"{MAX_CONTROL_RECORD_BYTES}")  # fmt: skip
        try:
            check.validate(key, value)
        except ControlError as exc:
            raise FileError(source, line, column, exc.reason) from None
        if key in seen:
            reason = f"placement {key!r} appears twice (first on line {seen[key]})"
            raise FileError(source, line, column, reason)
        seen[key] = line
        out.append((key, value))
    return out


def ensure_control_topic(settings: Settings, topic: str) -> None:
    """Create the compacted control topic when it is missing (idempotent)."""
    spec = TopicSpec(topic, settings.partitions, compacted_config(), settings.replication_factor)
    ensure_topics(settings.admin_config(), [spec], timeout=30)


def publish(settings: Settings, topic: str, records: Sequence[KeyedValue], timeout: float = 30.0) -> None:
    """Produce every record (``None`` value = tombstone) and wait for every acknowledgement."""
    errors: list[str] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(f"{msg.key()!r}: {err.str()}")

    producer = Producer(settings.producer_config())
    for key, value in records:
        kwargs: dict[str, Any] = {"key": key.encode("utf-8"), "value": value, "on_delivery": on_delivery}
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
    left = producer.flush(timeout)
    if left:
        errors.append(f"{left} records not acknowledged within {timeout:g}s")
    if errors:
        raise RuntimeError(f"publishing to {topic} failed: " + "; ".join(errors[:5]))

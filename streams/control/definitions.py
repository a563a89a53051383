"""Segment definitions from the control topic, folded over the rules file: :class:`DefinitionsState`.

Pure (no Kafka, no I/O): records ``(key, value | None)`` go in, a :class:`RuleSet` comes out.

- The file's segments are the base, in file order.
- A topic record overrides the file segment with the same id (in place), or adds a
  segment; topic-only segments follow the file's, sorted by id.
- ``"enabled": false`` removes the segment (also a file segment) while the record stands.
- A tombstone (null value) removes the topic record: a file segment comes back as the
  file defines it, a topic-only segment goes.
- Every record is validated alone (strict JSON contract, then the rules language via
  :func:`~models.segments.parse_rules` with source ``<topic>:<key>``); an invalid one
  raises :class:`ControlError` and changes nothing, so the previous rules stay in force.

>>> from models.segments import parse_rules
>>> state = DefinitionsState(parse_rules("segments: [{id: a, when: 'count(purchase) >= 1'}]"))
>>> state.apply(b"vip", b'{"id": "vip", "name": "VIP", "when": "revenue(365d) >= 1000"}')
'applied'
>>> state.rules.segment_ids()
('a', 'vip')
>>> try:
...     state.apply(b"vip", b'{"id": "vip", "when": "cnt(purchase) >= 1"}')
... except ControlError as err:
...     print(err.topic, err.key, err.reason[:39], err.reason[-23:])
personalization.segment-definitions vip unknown function 'cnt' in segment 'vip' (at column 1 of 'when')
>>> state.rules.segment_ids(), state.apply(b"vip", None), state.rules.segment_ids()
(('a', 'vip'), 'removed', ('a',))
"""

from __future__ import annotations

import json
import re
from typing import Literal

import msgspec

from models.segments import RuleError, RuleSet, parse_rules
from models.segments.loader import MAX_SEGMENTS
from schemas.control import SegmentDefinitionRecord, decode_segment_definition
from streams.control.errors import ControlError, show_key

__all__ = ["DEFAULT_TOPIC", "DefinitionsState", "Outcome", "compose_text", "segment_text"]

#: Default name of the segment-definitions topic (used in messages when none is given).
DEFAULT_TOPIC = "personalization.segment-definitions"

Outcome = Literal["applied", "removed"]

_SEGMENT_ID = re.compile(r"[a-z0-9_]{1,64}")
_WHEN_PREFIX = '"when": "'


def _entry(sid: str, name: str, description: str, when: str) -> dict[str, str]:
    entry = {"id": sid}
    if name.strip():
        entry["name"] = name
    if description.strip():
        entry["description"] = description
    entry["when"] = when
    return entry


def _dump(entry: dict[str, str]) -> str:
    # JSON is YAML: the loader reads it with its safe composer; ensure_ascii=False keeps
    # astral characters whole (YAML \u escapes would split surrogate pairs).
    return json.dumps(entry, ensure_ascii=False)


def segment_text(record: SegmentDefinitionRecord) -> str:
    """A one-segment rules document for ``record``, with ``when`` alone on line 2.

    >>> print(segment_text(decode_segment_definition(b'{"id": "x", "when": "count(search) > 2"}')))
    {"version": 1, "segments": [{"id": "x",
    "when": "count(search) > 2"}]}
    """
    assert record.when is not None
    entry = _entry(record.id, record.name, record.description, record.when)
    head = _dump({k: v for k, v in entry.items() if k != "when"})[:-1]
    when = json.dumps(record.when, ensure_ascii=False)
    return f'{{"version": 1, "segments": [{head},\n{_WHEN_PREFIX[:-1]}{when}}}]}}'


def compose_text(entries: list[dict[str, str]]) -> str:
    """A rules document (JSON, which the YAML loader reads) with one segment per line."""
    lines = ",\n".join(_dump(e) for e in entries)
    return f'{{"version": 1, "segments": [\n{lines}\n]}}\n'


class DefinitionsState:
    """The rules file's segments plus the control topic's records, composed into a RuleSet.

    ``base`` is the worker's rules file; ``topic`` names the control topic in messages.
    Not thread-safe: one reader folds records in order.
    """

    def __init__(self, base: RuleSet, topic: str = DEFAULT_TOPIC) -> None:
        self.base = base
        self.topic = topic
        self._base_ids = frozenset(base.segment_ids())
        self._records: dict[str, SegmentDefinitionRecord] = {}
        self._rules: RuleSet | None = base
        self._composed_records: dict[str, SegmentDefinitionRecord] = {}

    # -- reading ------------------------------------------------------------------------

    def records(self) -> tuple[SegmentDefinitionRecord, ...]:
        """The topic records in force, sorted by id."""
        return tuple(self._records[k] for k in sorted(self._records))

    @property
    def rules(self) -> RuleSet:
        """The composed rules (built once per change, on first use)."""
        if self._rules is None:
            try:
                self._rules = self._compose(self._records)
            except RuleError as exc:  # not expected: every record was validated alone
                self._records = dict(self._composed_records)
                raise ControlError(self.topic, "*", f"the composed rules do not load: {exc.reason}") from None
            self._composed_records = dict(self._records)
        return self._rules

    def _entries(self, records: dict[str, SegmentDefinitionRecord]) -> list[dict[str, str]]:
        entries: list[dict[str, str]] = []
        for seg in self.base.segments:
            rec = records.get(seg.id)
            if rec is None:
                entries.append(_entry(seg.id, seg.name, seg.description, seg.expression))
            elif rec.enabled and rec.when is not None:
                entries.append(_entry(rec.id, rec.name, rec.description, rec.when))
        for sid in sorted(records.keys() - self._base_ids):
            rec = records[sid]
            if rec.enabled and rec.when is not None:
                entries.append(_entry(rec.id, rec.name, rec.description, rec.when))
        return entries

    def _compose(self, records: dict[str, SegmentDefinitionRecord]) -> RuleSet:
        if not records:
            return self.base
        return parse_rules(compose_text(self._entries(records)), f"{self.base.source} + {self.topic}")

    def _count(self, records: dict[str, SegmentDefinitionRecord]) -> int:
        disabled = sum(1 for r in records.values() if not r.enabled)
        return len(self._base_ids | records.keys()) - disabled

    # -- folding ------------------------------------------------------------------------

    def key_of(self, key: bytes | str | None) -> str:
        """The segment id a record key names; :class:`ControlError` when it is not one."""
        shown = show_key(key)
        if key is None:
            raise ControlError(self.topic, shown, "record has no key; key segment definitions by segment id")
        if isinstance(key, bytes):
            try:
                key = key.decode("utf-8")
            except UnicodeDecodeError:
                raise ControlError(self.topic, shown, "key is not UTF-8 text") from None
        if not _SEGMENT_ID.fullmatch(key):
            raise ControlError(
                self.topic, shown, "bad segment id in key; use 1-64 characters of lowercase a-z, 0-9 and _"
            )
        return key

    def validate(self, key: bytes | str | None, value: bytes) -> SegmentDefinitionRecord:
        """Decode and check one record alone; raises :class:`ControlError`."""
        sid = self.key_of(key)
        try:
            record = decode_segment_definition(value)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ControlError(self.topic, sid, f"invalid segment definition: {exc}") from None
        if record.id != sid:
            raise ControlError(
                self.topic, sid, f"key {sid!r} and value id {record.id!r} differ; they must match"
            )
        if record.enabled:
            self._check_rule(sid, record)
        return record

    def _check_rule(self, sid: str, record: SegmentDefinitionRecord) -> None:
        try:
            parsed = parse_rules(segment_text(record), f"{self.topic}:{sid}")
        except RuleError as exc:
            where = ""
            if exc.line == 2 and exc.column > len(_WHEN_PREFIX):
                where = f" (at column {exc.column - len(_WHEN_PREFIX)} of 'when')"
            raise ControlError(self.topic, sid, f"{exc.reason}{where}") from exc
        seg = parsed.segments[0]
        expected = (record.name.strip() or sid, record.description.strip(), (record.when or "").strip())
        if (seg.name, seg.description, seg.expression) != expected:
            raise ControlError(
                self.topic, sid, "name, description or when contains characters the rules format "
                "cannot hold (e.g. U+0085 next-line); remove them",
            )

    def apply(self, key: bytes | str | None, value: bytes | None) -> Outcome:
        """Fold one record: ``"applied"``, ``"removed"`` (tombstone), or :class:`ControlError`."""
        if value is None:
            sid = self.key_of(key)
            if sid in self._records:
                del self._records[sid]
                self._rules = None
            return "removed"
        record = self.validate(key, value)
        candidate = {**self._records, record.id: record}
        count = self._count(candidate)
        if count > MAX_SEGMENTS:
            raise ControlError(
                self.topic, record.id,
                f"would make {count} segments (max {MAX_SEGMENTS}); disable or delete some first",
            )
        if self._records.get(record.id) != record:
            self._records = candidate
            self._rules = None
        return "applied"

"""Stage the input for replay: filter, collect erasures, order (memory-bounded).

Ordering policy (see the README "Replay" section):

* ``time`` (default): a stable sort by event time; ties keep input order. A record with
  no readable event time (it will be dead-lettered) keeps its place after the record
  read just before it. Sorted input (the generator's files) costs one pass.
* ``file``: input order, exactly as produced (what the live worker sees per partition).

Inputs larger than ``chunk_size`` records are sorted in runs spilled to a temporary
directory and merged, so staging never holds more than one run in memory.
"""

from __future__ import annotations

import heapq
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import msgspec

from schemas.outputs import SourcePosition
from streams.replay.head import Head, read_head
from streams.replay.sources import RawRecord

__all__ = ["Order", "StagedInput", "StagedRecord", "stage"]

Order = Literal["time", "file"]

#: (sort time, input sequence, raw, position, key, event time, type)
StagedRecord = tuple[float, int, bytes, SourcePosition | None, str | None, float | None, str | None]

_LEN = struct.Struct("<I")
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(
    tuple[float, int, bytes, SourcePosition | None, str | None, float | None, str | None]
)


@dataclass
class StagedInput:
    """The staged records (iterate once) and what staging learned about them."""

    count: int = 0
    read: int = 0
    before_since: int = 0
    after_until: int = 0
    beyond_limit: int = 0
    untimed: int = 0
    min_ts: float | None = None
    max_ts: float | None = None
    #: user key -> the latest time that user was erased (inf: all their events).
    erasures: dict[str, float] = field(default_factory=dict)
    _memory: list[StagedRecord] = field(default_factory=list)
    _runs: list[Path] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def __iter__(self) -> Iterator[StagedRecord]:
        if not self._runs:
            yield from self._memory
            return
        files = [open(p, "rb") for p in self._runs]  # noqa: SIM115 (closed below)
        try:
            yield from heapq.merge(*(_read_run(f) for f in files))
        finally:
            for f in files:
                f.close()

    def close(self) -> None:
        self._memory = []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _read_run(fh: IO[bytes]) -> Iterator[StagedRecord]:
    while True:
        head = fh.read(4)
        if not head:
            return
        (n,) = _LEN.unpack(head)
        yield _dec.decode(fh.read(n))


def _spill(run: list[StagedRecord], tmp: Path, index: int) -> Path:
    path = tmp / f"run-{index:05d}.bin"
    with open(path, "wb") as fh:
        for rec in run:
            data = _enc.encode(rec)
            fh.write(_LEN.pack(len(data)))
            fh.write(data)
    return path


def stage(
    records: Iterable[RawRecord],
    order: Order = "time",
    since: float | None = None,
    until: float | None = None,
    limit: int | None = None,
    erase_list: Iterable[str] = (),
    chunk_size: int = 500_000,
    tmp_dir: Path | None = None,
) -> StagedInput:
    """Read every record once; ``since``/``until`` filter by event time (records without
    a readable time are kept: they become dead letters); ``limit`` keeps the first N
    records (after the time filter) in input order."""
    staged = StagedInput()
    for user in erase_list:
        staged.erasures[user] = float("inf")
    erasures = staged.erasures
    run: list[StagedRecord] = []
    last_ts = float("-inf")
    seq = 0
    by_time = order == "time"
    for raw, position in records:
        staged.read += 1
        head: Head = read_head(raw)
        ts = head.ts
        if ts is not None:
            if since is not None and ts < since:
                staged.before_since += 1
                continue
            if until is not None and ts >= until:
                staged.after_until += 1
                continue
        if limit is not None and seq >= limit:
            staged.beyond_limit += 1
            continue
        if head.type == "erase" and head.key is not None:
            when = ts if ts is not None else float("inf")
            erasures[head.key] = max(erasures.get(head.key, when), when)
        if ts is None:
            staged.untimed += 1
            sort_ts = last_ts
        else:
            sort_ts = last_ts = ts
            if staged.min_ts is None or ts < staged.min_ts:
                staged.min_ts = ts
            if staged.max_ts is None or ts > staged.max_ts:
                staged.max_ts = ts
        run.append((sort_ts if by_time else 0.0, seq, raw, position, head.key, ts, head.type))
        seq += 1
        if len(run) >= chunk_size:
            if staged._tmp is None:
                staged._tmp = tempfile.TemporaryDirectory(prefix="replay-", dir=tmp_dir)
            run.sort()
            staged._runs.append(_spill(run, Path(staged._tmp.name), len(staged._runs)))
            run = []
    staged.count = seq
    if by_time:
        run.sort()
    if staged._runs:
        if run:
            assert staged._tmp is not None
            staged._runs.append(_spill(run, Path(staged._tmp.name), len(staged._runs)))
    else:
        staged._memory = run
    return staged

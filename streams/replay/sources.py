"""Replay inputs as ``(raw bytes, source position)`` in input order.

Every reader yields what a broker would carry for the record, with the file and line
(or topic, partition and offset) it came from, so an undecodable record becomes a dead
letter that points back to it. A file that cannot be read at all raises
:class:`~streams.replay.errors.ReplayInputError` naming the file, the line and why.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

from schemas.outputs import SourcePosition
from streams.replay.errors import ReplayInputError

__all__ = ["RawRecord", "iter_jsonl_records", "iter_retail_records"]

RawRecord = tuple[bytes, SourcePosition | None]


def iter_jsonl_records(path: Path, stats: dict[str, int] | None = None) -> Iterator[RawRecord]:
    """One record per non-blank line of a JSONL file (``.gz`` is decompressed).

    Blank lines are not records; they are counted in ``stats["blank_lines"]``.
    """
    name = path.name
    line = 0
    try:
        fh = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise ReplayInputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    try:
        with fh:
            for line, text in enumerate(fh, start=1):
                raw = text.rstrip(b"\r\n")
                if not raw.strip():
                    if stats is not None:
                        stats["blank_lines"] = stats.get("blank_lines", 0) + 1
                    continue
                yield raw, SourcePosition(file=name, line=line)
    except (OSError, EOFError, zlib.error) as exc:
        raise ReplayInputError(
            f"{path}:{line + 1}: cannot read past line {line}: {type(exc).__name__}: {exc}"
        ) from None


def iter_retail_records(path: Path) -> Iterator[RawRecord]:
    """The UCI Online Retail CSV through :mod:`streams.sources.online_retail` (its documented
    mapping: one purchase/return per invoice, one identify per customer, bad rows kept)."""
    from streams.sources.online_retail import load_online_retail

    try:
        records, _ = load_online_retail(path)
    except OSError as exc:
        raise ReplayInputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    except ValueError as exc:  # wrong header
        raise ReplayInputError(f"{path}:1: {exc}") from None
    for r in records:
        yield r.raw, r.position

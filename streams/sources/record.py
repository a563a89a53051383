"""A raw record read from a source, with where it came from.

The raw bytes are what a broker would carry (an encoded event, or anything a decoder
must reject); the position names the file and line so a dead letter can point back.

>>> from schemas.outputs import SourcePosition
>>> SourceRecord(b"{}", SourcePosition(file="x.csv", line=2)).position.line
2
"""

from __future__ import annotations

import msgspec

from schemas.outputs import SourcePosition


class SourceRecord(msgspec.Struct, frozen=True):
    raw: bytes
    position: SourcePosition

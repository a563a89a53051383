"""JSON Schema files generated from the msgspec structs, for producers in other languages.

The files under ``schemas/json/`` are committed; a test fails when they drift from the
structs. Regenerate with ``python -m schemas.jsonschema`` (or ``make schemas``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec
import orjson

from schemas.control import OfferRecord, SegmentDefinitionRecord
from schemas.events import SCHEMA_VERSION, Event
from schemas.outputs import DeadLetter, Decision, SegmentChange

JSON_DIR = Path(__file__).parent / "json"

_DOCS: dict[str, tuple[Any, str]] = {
    "event": (Event, "A clickstream event consumed by the personalizer."),
    "decision": (Decision, "A personalization decision produced by the personalizer."),
    "segment-change": (SegmentChange, "A user entering or leaving a segment."),
    "dead-letter": (DeadLetter, "A rejected input record, as written to dead-letter files."),
    "segment-definition": (
        SegmentDefinitionRecord, "A segment definition on the segment-definitions control topic."
    ),
    "offer": (OfferRecord, "A placement and its variants on the offers control topic."),
}


def render_all() -> dict[str, bytes]:
    """File name -> file content for every schema, deterministic."""
    out: dict[str, bytes] = {}
    for name, (typ, title) in _DOCS.items():
        schema = msgspec.json.schema(typ)
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "x-schema-version": SCHEMA_VERSION,
            **schema,
        }
        out[f"{name}.schema.json"] = orjson.dumps(
            schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        ) + b"\n"
    return out


def write_all(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_all().items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written


def main() -> int:
    for path in write_all():
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

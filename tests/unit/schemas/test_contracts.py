"""Event contracts: committed JSON Schema files match the structs; outputs round-trip."""

from pathlib import Path

import msgspec
import pytest

from schemas.events import EVENT_TYPE_NAMES
from schemas.jsonschema import JSON_DIR, render_all
from schemas.outputs import OUTPUT_TYPES
from tests.factories import at, event, raw


def test_committed_json_schemas_match_the_structs():
    rendered = render_all()
    on_disk = {p.name: p.read_bytes() for p in Path(JSON_DIR).glob("*.json")}
    assert set(on_disk) == set(rendered), "run `make schemas` and commit schemas/json"
    stale = [name for name, content in rendered.items() if on_disk[name] != content]
    assert not stale, f"schemas/json drifted from the structs: {stale}; run `make schemas`"


def test_event_schema_lists_every_event_type():
    schema = msgspec.json.decode(render_all()["event.schema.json"])
    tags = {d["properties"]["type"]["enum"][0] for d in schema["$defs"].values()
            if "type" in d.get("properties", {}) and "enum" in d["properties"]["type"]}
    assert tags == set(EVENT_TYPE_NAMES)


@pytest.mark.parametrize("typ", OUTPUT_TYPES, ids=lambda t: t.__name__)
def test_every_output_is_versioned(typ):
    assert "schema_version" in typ.__struct_fields__


def test_unknown_fields_are_ignored_for_forward_compatibility():
    from schemas.decode import decode_event

    ev = event("page_view", "u1", at(0)) | {"added_in_a_later_version": {"x": 1}}
    assert decode_event(raw(ev)).user_key == "u1"

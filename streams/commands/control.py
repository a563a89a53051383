"""``personalizer control``: publish and show live segment definitions and offers.

Files are validated whole before anything is published; an error is reported as
``file:line:column: reason`` with a non-zero exit and nothing published.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _settings() -> Any:
    from streams.settings import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from None


def _publish(settings: Any, topic: str, records: list[tuple[str, bytes | None]]) -> None:
    from streams.control.publish import ensure_control_topic, publish
    from streams.topics import TopicError

    try:
        ensure_control_topic(settings, topic)
        publish(settings, topic, records)
    except (TopicError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group("control")
def control_command() -> None:
    """Live segment definitions and offers (compacted control topics read by every worker)."""


@control_command.command("publish-segments")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--delete", "deletes", multiple=True, metavar="ID",
              help="Publish a tombstone for segment ID (removes its topic record; a segment of the "
                   "workers' rules file comes back as the file defines it). Repeatable.")
@click.option("--disable", "disables", multiple=True, metavar="ID",
              help='Publish {"enabled": false} for segment ID (turns off a file segment too). Repeatable.')
def publish_segments(file: Path | None, deletes: tuple[str, ...], disables: tuple[str, ...]) -> None:
    """Publish the segments of FILE (format of models/segments.yaml), one record per segment.

    The whole file is validated first; nothing is published when anything is invalid.
    """
    from schemas.control import SegmentDefinitionRecord, encode_control
    from streams.control.definitions import DefinitionsState
    from streams.control.errors import ControlError
    from streams.control.publish import FileError, segment_records

    if file is None and not deletes and not disables:
        raise click.UsageError("give a FILE, --delete ID or --disable ID")
    settings = _settings()
    topic = settings.segment_definitions_topic
    records: list[tuple[str, bytes | None]] = []
    if file is not None:
        try:
            records += segment_records(file, topic)
        except FileError as exc:
            raise click.ClickException(str(exc)) from None
    from models.segments import RuleSet

    check = DefinitionsState(RuleSet([], [], text="segments: []", source="<none>"), topic)
    for sid in deletes:
        try:
            records.append((check.key_of(sid), None))
        except ControlError as exc:
            raise click.ClickException(str(exc)) from None
    for sid in disables:
        try:
            value = encode_control(SegmentDefinitionRecord(id=check.key_of(sid), enabled=False))
        except ControlError as exc:
            raise click.ClickException(str(exc)) from None
        records.append((sid, value))
    _publish(settings, topic, records)
    click.echo(f"published {len(records)} records to {topic}")


@control_command.command("publish-offers")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--delete", "deletes", multiple=True, metavar="PLACEMENT",
              help="Publish a tombstone for PLACEMENT (removes it from the catalogue). Repeatable.")
def publish_offers(file: Path | None, deletes: tuple[str, ...]) -> None:
    """Publish the placements of FILE (a YAML or JSON list), one record per placement.

    The whole file is validated first; nothing is published when anything is invalid.
    """
    from streams.control.errors import ControlError
    from streams.control.offers import OffersState
    from streams.control.publish import FileError, offer_records

    if file is None and not deletes:
        raise click.UsageError("give a FILE or --delete PLACEMENT")
    settings = _settings()
    topic = settings.offers_topic
    records: list[tuple[str, bytes | None]] = []
    if file is not None:
        try:
            records += offer_records(file, topic)
        except FileError as exc:
            raise click.ClickException(str(exc)) from None
    check = OffersState(topic)
    for pid in deletes:
        try:
            records.append((check.key_of(pid), None))
        except ControlError as exc:
            raise click.ClickException(str(exc)) from None
    _publish(settings, topic, records)
    click.echo(f"published {len(records)} records to {topic}")


@control_command.command("show")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the topics to be read to the end.")
def show(as_json: bool, timeout: float) -> None:
    """Print the segment definitions and offers in force, read back from the control topics.

    Rules are composed over the workers' rules file (PERSONALIZER_SEGMENTS_FILE or the
    shipped one), exactly as a worker does.
    """
    import msgspec

    from models.offers import OfferCatalog
    from models.segments import DEFAULT_RULES_PATH, RuleError, load_rules
    from streams.control.errors import ControlError
    from streams.control.plane import ControlPlane
    from streams.control.reader import ControlReader, TopicMissingError

    settings = _settings()
    try:
        base = load_rules(settings.segments_file or DEFAULT_RULES_PATH)
    except RuleError as exc:
        raise click.ClickException(str(exc)) from None
    rejected: list[str] = []
    plane = ControlPlane(base, definitions_topic=settings.segment_definitions_topic,
                         offers_topic=settings.offers_topic, on_rules=lambda r: None,
                         on_offers=lambda c: None)  # fmt: skip
    reader = ControlReader(settings.consumer_config(), [plane.definitions.topic, plane.offers.topic])
    try:
        records = reader.read_to_end(timeout)
    except (TopicMissingError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        reader.close()
    for record in records:
        state = plane.definitions if record.topic == plane.definitions.topic else plane.offers
        try:
            state.apply(record.key, record.value)
        except ControlError as exc:
            rejected.append(f"{exc} (partition {record.partition}, offset {record.offset})")
    rules = plane.definitions.rules
    catalog: OfferCatalog = plane.offers.catalog
    definitions = [msgspec.to_builtins(r) for r in plane.definitions.records()]
    offers = [msgspec.to_builtins(p.to_record()) for p in catalog]
    if as_json:
        click.echo(json.dumps({
            "segment_definitions_topic": plane.definitions.topic,
            "segment_definitions": definitions,
            "rules": {"version": rules.version, "segments": list(rules.segment_ids())},
            "offers_topic": plane.offers.topic,
            "offers": offers,
            "catalog_version": catalog.version,
            "rejected": rejected,
        }, ensure_ascii=False, indent=2))
        return
    click.echo(f"segment definitions on {plane.definitions.topic}: {len(definitions)}")
    for d in definitions:
        state_text = "enabled " if d["enabled"] else "disabled"
        click.echo(f"  {d['id']:<28} {state_text}  {d['name'] or d['id']!r}: {d['when'] or ''}")
    click.echo(f"rules in force: version {rules.version}, {len(rules)} segments "
               f"({len(base)} in {base.source})")  # fmt: skip
    click.echo(f"offers on {plane.offers.topic}: {len(catalog)} placements, "
               f"catalogue version {catalog.version}")  # fmt: skip
    for p in catalog:
        variants = ", ".join(f"{v.id} (weight {v.weight:g})" for v in p.variants)
        experiment = (f"; experiment {p.experiment.id}, hold-out {p.experiment.holdout_fraction:g}"
                      if p.experiment else "")  # fmt: skip
        click.echo(f"  {p.id:<28} default {p.default_variant}; variants {variants}{experiment}")
    for line in rejected:
        click.echo(f"rejected: {line}")

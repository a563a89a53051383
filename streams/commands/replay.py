"""``personalizer replay`` and ``personalizer evaluate``: event logs through the core.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(replay_command, ["--help"]).output.splitlines()[0]
'Usage: replay [OPTIONS] [INPUTS]...'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import msgspec

if TYPE_CHECKING:
    from models.offers import OfferCatalog

__all__ = ["evaluate_command", "replay_command"]


def _time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. 2026-01-31 or "
                                 "2026-01-31T12:00:00Z)", param_hint=name) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.argument("inputs", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "online-retail"]),
                     default="jsonl", show_default=True,
                     help="jsonl: our event schema, one per line (.gz ok); csv: any CSV with a column "
                          "mapping (--map/--mapping); online-retail: the UCI purchase log."),
        click.option("--map", "maps", multiple=True, metavar="KEY=COLUMN",
                     help="CSV mapping entry, e.g. user=CustomerID (repeatable; see README)."),
        click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="CSV mapping file (YAML); --map entries override it."),
        click.option("--topic", help="Replay a Kafka topic range instead of files (assign(), no group)."),
        click.option("--from-offset", type=int, help="Topic: first offset per partition."),
        click.option("--to-offset", type=int, help="Topic: stop before this offset per partition."),
        click.option("--from-time", help="Topic: first record at/after this time (ISO 8601)."),
        click.option("--to-time", help="Topic: stop at the first record at/after this time."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
                     help="Output directory."),
        click.option("--partitions", type=click.IntRange(min=1), default=None,
                     help="Engines (partitions) to replay with; default PERSONALIZER_PARTITIONS (8). "
                          "Use the input topic's partition count to reproduce the worker."),
        click.option("--order", type=click.Choice(["time", "file"]), default="time", show_default=True,
                     help="time: stable sort by event time; file: input order (as produced)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=5000, show_default=True),
        click.option("--since", help="Only events at/after this time (ISO 8601)."),
        click.option("--until", help="Only events before this time (ISO 8601)."),
        click.option("--limit", type=click.IntRange(min=0), help="Replay at most N records."),
        click.option("--erasures", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="File of erased user ids, one per line: none of their events is replayed."),
        click.option("--segments", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Segment definitions (default PERSONALIZER_SEGMENTS_FILE, else shipped)."),
        click.option("--offers", "offers_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Offer catalogue (the YAML/JSON list `personalizer control publish-offers` "
                          "takes, validated the same way) every engine starts with."),
        click.option("--what-if", "what_if", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Also replay with these segment definitions and write what_if.json: users "
                          "that would change segment, decisions that would differ."),
        click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Keep profiles in RocksDB here (empty dir) instead of memory."),
        click.option("--to-topics", "to_topics", metavar="PREFIX",
                     help="Also produce the outputs to PREFIX.decisions, PREFIX.decisions.latest, "
                          "PREFIX.segment-changes and PREFIX.dlq (created if missing; the live "
                          "service's topics are refused), records as the worker writes them."),
        click.option("--progress/--no-progress", default=True, show_default=True),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _records(fmt: str, inputs: tuple[Path, ...], maps: tuple[str, ...], mapping: Path | None,
             topic: str | None, topic_args: dict[str, Any], settings: Any) -> Iterator[Any]:
    from streams.replay import (
        CsvMapping,
        TopicRange,
        iter_csv_records,
        iter_jsonl_records,
        iter_retail_records,
        iter_topic_records,
    )

    if topic is not None:
        yield from iter_topic_records(settings.consumer_config(), TopicRange(topic=topic, **topic_args))
        return
    csv_mapping = None
    if fmt == "csv":
        csv_mapping = CsvMapping.load(mapping, list(maps)) if mapping else CsvMapping.from_pairs(list(maps))
    for path in inputs:
        if fmt == "online-retail":
            yield from iter_retail_records(path)
        elif csv_mapping is not None:
            yield from iter_csv_records(path, csv_mapping)
        else:
            yield from iter_jsonl_records(path)


def _run(evaluate: bool, **kw: Any) -> None:
    from models.segments import DEFAULT_RULES_PATH, RuleError, load_rules
    from streams.replay import MappingError, ReplayInputError, ReplayOptions, diff_replays, replay
    from streams.settings import ConfigError, load_settings

    inputs: tuple[Path, ...] = kw["inputs"]
    if bool(inputs) == bool(kw["topic"]):
        raise click.UsageError("give input files, or --topic (not both)")
    if kw["fmt"] != "csv" and (kw["maps"] or kw["mapping"]):
        raise click.UsageError("--map/--mapping only apply to --format csv")
    if kw["fmt"] == "csv" and not (kw["maps"] or kw["mapping"]):
        raise click.UsageError("--format csv needs a column mapping: --map user=COL --map timestamp=COL "
                               "... or --mapping FILE")
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    topics = None
    if kw["to_topics"] is not None:
        from streams.replay.publish import OutputTopics, PublishError

        if kw["what_if"]:
            raise click.UsageError("--to-topics publishes one replay: not with --what-if")
        try:
            topics = OutputTopics.for_prefix(kw["to_topics"])
            topics.check_not_live(settings)
        except PublishError as exc:
            raise click.UsageError(str(exc)) from None
    try:
        rules = load_rules(kw["segments"] or settings.segments_file or DEFAULT_RULES_PATH)
        what_if_rules = load_rules(kw["what_if"]) if kw["what_if"] else None
    except (RuleError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    offers = _offers(kw["offers_file"], settings.offers_topic) if kw["offers_file"] else None
    erase_list: tuple[str, ...] = ()
    if kw["erasures"]:
        lines = Path(kw["erasures"]).read_text(encoding="utf-8").splitlines()
        erase_list = tuple(sorted({u.strip() for u in lines if u.strip() and not u.startswith("#")}))
    topic_args = {
        "start_offset": kw["from_offset"], "end_offset": kw["to_offset"],
        "start_ms": None if kw["from_time"] is None else int(_time(kw["from_time"], "--from-time") * 1000),  # type: ignore[operator]
        "end_ms": None if kw["to_time"] is None else int(_time(kw["to_time"], "--to-time") * 1000),  # type: ignore[operator]
    }
    publisher = _publisher(settings, topics, kw["partitions"] or settings.partitions) if topics else None
    options = ReplayOptions(
        partitions=kw["partitions"] or settings.partitions, order=kw["order"],
        batch_size=kw["batch_size"], since=_time(kw["since"], "--since"),
        until=_time(kw["until"], "--until"), limit=kw["limit"], erase_list=erase_list,
        evaluate=evaluate, state_dir=kw["state_dir"],
        engine_config=settings.engine_config(),  # the worker's: same pseudonyms, same decisions
        offers=offers, publish=publisher.write if publisher is not None else None,
    )
    names = [str(p) for p in inputs] or [f"topic:{kw['topic']}"]
    out_dir: Path = kw["out_dir"]
    runs = [(out_dir, rules, options)]
    if what_if_rules is not None:
        runs = [(out_dir / "base", rules, options)]
        state = options.state_dir
        runs.append((out_dir / "what-if", what_if_rules, ReplayOptions(**{
            **options.__dict__, "state_dir": state / "what-if" if state else None})))
        if state:
            runs[0] = (out_dir / "base", rules, ReplayOptions(**{**options.__dict__,
                                                                 "state_dir": state / "base"}))
    for target, rule_set, opts in runs:
        records = _records(kw["fmt"], inputs, kw["maps"], kw["mapping"], kw["topic"], topic_args, settings)
        try:
            with _progress(kw["progress"]) as progress:
                summary = replay(records, rule_set, target, opts, progress=progress, inputs=names)
        except (ReplayInputError, MappingError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{target}: {summary.records_replayed} records replayed, {summary.decisions} decisions, "
                   f"{summary.segment_changes} segment changes, {summary.dead_letters} dead letters, "
                   f"{summary.profiles} profiles"
                   + (f", {summary.withheld_erased} records of erased users withheld"
                      if summary.withheld_erased else ""))
    if publisher is not None:
        from streams.replay.publish import PublishError

        try:
            publisher.close()
        except PublishError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"published {publisher.records} records to {', '.join(publisher.topics.names())}")
    if what_if_rules is not None:
        diff = diff_replays(out_dir / "base", out_dir / "what-if")
        (out_dir / "what_if.json").write_bytes(msgspec.json.format(msgspec.json.encode(diff), indent=2))
        click.echo(f"what-if: {diff['users']['changed_segments']} users would change segment, "
                   f"{diff['decisions']['differ']} of {diff['decisions']['compared']} decisions differ "
                   f"({out_dir / 'what_if.json'})")


def _publisher(settings: Any, topics: Any, partitions: int) -> Any:
    """The :class:`~streams.replay.publish.TopicPublisher` of ``--to-topics`` (topics created)."""
    from streams.replay.publish import TopicPublisher
    from streams.topics import TopicError

    try:
        return TopicPublisher(settings, topics, partitions)
    except TopicError as exc:
        raise click.ClickException(str(exc)) from None


def _offers(path: Path, topic: str) -> OfferCatalog:
    """The catalogue of an offers file, parsed and validated exactly as ``control
    publish-offers`` does (then folded like the control plane folds the topic)."""
    from streams.control.errors import ControlError
    from streams.control.offers import OffersState
    from streams.control.publish import FileError, offer_records

    state = OffersState(topic)
    try:
        for key, value in offer_records(path, topic):
            state.apply(key, value)
    except (FileError, ControlError) as exc:
        raise click.ClickException(str(exc)) from None
    return state.catalog


class _progress:
    """A rich progress bar (events/s, ETA) on stderr, or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[str, int, int | None], None] | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("replay", total=None, rate="", count="")
        return self._update

    def _update(self, phase: str, done: int, total: int | None) -> None:
        speed = self._bar.tasks[0].speed
        self._bar.update(self._task, completed=done, total=total, description=phase,
                         count=f"{done:,}/{total:,}" if total is not None else f"{done:,}",
                         rate=f"{speed:,.0f} events/s" if speed else "")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


@click.command("replay")
@_options
@click.option("--eval/--no-eval", "evaluate", default=False, show_default=True,
              help="Also run the prequential evaluation (report.json / report.html).")
def replay_command(evaluate: bool, **kw: Any) -> None:
    """Replay event logs (files or a topic range) through the worker's core, deterministically.

    Writes decisions.jsonl, segment_changes.jsonl, dead_letters.jsonl, profiles.jsonl,
    report.json, report.html (byte-identical across runs) and run.json (timings) to --out;
    with --to-topics, the outputs also go to topics of that prefix.
    """
    _run(evaluate, **kw)


@click.command("evaluate")
@_options
def evaluate_command(**kw: Any) -> None:
    """Replay with prequential evaluation: hit-rate@k and coverage vs. a popularity baseline,
    segments over time, revenue and conversion per segment (same as `replay --eval`)."""
    _run(True, **kw)



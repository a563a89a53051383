"""The ``generate`` CLI command (a :mod:`click` command for the main CLI to register).

>>> from click.testing import CliRunner
>>> CliRunner().invoke(generate, ["--help"]).output.splitlines()[0]
'Usage: generate [OPTIONS]'
"""

from __future__ import annotations

from pathlib import Path

import click

from streams.generator import engine


@click.command(name="generate")
@click.option(
    "--users",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Number of synthetic users.",
)
@click.option(
    "--events",
    type=click.IntRange(min=0),
    default=100_000,
    show_default=True,
    help="Exact number of lines to write (malformed lines included).",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Random seed: the same seed gives byte-identical files.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output JSONL file (a .gz suffix compresses it). The ground truth is "
    "written beside it as <name>.truth.jsonl.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Length of the timeline in days, starting 2026-01-01T00:00Z.",
)
@click.option(
    "--shift-fraction",
    type=click.FloatRange(0.0, 1.0),
    default=0.2,
    show_default=True,
    help="Fraction of users whose taste group changes in the middle third.",
)
@click.option(
    "--malformed-fraction",
    type=click.FloatRange(0.0, 1.0),
    default=0.002,
    show_default=True,
    help="Fraction of lines that are deliberately malformed (rejected by the decoder).",
)
def generate(
    users: int,
    events: int,
    seed: int,
    out: Path,
    days: int,
    shift_fraction: float,
    malformed_fraction: float,
) -> None:
    """Generate a synthetic clickstream with a known ground truth of taste groups.

    Events are sorted by event time; every non-malformed line decodes as an event.
    """
    s = engine.generate(
        users,
        events,
        seed,
        out,
        start=engine.DEFAULT_START,
        days=days,
        shift_fraction=shift_fraction,
        malformed_fraction=malformed_fraction,
    )
    click.echo(
        f"wrote {s.events} events ({s.malformed} malformed) for {s.users} users "
        f"({s.active_users} active, {s.shifted_users} shifted, {s.erased_users} erased) "
        f"to {s.out} in {s.seconds:.1f}s; truth: {s.truth}"
    )

"""``personalizer worker``: run the Faust worker (service shell + batch data plane)."""

from __future__ import annotations

import sys

import click


@click.command(
    "worker",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def worker_command(faust_args: tuple[str, ...]) -> None:
    """Run the worker. Extra options go to `faust worker` (e.g. -l info, --web-port 6067).

    Configuration comes from PERSONALIZER_* environment variables (see the README).
    `faust -A streams.app worker` is equivalent.
    """
    if "--help" in faust_args or "-h" in faust_args:
        click.echo(click.get_current_context().get_help())
        click.echo("\nFaust worker options:")
    from streams.settings import ConfigError

    try:
        from streams.app import app
        from streams.app import settings as app_settings
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from None
    args = list(faust_args)
    if not {"-l", "--loglevel"} & set(args) and not any(a.startswith("--loglevel=") for a in args):
        level = {"WARNING": "warn", "CRITICAL": "crit"}.get(app_settings.log_level,
                                                             app_settings.log_level.lower())
        args = ["-l", level, *args]
    sys.argv = ["personalizer", "worker", *args]
    app.main()

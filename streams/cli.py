"""The ``personalizer`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import click

from streams import __version__
from streams.commands.bench import bench
from streams.commands.broker import broker_command
from streams.commands.control import control_command
from streams.commands.demo import demo_command
from streams.commands.dlq import dlq_command
from streams.commands.produce import produce_command
from streams.commands.replay import evaluate_command, replay_command
from streams.commands.worker import worker_command
from streams.generator.command import generate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="personalizer")
def main() -> None:
    """Event-streaming personalization: clickstream in, profiles, segments and decisions out.

    Configuration is read from PERSONALIZER_* environment variables (and a .env file);
    see the README's configuration table.
    """


main.add_command(demo_command)
main.add_command(broker_command)
main.add_command(worker_command)
main.add_command(produce_command)
main.add_command(generate)
main.add_command(control_command)
main.add_command(dlq_command)
main.add_command(replay_command)
main.add_command(evaluate_command)
main.add_command(bench)


if __name__ == "__main__":
    main()

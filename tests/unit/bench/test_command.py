"""`personalizer bench` as a click command: its options and the phases it can leave out."""

from __future__ import annotations

from click.testing import CliRunner

from streams.commands.bench import bench


def test_help_lists_the_sizes_the_json_output_and_the_phases() -> None:
    result = CliRunner().invoke(bench, ["--help"])
    assert result.exit_code == 0, result.output
    for option in ("--events", "--users", "--restore-users", "--scaling", "--json", "--skip"):
        assert option in result.output
    assert "quix" in result.output and "replay" in result.output


def test_an_unknown_phase_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(bench, ["--skip", "everything"])
    assert result.exit_code == 2
    assert "'everything' is not one of" in result.output

"""The README stays true to the code: every setting documented, the two commands there."""

from pathlib import Path

from streams.settings import Settings, env_var_name

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table():
    missing = [env_var_name(n) for n in Settings.model_fields if f"`{env_var_name(n)}`" not in README]
    assert not missing, f"add to the README configuration table: {missing}"


def test_quick_start_has_the_two_commands_and_ci_runs_the_test_one():
    assert "make demo" in README and "make test" in README
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "make test" in ci

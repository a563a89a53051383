"""``personalizer evaluate --offers FILE``: the catalogue file publish-offers takes, validated
the same way, reaches every replay engine and the evaluation's policy-value section."""

from __future__ import annotations

from pathlib import Path

import msgspec
from click.testing import CliRunner

from models.simulation.bandit import BanditSimulation, rules_text, run
from streams.commands.replay import evaluate_command

OFFERS = """\
- placement: home
  default_variant: a
  variants:
    - {id: a, title: Banner A}
    - {id: b, title: Banner B}
    - {id: c, title: Banner C}
    - {id: d, title: Banner D}
  experiment: {id: home-banner, holdout_fraction: 0.1}
"""


def test_evaluate_with_an_offers_file(tmp_path: Path) -> None:
    sim = BanditSimulation(users=250, sessions=4, seed=3)
    res = run(sim, record=True)
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join(res["events"]) + b"\n")
    segments = tmp_path / "segments.yaml"
    segments.write_text(rules_text(tuple(g.category for g in sim.groups)), encoding="utf-8")
    offers = tmp_path / "offers.yaml"
    offers.write_text(OFFERS, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(evaluate_command, [
        str(log), "--out", str(out), "--partitions", "2", "--segments", str(segments),
        "--offers", str(offers), "--no-progress"])
    assert result.exit_code == 0, result.output
    report = msgspec.json.decode((out / "report.json").read_bytes())
    assert report["options"]["offers"]["placements"] == ["home"]
    sections = report["evaluation"]["sections"]
    pv = sections["policy_value"]
    assert pv["available"] is True and pv["logged_decisions"] > 500
    assert pv["rewards"]["attributed"] > 0 and pv["rewards"]["feedback_other_user"] == 0
    lift = sections["experiment_lift"]["experiments"]["home-banner"]
    assert lift["control"]["users"] > 0 and lift["treatment"]["users"] > lift["control"]["users"]

    # an invalid catalogue stops the command with file:line: reason, like publish-offers
    offers.write_text(OFFERS.replace("default_variant: a", "default_variant: z"), encoding="utf-8")
    bad = CliRunner().invoke(evaluate_command, [
        str(log), "--out", str(tmp_path / "bad"), "--offers", str(offers), "--no-progress"])
    assert bad.exit_code == 1
    assert f"{offers}:1:3:" in bad.output and "default_variant 'z'" in bad.output
    assert not (tmp_path / "bad" / "report.json").exists()

"""deploy/prometheus/: config and alert rules pass `promtool check` and `promtool test rules`.

promtool is installed by ``deploy/tools/install-promtool.sh`` (into .venv/bin). In CI
(``CI=true``) a missing promtool fails the test; locally it skips with how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.metric_names import exported_series_names, promql_metric_names

ROOT = Path(__file__).resolve().parents[3]
PROM = ROOT / "deploy" / "prometheus"
RULES = sorted((PROM / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROM / "tests").glob("*.test.yml"))


def promtool() -> str:
    candidates = [Path(sys.prefix) / "bin" / "promtool", ROOT / ".venv" / "bin" / "promtool"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("promtool")
    if found:
        return found
    message = ("promtool not found: run `deploy/tools/install-promtool.sh .venv/bin` "
               "(what `make test` does) to install it")
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str) -> str:
    proc = subprocess.run([promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_config_and_rules_are_valid() -> None:
    out = run("check", "config", str(PROM / "prometheus.yml"))
    # the config loads the rule files (not an empty glob)
    assert f"{len(RULES)} rule files found" in out, out
    run("check", "rules", *map(str, RULES))


def test_alert_rule_unit_tests_pass() -> None:
    assert RULE_TESTS
    out = run("test", "rules", *map(str, RULE_TESTS))
    assert "SUCCESS" in out


def rules() -> list[dict[str, Any]]:
    out = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            out.extend(group["rules"])
    return out


def test_required_alerts_exist_and_are_tested() -> None:
    alerts = {str(r["alert"]) for r in rules() if "alert" in r}
    required = {"PersonalizerWorkerDown", "PersonalizerConsumerLagGrowing",
                "PersonalizerConsumptionStalled", "PersonalizerDeadLetterRatioHigh",
                "PersonalizerDecisionLatencySLO", "PersonalizerRestoreStuck",
                "PersonalizerRebalanceStorm"}
    assert required <= alerts
    tested = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    tested.add(check["alertname"])
    assert alerts <= tested, f"alerts never tested firing: {sorted(alerts - tested)}"
    for r in rules():
        if "alert" in r:
            assert r.get("labels", {}).get("severity") in {"warning", "critical"}, r["alert"]
            assert r.get("annotations", {}).get("summary"), r["alert"]


def test_rules_use_exported_metrics() -> None:
    recorded = {str(r["record"]) for r in rules() if "record" in r}
    known = exported_series_names() | recorded | {"up"}
    for r in rules():
        unknown = promql_metric_names(str(r["expr"])) - known
        assert not unknown, f"{r.get('alert') or r.get('record')}: {sorted(unknown)}"

"""deploy/grafana/: the dashboard queries only metrics that streams/metrics.py exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.metric_names import exported_series_names, promql_metric_names

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "personalizer.json"

#: Series Prometheus itself adds (scrape health).
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text())
    assert isinstance(data, dict)
    return data


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows hold their panels
    return [p for p in out if p.get("type") != "row"]


def test_every_query_uses_exported_metrics(dashboard: dict[str, Any]) -> None:
    known = exported_series_names() | PROMETHEUS_SERIES
    used: set[str] = set()
    for panel in panels(dashboard):
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            names = promql_metric_names(target["expr"])
            assert names, f"{panel['title']!r}: no metric in {target['expr']!r}"
            unknown = names - known
            assert not unknown, f"{panel['title']!r} queries {sorted(unknown)}, not in streams/metrics.py"
            used |= names
    # the dashboard covers what the issue asks for
    for required in ("personalizer_events_consumed_total", "personalizer_consumer_lag_records",
                     "personalizer_event_to_decision_seconds_bucket", "personalizer_dead_letters_total",
                     "personalizer_segment_members", "personalizer_model_log_loss",
                     "personalizer_model_hit_rate", "personalizer_experiment_assignments_total"):
        assert required in used, f"no panel shows {required}"


def test_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "personalizer"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"]["uid"] == "prometheus"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_no_two_panels_overlap(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_provisioning_points_at_the_dashboard_and_datasource(dashboard: dict[str, Any]) -> None:
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "personalizer.yml").read_text())
    paths = [p["options"]["path"] for p in providers["providers"]]
    assert "/var/lib/grafana/dashboards" in paths  # docker-compose.yml mounts dashboards/ there
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uids = {d["uid"] for d in sources["datasources"]}
    assert {p["datasource"]["uid"] for p in panels(dashboard)} <= uids

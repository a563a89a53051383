"""deploy/k8s/: valid against the Kubernetes schemas (offline) and consistent with the service.

Built-in kinds are validated strictly with the OpenAPI-derived JSON schemas that the
``kubernetes-validate`` package ships (no cluster, no network). The CRDs (Prometheus
Operator's ServiceMonitor, KEDA's ScaledObject) are checked structurally here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.30.0"


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    data = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert data["kind"] == "Kustomization"
    return data


@pytest.fixture(scope="module")
def docs(kustomization: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """kind -> the one resource of that kind, from the files the kustomization lists."""
    listed = kustomization["resources"]
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed) == on_disk, "every manifest is listed in kustomization.yaml, and exists"
    out: dict[str, dict[str, Any]] = {}
    for name in listed:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                assert doc["kind"] not in out, f"two {doc['kind']} resources"
                out[doc["kind"]] = doc
    return out


def validator() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        message = "kubernetes-validate is not installed (a dev dependency): pip install -e '.[dev]'"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return kubernetes_validate


BUILTIN = ("ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget")


@pytest.mark.parametrize("kind", BUILTIN)
def test_builtin_kinds_match_the_kubernetes_schema(docs: dict[str, dict[str, Any]], kind: str) -> None:
    kv = validator()
    kv.validate(docs[kind], K8S_VERSION, strict=True)


def test_the_schema_check_catches_mistakes(docs: dict[str, dict[str, Any]]) -> None:
    kv = validator()
    broken = json.loads(json.dumps(docs["StatefulSet"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = "/ready"
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, K8S_VERSION, strict=True)


def container(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = docs["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def config(docs: dict[str, dict[str, Any]]) -> dict[str, str]:
    return dict(docs["ConfigMap"]["data"])


def test_configmap_holds_valid_settings(
    docs: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = config(docs)
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    unknown = set(data) - fields
    assert not unknown, f"not settings: {sorted(unknown)}"
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.web_host == "0.0.0.0"
    assert settings.state_backend == "rocksdb"


def test_container_env_names_are_settings(docs: dict[str, dict[str, Any]]) -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    c = container(docs)
    for env in c.get("env", []):
        if env["name"].startswith(ENV_PREFIX):
            assert env["name"] in fields, env["name"]
    refs = [e["configMapRef"]["name"] for e in c["envFrom"]]
    assert refs == [docs["ConfigMap"]["metadata"]["name"]]


def test_static_group_membership_uses_the_pod_name(docs: dict[str, dict[str, Any]]) -> None:
    env = {e["name"]: e for e in container(docs)["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    names = list(env)
    assert names.index("POD_NAME") < names.index("PERSONALIZER_KAFKA_EXTRA"), "$(POD_NAME) needs it first"
    extra = json.loads(env["PERSONALIZER_KAFKA_EXTRA"]["value"])
    assert extra["group.instance.id"] == "$(POD_NAME)"
    Settings(kafka_extra=extra, _env_file=None)  # type: ignore[call-arg]


def test_ports_and_probes(docs: dict[str, dict[str, Any]]) -> None:
    port = int(config(docs)["PERSONALIZER_WEB_PORT"])
    c = container(docs)
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert named == {"web": port}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "web"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/live", "port": "web"}
    assert c["startupProbe"]["httpGet"]["path"] == "/live"
    svc_ports = docs["Service"]["spec"]["ports"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc_ports] == [("web", port, "web")]


def test_resources_are_bounded(docs: dict[str, dict[str, Any]]) -> None:
    res = container(docs)["resources"]
    assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"])


def test_state_dir_is_a_persistent_volume(docs: dict[str, dict[str, Any]]) -> None:
    sts = docs["StatefulSet"]["spec"]
    state_dir = config(docs)["PERSONALIZER_STATE_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    assert state_dir in mounts
    claims = {t["metadata"]["name"] for t in sts["volumeClaimTemplates"]}
    assert mounts[state_dir] in claims
    assert sts["serviceName"] == docs["Service"]["metadata"]["name"]


def test_selectors_match_the_pods(docs: dict[str, dict[str, Any]]) -> None:
    pod_labels = docs["StatefulSet"]["spec"]["template"]["metadata"]["labels"]

    def matches(selector: dict[str, str]) -> bool:
        return all(pod_labels.get(k) == v for k, v in selector.items())

    assert matches(docs["StatefulSet"]["spec"]["selector"]["matchLabels"])
    assert matches(docs["Service"]["spec"]["selector"])
    assert matches(docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"])
    pdb = docs["PodDisruptionBudget"]["spec"]
    assert ("maxUnavailable" in pdb) != ("minAvailable" in pdb)


def test_service_monitor_scrapes_metrics(docs: dict[str, dict[str, Any]]) -> None:
    sm = docs["ServiceMonitor"]
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(sm["spec"]) <= {"selector", "endpoints", "jobLabel", "namespaceSelector"}
    svc_labels = docs["Service"]["metadata"]["labels"]
    assert all(svc_labels.get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
    port_names = {p["name"] for p in docs["Service"]["spec"]["ports"]}
    for ep in sm["spec"]["endpoints"]:
        assert set(ep) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
        assert ep["port"] in port_names and ep["path"] == "/metrics"
        assert re.fullmatch(r"\d+[smh]", ep["interval"])
    # the alert rules select job="personalizer": the job label is the Service name
    assert docs["Service"]["metadata"]["name"] == "personalizer"
    rules = (ROOT / "deploy" / "prometheus" / "rules" / "personalizer.yml").read_text()
    assert 'job="personalizer"' in rules


def test_keda_scales_on_lag_up_to_the_partition_count(docs: dict[str, dict[str, Any]]) -> None:
    so = docs["ScaledObject"]
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    spec = so["spec"]
    target = spec["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("StatefulSet", docs["StatefulSet"]["metadata"]["name"])
    data = config(docs)
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] == int(data["PERSONALIZER_PARTITIONS"])
    (trigger,) = spec["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["consumerGroup"] == data["PERSONALIZER_GROUP_ID"]
    assert meta["topic"] in data["PERSONALIZER_INPUT_TOPICS"].split(",")
    assert meta["bootstrapServers"] == data["PERSONALIZER_BOOTSTRAP_SERVERS"]
    assert int(meta["lagThreshold"]) > 0
    assert meta.get("allowIdleConsumers", "false") == "false"  # never more consumers than partitions
    for key, value in meta.items():
        assert isinstance(value, str), f"KEDA trigger metadata values are strings: {key}"

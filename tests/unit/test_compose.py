"""docker-compose.yml, checked statically (there is no Docker engine on CI machines)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import ENV_PREFIX, Settings
from streams.topics import topic_specs

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...]
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def depends_on(service: dict[str, Any]) -> list[str]:
    deps = service.get("depends_on") or []
    return list(deps) if isinstance(deps, list | dict) else []


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command") or []
    return command if isinstance(command, str) else " ".join(map(str, command))


def workers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {
        name: svc
        for name, svc in services(compose).items()
        if "personalizer worker" in command_text(svc)
    }
    assert found, "no service runs `personalizer worker`"
    return found


def test_expected_services(compose: dict[str, Any]) -> None:
    assert {"kafka", "topics", "worker-1", "worker-2", "generator", "prometheus", "grafana"} <= set(
        services(compose)
    )
    assert set(workers(compose)) == {"worker-1", "worker-2"}
    for svc in workers(compose).values():
        assert svc.get("build") == "."


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        image = svc.get("image")
        if image is None:
            assert "build" in svc, f"{name}: neither image nor build"
            continue
        last = image.rsplit("/", 1)[-1]
        assert ":" in last or "@sha256:" in image, f"{name}: image {image!r} has no tag"
        tag = last.split(":", 1)[1] if ":" in last else ""
        assert tag and tag != "latest", f"{name}: image {image!r} is not pinned"


def test_kafka_runs_kraft(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    assert kafka["image"] == "apache/kafka:3.8.0"
    env = environment(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert env["KAFKA_LISTENERS"] and env["KAFKA_ADVERTISED_LISTENERS"]
    assert "healthcheck" in kafka


def test_depends_on_targets_exist(compose: dict[str, Any]) -> None:
    names = set(services(compose))
    for name, svc in services(compose).items():
        for target in depends_on(svc):
            assert target in names, f"{name} depends on unknown service {target!r}"
            assert target != name


def named_volume(entry: Any) -> str | None:
    if isinstance(entry, dict):
        return entry.get("source") if entry.get("type", "volume") == "volume" else None
    source = str(entry).split(":", 1)[0]
    if ":" not in str(entry) or source.startswith((".", "/", "~", "$")):
        return None  # anonymous volume or bind mount
    return source


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, svc in services(compose).items():
        for entry in svc.get("volumes") or []:
            volume = named_volume(entry)
            if volume is not None:
                assert volume in declared, f"{name}: volume {volume!r} is not declared"
                used.add(volume)
    assert used == declared, f"declared but unused: {declared - used}"


def test_each_worker_has_its_own_state_volume(compose: dict[str, Any]) -> None:
    state_volumes = []
    for name, svc in workers(compose).items():
        env = environment(svc)
        mounts = {str(v).split(":")[1]: named_volume(v) for v in svc.get("volumes") or []}
        assert env["PERSONALIZER_STATE_DIR"] in mounts, f"{name}: state dir is not a volume"
        state_volumes.append(mounts[env["PERSONALIZER_STATE_DIR"]])
    assert len(set(state_volumes)) == len(state_volumes)


def host_ports(entry: Any) -> list[tuple[str, str]]:
    """(host ip, host port) pairs that a `ports` entry publishes."""
    if isinstance(entry, dict):
        published = entry.get("published")
        return [(str(entry.get("host_ip", "")), str(published))] if published else []
    parts = str(entry).split("/")[0].rsplit(":", 2)
    if len(parts) == 1:
        return []  # container port only: a random host port
    ip = parts[0] if len(parts) == 3 else ""
    port = parts[-2]
    if "-" in port:
        low, high = port.split("-")
        return [(ip, str(p)) for p in range(int(low), int(high) + 1)]
    return [(ip, port)]


def test_no_host_port_published_twice(compose: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, svc in services(compose).items():
        for entry in svc.get("ports") or []:
            for _ip, port in host_ports(entry):
                assert port not in seen, f"host port {port}: {seen[port]} and {name}"
                seen[port] = name
    assert {"6066", "6067"} <= set(seen)


def kafka_internal_listener(compose: dict[str, Any]) -> str:
    env = environment(services(compose)["kafka"])
    for listener in env["KAFKA_ADVERTISED_LISTENERS"].split(","):
        _, address = listener.split("://", 1)
        if address.split(":")[0] == "kafka":
            return address
    raise AssertionError("kafka advertises no listener on the `kafka` service name")


def test_clients_bootstrap_from_the_internal_listener(compose: dict[str, Any]) -> None:
    internal = kafka_internal_listener(compose)
    assert internal == "kafka:9092"
    for name in workers(compose):
        env = environment(services(compose)[name])
        assert env.get("PERSONALIZER_BOOTSTRAP_SERVERS") == internal, name
    for name, svc in services(compose).items():
        env = environment(svc)
        if "PERSONALIZER_BOOTSTRAP_SERVERS" in env:
            assert env["PERSONALIZER_BOOTSTRAP_SERVERS"] == internal, name


def test_workers_are_healthchecked_on_live(compose: dict[str, Any]) -> None:
    for name, svc in workers(compose).items():
        test = svc.get("healthcheck", {}).get("test")
        assert test, f"{name}: no healthcheck"
        text = test if isinstance(test, str) else " ".join(test)
        port = environment(svc)["PERSONALIZER_WEB_PORT"]
        assert f":{port}/live" in text, f"{name}: healthcheck does not probe /live"
        published = [str(p).rsplit(":", 1)[-1] for p in svc.get("ports") or []]
        assert port in published, f"{name}: web port {port} not published"


def personalizer_env(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: {k: v for k, v in environment(svc).items() if k.startswith(ENV_PREFIX)}
        for name, svc in services(compose).items()
    }


def test_env_vars_are_settings_fields(compose: dict[str, Any]) -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    for name, env in personalizer_env(compose).items():
        unknown = set(env) - fields
        assert not unknown, f"{name}: {sorted(unknown)} are not settings"


def settings_from_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_env_values_are_valid_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in personalizer_env(compose).values():
        if env:
            settings_from_env(env, monkeypatch)


def created_topics(compose: dict[str, Any]) -> dict[str, tuple[int, dict[str, str]]]:
    """Topic -> (partitions, configs) as the `topics` service's script creates them."""
    script = command_text(services(compose)["topics"])
    default_partitions = re.search(r"--partitions (\d+)", script)
    out: dict[str, tuple[int, dict[str, str]]] = {}
    for line in script.splitlines():
        words = shlex.split(line.strip())
        if not words or words[0] != "create" or "--topic" not in words:
            continue
        name = words[words.index("--topic") + 1]
        configs = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--config")
        partitions = (
            int(words[words.index("--partitions") + 1])
            if "--partitions" in words
            else int(default_partitions.group(1))
            if default_partitions
            else 1
        )
        out[name] = (partitions, configs)
    return out


def test_topics_service_matches_topic_specs(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = services(compose)["topics"]
    assert topics["image"] == services(compose)["kafka"]["image"]
    assert "kafka" in depends_on(topics)
    settings = settings_from_env(environment(services(compose)["worker-1"]), monkeypatch)
    created = created_topics(compose)
    specs = topic_specs(settings)
    assert set(created) == {s.name for s in specs}
    for spec in specs:
        partitions, configs = created[spec.name]
        assert partitions == spec.partitions == 8, spec.name
        assert configs == spec.config, spec.name
    for worker in workers(compose).values():
        assert "topics" in depends_on(worker)


def test_deploy_mounts_exist_once_added(compose: dict[str, Any]) -> None:
    missing = []
    for svc in services(compose).values():
        for entry in svc.get("volumes") or []:
            source = str(entry).split(":", 1)[0]
            if source.startswith("./") and not (ROOT / source).exists():
                missing.append(source)
    if missing and not (ROOT / "deploy" / "prometheus").exists():
        pytest.skip(f"deploy/ files not added yet: {missing}")
    assert not missing, f"bind mounts with no source: {missing}"

"""Settings: environment parsing, readable errors, secrets and librdkafka dictionaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.service import build_data_plane
from streams.settings import ConfigError, Settings, env_var_name, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PERSONALIZER_* variables from the outside, and no .env in the working dir."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("PERSONALIZER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = load_settings()
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.input_topics == ["clickstream.events"]
    assert s.decisions_topic == "personalization.decisions"
    assert s.latest_decisions_topic == "personalization.decisions.latest"
    assert s.segment_changes_topic == "personalization.segment-changes"
    assert s.dlq_topic == "personalization.dlq"
    assert s.segment_definitions_topic == "personalization.segment-definitions"
    assert s.offers_topic == "personalization.offers"
    assert s.changelog_topic_prefix == "personalization.state"
    assert (s.group_id, s.partitions, s.replication_factor) == ("personalizer", 8, 1)
    assert (s.batch_size, s.batch_timeout_s, s.idle_tick_s) == (5000, 0.2, 5.0)
    assert s.checkpoint_interval_s == 1.0
    assert s.processing_guarantee == "at_least_once"
    assert (s.state_dir, s.state_backend, s.segments_file) == (Path("var/state"), "rocksdb", None)
    assert (s.web_host, s.web_port) == ("127.0.0.1", 6066)
    assert s.consent_required is False
    assert s.pseudonymize_key is None and s.sasl_password is None
    assert s.log_level == "INFO"
    assert s.kafka_extra == {}


def test_every_field_is_documented() -> None:
    # The README's configuration table is generated from these descriptions.
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValidationError):
        setattr(s, "batch_size", 1)  # noqa: B010 - frozen: must raise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a", ["a"]),
        ("a,b", ["a", "b"]),
        (" a , b ,", ["a", "b"]),
        ('["a", "b.c"]', ["a", "b.c"]),
    ],
)
def test_input_topics_from_env(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("PERSONALIZER_INPUT_TOPICS", raw)
    assert load_settings().input_topics == expected


def test_env_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "PERSONALIZER_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
        "PERSONALIZER_BATCH_SIZE": "100",
        "PERSONALIZER_BATCH_TIMEOUT_S": "0.05",
        "PERSONALIZER_IDLE_TICK_S": "3600",
        "PERSONALIZER_PROCESSING_GUARANTEE": "EXACTLY_ONCE",
        "PERSONALIZER_STATE_BACKEND": "memory",
        "PERSONALIZER_STATE_DIR": "/var/lib/personalizer/state",
        "PERSONALIZER_SEGMENTS_FILE": "/etc/personalizer/segments.yaml",
        "PERSONALIZER_CONSENT_REQUIRED": "true",
        "PERSONALIZER_LOG_LEVEL": "debug",
        "PERSONALIZER_CHECKPOINT_INTERVAL_S": "5",
        "PERSONALIZER_KAFKA_EXTRA": (
            '{"statistics.interval.ms": 1000, "enable.ssl.certificate.verification": false}'
        ),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = load_settings()
    assert s.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert (s.batch_size, s.batch_timeout_s, s.idle_tick_s) == (100, 0.05, 3600.0)
    # the worker's data plane gets it (building one opens no connection)
    plane_cfg = build_data_plane(s, load_rules(DEFAULT_RULES_PATH)).cfg
    assert (plane_cfg.tick_interval_s, plane_cfg.checkpoint_interval_s) == (3600.0, 5.0)
    assert s.processing_guarantee == "exactly_once"
    assert s.state_backend == "memory"
    assert s.state_dir == Path("/var/lib/personalizer/state")
    assert s.segments_file == Path("/etc/personalizer/segments.yaml")
    assert s.consent_required is True
    assert s.log_level == "DEBUG"
    assert s.kafka_extra == {
        "statistics.interval.ms": "1000",
        "enable.ssl.certificate.verification": "false",
    }


def test_dotenv_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PERSONALIZER_GROUP_ID=from-file\nPERSONALIZER_WEB_PORT=7000\n")
    monkeypatch.setenv("PERSONALIZER_WEB_PORT", "7001")
    s = load_settings()
    assert (s.group_id, s.web_port) == ("from-file", 7001)
    assert load_settings(env_file=None).group_id == "personalizer"


def test_overrides_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONALIZER_PARTITIONS", "3")
    assert load_settings(partitions=5).partitions == 5


def errors_for(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_config_error_names_the_env_var_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = errors_for(monkeypatch, PERSONALIZER_BATCH_SIZE="-1")
    assert problems == ['PERSONALIZER_BATCH_SIZE: must be > 0 (got "-1")']


def test_config_error_one_line_per_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = errors_for(
        monkeypatch,
        PERSONALIZER_BATCH_SIZE="lots",
        PERSONALIZER_PROCESSING_GUARANTEE="twice",
        PERSONALIZER_PARTITIONS="0",
        PERSONALIZER_WEB_PORT="70000",
        PERSONALIZER_CONSENT_REQUIRED="maybe",
        PERSONALIZER_KAFKA_EXTRA="{not json",
        PERSONALIZER_INPUT_TOPICS="ok,not a topic!",
    )
    text = "\n".join(problems)
    assert len(problems) == 7, text
    assert 'PERSONALIZER_BATCH_SIZE: must be a whole number (got "lots")' in problems
    assert (
        "PERSONALIZER_PROCESSING_GUARANTEE: must be one of 'at_least_once' or 'exactly_once' "
        '(got "twice")'
    ) in problems
    assert 'PERSONALIZER_PARTITIONS: must be >= 1 (got "0")' in problems
    assert 'PERSONALIZER_WEB_PORT: must be <= 65535 (got "70000")' in problems
    assert 'PERSONALIZER_CONSENT_REQUIRED: must be true or false (got "maybe")' in problems
    assert any(p.startswith("PERSONALIZER_KAFKA_EXTRA: must be a JSON object") for p in problems)
    assert any(
        p.startswith("PERSONALIZER_INPUT_TOPICS: 'not a topic!' is not a valid Kafka topic name")
        for p in problems
    )


def test_unknown_variable_suggests_the_right_one(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = errors_for(monkeypatch, PERSONALIZER_BACH_SIZE="10")
    assert problems == [
        "PERSONALIZER_BACH_SIZE: unknown setting (did you mean PERSONALIZER_BATCH_SIZE?)"
    ]


def test_topic_name_collisions_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = errors_for(
        monkeypatch,
        PERSONALIZER_INPUT_TOPICS="clicks",
        PERSONALIZER_DECISIONS_TOPIC="clicks",
    )
    assert problems == [
        "PERSONALIZER_DECISIONS_TOPIC: 'clicks' is already used by PERSONALIZER_INPUT_TOPICS; "
        "every topic needs its own name"
    ]


def test_sasl_settings_need_a_sasl_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = errors_for(monkeypatch, PERSONALIZER_SASL_USERNAME="svc")
    assert problems == [
        "PERSONALIZER_SECURITY_PROTOCOL: must be SASL_PLAINTEXT or SASL_SSL when SASL settings "
        "are given (got 'PLAINTEXT')"
    ]
    problems = errors_for(
        monkeypatch,
        PERSONALIZER_SECURITY_PROTOCOL="sasl_ssl",
        PERSONALIZER_SASL_MECHANISM="scram-sha-512",
    )
    assert problems == [
        "PERSONALIZER_SASL_USERNAME and PERSONALIZER_SASL_PASSWORD: both are required for "
        "SASL mechanism SCRAM-SHA-512"
    ]


def test_secrets_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings(  # type: ignore[call-arg]
        _env_file=None,
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="svc",
        sasl_password=SecretStr("hunter2"),
        pseudonymize_key=SecretStr("pepper-123"),
        kafka_extra={"ssl.key.password": "keypass-9", "linger.ms": "7"},
    )
    for text in (repr(s), str(s), str(s.model_dump())):
        assert "hunter2" not in text
        assert "pepper-123" not in text
    assert "keypass-9" not in repr(s)
    assert "linger.ms" in repr(s)
    assert isinstance(s.sasl_password, SecretStr)
    # A bad secret value is not echoed in the error either.
    problems = errors_for(monkeypatch, PERSONALIZER_KAFKA_EXTRA='{"sasl.password": hunter2}')
    assert problems and all("hunter2" not in p for p in problems)


def test_empty_env_var_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONALIZER_PSEUDONYMIZE_KEY", "")
    monkeypatch.setenv("PERSONALIZER_SEGMENTS_FILE", "")
    s = load_settings()
    assert s.pseudonymize_key is None and s.segments_file is None


def test_librdkafka_dicts() -> None:
    s = Settings(  # type: ignore[call-arg]
        _env_file=None,
        bootstrap_servers="k:9092",
        group_id="grp",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="svc",
        sasl_password=SecretStr("hunter2"),
        kafka_extra={"client.id": "personalizer-test"},
    )
    common = {
        "bootstrap.servers": "k:9092",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "svc",
        "sasl.password": "hunter2",
        "client.id": "personalizer-test",
    }
    assert s.admin_config() == common

    consumer = s.consumer_config()
    assert consumer.items() >= common.items()
    assert consumer["group.id"] == "grp"
    assert s.consumer_config(group_id="other")["group.id"] == "other"
    assert consumer["enable.auto.commit"] is False
    assert consumer["auto.offset.reset"] == "earliest"
    assert consumer["session.timeout.ms"] == 6000
    assert consumer["heartbeat.interval.ms"] == 500
    assert consumer["partition.assignment.strategy"] == "cooperative-sticky"
    assert consumer["isolation.level"] == "read_committed"

    producer = s.producer_config()
    assert producer.items() >= common.items()
    assert producer["partitioner"] == "murmur2_random"
    assert producer["enable.idempotence"] is True
    assert producer["linger.ms"] == 5
    assert producer["compression.type"] == "lz4"
    assert "transactional.id" not in producer
    assert s.producer_config(transactional_id="tx-1")["transactional.id"] == "tx-1"


def test_plaintext_dicts_have_no_sasl_keys() -> None:
    config = Settings(_env_file=None).producer_config()  # type: ignore[call-arg]
    assert not any(key.startswith("sasl.") for key in config)
    assert config["security.protocol"] == "plaintext"


def test_kafka_extra_overrides_defaults() -> None:
    s = Settings(_env_file=None, kafka_extra={"linger.ms": "50"})  # type: ignore[call-arg]
    assert s.producer_config()["linger.ms"] == "50"


def test_librdkafka_accepts_the_dicts() -> None:
    # confluent-kafka validates every property name and value at construction.
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

    s = Settings(_env_file=None)  # type: ignore[call-arg]
    Producer(s.producer_config(transactional_id="tx"))
    Consumer(s.consumer_config()).close()
    AdminClient(s.admin_config())


def test_env_var_name() -> None:
    assert env_var_name("batch_size") == "PERSONALIZER_BATCH_SIZE"


def test_offer_segments_and_per_placement_caps_reach_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONALIZER_OFFER_SEGMENTS", "recent_buyer, behaviour-1")
    monkeypatch.setenv("PERSONALIZER_OFFER_CAPS", "banner=3,email_subject=1")
    config = load_settings(None).engine_config()
    assert config.offer_segments == ("recent_buyer", "behaviour-1")
    assert config.offer_caps == {"banner": 3, "email_subject": 1}
    monkeypatch.setenv("PERSONALIZER_OFFER_CAPS", '{"banner": 2}')
    assert load_settings(None).engine_config().offer_caps == {"banner": 2}
    for bad in ('{"banner": 0}', "banner", "banner=x", "{oops"):
        monkeypatch.setenv("PERSONALIZER_OFFER_CAPS", bad)
        with pytest.raises(ConfigError, match="PERSONALIZER_OFFER_CAPS"):
            load_settings(None)

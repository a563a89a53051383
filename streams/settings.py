"""The service's configuration: one frozen, typed settings object.

Every setting is read from an environment variable named ``PERSONALIZER_<FIELD>``
(for example ``PERSONALIZER_BOOTSTRAP_SERVERS``), or from a ``.env`` file in the working
directory; real environment variables win over the file. This module is the only place
that reads the environment: everything else receives a :class:`Settings`.

Use :func:`load_settings` at program entry points: it turns validation errors into a
:class:`ConfigError` with one line per problem, naming the environment variable::

    PERSONALIZER_BATCH_SIZE: must be > 0 (got "-1")

librdkafka configuration dictionaries come from :meth:`Settings.consumer_config`,
:meth:`Settings.producer_config` and :meth:`Settings.admin_config`; secrets
(``SecretStr``) are only turned back into plain strings there.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from models.config import EngineConfig

__all__ = [
    "ENV_PREFIX",
    "ConfigError",
    "KafkaConfig",
    "Settings",
    "env_var_name",
    "load_settings",
]

#: Prefix of every environment variable the service reads.
ENV_PREFIX = "PERSONALIZER_"

#: A librdkafka configuration dictionary, as confluent-kafka accepts it (values are
#: str/int/float/bool; callers may add callables such as ``on_delivery``).
KafkaConfig = dict[str, Any]

# Kafka's legal topic names: ASCII alphanumerics, '.', '_' and '-', at most 249 chars.
_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")

# Fields whose value must never be echoed back (in errors or reprs).
_SECRET_FIELDS = frozenset({"sasl_password", "pseudonymize_key", "http_token"})

# kafka_extra keys whose values are masked in repr().
_SECRET_KEY_PARTS = ("password", "secret", "key", "token", "credential")

_DAY_MS = 24 * 60 * 60 * 1000


class ConfigError(ValueError):
    """The configuration is invalid; the message has one line per problem.

    Each line names the environment variable to fix, says what is wrong and shows the
    value that was given (never for secrets).
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def env_var_name(field_name: str) -> str:
    """The environment variable that sets a field: ``batch_size`` -> ``PERSONALIZER_BATCH_SIZE``."""
    return f"{ENV_PREFIX}{field_name.upper()}"


def _librdkafka(name: str) -> dict[str, Any]:
    # Stored in the JSON schema so a generated configuration table can show it too.
    return {"librdkafka": name}


def _split_list(value: Any) -> Any:
    """Accept ``a,b`` and ``["a", "b"]`` strings for list settings (env and .env)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"is not a valid JSON list ({exc.msg})") from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _check_topic(name: str) -> str:
    if not _TOPIC_RE.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a valid Kafka topic name "
            "(use 1-249 of the characters a-z A-Z 0-9 . _ -)"
        )
    if name in {".", ".."}:
        raise ValueError(f"{name!r} is not a valid Kafka topic name")
    return name


class Settings(BaseSettings):
    """All settings of the personalization service, with their defaults.

    Construct it directly in tests (``Settings(bootstrap_servers=...)``; keyword
    arguments win over the environment) and with :func:`load_settings` in programs.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `PERSONALIZER_X=` (e.g. from compose) means "use the default"
        frozen=True,
        extra="forbid",
        validate_default=True,
    )

    # --- Kafka connection -------------------------------------------------------------
    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        min_length=1,
        description=(
            "Comma-separated `host:port` list of Kafka brokers to bootstrap from "
            "(librdkafka `bootstrap.servers`). `personalizer broker` serves 127.0.0.1:9092."
        ),
        json_schema_extra=_librdkafka("bootstrap.servers"),
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description=(
            "How clients talk to the brokers: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL "
            "(librdkafka `security.protocol`)."
        ),
        json_schema_extra=_librdkafka("security.protocol"),
    )
    sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"] | None
    ) = Field(
        default=None,
        description=(
            "SASL mechanism when `security_protocol` is SASL_*: PLAIN, SCRAM-SHA-256, "
            "SCRAM-SHA-512, OAUTHBEARER or GSSAPI (librdkafka `sasl.mechanism`)."
        ),
        json_schema_extra=_librdkafka("sasl.mechanism"),
    )
    sasl_username: str | None = Field(
        default=None,
        description="SASL user name for PLAIN and SCRAM (librdkafka `sasl.username`).",
        json_schema_extra=_librdkafka("sasl.username"),
    )
    sasl_password: SecretStr | None = Field(
        default=None,
        description=(
            "SASL password for PLAIN and SCRAM (librdkafka `sasl.password`). A secret: "
            "never logged or shown."
        ),
        json_schema_extra=_librdkafka("sasl.password"),
    )
    kafka_extra: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description=(
            "Extra librdkafka settings as a JSON object, e.g. "
            '`{"ssl.ca.location": "/etc/ssl/ca.pem"}`. Applied to consumers, producers and '
            "the admin client last, so they override the defaults above; use with care."
        ),
    )

    # --- Topics -----------------------------------------------------------------------
    input_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["clickstream.events"],
        min_length=1,
        description=(
            "Clickstream topics to consume, keyed by user id. Comma-separated "
            "(`a,b`) or a JSON list."
        ),
    )
    decisions_topic: str = Field(
        default="personalization.decisions",
        description="Output topic for personalization decisions, keyed by user id.",
    )
    latest_decisions_topic: str = Field(
        default="personalization.decisions.latest",
        description=(
            "Compacted output topic holding the latest decision per user, for "
            "consumers that only need the current state."
        ),
    )
    segment_changes_topic: str = Field(
        default="personalization.segment-changes",
        description="Output topic for segment entries and exits (with reason and event time).",
    )
    dlq_topic: str = Field(
        default="personalization.dlq",
        description=(
            "Dead-letter topic: input that could not be processed, with the original "
            "bytes and reason headers."
        ),
    )
    segment_definitions_topic: str = Field(
        default="personalization.segment-definitions",
        description="Compacted control topic with segment definitions, keyed by segment id.",
    )
    offers_topic: str = Field(
        default="personalization.offers",
        description="Compacted control topic with the offer catalogue, keyed by offer id.",
    )
    changelog_topic_prefix: str = Field(
        default="personalization.state",
        description=(
            "Prefix of the compacted state changelog topics; one per input topic, named "
            "`<prefix>.<input topic>.changelog`."
        ),
    )
    partitions: int = Field(
        default=8,
        ge=1,
        description=(
            "Partition count for topics the service creates. Changelog topics always "
            "follow their input topic's partition count."
        ),
    )
    replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replication factor for topics the service creates (3 in production).",
    )

    # --- Processing -------------------------------------------------------------------
    group_id: str = Field(
        default="personalizer",
        min_length=1,
        description="Kafka consumer group shared by all workers of one deployment.",
    )
    batch_size: int = Field(
        default=5000,
        gt=0,
        description="Most events consumed and processed as one batch.",
    )
    batch_timeout_s: float = Field(
        default=0.2,
        gt=0,
        description="Longest wait, in seconds, to fill a batch before processing what arrived.",
    )
    idle_tick_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a partition may go without events before its event time follows the "
        "wall clock (so time-based segment exits happen on quiet partitions).",
    )
    checkpoint_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between two checkpoints of a partition (changelog, acknowledgement, "
        "offset commit; at-least-once takes the partitions in turn). Longer: less work per event "
        "(a profile changed twice in an interval is written once) but more input re-processed "
        "after a crash.",
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        default="at_least_once",
        description=(
            "`at_least_once`: produce outputs and changelog, flush, then commit offsets; "
            "a crash may repeat a batch. `exactly_once`: one Kafka transaction per batch "
            "for outputs, changelog and offsets."
        ),
    )
    state_dir: Path = Field(
        default=Path("var/state"),
        description="Directory for local per-partition state stores (RocksDB).",
    )
    state_max_age_s: float = Field(
        default=43_200.0,
        gt=0,
        description=(
            "A local state store whose offset last moved longer ago than this is deleted when "
            "its partition is assigned, and the partition restored from the changelog alone. "
            "The changelog keeps tombstones (erased users, dropped model parts) for a day "
            "(`delete.retention.ms`); an older store could keep what they deleted, and bring "
            "an erased user back. Keep it below the changelog's `delete.retention.ms`: a worker "
            "with RocksDB state refuses to start otherwise."
        ),
    )
    state_backend: Literal["rocksdb", "memory"] = Field(
        default="rocksdb",
        description=(
            "Local per-partition state store: `rocksdb` (on disk under `state_dir`; a restart "
            "applies only the changelog records it missed) or `memory` (rebuilt from the "
            "changelog on every assignment; tests and demos). Both are backed by the changelog."
        ),
    )
    segments_file: Path | None = Field(
        default=None,
        description=(
            "YAML file with segment definitions; unset means the definitions shipped "
            "with the package."
        ),
    )
    consent_required: bool = Field(
        default=False,
        description=(
            "When true, users without a consent event get no individual "
            "personalization (only non-personal defaults)."
        ),
    )
    pseudonymize_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key for keyed hashing (HMAC-SHA256) of user ids before they reach state and "
            "outputs (see README, Privacy). A secret: never logged or shown. Unset: raw ids."
        ),
    )
    offer_epsilon: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description=(
            "Exploration rate of the offer bandits (every variant keeps a propensity >= "
            "epsilon / variants)."
        ),
    )
    offer_attribution_window_s: float = Field(
        default=86_400.0, gt=0.0,
        description=(
            "Seconds of event time a decision waits for a click or conversion; when the window "
            "closes without one, the variant is learned with reward 0. Later feedback is "
            "counted, not learned."
        ),
    )
    offer_cap: int | None = Field(
        default=None, ge=1,
        description="Most offers shown per user and placement within `offer_cap_window_s`; unset: no cap.",
    )
    offer_caps: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict,
        description=(
            "Per-placement frequency caps overriding `offer_cap`, as a JSON object "
            '(`{"banner": 3, "email_subject": 1}`) or `banner=3,email_subject=1`.'
        ),
    )
    offer_cap_window_s: float = Field(
        default=86_400.0, gt=0.0, description="Window of the frequency cap, seconds of event time.",
    )
    offer_segments: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Segments that key the offer bandits, in priority order (a user's first matching "
            "one picks the bandit; none: the placement's all-users bandit). Comma-separated "
            "or a JSON list of rule or behavioural segment ids."
        ),
    )
    offer_cooldown_s: float = Field(
        default=0.0, ge=0.0,
        description=(
            "No offer on a placement for this many seconds after the user clicked or "
            "converted on it."
        ),
    )

    # --- Web and logging --------------------------------------------------------------
    web_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description=(
            "Address the HTTP server (health, metrics, lookups) binds to; 0.0.0.0 in containers."
        ),
    )
    web_port: int = Field(
        default=6066,
        ge=1,
        le=65535,
        description="Port of the HTTP server (health, metrics, lookups).",
    )
    advertised_url: str | None = Field(
        default=None,
        description=(
            "Base URL other workers and clients reach this worker's HTTP server at (e.g. "
            "`http://personalizer-0.personalizer:6066`); unset means `http://<web_host>:<web_port>`."
        ),
    )
    peers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Base URLs of the other workers (comma-separated). `/users/{id}` on a worker that "
            "does not own the user's partition redirects (307) to the peer that does."
        ),
    )
    user_view_enabled: bool = Field(
        default=False,
        description=(
            "Serve `/users/{id}` (a user's profile summary and segments: personal data). Off by "
            "default: the view answers 403 saying how to enable it. Pair it with `http_token`."
        ),
    )
    http_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token required by `/users/{id}` and `/partitions` (`Authorization: Bearer "
            "<token>`, compared in constant time); also sent to peers. `/live`, `/ready` and "
            "`/metrics` stay open for probes. A secret: never logged or shown. Unset: no token."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO",
        description="Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL.",
    )

    # --- Validators -------------------------------------------------------------------
    @field_validator("input_topics", "peers", "offer_segments", mode="before")
    @classmethod
    def _parse_lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("offer_caps", mode="before")
    @classmethod
    def _parse_offer_caps(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f'must be a JSON object like {{"banner": 3}} ({exc.msg})') from None
            out: dict[str, Any] = {}
            for part in (p.strip() for p in text.split(",")):
                if not part:
                    continue
                name, sep, cap = part.partition("=")
                if not sep or not name.strip():
                    raise ValueError(f"{part!r} is not placement=cap")
                out[name.strip()] = cap.strip()
            return out
        return value

    @field_validator("offer_caps")
    @classmethod
    def _check_offer_caps(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(name for name, cap in value.items() if cap < 1)
        if bad:
            raise ValueError(f"caps must be >= 1 (placements {', '.join(bad)})")
        return value

    @property
    def base_url(self) -> str:
        """Where this worker's HTTP server is reached (``advertised_url`` or host:port)."""
        return (self.advertised_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @field_validator("input_topics")
    @classmethod
    def _check_input_topics(cls, value: list[str]) -> list[str]:
        for name in value:
            _check_topic(name)
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"lists {', '.join(duplicates)} more than once")
        return value

    @field_validator(
        "decisions_topic",
        "latest_decisions_topic",
        "segment_changes_topic",
        "dlq_topic",
        "segment_definitions_topic",
        "offers_topic",
        "changelog_topic_prefix",
    )
    @classmethod
    def _check_topic_name(cls, value: str) -> str:
        return _check_topic(value)

    @field_validator("kafka_extra", mode="before")
    @classmethod
    def _parse_kafka_extra(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f'must be a JSON object like {{"linger.ms": "10"}} ({exc.msg})'
                ) from None
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if isinstance(item, bool):
                    out[key] = "true" if item else "false"
                elif isinstance(item, int | float):
                    out[key] = str(item)
                else:
                    out[key] = item
            return out
        return value

    @field_validator("security_protocol", "sasl_mechanism", "log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("processing_guarantee", "state_backend", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        problems: list[str] = []
        outputs = {
            "decisions_topic": self.decisions_topic,
            "latest_decisions_topic": self.latest_decisions_topic,
            "segment_changes_topic": self.segment_changes_topic,
            "dlq_topic": self.dlq_topic,
            "segment_definitions_topic": self.segment_definitions_topic,
            "offers_topic": self.offers_topic,
        }
        seen: dict[str, str] = {topic: "input_topics" for topic in self.input_topics}
        for field_name, topic in outputs.items():
            if topic in seen:
                problems.append(
                    f"{env_var_name(field_name)}: {topic!r} is already used by "
                    f"{env_var_name(seen[topic])}; every topic needs its own name"
                )
            else:
                seen[topic] = field_name
        uses_sasl = self.security_protocol.startswith("SASL_")
        if not uses_sasl and (
            self.sasl_mechanism or self.sasl_username or self.sasl_password is not None
        ):
            problems.append(
                f"{env_var_name('security_protocol')}: must be SASL_PLAINTEXT or SASL_SSL "
                f"when SASL settings are given (got {self.security_protocol!r})"
            )
        if (
            uses_sasl
            and self.sasl_mechanism in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
            and (not self.sasl_username or self.sasl_password is None)
        ):
            problems.append(
                f"{env_var_name('sasl_username')} and {env_var_name('sasl_password')}: "
                f"both are required for SASL mechanism {self.sasl_mechanism}"
            )
        if problems:
            # One ValueError per model; load_settings() splits the lines again.
            raise ValueError("\n".join(problems))
        return self

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "kafka_extra" and isinstance(value, dict):
                yield (
                    name,
                    {
                        key: (
                            "**********" if any(p in key.lower() for p in _SECRET_KEY_PARTS) else v
                        )
                        for key, v in value.items()
                    },
                )
            else:
                yield name, value

    # --- librdkafka dictionaries --------------------------------------------------------
    def _common_config(self) -> KafkaConfig:
        config: KafkaConfig = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol.lower(),
        }
        if self.sasl_mechanism is not None:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        return config

    def engine_config(self) -> EngineConfig:
        """The core's configuration from these settings: the worker and the replay tool use
        the same one, so a replay makes the live worker's decisions (same pseudonyms)."""
        key = self.pseudonymize_key
        return EngineConfig(
            consent_required=self.consent_required,
            pseudonymize_key=key.get_secret_value().encode() if key is not None else None,
            offer_epsilon=self.offer_epsilon,
            offer_attribution_window_s=self.offer_attribution_window_s,
            offer_cap=self.offer_cap, offer_cap_window_s=self.offer_cap_window_s,
            offer_caps=dict(self.offer_caps), offer_segments=tuple(self.offer_segments),
            offer_cooldown_s=self.offer_cooldown_s,
        )

    def consumer_config(self, group_id: str | None = None) -> KafkaConfig:
        """librdkafka settings for a ``confluent_kafka.Consumer`` of this service.

        Offsets are committed explicitly by the data plane (never automatically),
        a new group starts from the earliest offset, and only committed transactional
        records are read. ``kafka_extra`` is applied last.
        """
        config = self._common_config()
        config.update(
            {
                "group.id": group_id if group_id is not None else self.group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                # Fast failure detection and group joins; librdkafka heartbeats from a
                # background thread, so slow batches do not cost the session (that is
                # max.poll.interval.ms's job).
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500,
                # Incremental rebalancing: a joining or leaving worker only moves the
                # partitions that change owner, so the others keep their state stores.
                # Verified against the embedded Tansu broker (see streams/broker.py).
                "partition.assignment.strategy": "cooperative-sticky",
                # A fetch returns as soon as data is there on Apache Kafka; some brokers
                # (the embedded Tansu) hold it for the whole wait, which is then pure
                # latency. 10 ms bounds that (bench latency at half rate, all features:
                # p50 29 -> 12 ms, steady p99 132 -> 41 ms against 50 ms) at the cost of
                # ~100 idle fetch requests/s per broker connection.
                "fetch.wait.max.ms": 10,
                # Prefetched input is held in librdkafka's queue; its 64 MiB default lets a
                # lagging worker's RSS grow by that much (the soak saw RSS follow the lag).
                # 16 MiB is still ~40k clickstream records: several full batches ahead.
                "queued.max.messages.kbytes": 16384,
            }
        )
        config.update(self.kafka_extra)
        return config

    def producer_config(self, transactional_id: str | None = None) -> KafkaConfig:
        """librdkafka settings for a ``confluent_kafka.Producer`` of this service.

        Keys are partitioned with murmur2 like the Java client and Faust, so our
        outputs and changelogs are co-partitioned with what other clients produce.
        Idempotence is on; ``transactional_id`` makes it a transactional producer.
        ``kafka_extra`` is applied last.
        """
        config = self._common_config()
        config.update(
            {
                "partitioner": "murmur2_random",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
            }
        )
        if transactional_id is not None:
            config["transactional.id"] = transactional_id
        config.update(self.kafka_extra)
        return config

    def admin_config(self) -> KafkaConfig:
        """librdkafka settings for a ``confluent_kafka.admin.AdminClient``."""
        config = self._common_config()
        config.update(self.kafka_extra)
        return config


# --- load_settings and readable errors --------------------------------------------------

_FIELDS = tuple(Settings.model_fields)


def _describe(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    simple = {
        "greater_than": lambda: f"must be > {ctx.get('gt')}",
        "greater_than_equal": lambda: f"must be >= {ctx.get('ge')}",
        "less_than": lambda: f"must be < {ctx.get('lt')}",
        "less_than_equal": lambda: f"must be <= {ctx.get('le')}",
        "int_parsing": lambda: "must be a whole number",
        "int_from_float": lambda: "must be a whole number",
        "float_parsing": lambda: "must be a number",
        "bool_parsing": lambda: "must be true or false",
        "literal_error": lambda: f"must be one of {ctx.get('expected')}",
        "string_too_short": lambda: "must not be empty",
        "too_short": lambda: "must not be empty",
        "missing": lambda: "is required",
        "dict_type": lambda: 'must be a JSON object like {"key": "value"}',
        "list_type": lambda: "must be a comma-separated list",
        "string_type": lambda: "must be a string",
    }
    if kind in simple:
        return simple[kind]()
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    if message.startswith(ENV_PREFIX):
        return message
    return message[:1].lower() + message[1:]


def _format_input(field_name: str | None, value: Any) -> str:
    if field_name in _SECRET_FIELDS or field_name == "kafka_extra":
        return ""  # may hold credentials: never echo it
    if isinstance(value, Mapping | list):
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = str(value)
    else:
        text = str(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f' (got "{text}")'


def _problems(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        loc = error.get("loc") or ()
        head = str(loc[0]) if loc else ""
        kind = error.get("type", "")
        if not head:
            # Model-level check: the message already names the variables, one per line.
            problems.extend(_describe(error).splitlines())
            continue
        if head in _FIELDS:
            problems.append(
                f"{env_var_name(head)}: {_describe(error)}{_format_input(head, error.get('input'))}"
            )
        elif kind == "extra_forbidden":
            name = head.upper()
            if not name.startswith(ENV_PREFIX):
                name = env_var_name(head)
            problems.append(_unknown(name))
        else:
            problems.append(f"{head}: {_describe(error)}")
    return problems


def _unknown(name: str) -> str:
    known = [env_var_name(f) for f in _FIELDS]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{name}: unknown setting{hint}"


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read the settings from the environment (and ``env_file`` if it exists).

    ``overrides`` are field values that win over the environment. Unknown
    ``PERSONALIZER_*`` environment variables are errors, so a typo is not silently
    ignored. Raises :class:`ConfigError` with one line per problem.
    """
    problems = [
        _unknown(name)
        for name in sorted(os.environ)
        if name.upper().startswith(ENV_PREFIX)
        and name[len(ENV_PREFIX) :].lower() not in Settings.model_fields
    ]
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(problems + _problems(exc)) from None
    except SettingsError as exc:  # a value pydantic-settings itself could not decode
        raise ConfigError([*problems, str(exc)]) from None
    if problems:
        raise ConfigError(problems)
    return settings

"""The data plane as a Faust/mode service: a thread started and stopped with the worker."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import mode
from confluent_kafka import KafkaException

from models.compiled import describe_build
from models.segments import DEFAULT_RULES_PATH, RuleSet, load_rules
from streams.dataplane.loop import DataPlane, DataPlaneConfig
from streams.settings import ConfigError, Settings
from streams.topics import changelog_topic, tombstone_retention_problems

log = logging.getLogger(__name__)


def check_supported(settings: Settings) -> None:
    """Refuse settings this release does not honour yet, instead of ignoring them."""
    problems: list[str] = []  # every setting is honoured in this release
    if problems:
        raise ConfigError(problems)


def check_tombstone_retention(settings: Settings) -> None:
    """Refuse to start when a changelog drops tombstones before a local RocksDB store
    counts as too old to restore on top of (see ``tombstone_retention_problems``). When the
    broker does not answer yet, say so and go on: the data plane waits for it anyway."""
    if settings.state_backend != "rocksdb":
        return  # memory stores are restored from the changelog alone, every time
    changelogs = [changelog_topic(settings, topic) for topic in settings.input_topics]
    try:
        problems = tombstone_retention_problems(settings.admin_config(), changelogs, settings.state_max_age_s)
    except KafkaException as exc:
        log.warning("could not check the changelogs' tombstone retention (%s): not checked", exc)
        return
    if problems:
        raise ConfigError(problems)


def load_worker_rules(settings: Settings) -> RuleSet:
    return load_rules(settings.segments_file or DEFAULT_RULES_PATH)


def build_data_plane(settings: Settings, rules: RuleSet) -> DataPlane:
    cfg = DataPlaneConfig(
        input_topics=list(settings.input_topics),
        decisions_topic=settings.decisions_topic,
        latest_decisions_topic=settings.latest_decisions_topic,
        segment_changes_topic=settings.segment_changes_topic,
        dlq_topic=settings.dlq_topic,
        group_id=settings.group_id,
        consumer_config=settings.consumer_config(),
        producer_config=settings.producer_config(),
        batch_size=settings.batch_size,
        batch_timeout_s=settings.batch_timeout_s,
        tick_interval_s=settings.idle_tick_s,
        checkpoint_interval_s=settings.checkpoint_interval_s,
        changelog_prefix=settings.changelog_topic_prefix,
        state_backend=settings.state_backend,
        state_dir=settings.state_dir,
        state_max_age_s=settings.state_max_age_s,
        exactly_once=settings.processing_guarantee == "exactly_once",
        # stable per worker instance (pod name / host + port) so a restarted worker fences
        # its previous incarnation's open transaction
        transactional_id=f"{settings.group_id}-{socket.gethostname()}-{settings.web_port}",
        engine_config=settings.engine_config(),
    )
    return DataPlane(cfg, rules)


class DataPlaneService(mode.Service):
    """Runs :class:`DataPlane` in a thread; a data-plane failure crashes the worker.

    Crash-only on purpose: offsets were not committed for the failed batch, so the
    restarted worker (Kubernetes, compose ``restart:``) re-processes it.
    """

    #: The service running in this process (one worker per process), for the web views.
    running: DataPlaneService | None = None
    plane: DataPlane | None = None

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self.settings = settings
        self._thread: threading.Thread | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, check_tombstone_retention, self.settings)
        rules = load_worker_rules(self.settings)
        self.plane = build_data_plane(self.settings, rules)
        self._thread = threading.Thread(target=self._run, name="data-plane", daemon=True)
        self._thread.start()
        DataPlaneService.running = self
        log.info("data plane started on %s (core: %s)", ",".join(self.settings.input_topics),
                 describe_build())

    def _run(self) -> None:
        assert self.plane is not None
        try:
            self.plane.run()
        except BaseException:
            log.exception("data plane failed")

    @mode.Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            await asyncio.sleep(0.5)
            plane = self.plane
            if plane is not None and plane.error is not None:
                await self.crash(plane.error)
                return

    async def on_stop(self) -> None:
        if self.plane is not None:
            self.plane.stop()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 60)

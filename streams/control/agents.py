"""The control plane in the Faust worker: :func:`register_control_plane`.

Why not a Faust agent or a GlobalTable: every worker needs every definition, but all
agents of a Faust app share the app's consumer group (the app id; faust has no
per-agent group), so the control topics' partitions would be split between workers.
``GlobalTable`` reads every partition on every worker, but faust documents that it "may
cause an app to be stuck in an infinite recovery loop" with several instances, and it
has no public hook for "this key changed". So the control plane is a small
``mode.Service`` started and stopped with the app: a group-less reader
(:class:`~streams.control.reader.ControlReader`) assigned every partition from the
beginning, whose blocking polls run in the default executor, and a
:class:`~streams.control.plane.ControlPlane` that folds the records and calls back on
the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import faust
import mode
from confluent_kafka import KafkaException

from models.offers import OfferCatalog
from models.segments import RuleSet
from streams.control.plane import ControlPlane
from streams.control.reader import ControlReader, TopicMissingError
from streams.settings import Settings

__all__ = ["ControlPlaneService", "register_control_plane"]

log = logging.getLogger(__name__)

#: Seconds between attempts when a control topic is missing or the broker fails.
RETRY_S = 2.0


class ControlPlaneService(mode.Service):
    """Follows the control topics for the whole life of the worker."""

    #: The service running in this process (one worker per process).
    running: ControlPlaneService | None = None

    def __init__(self, settings: Settings, plane: ControlPlane, **kwargs: Any) -> None:
        self.settings = settings
        self.plane = plane
        #: Set once the topics were read to the end they had at start (and published).
        self.caught_up = asyncio.Event()
        self._reader: ControlReader | None = None
        self._exited = asyncio.Event()
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        ControlPlaneService.running = self

    @mode.Service.task
    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        topics = [self.settings.segment_definitions_topic, self.settings.offers_topic]
        warned = False
        try:
            while not self.should_stop:
                try:
                    if self._reader is None:
                        reader = ControlReader(self.settings.consumer_config(), topics)
                        self._reader = reader
                        await loop.run_in_executor(None, reader.start)
                        log.info("following control topics %s", ", ".join(topics))
                    records = await loop.run_in_executor(None, self._reader.poll, 0.5)
                except (TopicMissingError, KafkaException) as exc:
                    if not warned:
                        log.warning("control topics not readable yet, retrying every %gs: %s", RETRY_S, exc)
                        warned = True
                    await self._drop_reader()
                    await self.sleep(RETRY_S)
                    continue
                self.plane.apply(records)
                if self._reader.caught_up:
                    self.plane.publish()
                    if not self.caught_up.is_set():
                        log.info("control topics read (%d records rejected)", self.plane.rejected)
                        self.caught_up.set()
        finally:
            self._exited.set()

    async def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await asyncio.get_running_loop().run_in_executor(None, reader.close)

    async def on_stop(self) -> None:
        try:
            await asyncio.wait_for(self._exited.wait(), timeout=10)
        except TimeoutError:
            log.warning("control plane reader did not stop within 10 s")
            return
        await self._drop_reader()
        if ControlPlaneService.running is self:
            ControlPlaneService.running = None


def register_control_plane(
    app: faust.App,
    settings: Settings,
    *,
    base_rules: RuleSet,
    on_rules: Callable[[RuleSet], None],
    on_offers: Callable[[OfferCatalog], None],
) -> None:
    """Follow the segment-definitions and offers topics in ``app``'s workers.

    ``base_rules`` are the worker's rules file; ``on_rules`` gets each new composed
    :class:`RuleSet` (file + topic), ``on_offers`` each new :class:`OfferCatalog` (the
    first one once the topic was read, even when empty). Both are called on the event
    loop; a callback that raises is logged and called again with the next poll.
    """
    plane = ControlPlane(
        base_rules,
        definitions_topic=settings.segment_definitions_topic,
        offers_topic=settings.offers_topic,
        on_rules=on_rules,
        on_offers=on_offers,
    )

    class WorkerControlPlane(ControlPlaneService):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(settings, plane, **kwargs)

    app.service(WorkerControlPlane)

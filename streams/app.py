"""The Faust application: the service shell around the batch data plane.

``faust -A streams.app worker`` and ``personalizer worker`` both run it. Faust owns the
worker lifecycle, the web views and (next) the control topics; the clickstream itself
is consumed by :mod:`streams.dataplane` with confluent-kafka in batches, because
Faust's per-message path is too slow for it (see README, "Design").
"""

from __future__ import annotations

from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.segments import RuleSet
from streams.control import register_control_plane
from streams.dataplane.loop import DataPlane
from streams.service import DataPlaneService, check_supported, load_worker_rules
from streams.settings import load_settings

settings = load_settings()
check_supported(settings)


def _faust_broker(bootstrap: str) -> str:
    return ";".join(f"kafka://{b.strip()}" for b in bootstrap.split(",") if b.strip())


# The Faust app joins its own consumer group (for control topics); the data plane's
# group is ``settings.group_id``. They must differ: one group, one protocol.
app = faust.App(
    f"{settings.group_id}-shell",
    broker=_faust_broker(settings.bootstrap_servers),
    web_host=settings.web_host,
    web_port=settings.web_port,
    store="memory://",
    topic_partitions=settings.partitions,
    broker_session_timeout=6.0,
    broker_heartbeat_interval=0.5,
    broker_rebalance_timeout=20.0,
    autodiscover=False,
)


@app.service
class WorkerDataPlane(DataPlaneService):
    """Started and stopped with the app, configured from :data:`settings`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)


def _plane() -> DataPlane | None:
    service = DataPlaneService.running
    return service.plane if service is not None else None


def _on_rules(rules: RuleSet) -> None:
    plane = _plane()
    if plane is not None:
        plane.set_rules(rules)


# Segment definitions and offers from the compacted control topics, read from the start
# by every worker without a consumer group (see streams/control/).
register_control_plane(app, settings, base_rules=load_worker_rules(settings),
                       on_rules=_on_rules, on_offers=lambda catalog: None)


@app.page("/live")
async def live(web: Any, request: Any) -> Any:
    """The process is alive (the event loop answers)."""
    return web.json({"live": True})


@app.page("/ready")
async def ready(web: Any, request: Any) -> Any:
    """Ready when the data plane owns its partitions and is not rebalancing."""
    plane = _plane()
    ok = plane is not None and plane.ready and plane.error is None
    return web.json({"ready": ok}, status=200 if ok else 503)


@app.page("/metrics")
async def metrics_view(web: Any, request: Any) -> Any:
    # the header carries the charset; aiohttp refuses it in content_type=
    return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


@app.page("/users/{user_id}")
async def user_view(web: Any, request: Any, user_id: str) -> Any:
    """A user's profile and segments, when this worker owns the user's partition."""
    plane = _plane()
    profile = plane.lookup(user_id) if plane is not None else None
    if profile is None:
        return web.json({"error": "not found on this worker", "user_id": user_id}, status=404)
    return web.json({
        "user_id": user_id,
        "segments": profile.segments,
        "consent": profile.consent,
        "counts": profile.counts,
        "orders": profile.orders,
        "last_decision_id": profile.last_decision_id,
    })

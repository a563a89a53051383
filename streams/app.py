"""The Faust application: the service shell around the batch data plane.

``faust -A streams.app worker`` and ``personalizer worker`` both run it. Faust owns the
worker lifecycle, the web views and (next) the control topics; the clickstream itself
is consumed by :mod:`streams.dataplane` with confluent-kafka in batches, because
Faust's per-message path is too slow for it (see README, "Design").
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote

import aiohttp
import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.offers import OfferCatalog
from models.segments import RuleSet
from streams.control import register_control_plane
from streams.dataplane.loop import DataPlane
from streams.partitioning import partition_for
from streams.service import DataPlaneService, check_supported, load_worker_rules
from streams.settings import load_settings

settings = load_settings()
check_supported(settings)


def _faust_broker(bootstrap: str) -> str:
    return ";".join(f"kafka://{b.strip()}" for b in bootstrap.split(",") if b.strip())


# Faust's own data dir sits beside the state stores, never in the working directory
# (Faust creates only its last component).
_faust_datadir = settings.state_dir / "faust"
_faust_datadir.mkdir(parents=True, exist_ok=True)

# The Faust app joins its own consumer group (for control topics); the data plane's
# group is ``settings.group_id``. They must differ: one group, one protocol.
app = faust.App(
    f"{settings.group_id}-shell",
    broker=_faust_broker(settings.bootstrap_servers),
    web_host=settings.web_host,
    web_port=settings.web_port,
    store="memory://",
    datadir=str(_faust_datadir),
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
def _on_offers(catalog: OfferCatalog) -> None:
    plane = _plane()
    if plane is not None:
        plane.set_offers(catalog)


register_control_plane(app, settings, base_rules=load_worker_rules(settings),
                       on_rules=_on_rules, on_offers=_on_offers)


def _auth_headers() -> dict[str, str]:
    """The Authorization header this worker sends (to peers) and expects."""
    token = settings.http_token
    return {"Authorization": f"Bearer {token.get_secret_value()}"} if token is not None else {}


def _denied(web: Any, request: Any) -> Any | None:
    """401 unless the request carries the bearer token (when ``PERSONALIZER_HTTP_TOKEN`` is
    set); None when it may go on. Constant-time comparison."""
    expected = _auth_headers().get("Authorization")
    if expected is None:
        return None
    given = request.headers.get("Authorization", "")
    if hmac.compare_digest(given.encode(), expected.encode()):
        return None
    message = "missing or wrong bearer token (Authorization: Bearer <PERSONALIZER_HTTP_TOKEN>)"
    return web.json({"error": message}, status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="personalizer"'})


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


@app.page("/partitions")
async def partitions_view(web: Any, request: Any) -> Any:
    """The input partitions this worker owns, and where it is reached (for peers)."""
    denied = _denied(web, request)
    if denied is not None:
        return denied
    plane = _plane()
    owned = sorted(plane.partitions) if plane is not None else []
    return web.json({"url": settings.base_url, "partitions": [list(tp) for tp in owned]})


async def _owner_of(topic: str, partition: int) -> str | None:
    """Ask the peers which of them owns ``topic[partition]`` (1 s each, in order)."""
    timeout = aiohttp.ClientTimeout(total=1.0)
    async with aiohttp.ClientSession(timeout=timeout, headers=_auth_headers()) as session:
        for peer in settings.peers:
            try:
                async with session.get(f"{peer.rstrip('/')}/partitions") as resp:
                    body = await resp.json()
            except (aiohttp.ClientError, TimeoutError, ValueError):
                continue  # a peer that is down or restarting: try the next one
            if [topic, partition] in body.get("partitions", []):
                return str(body.get("url") or peer).rstrip("/")
    return None


@app.page("/users/{user_id}")
async def user_view(web: Any, request: Any, user_id: str) -> Any:
    """A user's profile and segments, answered by the worker that owns the user's partition:
    another worker redirects (307) there, using ``PERSONALIZER_PEERS``.

    Personal data: off unless ``PERSONALIZER_USER_VIEW_ENABLED=true`` (403 otherwise), and
    behind ``PERSONALIZER_HTTP_TOKEN`` when one is set (401 without it)."""
    denied = _denied(web, request)
    if denied is not None:
        return denied
    if not settings.user_view_enabled:
        return web.json({"error": "the user view is disabled: it shows personal data; set "
                                  "PERSONALIZER_USER_VIEW_ENABLED=true (and PERSONALIZER_HTTP_TOKEN) "
                                  "to enable it"}, status=403)
    plane = _plane()
    if plane is None:
        return web.json({"error": "not ready"}, status=503)
    profile = plane.lookup(user_id)
    if profile is not None:
        return web.json({
            "user_id": user_id,
            "segments": profile.segments,
            "consent": profile.consent,
            "counts": profile.counts,
            "orders": profile.orders,
            "last_decision_id": profile.last_decision_id,
        })
    for topic, count in sorted(plane.partition_counts.items()):
        partition = partition_for(user_id.encode(), count)
        if plane.owns(topic, partition):
            continue  # ours, and not here: unknown (or erased) user
        owner = await _owner_of(topic, partition)
        if owner is not None and owner != settings.base_url:
            location = f"{owner}/users/{quote(user_id, safe='')}"
            return web.json({"redirect": location}, status=307, headers={"Location": location})
        return web.json({"error": "owner of the user's partition not found",
                         "topic": topic, "partition": partition}, status=404)
    return web.json({"error": "unknown user", "user_id": user_id}, status=404)

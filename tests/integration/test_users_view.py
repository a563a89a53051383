"""`/users/{id}` is answered by the worker that owns the user's partition; others redirect.
It is off unless enabled (personal data) and behind the bearer token when one is set."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from streams.broker import find_free_port
from streams.commands.produce import produce_records
from streams.process import stop_process
from tests.factories import at, event, raw
from tests.integration.conftest import unique_name
from tests.integration.planes import (
    all_committed,
    make_topics,
    start_worker,
    wait_for,
    worker_env,
    worker_ready,
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _get(
    url: str, follow: bool = True, headers: dict[str, str] | None = AUTH
) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_lookup_on_either_worker_reaches_the_owner(
    tmp_path: Path, topic_factory, broker_settings, producer_factory, bootstrap_servers
):
    topics = make_topics(topic_factory, partitions=4)
    group = unique_name("g")
    users = [f"user-{i}" for i in range(40)]
    records = [raw(event("page_view", u, at(0))) for u in users]
    producer = producer_factory()
    produce_records(producer, topics.input, iter(records))
    assert producer.flush(10) == 0

    ports = [find_free_port(), find_free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    workers = []
    try:
        for i, port in enumerate(ports):
            env = worker_env(topics, bootstrap_servers, group, tmp_path / f"state{i}", port,
                              "at_least_once")
            env["PERSONALIZER_PEERS"] = urls[1 - i]
            env["PERSONALIZER_USER_VIEW_ENABLED"] = "true"
            env["PERSONALIZER_HTTP_TOKEN"] = TOKEN
            workers.append(start_worker(env, tmp_path / f"worker{i}.log"))
        for port in ports:
            wait_for(lambda port=port: worker_ready(port), 60, "worker ready")

        def both_own_some_and_all_done() -> bool:
            owned = [json.loads(_get(f"{u}/partitions")[2])["partitions"] for u in urls]
            done = all_committed(broker_settings, topics, group, len(records))
            return all(owned) and sum(len(o) for o in owned) == topics.partitions and done

        wait_for(both_own_some_and_all_done, 60, "partitions split and every event processed")
        redirected = 0
        for user in users[:10]:
            answers = [_get(f"{u}/users/{user}") for u in urls]
            assert [a[0] for a in answers] == [200, 200], answers
            bodies = [json.loads(a[2]) for a in answers]
            assert bodies[0] == bodies[1] and bodies[0]["user_id"] == user
            direct = [_get(f"{u}/users/{user}", follow=False) for u in urls]
            assert sorted(d[0] for d in direct) == [200, 307]
            moved = next(d for d in direct if d[0] == 307)
            assert moved[1]["Location"] in {f"{u}/users/{user}" for u in urls}
            redirected += 1
        assert redirected == 10
        assert _get(f"{urls[0]}/users/nobody-at-all")[0] == 404
        # the token is required for lookups and the partition map, not for the probes
        for path in (f"/users/{users[0]}", "/partitions"):
            no_token = _get(f"{urls[0]}{path}", headers=None)
            assert no_token[0] == 401 and no_token[1]["WWW-Authenticate"].startswith("Bearer")
            assert TOKEN.encode() not in no_token[2] and users[0].encode() not in no_token[2]
            assert _get(f"{urls[0]}{path}", headers={"Authorization": "Bearer wrong"})[0] == 401
        for path in ("/live", "/ready", "/metrics"):
            assert _get(f"{urls[0]}{path}", headers=None)[0] == 200, path
    finally:
        for w in workers:
            stop_process(w, timeout=30)


def test_user_view_is_off_by_default(tmp_path: Path, topic_factory, producer_factory, bootstrap_servers):
    topics = make_topics(topic_factory, partitions=1)
    producer = producer_factory()
    produce_records(producer, topics.input, iter([raw(event("page_view", "alice", at(0)))]))
    assert producer.flush(10) == 0
    port = find_free_port()
    env = worker_env(topics, bootstrap_servers, unique_name("g"), tmp_path / "state", port, "at_least_once")
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        wait_for(lambda: worker_ready(port), 60, "worker ready")
        status, _, body = _get(f"http://127.0.0.1:{port}/users/alice", headers=None)
        assert status == 403 and b"PERSONALIZER_USER_VIEW_ENABLED=true" in body and b"alice" not in body
        assert _get(f"http://127.0.0.1:{port}/partitions", headers=None)[0] == 200  # no token set
    finally:
        stop_process(worker, timeout=30)

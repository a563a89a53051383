"""streams.storefront.DecisionCache against a real broker: warm-up, latest wins, erasure, follow."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
from confluent_kafka import Producer

from streams.storefront import DecisionCache
from streams.topics import compacted_config


def decision(user: str, n: int) -> bytes:
    return orjson.dumps({"decision_id": f"{user}-{n}", "user_id": user, "placement": "home",
                         "kind": "personalized", "recommendations": [{"item_id": f"i{n}"}]})


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_cache_warms_keeps_latest_erases_and_follows(
    bootstrap_servers: str, topic_factory: Callable[..., str], producer_factory: Callable[..., Producer],
) -> None:
    topic = topic_factory(partitions=3, config=compacted_config())
    producer = producer_factory()
    for n in range(3):  # three versions for u1: the last one wins
        producer.produce(topic, key=b"u1", value=decision("u1", n))
    producer.produce(topic, key=b"u2", value=decision("u2", 0))
    producer.produce(topic, key=b"u3", value=decision("u3", 0))
    producer.produce(topic, key=b"u3", value=None)  # u3 erased
    producer.produce(topic, key=b"u4", value=b"{not json")  # counted, never crashes the cache
    producer.produce(topic, key="ü-5".encode(), value=decision("ü-5", 0))
    assert producer.flush(10) == 0

    with DecisionCache(bootstrap_servers, topic) as cache:
        assert cache.wait_ready(30), "the cache did not warm up"
        got = cache.get("u1")
        assert got is not None and got["decision_id"] == "u1-2"
        assert cache.get("u2") is not None and cache.get("u2")["decision_id"] == "u2-0"  # type: ignore[index]
        assert cache.get("u3") is None and "u3" not in cache
        assert cache.get("u4") is None
        assert cache.get("ü-5") is not None
        assert cache.get("nobody") is None
        assert cache.stats["invalid"] == 1 and len(cache) == 3

        # follows new records after the warm-up: a newer decision, an erasure, a new user
        producer.produce(topic, key=b"u2", value=decision("u2", 1))
        producer.produce(topic, key=b"u1", value=None)
        producer.produce(topic, key=b"u6", value=decision("u6", 0))
        assert producer.flush(10) == 0
        assert wait_for(lambda: cache.get("u6") is not None)
        assert wait_for(lambda: cache.get("u1") is None)
        assert cache.get("u2")["decision_id"] == "u2-1"  # type: ignore[index]
        assert cache.error is None

        # get() is a dict lookup: measured, reported, never asserted
        started = time.perf_counter()
        for _ in range(100_000):
            cache.get("u2")
        per_get_us = (time.perf_counter() - started) / 100_000 * 1e6
        print(f"DecisionCache.get: {per_get_us:.3f} us per call")
    assert cache.error is None


def test_cache_on_an_empty_topic_is_ready_and_empty(
    bootstrap_servers: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=2, config=compacted_config())
    with DecisionCache(bootstrap_servers, topic) as cache:
        assert cache.wait_ready(30)
        assert len(cache) == 0 and cache.get("u1") is None


def test_missing_topic_is_reported(bootstrap_servers: str) -> None:
    cache = DecisionCache(bootstrap_servers, "no-such-topic-for-the-cache-test")
    cache.start()
    try:
        try:
            cache.wait_ready(15)
        except Exception as exc:  # DecisionCacheError naming the topic
            assert "no-such-topic-for-the-cache-test" in str(exc)
        else:
            raise AssertionError("a missing topic must not look ready")
    finally:
        cache.stop()

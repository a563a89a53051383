"""The latest decision per user, kept in memory from Kafka by a background thread.

Topic contract (the same from any language; see ``schemas/json/decision.schema.json``):

* topic ``personalization.decisions.latest`` (compacted), keyed by the user id (UTF-8),
  value = one decision as JSON; a record with a null value (tombstone) means the user
  was erased: forget them;
* the worker writes each decision to ``personalization.decisions`` and to the latest
  topic in the same batch (one transaction with ``exactly_once``), so read with
  ``isolation.level=read_committed``.

How the cache reads it: it assigns every partition of the latest topic from the
beginning (no consumer group, nothing committed), applies records in offset order —
per user that is event order, because a user's records all live in one partition — and
is :attr:`~DecisionCache.ready` once every partition has reached its end. It then keeps
following the same topic, which carries every new decision *and* every erasure
tombstone in that same per-user order. (Following ``personalization.decisions``
instead would miss erasures, which only the latest topic carries, and reading both
would let the slower of the two roll a user back to an older decision.)

Example::

    with DecisionCache("127.0.0.1:9092") as cache:
        cache.wait_ready(30)
        decision = cache.get("u42")        # dict | None, about 0.1 us
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

__all__ = ["DecisionCache", "DecisionCacheError"]

log = logging.getLogger(__name__)

DEFAULT_TOPIC = "personalization.decisions.latest"


class DecisionCacheError(RuntimeError):
    """The cache could not start or stopped following its topic (the message says why)."""


class DecisionCache:
    """Latest decision per user from the compacted latest-decisions topic.

    ``bootstrap_servers``: Kafka ``host:port`` list. ``topic``: the latest-decisions
    topic (compacted, keyed by user id). ``consumer_config``: extra librdkafka settings
    (security, SASL...), applied over the defaults. ``poll_timeout_s``: longest wait of
    one poll of the background thread (how quickly :meth:`stop` returns).

    :meth:`get` is safe from any thread: the background thread only replaces whole
    entries of a dict. The returned dicts are shared: treat them as read-only.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = DEFAULT_TOPIC,
        *,
        consumer_config: Mapping[str, Any] | None = None,
        poll_timeout_s: float = 0.2,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.consumer_config = dict(consumer_config or {})
        self.poll_timeout_s = poll_timeout_s
        self._decisions: dict[str, dict[str, Any]] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._records = 0
        self._invalid = 0
        self._erased = 0
        self.error: BaseException | None = None

    # -- reading -------------------------------------------------------------------

    def get(self, user_id: str) -> dict[str, Any] | None:
        """The latest decision for ``user_id`` (a dict as in the JSON Schema), or None."""
        return self._decisions.get(user_id)

    def users(self) -> list[str]:
        """The user ids with a cached decision, sorted."""
        return sorted(list(self._decisions))

    def __len__(self) -> int:
        return len(self._decisions)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._decisions

    @property
    def ready(self) -> bool:
        """True once every partition was read to its end (the warm-up is done)."""
        return self._ready.is_set()

    @property
    def stats(self) -> dict[str, int]:
        """Records applied, invalid values skipped (counted and logged), users erased, users held."""
        return {"records": self._records, "invalid": self._invalid, "erased": self._erased,
                "users": len(self._decisions)}

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until warmed up (True), the timeout passes (False), or the thread failed (raises)."""
        step = 0.05
        waited = 0.0
        while not self._ready.wait(step):
            if self.error is not None:
                raise DecisionCacheError(f"decision cache for {self.topic!r} failed: {self.error}")
            waited += step
            if timeout is not None and waited >= timeout:
                return False
        return True

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> DecisionCache:
        """Start the background thread (warm-up, then follow). Returns self."""
        if self._thread is not None:
            raise DecisionCacheError("already started")
        self._thread = threading.Thread(target=self._run, name=f"decision-cache-{self.topic}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following and close the consumer (the cached decisions stay readable)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> DecisionCache:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- the thread ----------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            # librdkafka wants a group id even for assign(); nothing is ever committed
            "group.id": f"decision-cache-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            **self.consumer_config,
        }

    def _run(self) -> None:
        try:
            consumer = Consumer(self._config())
        except Exception as exc:
            self.error = exc
            log.error("decision cache: bad consumer configuration: %s", exc)
            return
        try:
            metadata = consumer.list_topics(self.topic, timeout=10)
            topic_md = metadata.topics.get(self.topic)
            if topic_md is None or topic_md.error is not None or not topic_md.partitions:
                reason = topic_md.error if topic_md is not None else "unknown topic"
                raise DecisionCacheError(f"topic {self.topic!r} is not readable: {reason}")
            partitions = sorted(topic_md.partitions)
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            at_end: set[int] = set()
            while not self._stop.is_set():
                for msg in consumer.consume(1000, self.poll_timeout_s):
                    err = msg.error()
                    if err is None:
                        self._apply(msg)
                    elif err.code() == KafkaError._PARTITION_EOF:
                        if not self._ready.is_set():
                            at_end.add(msg.partition() or 0)
                            if at_end >= set(partitions):
                                self._ready.set()
                                log.info("decision cache warm: %d users from %s",
                                         len(self._decisions), self.topic)
                    elif err.fatal():
                        raise DecisionCacheError(f"{self.topic}: {err.str()}")
                    else:
                        log.warning("decision cache: %s: %s", self.topic, err.str())
        except BaseException as exc:
            self.error = exc
            log.error("decision cache stopped: %s", exc)
        finally:
            consumer.close()

    def _apply(self, msg: Message) -> None:
        key = msg.key()
        if not key:
            self._skip(msg, "no key")
            return
        try:
            user = key.decode()
        except UnicodeDecodeError:
            self._skip(msg, "key is not UTF-8")
            return
        value = msg.value()
        if value is None:  # tombstone: the user was erased
            self._records += 1
            if self._decisions.pop(user, None) is not None:
                self._erased += 1
            return
        try:
            decision = orjson.loads(value)
        except orjson.JSONDecodeError:
            self._skip(msg, "value is not JSON")
            return
        if not isinstance(decision, dict):
            self._skip(msg, "value is not a JSON object")
            return
        self._decisions[user] = decision
        self._records += 1

    def _skip(self, msg: Message, reason: str) -> None:
        # counted and logged with its position (never the payload): nothing is silently dropped
        self._invalid += 1
        log.warning("decision cache: skipped %s[%s]@%s: %s", msg.topic(), msg.partition(),
                    msg.offset(), reason)

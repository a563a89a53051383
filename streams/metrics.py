"""Prometheus metrics of the worker. Labels are bounded: never a user id.

Label values come from fixed sets (topics, outcomes, reason codes, placements, decision
kinds, segment ids from the rules file), so series counts stay bounded.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

from streams import __version__

EVENTS = Counter(
    "personalizer_events_consumed_total",
    "Input records consumed, by topic and outcome (ok, invalid, duplicate, erased, processing_error).",
    ["topic", "outcome"],
)
DEAD_LETTERS = Counter(
    "personalizer_dead_letters_total", "Records sent to the dead-letter topic, by reason.", ["reason"]
)
DECISIONS = Counter(
    "personalizer_decisions_total", "Decisions emitted, by placement and kind.", ["placement", "kind"]
)
SEGMENT_CHANGES = Counter(
    "personalizer_segment_transitions_total",
    "Segment entries and exits, by segment and change.",
    ["segment", "change"],
)
BATCH_SECONDS = Histogram(
    "personalizer_batch_duration_seconds",
    "Wall time to process one consumed batch (core + produce, without the commit).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
BATCH_SIZE = Histogram(
    "personalizer_batch_records",
    "Records per consumed batch.",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
)
EVENT_TO_DECISION = Histogram(
    "personalizer_event_to_decision_seconds",
    "Event time to the decision being handed to the producer (includes upstream delay).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
CHECKPOINT_SECONDS = Histogram(
    "personalizer_checkpoint_duration_seconds",
    "Producer flush + offset commit per checkpoint.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
ASSIGNED_PARTITIONS = Gauge(
    "personalizer_assigned_partitions", "Input partitions currently owned by this worker."
)
REBALANCES = Counter(
    "personalizer_rebalances_total", "Partition assignments and revocations.", ["kind"]
)
STATE_USERS = Gauge("personalizer_state_users", "Profiles held by this worker's stores.")
READY = Gauge("personalizer_ready", "1 when the data plane is consuming, 0 while starting/rebalancing.")
BUILD = Info("personalizer_build", "Build information.")
BUILD.info({"version": __version__})

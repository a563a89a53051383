"""Prometheus metrics of the worker, served at ``/metrics``. Labels are bounded: never a user id.

Label values come from fixed sets (topics, partitions, outcomes, reason codes, placements,
decision kinds, segment ids from the rules file, model and policy names, arm ids from the
offer catalogue, experiment ids from the control topic), so series counts stay bounded.
Names follow the Prometheus naming guide: ``personalizer_`` prefix, base units
(seconds, records), ``_total`` for counters.

Who updates what (``LIVE`` = updated by the data plane today; the others are defined so
dashboards and alerts can be written now, and stay absent or at zero until their
component lands; nothing here invents a value):

=================================================  ============================================
metric                                             updated by
=================================================  ============================================
personalizer_events_consumed_total                 LIVE: OutputWriter / :func:`record_outputs`
personalizer_dead_letters_total                    LIVE: OutputWriter / :func:`record_outputs`
personalizer_decisions_total                       LIVE: OutputWriter / :func:`record_outputs`
personalizer_event_to_decision_seconds             LIVE: OutputWriter / :func:`record_outputs`
personalizer_segment_transitions_total             LIVE: OutputWriter / :func:`record_outputs`
personalizer_segment_members                       :func:`record_outputs` (lead wires it)
personalizer_batch_duration_seconds                LIVE: DataPlane._process
personalizer_batch_records                         LIVE: DataPlane._process
personalizer_event_processing_seconds              LIVE: DataPlane._process (:func:`record_core_time`)
personalizer_checkpoint_duration_seconds           LIVE: DataPlane._checkpoint
personalizer_consumer_lag_records                  LIVE: DataPlane._checkpoint (:func:`record_lag`)
personalizer_assigned_partitions                   LIVE: DataPlane rebalance callbacks
personalizer_rebalances_total                      LIVE: DataPlane rebalance callbacks
personalizer_state_users                           LIVE: DataPlane._checkpoint
personalizer_state_restore_partitions_remaining    LIVE: DataPlane._on_assign
personalizer_state_restored_records_total          LIVE: DataPlane._on_assign (:func:`record_restore`)
personalizer_state_restore_duration_seconds        LIVE: DataPlane._on_assign (:func:`record_restore`)
personalizer_ready                                 LIVE: DataPlane
personalizer_build_info                            LIVE: this module, at import
personalizer_experiment_assignments_total          :func:`record_outputs`, once decisions carry
                                                   an ``experiment`` (experiments component)
personalizer_bandit_pulls_total                    :func:`record_outputs`, once decisions carry
                                                   a ``variant`` (bandit policy component)
personalizer_bandit_rewards_total                  bandit policy, when it learns from feedback
                                                   (:func:`record_reward`)
personalizer_model_log_loss                        online learning: rolling log loss per model
personalizer_model_hit_rate                        online learning: rolling hit rate per model
personalizer_model_last_update_timestamp_seconds   online learning: last ``learn_one`` per model
=================================================  ============================================
"""

from __future__ import annotations

import sys
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from prometheus_client import Counter, Gauge, Histogram, Info

from streams import __version__

if TYPE_CHECKING:
    from confluent_kafka import TopicPartition

    from models.engine.batch import BatchOutput

__all__ = [
    "ASSIGNED_PARTITIONS",
    "BANDIT_PULLS",
    "BANDIT_REWARDS",
    "BATCH_SECONDS",
    "BATCH_SIZE",
    "BUILD",
    "CHECKPOINT_BYTES",
    "CHECKPOINT_SECONDS",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "DECISIONS",
    "EVENTS",
    "EVENT_SECONDS",
    "EVENT_TO_DECISION",
    "EXPERIMENT_ASSIGNMENTS",
    "IN_WORKER_LATENCY",
    "MODEL_HIT_RATE",
    "MODEL_LAST_UPDATE",
    "MODEL_LOG_LOSS",
    "OFFER_FEEDBACK",
    "READY",
    "REBALANCES",
    "RESTORED_RECORDS",
    "RESTORE_REMAINING",
    "RESTORE_SECONDS",
    "SEGMENT_CHANGES",
    "SEGMENT_MEMBERS",
    "STATE_USERS",
    "record_core_time",
    "record_lag",
    "record_outputs",
    "record_restore",
    "record_reward",
]

# --- consumption and processing -------------------------------------------------------

EVENTS = Counter(
    "personalizer_events_consumed_total",
    "Input records consumed, by topic and outcome (ok, invalid, duplicate, erased, "
    "processing_error). Every invalid or processing_error record is also dead-lettered "
    "(personalizer_dead_letters_total, by reason).",
    ["topic", "outcome"],
)
DEAD_LETTERS = Counter(
    "personalizer_dead_letters_total", "Records sent to the dead-letter topic, by reason.", ["reason"]
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
EVENT_SECONDS = Histogram(
    "personalizer_event_processing_seconds",
    "Core processing time per event (decode, profile, segments, decision), averaged over "
    "each partition's share of a batch: one sample per partition batch, so the histogram "
    "stays off the per-event path.",
    buckets=(1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2),
)
EVENT_TO_DECISION = Histogram(
    "personalizer_event_to_decision_seconds",
    "Event time to the decision being handed to the producer (includes upstream delay).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
IN_WORKER_LATENCY = Histogram(
    "personalizer_in_worker_latency_seconds",
    "Time input records spent inside this worker: from their arrival in the consumer's "
    "queue to their outputs handed to the producer (an upper bound: the arrival is taken "
    "as the moment the queue was last seen empty, or the wake-up of the poll that waited "
    "for them). One sample per partition batch, whose records share the bound. Broker, "
    "upstream and output delivery time are not in it (see event_to_decision for those).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
CONSUMER_LAG = Gauge(
    "personalizer_consumer_lag_records",
    "Records between this worker's consume position and the partition's high watermark, "
    "per owned input partition (from librdkafka's cached watermarks, refreshed every "
    "statistics/fetch cycle).",
    ["topic", "partition"],
)

# --- outputs --------------------------------------------------------------------------

DECISIONS = Counter(
    "personalizer_decisions_total", "Decisions emitted, by placement and kind.", ["placement", "kind"]
)
SEGMENT_CHANGES = Counter(
    "personalizer_segment_transitions_total",
    "Segment entries and exits, by segment and change.",
    ["segment", "change"],
)
SEGMENT_MEMBERS = Gauge(
    "personalizer_segment_members",
    "Segment entries minus exits emitted by this worker since it started, by segment. "
    "sum by (segment) over all workers is the segment's size; a partition moving between "
    "workers keeps the sum right, a worker restart loses its share until re-seeded.",
    ["segment"],
)
EXPERIMENT_ASSIGNMENTS = Counter(
    "personalizer_experiment_assignments_total",
    "Decisions that carried an experiment assignment, by experiment and arm "
    "(treatment/control).",
    ["experiment", "arm"],
)
BANDIT_PULLS = Counter(
    "personalizer_bandit_pulls_total",
    "Variants chosen by a policy (bandit arm pulls), by policy, placement and arm "
    "(an offer/variant id from the catalogue).",
    ["policy", "placement", "arm"],
)
OFFER_FEEDBACK = Counter(
    "personalizer_offer_feedback_total",
    "Offer attribution outcomes: feedback joined to a decision (attributed, control, "
    "impression, late, repeat, unknown) and attribution windows closed or dropped.",
    ["outcome"],
)
BANDIT_REWARDS = Counter(
    "personalizer_bandit_rewards_total",
    "Sum of rewards credited to bandit arms from feedback events, by policy, placement and arm.",
    ["policy", "placement", "arm"],
)

# --- online models (updated by the online-learning component when it lands) ----------

MODEL_LOG_LOSS = Gauge(
    "personalizer_model_log_loss",
    "Rolling (progressive validation) log loss of an online model, by model.",
    ["model"],
)
MODEL_HIT_RATE = Gauge(
    "personalizer_model_hit_rate",
    "Rolling hit rate of a recommender (share of decisions with a later click or "
    "purchase of a recommended item), by model; 0..1.",
    ["model"],
)
MODEL_LAST_UPDATE = Gauge(
    "personalizer_model_last_update_timestamp_seconds",
    "Unix time of the last learning step of an online model, by model.",
    ["model"],
)

# --- checkpoint, state, group ---------------------------------------------------------

CHECKPOINT_SECONDS = Histogram(
    "personalizer_checkpoint_duration_seconds",
    "Time the data plane's loop spends on checkpoints, one sample per local store write "
    "(one partition, or the partitions written together): their share of taking the "
    "changed state and queueing the changelog, of a flush if one was still in flight and "
    "of the offset commit, and the local store write itself.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
CHECKPOINT_BYTES = Histogram(
    "personalizer_checkpoint_bytes",
    "Bytes one partition's checkpoint queues to the state changelog, by kind: profiles "
    "(changed profiles and tombstones), engine_core (the learned models but the "
    "co-visitation lists), engine_parts (the co-visitation lists changed since the "
    "partition's previous checkpoint). Grows with activity, not with the catalogue.",
    ["kind"],
    buckets=(1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864),
)
ASSIGNED_PARTITIONS = Gauge(
    "personalizer_assigned_partitions", "Input partitions currently owned by this worker."
)
REBALANCES = Counter(
    "personalizer_rebalances_total",
    "Partition assignments, revocations and losses (kind: assigned, revoked, lost).",
    ["kind"],
)
STATE_USERS = Gauge("personalizer_state_users", "Profiles held by this worker's stores.")
RESTORE_REMAINING = Gauge(
    "personalizer_state_restore_partitions_remaining",
    "Assigned partitions whose state is still being restored from the changelog "
    "(0 when every owned partition is restored).",
)
RESTORED_RECORDS = Counter(
    "personalizer_state_restored_records_total",
    "Changelog records applied to partition stores while restoring.",
)
RESTORE_SECONDS = Histogram(
    "personalizer_state_restore_duration_seconds",
    "Time to restore one partition's store from its changelog.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
READY = Gauge("personalizer_ready", "1 when the data plane is consuming, 0 while starting/rebalancing.")
BUILD = Info("personalizer_build", "Build information.")
BUILD.info({"version": __version__, "python": ".".join(map(str, sys.version_info[:3]))})


# --- update helpers -------------------------------------------------------------------

def record_outputs(out: BatchOutput, source_topic: str, now: float) -> None:
    """Every metric derived from one engine batch's outputs, in one place.

    ``now`` is the wall-clock time (seconds) the outputs are handed to the producer.
    Meant to replace the inline metric updates of ``OutputWriter.write``; calling both
    would count twice.
    """
    # counted per distinct label set first: ``labels()`` costs more than the increment
    decisions: Tally[tuple[str, str]] = Tally()
    assignments: Tally[tuple[str, str]] = Tally()
    pulls: Tally[tuple[str, str, str]] = Tally()
    for d in out.decisions:
        decisions[(d.placement, d.kind)] += 1
        if d.experiment is not None:
            assignments[(d.experiment.experiment_id, d.experiment.arm)] += 1
        if d.variant is not None:
            pulls[(d.variant.policy, d.variant.placement, d.variant.variant_id)] += 1
    for (placement, kind), n in decisions.items():
        DECISIONS.labels(placement, kind).inc(n)
    for (experiment, arm), n in assignments.items():
        EXPERIMENT_ASSIGNMENTS.labels(experiment, arm).inc(n)
    for (policy, placement, variant), n in pulls.items():
        BANDIT_PULLS.labels(policy, placement, variant).inc(n)
    if out.decisions:
        # one latency sample per batch keeps the histogram off the per-event path
        last = datetime.fromisoformat(out.decisions[-1].event_time).timestamp()
        EVENT_TO_DECISION.observe(max(0.0, now - last))
    changes: Tally[tuple[str, str]] = Tally(
        (c.segment_id, c.change) for c in out.segment_changes)
    members: Tally[str] = Tally()
    for (segment, change), n in changes.items():
        SEGMENT_CHANGES.labels(segment, change).inc(n)
        members[segment] += n if change == "entered" else -n
    for segment, delta in members.items():
        SEGMENT_MEMBERS.labels(segment).inc(delta)
    for reason, n in Tally(dl.reason for dl in out.dead_letters).items():
        DEAD_LETTERS.labels(reason).inc(n)
    record_outcomes(out.outcomes, source_topic)


#: Outcome-key prefixes of the offer layer (not consumed-record outcomes).
_OFFER_OUTCOMES = ("feedback_", "attribution_")


def record_outcomes(outcomes: dict[str, int], source_topic: str | None = None) -> None:
    """Count an engine call's outcomes: offer outcomes on their own counter, the others
    per consumed record of ``source_topic`` (None: a call that consumed no record, e.g. a
    new catalogue, has only offer outcomes to count)."""
    for outcome, n in sorted(outcomes.items()):
        if outcome.startswith(_OFFER_OUTCOMES):
            OFFER_FEEDBACK.labels(outcome).inc(n)
        elif source_topic is not None:
            EVENTS.labels(source_topic, outcome).inc(n)


def record_core_time(events: int, seconds: float) -> None:
    """One partition batch of ``events`` took ``seconds`` in the core."""
    if events > 0:
        EVENT_SECONDS.observe(seconds / events)


def record_restore(records_applied: int, seconds: float) -> None:
    """One partition's store was restored from its changelog."""
    RESTORED_RECORDS.inc(records_applied)
    RESTORE_SECONDS.observe(seconds)


def record_reward(policy: str, placement: str, arm: str, reward: float) -> None:
    """Credit ``reward`` to a bandit arm (called by the bandit policy on feedback)."""
    BANDIT_REWARDS.labels(policy, placement, arm).inc(max(0.0, reward))


class _LagSource(Protocol):
    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = ..., cached: bool = ...
    ) -> tuple[int, int] | None: ...

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]: ...


_lag_series: set[tuple[str, str]] = set()


def record_checkpoint_bytes(profiles: Mapping[str, bytes | None], core: bytes | None,
                            parts: Mapping[str, bytes | None]) -> None:
    """Observe what one partition's checkpoint queued to the changelog, by kind."""
    CHECKPOINT_BYTES.labels("profiles").observe(sum(len(v) for v in profiles.values() if v is not None))
    CHECKPOINT_BYTES.labels("engine_core").observe(len(core or b""))
    CHECKPOINT_BYTES.labels("engine_parts").observe(sum(len(v) for v in parts.values() if v is not None))


def record_lag(consumer: _LagSource, partitions: Iterable[tuple[str, int]]) -> None:
    """Set ``personalizer_consumer_lag_records`` for the owned ``(topic, partition)`` pairs.

    Uses the consumer's position and librdkafka's *cached* high watermark (no broker
    round trip, cheap enough for every checkpoint). A partition with no position yet
    (nothing consumed since assignment) or no cached watermark is skipped; series of
    partitions no longer in ``partitions`` are removed, so a revoked partition does not
    keep reporting its last lag.
    """
    from confluent_kafka import TopicPartition

    owned = sorted(set(partitions))
    current: set[tuple[str, str]] = set()
    if owned:
        positions = consumer.position([TopicPartition(t, p) for t, p in owned])
        for tp in positions:
            if tp.offset < 0:  # OFFSET_INVALID: no position yet
                continue
            try:
                marks = consumer.get_watermark_offsets(tp, cached=True)
            except Exception:  # KafkaException, or the partition was just revoked
                continue
            if marks is None or marks[1] < 0:
                continue
            labels = (tp.topic, str(tp.partition))
            CONSUMER_LAG.labels(*labels).set(max(0, marks[1] - tp.offset))
            current.add(labels)
    for labels in sorted(_lag_series - current):
        CONSUMER_LAG.remove(*labels)
    _lag_series.clear()
    _lag_series.update(current)

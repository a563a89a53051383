"""Replay event logs (files or topic ranges) through the live worker's pure core.

- :func:`replay` / :class:`ReplayOptions`: partition like Kafka (murmur2), one engine per
  partition, deterministic output files, erasure honoured, optional evaluation report.
- Sources: :func:`iter_jsonl_records` (JSONL, ``.gz``), :func:`iter_csv_records` with a
  :class:`CsvMapping`, :func:`iter_retail_records` (the real purchase log),
  :func:`iter_topic_records` (a topic range, ``assign()`` only).
- :func:`stage`: filtering, erasure collection and the ordering policy.
- :func:`diff_replays`: what-if comparison of two replays.
"""

from streams.replay.diff import diff_replays
from streams.replay.errors import ReplayInputError
from streams.replay.head import Head, read_head
from streams.replay.kafka import TopicRange, iter_topic_records
from streams.replay.mapping import CsvMapping, MappingError, iter_csv_records
from streams.replay.runner import OUTPUT_FILES, ReplayOptions, ReplaySummary, replay
from streams.replay.sources import RawRecord, iter_jsonl_records, iter_retail_records
from streams.replay.staging import StagedInput, stage

__all__ = [
    "OUTPUT_FILES",
    "CsvMapping",
    "Head",
    "MappingError",
    "RawRecord",
    "ReplayInputError",
    "ReplayOptions",
    "ReplaySummary",
    "StagedInput",
    "TopicRange",
    "diff_replays",
    "iter_csv_records",
    "iter_jsonl_records",
    "iter_retail_records",
    "iter_topic_records",
    "read_head",
    "replay",
    "stage",
]

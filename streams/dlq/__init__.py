"""Dead letters: a parsed view of DLQ records, a group-free reader, and redrive.

``DlqRecord`` / ``parse_dlq_record`` in :mod:`streams.dlq.records`, the reader in
:mod:`streams.dlq.reader`, what ``dlq inspect`` prints in :mod:`streams.dlq.summary`,
re-sending in :mod:`streams.dlq.redrive`. The commands are in
:mod:`streams.commands.dlq`.
"""

from streams.dlq.reader import DlqReader, DlqReadError, dlq_consumer_config, inspect_group_id
from streams.dlq.records import DlqFilter, DlqRecord, parse_dlq_record, parse_time
from streams.dlq.redrive import RedriveError, RedriveReport, redrive, redrive_headers
from streams.dlq.summary import DlqSummary, record_json, record_line

__all__ = [
    "DlqFilter",
    "DlqReadError",
    "DlqReader",
    "DlqRecord",
    "DlqSummary",
    "RedriveError",
    "RedriveReport",
    "dlq_consumer_config",
    "inspect_group_id",
    "parse_dlq_record",
    "parse_time",
    "record_json",
    "record_line",
    "redrive",
    "redrive_headers",
]

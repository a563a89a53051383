"""Per-partition durable state: partition stores (memory, RocksDB), the checkpointed
profile store the engine writes to, and the changelog that makes it recoverable."""

from streams.state.changelog import changelog_topic, produce_checkpoint, restore_partition
from streams.state.checkpointed import CheckpointedStore
from streams.state.memory import MemoryPartitionStore
from streams.state.partition import PartitionStore
from streams.state.rocksdb import RocksPartitionStore

__all__ = [
    "CheckpointedStore",
    "MemoryPartitionStore",
    "PartitionStore",
    "RocksPartitionStore",
    "changelog_topic",
    "produce_checkpoint",
    "restore_partition",
]

"""RocksDB partition store (rocksdict, raw bytes mode: nothing is pickled).

One database per input partition under ``<state_dir>/<group>/<topic>-<partition>``.
Writes go through one ``WriteBatch`` per checkpoint, profiles and metadata together,
so the store is always at a checkpoint boundary.

Memory. RocksDB's defaults are per database: a 64 MiB memtable (two while one is being
flushed) and a block cache each, so a worker's RSS grew by up to ~128 MiB per assigned
partition under steady profile writes before levelling off (benchmarks/memory.py). Here
every store of the process shares one memtable budget (a ``WriteBufferManager`` of
:data:`MEMTABLE_BUDGET_BYTES`, which flushes the largest memtable when the total nears
it) and one LRU block cache of :data:`BLOCK_CACHE_BYTES`, whatever the number of
partitions assigned. Reads of profiles not in the cache come from the OS page cache.

No write-ahead log, as Kafka Streams' RocksDB stores: the changelog topic is the durable
copy. A checkpoint's profiles and its source offset go in one batch, and a batch is never
split between memtables, so after a crash the store holds every batch up to some
checkpoint and nothing after it; the restore reads the changelog from that checkpoint's
offset on (it would anyway: a store is only ever as recent as its offset says). A clean
close flushes the memtables, so a restart after a clean stop reads no changelog at all.
The WAL cost about 80% of each checkpoint's local write (1.9 of 2.3 ms for 640 profiles
of 2.2 KB).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch, WriteBufferManager, WriteOptions

_USER = b"u:"
_META = b"m:"

#: Memtables of all the process's partition stores together.
MEMTABLE_BUDGET_BYTES = 64 * 2**20
#: One memtable of one store (RocksDB flushes it to an SST file when full).
WRITE_BUFFER_BYTES = 16 * 2**20
#: The block cache shared by all the process's partition stores.
BLOCK_CACHE_BYTES = 32 * 2**20

_shared: dict[tuple[int, int], tuple[WriteBufferManager, Cache]] = {}
_shared_lock = threading.Lock()


def _shared_memory(memtable_budget_bytes: int, block_cache_bytes: int) -> tuple[WriteBufferManager, Cache]:
    """The process's memtable budget and block cache of these sizes, created on first use."""
    key = (memtable_budget_bytes, block_cache_bytes)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = (WriteBufferManager(memtable_budget_bytes, False), Cache(block_cache_bytes))
        return _shared[key]


def store_options(
    write_buffer_bytes: int = WRITE_BUFFER_BYTES, memtable_budget_bytes: int = MEMTABLE_BUDGET_BYTES,
    block_cache_bytes: int = BLOCK_CACHE_BYTES,
) -> Options:
    """rocksdict options of a partition store: raw bytes, bounded memory shared by every
    store opened with the same sizes (the defaults are the worker's)."""
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(write_buffer_bytes)
    options.set_max_write_buffer_number(2)
    manager, cache = _shared_memory(memtable_budget_bytes, block_cache_bytes)
    options.set_write_buffer_manager(manager)
    table = BlockBasedOptions()
    table.set_block_cache(cache)
    options.set_block_based_table_factory(table)
    return options


class RocksPartitionStore:
    def __init__(self, path: Path, options: Options | None = None) -> None:
        """``options``: default :func:`store_options` (the worker's)."""
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = Rdict(str(path), options=options if options is not None else store_options())
        no_wal = WriteOptions()
        # the changelog is the durable copy (see the module doc); a property at runtime,
        # which rocksdict's stub declares as a method
        no_wal.disable_wal = True  # type: ignore[method-assign,assignment]
        self._db.set_write_options(no_wal)
        self._count = self._scan_count()

    def _scan_count(self) -> int:
        n = 0
        it = self._db.iter()
        it.seek(_USER)
        while it.valid() and it.key().startswith(_USER):
            n += 1
            it.next()
        return n

    def get(self, user_id: str) -> bytes | None:
        value = self._db.get(_USER + user_id.encode())
        return value

    def items(self) -> Iterator[tuple[str, bytes]]:
        return self._scan(_USER, len(_USER))

    def _scan(self, start: bytes, strip: int) -> Iterator[tuple[str, bytes]]:
        """The entries whose key starts with ``start``, in key order, the key's first
        ``strip`` bytes left off."""
        it = self._db.iter()
        it.seek(start)
        while it.valid():
            key = it.key()
            if not key.startswith(start):
                break
            yield key[strip:].decode(), it.value()
            it.next()

    def count(self) -> int:
        return self._count

    def get_meta(self, name: str) -> bytes | None:
        meta: bytes | None = self._db.get(_META + name.encode())
        return meta

    def meta_items(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        return self._scan(_META + prefix.encode(), len(_META))

    def apply(self, updates: Mapping[str, bytes | None], meta: Mapping[str, bytes | None],
              known: Mapping[str, bool] | None = None) -> None:
        batch = WriteBatch(raw_mode=True)
        known = known or {}
        db = self._db
        for user, value in updates.items():
            key = _USER + user.encode()
            existed = known.get(user)
            if existed is None:
                existed = db.key_may_exist(key) and db.get(key) is not None
            if value is None:
                if existed:
                    self._count -= 1
                batch.delete(key)
            else:
                if not existed:
                    self._count += 1
                batch.put(key, value)
        for name, value in meta.items():
            if value is None:
                batch.delete(_META + name.encode())
            else:
                batch.put(_META + name.encode(), value)
        self._db.write(batch)

    def destroy(self) -> None:
        """Close the store and delete its files."""
        self._db.close()
        Rdict.destroy(str(self.path))
        shutil.rmtree(self.path, ignore_errors=True)

    def close(self) -> None:
        self._db.flush(wait=True)  # no WAL: the memtables reach disk here, or are restored
        self._db.close()

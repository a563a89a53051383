"""RocksDB partition store (rocksdict, raw bytes mode: nothing is pickled).

One database per input partition under ``<state_dir>/<group>/<topic>-<partition>``.
Writes go through one ``WriteBatch`` per checkpoint, profiles and metadata together,
so the store is always at a checkpoint boundary.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from rocksdict import Options, Rdict, WriteBatch

_USER = b"u:"
_META = b"m:"


class RocksPartitionStore:
    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        self.path = path
        self._db = Rdict(str(path), options=options)
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
        return value  # type: ignore[no-any-return]

    def items(self) -> Iterator[tuple[str, bytes]]:
        it = self._db.iter()
        it.seek(_USER)
        while it.valid():
            key = it.key()
            if not key.startswith(_USER):
                break
            yield key[len(_USER):].decode(), it.value()
            it.next()

    def count(self) -> int:
        return self._count

    def get_meta(self, name: str) -> bytes | None:
        return self._db.get(_META + name.encode())  # type: ignore[no-any-return]

    def apply(self, updates: Mapping[str, bytes | None], meta: Mapping[str, bytes]) -> None:
        batch = WriteBatch(raw_mode=True)
        for user, value in updates.items():
            key = _USER + user.encode()
            existed = self._db.key_may_exist(key) and self._db.get(key) is not None
            if value is None:
                if existed:
                    self._count -= 1
                batch.delete(key)
            else:
                if not existed:
                    self._count += 1
                batch.put(key, value)
        for name, value in meta.items():
            batch.put(_META + name.encode(), value)
        self._db.write(batch)

    def close(self) -> None:
        self._db.close()

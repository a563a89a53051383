"""In-memory partition store (tests, demos): the same contract as the RocksDB one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class MemoryPartitionStore:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._meta: dict[str, bytes] = {}

    def get(self, user_id: str) -> bytes | None:
        return self._data.get(user_id)

    def items(self) -> Iterator[tuple[str, bytes]]:
        return iter(sorted(self._data.items()))

    def count(self) -> int:
        return len(self._data)

    def get_meta(self, name: str) -> bytes | None:
        return self._meta.get(name)

    def meta_items(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        return iter(sorted((k, v) for k, v in self._meta.items() if k.startswith(prefix)))

    def apply(self, updates: Mapping[str, bytes | None], meta: Mapping[str, bytes | None],
              known: Mapping[str, bool] | None = None) -> None:
        for key, value in updates.items():
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = value
        for name, data in meta.items():
            if data is None:
                self._meta.pop(name, None)
            else:
                self._meta[name] = data

    def close(self) -> None:
        pass

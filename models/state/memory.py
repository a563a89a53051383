"""An in-memory profile store, for tests and replays that fit in RAM."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from models.profiles.profile import Profile


class MemoryStore:
    """Dict-backed :class:`~models.state.store.ProfileStore`.

    >>> s = MemoryStore()
    >>> s.write_many({"u1": None})
    >>> len(s)
    0
    """

    def __init__(self) -> None:
        self._data: dict[str, Profile] = {}

    def get(self, user_id: str) -> Profile | None:
        return self._data.get(user_id)

    def write_many(self, updates: Mapping[str, Profile | None]) -> None:
        for key, profile in updates.items():
            if profile is None:
                self._data.pop(key, None)
            else:
                self._data[key] = profile

    def items(self) -> Iterator[tuple[str, Profile]]:
        return iter(sorted(self._data.items()))

    def __len__(self) -> int:
        return len(self._data)

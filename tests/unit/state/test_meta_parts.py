"""Both partition stores keep named metadata parts: listed by prefix in name order,
deleted by ``None``, written in the same batch as the profiles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.state.memory import MemoryPartitionStore
from streams.state.partition import META_ENGINE_PART, META_ENGINE_STATE, PartitionStore
from streams.state.rocksdb import RocksPartitionStore


@pytest.fixture(params=["memory", "rocksdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PartitionStore]:
    s: PartitionStore = (MemoryPartitionStore() if request.param == "memory"
                         else RocksPartitionStore(tmp_path / "db"))
    yield s
    s.close()


def test_parts_listed_by_prefix_and_deleted_by_none(store: PartitionStore) -> None:
    store.apply({"u1": b"p1"}, {META_ENGINE_STATE: b"core", META_ENGINE_PART + "cv:b": b"2",
                                META_ENGINE_PART + "cv:a": b"1"})
    assert list(store.meta_items(META_ENGINE_PART)) == [
        (META_ENGINE_PART + "cv:a", b"1"), (META_ENGINE_PART + "cv:b", b"2")]
    store.apply({}, {META_ENGINE_PART + "cv:a": None, META_ENGINE_PART + "cv:c": b"3"})
    assert [v for _, v in store.meta_items(META_ENGINE_PART)] == [b"2", b"3"]
    assert store.get_meta(META_ENGINE_STATE) == b"core" and store.get("u1") == b"p1"
    assert dict(store.items()) == {"u1": b"p1"}  # parts are not users

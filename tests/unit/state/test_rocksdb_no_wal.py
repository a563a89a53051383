"""The RocksDB partition store writes without a WAL (the changelog is the durable copy):
a process killed without closing it reopens at a checkpoint boundary, never between two;
a clean close keeps everything."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from streams.state.partition import META_SOURCE_OFFSET
from streams.state.rocksdb import RocksPartitionStore

USERS = 2000


def test_killed_without_close_reopens_at_a_checkpoint_boundary(tmp_path: Path) -> None:
    # each batch rewrites every user with its number and records it as the source offset;
    # 12 batches of ~4.4 MB fill several 16 MB memtables: some reach disk, the last do not
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from streams.state.rocksdb import RocksPartitionStore
        store = RocksPartitionStore(Path({str(tmp_path / "db")!r}))
        for n in range(1, 13):
            value = str(n).encode().ljust(2200, b".")
            profiles = {{f"user-{{i}}": value for i in range({USERS})}}
            store.apply(profiles, {{"source_offset": str(n).encode()}})
        os._exit(0)  # no close, no flush: as kill -9
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    store = RocksPartitionStore(tmp_path / "db")
    try:
        offset = store.get_meta(META_SOURCE_OFFSET)
        values = {raw.split(b".")[0] for _, raw in store.items()}
        if offset is None:
            assert values == set() and store.count() == 0
        else:
            assert int(offset) < 12, "the last batches were only in the memtable"
            assert values == {offset}, "every profile is from the checkpoint the offset names"
            assert store.count() == USERS
    finally:
        store.close()


def test_a_clean_close_keeps_every_checkpoint(tmp_path: Path) -> None:
    store = RocksPartitionStore(tmp_path / "db")
    store.apply({"u1": b"a", "u2": b"b"}, {META_SOURCE_OFFSET: b"5"})
    store.apply({"u2": None, "u3": b"c"}, {META_SOURCE_OFFSET: b"9"}, known={"u2": True})
    store.close()
    again = RocksPartitionStore(tmp_path / "db")
    try:
        assert dict(again.items()) == {"u1": b"a", "u3": b"c"}
        assert again.get_meta(META_SOURCE_OFFSET) == b"9" and again.count() == 2
    finally:
        again.close()

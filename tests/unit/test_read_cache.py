"""The hot-path read cache never serves data older than the last commit of any connection."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from hsmkms.store.read_cache import ReadCache


def test_any_commit_anywhere_invalidates(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)")
    writer.execute("INSERT INTO t VALUES ('a', 'one')")
    writer.commit()
    reader = sqlite3.connect(db)
    loads = []

    def load() -> str | None:
        loads.append(1)
        row = reader.execute("SELECT v FROM t WHERE id = 'a'").fetchone()
        return None if row is None else str(row[0])

    cache = ReadCache(str(db))
    assert cache.get("t", "a", load) == "one"
    assert cache.get("t", "a", load) == "one" and len(loads) == 1  # served from the cache
    writer.execute("UPDATE t SET v = 'two'")
    writer.commit()
    assert cache.get("t", "a", load) == "two"  # a commit by another connection
    code = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE t SET v = 'three'\"); c.commit()"
    subprocess.run([sys.executable, "-c", code, str(db)], check=True)
    assert cache.get("t", "a", load) == "three"  # a commit by another process
    assert cache.get("t", "missing", lambda: None) is None

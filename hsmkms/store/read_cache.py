"""Strongly consistent caching of hot-path reads on SQLite.

Each thread keeps its own read-only sqlite3 connection and asks it `PRAGMA data_version` on every
lookup: the value changes whenever any other connection — of this process or any other —
commits to the database. A change empties the thread's cache, so a cached object is only ever
served while nothing at all has been committed since it was read. The check costs a few
microseconds; reading and converting a key costs a hundred.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 4096


@dataclass
class _ThreadState:
    connection: sqlite3.Connection
    data_version: int = -1
    entries: dict[tuple[str, str], Any] = field(default_factory=dict)


class ReadCache:
    def __init__(self, database: str) -> None:
        self._database = database
        self._local = threading.local()

    def _state(self) -> _ThreadState:
        state: _ThreadState | None = getattr(self._local, "state", None)
        if state is None:
            connection = sqlite3.connect(self._database, isolation_level=None)
            connection.execute("PRAGMA query_only=1")
            state = self._local.state = _ThreadState(connection)
        return state

    def get(self, kind: str, id_: str, load: Callable[[], T | None]) -> T | None:
        state = self._state()
        (version,) = state.connection.execute("PRAGMA data_version").fetchone()
        if version != state.data_version:
            state.entries.clear()
            state.data_version = version
        key = (kind, id_)
        if key in state.entries:
            value: T = state.entries[key]
            return value
        loaded = load()
        if loaded is not None:  # misses are not cached: callers choose the IDs
            if len(state.entries) >= MAX_ENTRIES:
                state.entries.clear()
            state.entries[key] = loaded
        return loaded

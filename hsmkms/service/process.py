"""Which process owns an in-flight change, and whether that process is still alive."""

from __future__ import annotations

import os
import socket
from functools import cache


def _start_ticks(pid: int) -> str | None:
    """The process start time in clock ticks (field 22 of /proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are space-separated.
    return stat.rsplit(")", 1)[1].split()[19]


@cache
def process_owner() -> str:
    """host:pid:start — unique to this process even when PIDs are reused."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or 0}"


def owner_is_gone(owner: str) -> bool | None:
    """True if `owner` was a process on this host that no longer runs; None if unknowable."""
    try:
        host, pid, start = owner.rsplit(":", 2)
        pid_number = int(pid)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    return _start_ticks(pid_number) != start

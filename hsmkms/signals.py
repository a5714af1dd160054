"""Stop requests from SIGTERM and SIGINT, safe however many signals arrive and when.

A Python signal handler runs in the main thread between two bytecodes, possibly while that
thread is inside a lock it would need (threading.Event.set takes one): a handler that touches
a lock can deadlock when a second signal arrives during the first. The handler here only
assigns a flag; the main thread polls it.
"""

from __future__ import annotations

import signal
import time

POLL_SECONDS = 0.2


class StopRequest:
    def __init__(self) -> None:
        self.requested = False

    def install(self) -> StopRequest:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested (or `timeout` passes); True if requested."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.requested:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)
        return True

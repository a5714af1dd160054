"""Server processes for the benchmark: start, wait until listening, measure CPU, stop."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

_LISTENING = re.compile(r"listening on (\d+\.\d+\.\d+\.\d+:\d+)")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark cannot continue or its results cannot be trusted."""


def _session_processes(session_id: int) -> dict[int, int]:
    """PID → user + system CPU ticks (including reaped children) of each process in a session."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        # Fields after "(comm)": state ppid pgrp session ... utime(14) stime cutime cstime(17).
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[3]) == session_id:
            found[int(entry.name)] = sum(int(f) for f in fields[11:15])
    return found


def session_cpu_seconds(session_id: int) -> float:
    """CPU time of every live process in a session, including their reaped children.

    Each server runs in its own session (start_new_session), so this covers a pre-forked server's
    workers too, whatever their parent, and nothing else on the machine.
    """
    return sum(_session_processes(session_id).values()) / _CLOCK_TICKS


@dataclass
class Service:
    """A server process (and its children) logging `... listening on HOST:PORT`."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    address: str = ""

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def wait_listening(self, timeout: float = 60.0) -> str:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_text())
            if match:
                self.address = match.group(1)
                return self.address
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited early:\n{self.log_tail()}")
            time.sleep(0.05)
        raise BenchError(f"{self.name} did not start within {timeout:.0f} s:\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return session_cpu_seconds(self.process.pid)

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise BenchError(f"{self.name} is not running:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait; SIGKILL the whole session if it does not stop in time."""
        process, self.process = self.process, None
        if process is None:
            return
        pgid = process.pid  # session leader, hence also its process group's ID
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                process.wait(timeout)
        # Workers that outlived their parent (same session and process group).
        if _session_processes(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)

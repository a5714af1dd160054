"""Several server processes on one port (SO_REUSEPORT), each with its own PKCS#11 module.

The supervisor never loads the PKCS#11 module itself: workers are spawned as fresh
interpreters (a forked copy of an initialised module is unusable), get their settings through
a pipe (the PIN never appears on a command line), and die with the supervisor (PDEATHSIG).
A worker that exits unexpectedly is restarted. Worker 0 also reconciles at start and runs the
scheduler; the store's conditional updates keep scheduled work exactly-once in any case.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Any

from hsmkms.config import Settings
from hsmkms.signals import StopRequest

log = logging.getLogger(__name__)

READY_TIMEOUT = 120.0
RESTART_DELAY = 1.0
_PR_SET_PDEATHSIG = 1


def _reserve_port(listen: str) -> tuple[socket.socket, int]:
    """Bind (without listening) a SO_REUSEPORT socket to pick the port workers will share."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    family, kind, proto, _, address = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[
        0
    ]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock, sock.getsockname()[1]


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _worker(settings: Settings, index: int, parent: int, log_level: int, ready: Any) -> None:
    _die_with_parent(parent)
    logging.basicConfig(
        level=log_level,
        format=f"%(asctime)s %(levelname)s w{index} %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from hsmkms import errors, server

    try:
        server.run_worker(
            settings, lambda port: ready.put((index, port)), primary=index == 0, reuse_port=True
        )
    except (errors.KmsError, RuntimeError, OSError) as exc:
        message = exc.message if isinstance(exc, errors.KmsError) else str(exc)
        log.error("worker %d failed: %s", index, message)
        sys.exit(2)


class Supervisor:
    def __init__(self, settings: Settings, workers: int) -> None:
        self._settings = settings
        self._workers = workers
        self._context = multiprocessing.get_context("spawn")
        self._ready = self._context.Queue()
        self._processes: dict[int, Any] = {}
        self._stop = StopRequest()

    def _spawn(self, index: int, settings: Settings) -> None:
        process = self._context.Process(
            target=_worker,
            args=(settings, index, os.getpid(), logging.getLogger().level, self._ready),
            name=f"hsmkms-worker-{index}",
        )
        process.start()
        self._processes[index] = process

    def run(self) -> None:
        from dataclasses import replace

        from hsmkms.server import describe

        self._stop.install()
        metrics_dir = None
        if self._settings.metrics_listen:
            # Workers record into files here; the supervisor serves their sum.
            metrics_dir = tempfile.mkdtemp(prefix="hsmkms-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            from hsmkms import metrics

            metrics.serve(self._settings.metrics_listen)
        reservation, port = _reserve_port(self._settings.listen)
        host = self._settings.listen.rpartition(":")[0]
        settings = replace(self._settings, listen=f"{host}:{port}")
        rest_reservation = None
        if settings.rest_listen:
            rest_reservation, rest_port = _reserve_port(settings.rest_listen)
            rest_host = settings.rest_listen.rpartition(":")[0]
            settings = replace(settings, rest_listen=f"{rest_host}:{rest_port}")
        try:
            for index in range(self._workers):
                self._spawn(index, settings)
            self._await_ready()
            log.info("%s", describe(settings, port, self._workers))
            self._watch(settings)
        finally:
            self._shutdown()
            reservation.close()
            if rest_reservation is not None:
                rest_reservation.close()
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        log.info("stopped")

    def _await_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        pending = set(self._processes)
        while pending:
            if self._stop.requested:
                raise SystemExit(0)
            for index in list(pending):
                if not self._processes[index].is_alive():
                    raise RuntimeError(f"worker {index} exited during start-up")
            try:
                index, _ = self._ready.get(timeout=0.2)
                pending.discard(index)
            except Exception:  # queue.Empty
                if time.monotonic() > deadline:
                    raise RuntimeError("workers did not start in time") from None

    def _watch(self, settings: Settings) -> None:
        while not self._stop.requested:
            sentinels = {p.sentinel: i for i, p in self._processes.items()}
            for sentinel in multiprocessing.connection.wait(list(sentinels), timeout=0.5):
                index = sentinels[sentinel]
                if self._stop.requested:
                    break
                code = self._processes[index].exitcode
                log.error("worker %d exited (%s); restarting", index, code)
                if self._settings.metrics_listen and self._processes[index].pid is not None:
                    from hsmkms import metrics

                    metrics.worker_exited(self._processes[index].pid)
                time.sleep(RESTART_DELAY)
                self._spawn(index, settings)

    def _shutdown(self) -> None:
        for process in self._processes.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._settings.grace_seconds + 10
        for process in self._processes.values():
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)

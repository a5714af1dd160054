"""Prometheus metrics, served on their own port (`--metrics-listen`, `[metrics] listen`).

With several workers, every worker records into files under PROMETHEUS_MULTIPROC_DIR (set by
the supervisor before the workers start) and the supervisor serves their sum; a lone server
serves its own registry. Metric names and labels carry no secrets: methods, status codes,
operation names, key version IDs.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("hsmkms_requests_total", "gRPC calls served", ["method", "code"])
REQUEST_SECONDS = Histogram(
    "hsmkms_request_duration_seconds",
    "Time to serve a gRPC call",
    ["method"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
HSM_SECONDS = Histogram(
    "hsmkms_hsm_operation_duration_seconds",
    "Time of a PKCS#11 operation, waiting for the module lock included",
    ["operation"],
    buckets=(0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25),
)
HSM_RECONNECTS = Counter("hsmkms_hsm_reconnects_total", "Sessions reopened after a failure")
HSM_SESSIONS = Gauge(
    "hsmkms_hsm_sessions_open",
    "Logged-in PKCS#11 sessions (one per healthy worker)",
    multiprocess_mode="livesum",
)
VERSION_ENCRYPTIONS = Gauge(
    "hsmkms_key_version_encryptions",
    "AES-GCM encryptions recorded per key version (the nonce budget in use)",
    ["version_id"],
    multiprocess_mode="max",
)
KEYS = Gauge("hsmkms_keys", "Keys in the store (deleted ones excluded)", multiprocess_mode="max")


def observe_hsm(operation: str, seconds: float) -> None:
    HSM_SECONDS.labels(operation).observe(seconds)


def serve(listen: str) -> Any:
    """Start the /metrics HTTP endpoint on `listen` (host:port); returns the server."""
    host, _, port = listen.rpartition(":")
    registry: CollectorRegistry | None = None
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    server, _thread = start_http_server(
        int(port), addr=host.strip("[]"), registry=registry or _default_registry()
    )
    return server


def _default_registry() -> CollectorRegistry:
    from prometheus_client import REGISTRY

    return REGISTRY


def worker_exited(pid: int) -> None:
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.mark_process_dead(pid)

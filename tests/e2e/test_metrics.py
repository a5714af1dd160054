"""Prometheus metrics on their own port, summed over worker processes."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DevServer, create_key, decrypt, encrypt, wait_for
from prometheus_client.parser import text_string_to_metric_families

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_grpc

ENCRYPT = "yandex.cloud.kms.v1.SymmetricCryptoService/Encrypt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(params=["1", "2"], ids=["one-worker", "two-workers"])
def metered(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[DevServer, int]]:
    port = free_port()
    dev = DevServer(
        tmp_path / "data",
        tmp_path / "server.log",
        extra_args=("--workers", request.param, "--metrics-listen", f"127.0.0.1:{port}"),
    )
    dev.start()
    yield dev, port
    if dev.process is not None:
        dev.stop()


def test_metrics_count_calls_and_describe_the_hsm(metered: tuple[DevServer, int]) -> None:
    server, port = metered
    workers = int(server.extra_args[1])
    channels = [server.channel() for _ in range(6)]
    try:
        key = create_key(key_grpc.SymmetricKeyServiceStub(channels[0]))
        for i in range(30):
            crypto = crypto_grpc.SymmetricCryptoServiceStub(channels[i % 6])
            assert (
                decrypt(crypto, key.id, encrypt(crypto, key.id, b"m").ciphertext).plaintext == b"m"
            )
    finally:
        for ch in channels:
            ch.close()

    def flushed() -> dict:
        samples = scrape(port)
        used = value(samples, "hsmkms_key_version_encryptions", version_id=key.primary_version.id)
        return samples if used >= 30 else {}

    samples = wait_for(flushed, timeout=15)
    assert value(samples, "hsmkms_requests_total", method=ENCRYPT, code="OK") == 30
    assert value(samples, "hsmkms_request_duration_seconds_count", method=ENCRYPT) == 30
    assert value(samples, "hsmkms_hsm_operation_duration_seconds_count", operation="encrypt") >= 30
    assert value(samples, "hsmkms_keys") >= 1
    assert value(samples, "hsmkms_hsm_sessions_open") == workers

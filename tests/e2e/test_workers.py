"""Several worker processes on one port, health checking, and the nonce budget."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import DevServer, create_key, decrypt, encrypt, expect, serve_config, wait_for
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_grpc


def workers_of(server: DevServer) -> list[int]:
    assert server.process is not None
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(server.process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    pids = [int(p) for p in out.split()]
    # multiprocessing also runs a resource tracker; workers are the spawned interpreters.
    return [p for p in pids if b"spawn_main" in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def audit_pids(server: DevServer, key_id: str) -> set[int]:
    lines = (server.data_dir / "audit.log").read_text().splitlines()
    return {json.loads(line)["pid"] for line in lines if key_id in line}


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[DevServer]:
    dev = DevServer(tmp_path / "data", tmp_path / "server.log", extra_args=("--workers", "2"))
    dev.start()
    yield dev
    if dev.process is not None:
        dev.stop()


def test_health_reports_serving(server: DevServer, channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in (
        "",
        "yandex.cloud.kms.v1.SymmetricCryptoService",
        "yandex.cloud.kms.v1.SymmetricKeyService",
    ):
        response = stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_changes_through_one_worker_are_seen_by_the_next_call_on_any(
    two_workers: DevServer,
) -> None:
    assert len(workers_of(two_workers)) == 2
    channels = [
        two_workers.channel() for _ in range(12)
    ]  # separate connections spread over workers
    try:
        keys = [key_grpc.SymmetricKeyServiceStub(ch) for ch in channels]
        crypto = [crypto_grpc.SymmetricCryptoServiceStub(ch) for ch in channels]
        key = create_key(keys[0])
        for i in range(12):
            ct = encrypt(crypto[i], key.id, b"v%d" % i).ciphertext
            j = (i + 1) % 12
            assert decrypt(crypto[j], key.id, ct).plaintext == b"v%d" % i
            rotated = key_pb.SymmetricKey()
            keys[i].Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id)).response.Unpack(rotated)
            assert encrypt(crypto[j], key.id, b"x").version_id == rotated.primary_version.id
        mask = field_mask_pb2.FieldMask(paths=["status"])
        keys[3].Update(
            ks.UpdateSymmetricKeyRequest(
                key_id=key.id, update_mask=mask, status=key_pb.SymmetricKey.INACTIVE
            )
        )
        for c in crypto:
            expect(grpc.StatusCode.FAILED_PRECONDITION, lambda c=c: encrypt(c, key.id, b"x"))
        assert len(audit_pids(two_workers, key.id)) == 2, "both workers served calls"
    finally:
        for ch in channels:
            ch.close()


def test_a_killed_worker_is_replaced(two_workers: DevServer) -> None:
    victim = workers_of(two_workers)[1]
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: len(workers_of(two_workers)) == 2 and victim not in workers_of(two_workers),
        timeout=30,
    )
    wait_for(
        lambda: (
            two_workers.log_text().count("hsmkms.server: connected") >= 0
            and "restarting" in two_workers.log_text()
        )
    )

    def works() -> bool:
        try:
            with two_workers.channel() as ch:
                create_key(key_grpc.SymmetricKeyServiceStub(ch))
            return True
        except grpc.RpcError:
            return False

    wait_for(works, timeout=30)
    assert two_workers.stop() == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in [victim])


def test_killing_the_supervisor_takes_the_workers_down(two_workers: DevServer) -> None:
    pids = workers_of(two_workers)
    two_workers.stop(signal.SIGKILL)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), timeout=10)


@pytest.fixture
def budget_server(server: DevServer, tmp_path: Path) -> Iterator[DevServer]:
    config = serve_config(
        tmp_path,
        server,
        extra="""
[lifecycle]
nonce_rotation_threshold = 20
encryption_limit = 40
""",
    )
    dev = DevServer(
        tmp_path,
        tmp_path / "serve.log",
        command=("serve", "--config", str(config), "--workers", "2"),
    )
    dev.start()
    yield dev
    if dev.process is not None:
        dev.stop()


def test_nonce_budget_rotates_and_then_refuses(budget_server: DevServer) -> None:
    channels = [budget_server.channel() for _ in range(4)]
    try:
        keys = key_grpc.SymmetricKeyServiceStub(channels[0])
        crypto = [crypto_grpc.SymmetricCryptoServiceStub(ch) for ch in channels]
        key = create_key(keys)
        first = key.primary_version.id
        ciphertexts = [encrypt(crypto[i % 4], key.id, b"n%d" % i).ciphertext for i in range(25)]

        def rotated() -> Any:
            got = keys.Get(ks.GetSymmetricKeyRequest(key_id=key.id))
            return got.primary_version.id != first and got

        new = wait_for(rotated, timeout=15)
        ops = keys.ListOperations(ks.ListSymmetricKeyOperationsRequest(key_id=key.id)).operations
        assert [o.description for o in ops].count("Rotate symmetric key (encryption limit)") == 1
        for i, ct in enumerate(ciphertexts):
            assert decrypt(crypto[i % 4], key.id, ct).plaintext == b"n%d" % i
        # The exhausted version still decrypts but stops encrypting at the limit.
        refused = None
        for i in range(200):
            try:
                encrypt(crypto[i % 4], key.id, b"x", version_id=first)
            except grpc.RpcError as err:
                refused = err
                break
            time.sleep(0.02)
        assert refused is not None and refused.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "limit" in refused.details()
        assert encrypt(crypto[0], key.id, b"x").version_id == new.primary_version.id
    finally:
        for ch in channels:
            ch.close()

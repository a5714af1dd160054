"""Restarts, kills and concurrent load against a server on its own data directory."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import DevServer, create_key, decrypt, encrypt

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_grpc
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2 as ops
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2_grpc as op_grpc


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[DevServer]:
    dev = DevServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log")
    dev.start()
    yield dev
    if dev.process is not None:
        dev.stop(signal.SIGKILL)


def test_data_dir_layout_and_secret_modes(own_server: DevServer) -> None:
    for name in ("user.pin", "so.pin"):
        assert (own_server.data_dir / name).stat().st_mode & 0o777 == 0o600
    assert (own_server.data_dir / "softhsm2.conf").exists()
    assert (own_server.data_dir / "hsmkms.db").exists()
    log = own_server.log_text()
    for name in ("user.pin", "so.pin"):
        assert (own_server.data_dir / name).read_text().strip() not in log


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_restart_keeps_every_key(own_server: DevServer, stop_signal: int) -> None:
    with own_server.channel() as ch:
        keys = key_grpc.SymmetricKeyServiceStub(ch)
        crypto = crypto_grpc.SymmetricCryptoServiceStub(ch)
        key = create_key(keys, key_pb.AES_128)
        rotate_op = keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id))
        ciphertexts = [encrypt(crypto, key.id, b"p%d" % i, b"aad").ciphertext for i in range(5)]
        before = keys.Get(ks.GetSymmetricKeyRequest(key_id=key.id))

    code = own_server.stop(stop_signal)
    if stop_signal == signal.SIGTERM:
        assert code == 0, own_server.log_text()
        assert "stopped" in own_server.log_text()
    own_server.start()

    with own_server.channel() as ch:
        keys = key_grpc.SymmetricKeyServiceStub(ch)
        crypto = crypto_grpc.SymmetricCryptoServiceStub(ch)
        operations = op_grpc.OperationServiceStub(ch)
        assert keys.Get(ks.GetSymmetricKeyRequest(key_id=key.id)) == before
        assert operations.Get(ops.GetOperationRequest(operation_id=rotate_op.id)) == rotate_op
        for i, ct in enumerate(ciphertexts):
            assert decrypt(crypto, key.id, ct, b"aad").plaintext == b"p%d" % i
        # The pre-rotation version decrypts too after the restart.
        old = encrypt(crypto, key.id, b"old", version_id=key.primary_version.id)
        assert decrypt(crypto, key.id, old.ciphertext).version_id == key.primary_version.id


def test_graceful_shutdown_finishes_in_flight_calls(own_server: DevServer) -> None:
    with own_server.channel() as ch:
        keys = key_grpc.SymmetricKeyServiceStub(ch)
        crypto = crypto_grpc.SymmetricCryptoServiceStub(ch)
        key = create_key(keys)
        futures = [
            crypto.Encrypt.future(
                c.SymmetricEncryptRequest(key_id=key.id, plaintext=os.urandom(32768))
            )
            for _ in range(200)
        ]
        assert own_server.process is not None
        own_server.process.send_signal(signal.SIGTERM)
        results = []
        for f in futures:
            try:
                results.append(f.result(timeout=30))
            except grpc.RpcError as err:
                # Calls the server had not yet accepted when it stopped are refused or cancelled
                # (the client may retry them); none may fail any other way.
                assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    assert own_server.process.wait(30) == 0
    assert results and all(r.key_id == key.id for r in results)


def test_concurrent_clients_never_crash_the_token(own_server: DevServer) -> None:
    """32 clients mixing every crypto call with Create and Rotate; every result is checked.

    python-pkcs11 initialises the module without locking, so unsynchronised calls from the
    server's threads would corrupt SoftHSM2's heap and abort the process.
    """
    clients, deadline = 32, time.monotonic() + 10
    errors: list[str] = []
    calls = [0]
    lock = threading.Lock()
    channels = [own_server.channel() for _ in range(8)]  # spread over every worker process
    try:
        shared = [create_key(key_grpc.SymmetricKeyServiceStub(channels[0])) for _ in range(3)]

        def client(n: int) -> None:
            rng = random.Random(n)
            keys = key_grpc.SymmetricKeyServiceStub(channels[n % 8])
            crypto = crypto_grpc.SymmetricCryptoServiceStub(channels[n % 8])
            try:
                while time.monotonic() < deadline:
                    key = rng.choice(shared)
                    plaintext, aad = os.urandom(rng.randint(1, 2048)), b"c%d" % n
                    action = rng.randrange(6)
                    if action == 0 and n % 8 == 0:
                        keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id))
                    elif action == 1 and n % 8 == 1:
                        create_key(keys)
                    elif action == 2:
                        dk = crypto.GenerateDataKey(
                            c.GenerateDataKeyRequest(key_id=key.id, aad_context=aad)
                        )
                        got = decrypt(crypto, key.id, dk.data_key_ciphertext, aad).plaintext
                        assert got == dk.data_key_plaintext
                    elif action == 3:
                        target = rng.choice(shared)
                        ct = encrypt(crypto, key.id, plaintext, aad).ciphertext
                        r = crypto.ReEncrypt(
                            c.SymmetricReEncryptRequest(
                                key_id=target.id,
                                source_key_id=key.id,
                                source_aad_context=aad,
                                aad_context=b"t",
                                ciphertext=ct,
                            )
                        )
                        assert decrypt(crypto, target.id, r.ciphertext, b"t").plaintext == plaintext
                    else:
                        ct = encrypt(crypto, key.id, plaintext, aad).ciphertext
                        assert decrypt(crypto, key.id, ct, aad).plaintext == plaintext
                    with lock:
                        calls[0] += 1
            except Exception as exc:
                with lock:
                    errors.append(f"client {n}: {exc!r}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for ch in channels:
            ch.close()
    assert not errors, errors[:5]
    assert calls[0] > 100
    assert own_server.process is not None and own_server.process.poll() is None
    log = own_server.log_text()
    assert "ERROR" not in log and "Traceback" not in log, log[-2000:]


def test_kill_during_burst_loses_nothing_acknowledged(own_server: DevServer) -> None:
    acknowledged: list[tuple[str, bytes, bytes]] = []
    created: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with own_server.channel() as ch:
        keys = key_grpc.SymmetricKeyServiceStub(ch)
        crypto = crypto_grpc.SymmetricCryptoServiceStub(ch)
        seed = [create_key(keys) for _ in range(2)]

        def worker(n: int) -> None:
            rng = random.Random(n)
            while not stop.is_set():
                try:
                    if n % 4 == 0:
                        key = create_key(keys)
                        with lock:
                            created.append(key.id)
                    elif n % 4 == 1:
                        keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=rng.choice(seed).id))
                    else:
                        key_id, plaintext = rng.choice(seed).id, os.urandom(32)
                        ct = encrypt(crypto, key_id, plaintext, b"burst").ciphertext
                        with lock:
                            acknowledged.append((key_id, ct, plaintext))
                except grpc.RpcError:
                    return  # the server is gone

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        time.sleep(2)
        own_server.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(30)
    assert len(acknowledged) > 20 and created

    own_server.start()
    with own_server.channel() as ch:
        keys = key_grpc.SymmetricKeyServiceStub(ch)
        crypto = crypto_grpc.SymmetricCryptoServiceStub(ch)
        for key_id in created:
            keys.Get(ks.GetSymmetricKeyRequest(key_id=key_id))
        for key_id, ct, plaintext in acknowledged:
            assert decrypt(crypto, key_id, ct, b"burst").plaintext == plaintext
    doctor = subprocess.run(
        [sys.executable, "-m", "hsmkms.cli", "doctor", "--data-dir", str(own_server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert doctor.stdout.strip().endswith("clean")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_burst_of_signals_still_stops_cleanly(tmp_path: Path, workers: str) -> None:
    """A second Ctrl-C or SIGTERM arriving while the first is handled must not hang the server."""
    dev = DevServer(tmp_path / "data", tmp_path / "server.log", extra_args=("--workers", workers))
    dev.start()
    assert dev.process is not None
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
        dev.process.send_signal(sig)
    assert dev.process.wait(30) == 0, dev.log_text()
    assert "stopped" in dev.log_text()

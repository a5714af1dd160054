"""Shared fixtures: a real `hsmkms dev` server on a throwaway SoftHSM2 token, over real gRPC."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as key_service_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_service_grpc
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2_grpc as op_grpc
from hsmkms.dev import DEV_TOKEN_LABEL
from hsmkms.hsm.pkcs11_hsm import Pkcs11Hsm, TokenConfig
from hsmkms.hsm.softhsm import default_module_path

_LISTENING = re.compile(r"listening on (\S+)")


@dataclass
class DevServer:
    """A `hsmkms dev` process; restartable on the same data directory."""

    data_dir: Path
    log_path: Path
    extra_args: tuple[str, ...] = ()
    # Run this hsmkms command instead of `dev` (e.g. ("serve", "--config", FILE)).
    command: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    address: str = ""
    _log_offset: int = field(default=0)

    def start(self, timeout: float = 30.0) -> str:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        command = self.command or (
            "dev",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            "127.0.0.1:0",
            *self.extra_args,
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hsmkms.cli", *command],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text()
            match = _LISTENING.search(text)
            if match:
                self.address = match.group(1)
                return self.address
            if self.process.poll() is not None:
                raise RuntimeError(f"hsmkms dev exited early:\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"hsmkms dev did not start:\n{self.log_text()}")

    def log_text(self) -> str:
        with self.log_path.open("rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def channel(self) -> grpc.Channel:
        # Each channel its own connection (gRPC otherwise shares one per target), so that
        # several channels spread over the server's worker processes.
        return grpc.insecure_channel(self.address, options=[("grpc.use_local_subchannel_pool", 1)])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    data_dir = tmp_path_factory.mktemp("hsmkms-dev")
    dev = DevServer(data_dir=data_dir / "data", log_path=data_dir / "server.log")
    dev.start()
    yield dev
    if dev.process is not None:
        dev.stop()


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """`hsmkms dev --auth`: TLS with its own CA, bootstrap admin token, authorization on."""
    base = tmp_path_factory.mktemp("hsmkms-auth")
    dev = DevServer(data_dir=base / "data", log_path=base / "server.log", extra_args=("--auth",))
    dev.start()
    yield dev
    if dev.process is not None:
        dev.stop()


@pytest.fixture(scope="session")
def channel(server: DevServer) -> Iterator[grpc.Channel]:
    with server.channel() as ch:
        yield ch


@pytest.fixture(scope="session")
def crypto(channel: grpc.Channel) -> crypto_grpc.SymmetricCryptoServiceStub:
    return crypto_grpc.SymmetricCryptoServiceStub(channel)


@pytest.fixture(scope="session")
def keys(channel: grpc.Channel) -> key_service_grpc.SymmetricKeyServiceStub:
    return key_service_grpc.SymmetricKeyServiceStub(channel)


@pytest.fixture(scope="session")
def operations(channel: grpc.Channel) -> op_grpc.OperationServiceStub:
    return op_grpc.OperationServiceStub(channel)


def create_key(
    keys: key_service_grpc.SymmetricKeyServiceStub,
    algorithm: int = key_pb.AES_256,
    folder_id: str = "",
) -> key_pb.SymmetricKey:
    op = keys.Create(
        key_service_pb.CreateSymmetricKeyRequest(
            folder_id=folder_id or "folder-" + uuid.uuid4().hex[:8],
            name="test-" + uuid.uuid4().hex[:8],
            default_algorithm=algorithm,  # type: ignore[arg-type]
        )
    )
    key = key_pb.SymmetricKey()
    assert op.done and op.response.Unpack(key)
    return key


@pytest.fixture
def key(keys: key_service_grpc.SymmetricKeyServiceStub) -> key_pb.SymmetricKey:
    return create_key(keys)


@pytest.fixture
def other_key(keys: key_service_grpc.SymmetricKeyServiceStub) -> key_pb.SymmetricKey:
    return create_key(keys)


@pytest.fixture(scope="session")
def token(server: DevServer) -> Iterator[Pkcs11Hsm]:
    """The session server's token, opened from this test process (SoftHSM2 allows it)."""
    os.environ["SOFTHSM2_CONF"] = str(server.data_dir / "softhsm2.conf")
    pin = (server.data_dir / "user.pin").read_text().strip()
    hsm = Pkcs11Hsm(TokenConfig(default_module_path(), DEV_TOKEN_LABEL, pin))
    hsm.connect()
    yield hsm
    hsm.close()


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, step: float = 0.2) -> Any:
    """Poll until condition() is truthy; return its value or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


BAD_CIPHERTEXT = "ciphertext is invalid or does not match the key and aad_context"
UNKNOWN_KEY = "hkkdoesnotexist00000"


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def expect(code: grpc.StatusCode, call: Callable[[], Any], field: str | None = None) -> str:
    err = rpc_error(call)
    assert err.code() == code, err.details()
    if field is not None:
        assert err.details().startswith(field), err.details()
    return str(err.details())


def encrypt(
    crypto: Any, key_id: str, plaintext: bytes, aad: bytes = b"", version_id: str = ""
) -> Any:
    return crypto.Encrypt(
        c.SymmetricEncryptRequest(
            key_id=key_id, plaintext=plaintext, aad_context=aad, version_id=version_id
        )
    )


def decrypt(crypto: Any, key_id: str, ciphertext: bytes, aad: bytes = b"") -> Any:
    return crypto.Decrypt(
        c.SymmetricDecryptRequest(key_id=key_id, ciphertext=ciphertext, aad_context=aad)
    )


def pin_copy(base: Path, server: DevServer, mode: int = 0o600, value: str = "") -> Path:
    """A copy of the server's user PIN file (or another value) with the given mode."""
    pin = base / "user.pin"
    pin.write_text(value or (server.data_dir / "user.pin").read_text())
    pin.chmod(mode)
    return pin


def serve_config(
    base: Path,
    server: DevServer,
    *,
    listen: str = "127.0.0.1:0",
    store: str = "",
    pin_file: Path | None = None,
    extra: str = "",
) -> Path:
    """A `hsmkms serve` config on the token of a dev server (its own store unless `store`)."""
    pin = pin_file if pin_file is not None else pin_copy(base, server)
    config = base / "hsmkms.toml"
    config.write_text(
        f"""
[server]
listen = "{listen}"
workers = 1

[hsm]
module = "{default_module_path()}"
token_label = "{DEV_TOKEN_LABEL}"
pin_file = "{pin}"

[hsm.environment]
SOFTHSM2_CONF = "{server.data_dir / "softhsm2.conf"}"

[store]
url = "{store or f"sqlite:///{base / 'serve.db'}"}"
{extra}
"""
    )
    return config

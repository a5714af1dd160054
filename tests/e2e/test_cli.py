"""`hsmkms serve` from a TOML file and the guards of both commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grpc
from conftest import DevServer, create_key, decrypt, encrypt, pin_copy, serve_config

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_grpc


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hsmkms.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_dev_refuses_non_loopback() -> None:
    result = run_cli("dev", "--data-dir", "/nonexistent", "--listen", "0.0.0.0:0")
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_serve_from_config_file(tmp_path: Path, server: DevServer) -> None:
    pin = pin_copy(tmp_path, server)
    config = serve_config(tmp_path, server, pin_file=pin)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hsmkms.cli", "serve", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        address = ""
        for line in proc.stderr:
            match = re.search(r"listening on (\S+)", line)
            if match:
                address = match.group(1)
                break
        assert address
        with grpc.insecure_channel(address) as ch:
            keys = key_grpc.SymmetricKeyServiceStub(ch)
            crypto = crypto_grpc.SymmetricCryptoServiceStub(ch)
            key = create_key(keys)
            ct = encrypt(crypto, key.id, b"served").ciphertext
            assert decrypt(crypto, key.id, ct).plaintext == b"served"
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert pin.read_text().strip() not in rest


def test_serve_refuses_unsafe_pin_file(tmp_path: Path, server: DevServer) -> None:
    pin = pin_copy(tmp_path, server, mode=0o644)
    config = serve_config(tmp_path, server, pin_file=pin)
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "chmod 600" in result.stderr
    assert pin.read_text().strip() not in result.stderr + result.stdout


def test_serve_reports_wrong_pin_without_printing_it(tmp_path: Path, server: DevServer) -> None:
    pin = pin_copy(tmp_path, server, value="wrong-pin-value-123")
    config = serve_config(tmp_path, server, pin_file=pin)
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "login to token failed" in result.stderr
    assert "wrong-pin-value-123" not in result.stderr + result.stdout


def test_serve_refuses_remote_plaintext(tmp_path: Path, server: DevServer) -> None:
    pin = pin_copy(tmp_path, server)
    config = serve_config(tmp_path, server, pin_file=pin, listen="0.0.0.0:0")
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "insecure" in result.stderr


def test_serve_reports_config_errors(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[hsm]\nmodule = 1\n")
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "[store] url is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_remote_plaintext_rest(tmp_path: Path, server: DevServer) -> None:
    config = serve_config(tmp_path, server, extra="")
    config.write_text(
        config.read_text().replace("workers = 1", 'workers = 1\nrest_listen = "0.0.0.0:0"')
    )
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "server.rest_listen" in result.stderr and "insecure" in result.stderr

"""The official `yandexcloud` SDK stubs against a real hsmkms dev server.

yandexcloud pins protobuf<7 and its `yandex.*` descriptors would clash with hsmkms._pb, so the
SDK runs only in a subprocess under the interpreter named by HSMKMS_COMPAT_PYTHON
(`make test` sets it to .venv-compat/bin/python); this process never imports `yandex`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DevServer

pytestmark = pytest.mark.compat

SDK_CLIENT = Path(__file__).with_name("sdk_client.py")
TIMEOUT = 120


def compat_python() -> str:
    python = os.environ.get("HSMKMS_COMPAT_PYTHON")
    if not python:
        pytest.skip(
            "HSMKMS_COMPAT_PYTHON is not set: it must name an interpreter with "
            "yandexcloud installed (`make test` sets it to .venv-compat/bin/python)"
        )
    assert Path(python).exists(), f"HSMKMS_COMPAT_PYTHON={python} does not exist"
    return python


def run_sdk_client(python: str, address: str) -> dict[str, Any]:
    # The SDK needs its own protobuf; keep this process's import path out of the child.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(
        [python, str(SDK_CLIENT), address],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, (
        f"sdk_client.py exited {proc.returncode}\n"
        f"--- stderr ---\n{proc.stderr}\n--- stdout ---\n{proc.stdout}"
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_newcomer_flow_with_official_sdk(server: DevServer) -> None:
    assert "yandex" not in sys.modules
    result = run_sdk_client(compat_python(), server.address)

    assert result["ok"] is True
    assert result["failed"] == []
    assert result["checks"] and all(result["checks"].values())
    assert result["checks"]["flow_completed"] is True

    facts = result["facts"]
    key_a, key_b = facts["key_a"], facts["key_b"]
    assert key_a["id"] != key_b["id"]
    assert (key_a["default_algorithm"], key_b["default_algorithm"]) == ("AES_256", "AES_128")
    assert facts["operation_get_a_identical"] and facts["operation_get_b_identical"]

    old_version, new_version = facts["rotate"]["old_version_id"], facts["rotate"]["new_version_id"]
    assert old_version == key_a["primary_version_id"]
    assert new_version and new_version != old_version
    assert facts["encrypt_version_ids"] == [old_version, new_version]
    assert facts["decrypt_old_version_id"] == old_version

    assert facts["reencrypt"] == {
        "key_id": key_b["id"],
        "version_id": key_b["primary_version_id"],
        "source_key_id": key_a["id"],
        "source_version_id": old_version,
        "ciphertext_len": facts["reencrypt"]["ciphertext_len"],
    }
    assert facts["reencrypt"]["ciphertext_len"] > 0

    assert facts["data_key_lengths"] == {"aes_128": 16, "default": 32}
    assert facts["skip_plaintext_plaintext_len"] == 0

    assert facts["decrypt_wrong_aad_invalid_argument_code"] == "INVALID_ARGUMENT"
    assert facts["get_unknown_key_not_found_code"] == "NOT_FOUND"

    assert "yandex" not in sys.modules


def test_readme_example_runs(server: DevServer) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "sdk_example.py"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(
        [compat_python(), str(example)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**env, "HSMKMS_ENDPOINT": server.address},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "decrypted: b'secret'" in proc.stdout
    assert "data key: 32 bytes" in proc.stdout


def test_official_stubs_over_tls_with_bearer_token(auth_server: DevServer) -> None:
    data = auth_server.data_dir
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["HSMKMS_TOKEN"] = (data / "admin.token").read_text().strip()
    proc = subprocess.run(
        [
            compat_python(),
            str(SDK_CLIENT.with_name("sdk_tls_client.py")),
            auth_server.address,
            str(data / "tls" / "ca.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {
        "created_by": "serviceAccount:admin",
        "plaintext": "over tls",
        "anonymous": "UNAUTHENTICATED",
    }

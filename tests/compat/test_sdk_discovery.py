"""The official `yandexcloud.SDK` discovers hsmkms's endpoints, then creates a key and uses it.

Like the other compat tests, the SDK runs in a subprocess under HSMKMS_COMPAT_PYTHON; this
process never imports `yandex`. The SDK's discovery always uses TLS, hence the `auth_server`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DevServer
from test_yandexcloud_sdk import TIMEOUT, compat_python

pytestmark = pytest.mark.compat

CLIENT = Path(__file__).with_name("sdk_discovery_client.py")


def test_sdk_discovers_endpoints_and_uses_kms(auth_server: DevServer) -> None:
    assert "yandex" not in sys.modules
    python = compat_python()
    data = auth_server.data_dir
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # The token travels in the environment, never on a command line.
    env["HSMKMS_TOKEN"] = (data / "admin.token").read_text().strip()
    proc = subprocess.run(
        [python, str(CLIENT), auth_server.address, str(data / "tls" / "ca.pem")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, (
        f"sdk_discovery_client.py exited {proc.returncode}\n"
        f"--- stderr ---\n{proc.stderr}\n--- stdout ---\n{proc.stdout}"
    )
    result = json.loads(proc.stdout)

    assert result["key_id"] and result["meta_key_id"] == result["key_id"]
    assert result["created_by"] == "serviceAccount:admin"
    assert result["encrypt_key_id"] == result["key_id"]
    assert result["version_id"] == result["primary_version_id"]
    assert result["plaintext"] == "via discovery"
    # Every id the SDK needs points back at the address the SDK was given.
    address = auth_server.address
    assert result["endpoints"] == {
        "kms": address,
        "kms-crypto": address,
        "operation": address,
        "iam": address,
        "endpoint": address,
    }
    assert result["get_kms_crypto"] == ["kms-crypto", address]
    assert "yandex" not in sys.modules

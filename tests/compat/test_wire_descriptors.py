"""Our proto files describe exactly the wire of the official yandexcloud package."""

from __future__ import annotations

import importlib
import os
import subprocess
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"

pytestmark = pytest.mark.compat


def test_descriptors_match_official_sdk(tmp_path: Path) -> None:
    compat_python = os.environ.get("HSMKMS_COMPAT_PYTHON")
    if not compat_python:
        pytest.skip("HSMKMS_COMPAT_PYTHON is not set (`make test` sets it)")
    files = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in PROTO_ROOT.rglob("*.proto"))
    assert len(files) >= 10
    ours = descriptor_pb2.FileDescriptorSet()
    for name in files:
        module = importlib.import_module(
            "hsmkms._pb." + name[: -len(".proto")].replace("/", ".") + "_pb2"
        )
        module.DESCRIPTOR.CopyToProto(ours.file.add())
    path = tmp_path / "ours.pb"
    path.write_bytes(ours.SerializeToString())
    script = Path(__file__).with_name("descriptor_diff.py")
    result = subprocess.run(
        [compat_python, str(script), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.stdout.count("IDENTICAL") == len(files)

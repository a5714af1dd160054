"""Pkcs11Hsm against the real SoftHSM2 token of the session's dev server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import DevServer, create_key

from hsmkms.dev import DEV_TOKEN_LABEL
from hsmkms.errors import FailedPrecondition, InvalidCiphertext
from hsmkms.hsm.pkcs11_hsm import Pkcs11Hsm, TokenConfig
from hsmkms.hsm.softhsm import default_module_path


@pytest.fixture
def hsm(server: DevServer) -> Iterator[Pkcs11Hsm]:
    os.environ["SOFTHSM2_CONF"] = str(server.data_dir / "softhsm2.conf")
    pin = (server.data_dir / "user.pin").read_text().strip()
    instance = Pkcs11Hsm(TokenConfig(default_module_path(), DEV_TOKEN_LABEL, pin))
    instance.connect()
    yield instance
    instance.close()


def test_key_created_by_the_server_is_usable_from_another_process(
    hsm: Pkcs11Hsm, keys: Any
) -> None:
    version_id = create_key(keys).primary_version.id
    iv, sealed = hsm.encrypt(version_id, b"shared", b"aad")
    assert len(iv) == 12 and len(sealed) == len(b"shared") + 16
    assert hsm.decrypt(version_id, iv, sealed, b"aad") == b"shared"
    with pytest.raises(InvalidCiphertext):
        hsm.decrypt(version_id, iv, sealed, b"other")


def test_stale_session_is_reopened_and_handles_re_resolved(hsm: Pkcs11Hsm, keys: Any) -> None:
    version_id = create_key(keys).primary_version.id
    iv, sealed = hsm.encrypt(version_id, b"x", b"")
    # Close the session behind the object's back: its cached handles become invalid.
    hsm._session.close()  # type: ignore[union-attr]
    assert hsm.decrypt(version_id, iv, sealed, b"") == b"x"


def test_missing_key_object(hsm: Pkcs11Hsm) -> None:
    with pytest.raises(FailedPrecondition):
        hsm.encrypt("hkvnosuchobject00000", b"x", b"")


def test_generate_and_destroy(hsm: Pkcs11Hsm) -> None:
    version_id = "hkvtestdestroy" + os.urandom(3).hex()
    hsm.generate_aes_key(version_id, 16)
    assert version_id in hsm.key_version_ids()
    assert hsm.destroy_key(version_id) is True
    assert version_id not in hsm.key_version_ids()
    assert hsm.destroy_key(version_id) is False
    with pytest.raises(FailedPrecondition):
        hsm.encrypt(version_id, b"x", b"")


def test_random_bytes(hsm: Pkcs11Hsm) -> None:
    a, b = hsm.random_bytes(32), hsm.random_bytes(32)
    assert len(a) == 32 and a != b

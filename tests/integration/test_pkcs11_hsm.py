"""Pkcs11Hsm against the real SoftHSM2 token of the session's dev server."""

from __future__ import annotations

import os
from typing import Any

import pytest
from conftest import create_key

from hsmkms.errors import FailedPrecondition, InvalidCiphertext
from hsmkms.hsm.pkcs11_hsm import Pkcs11Hsm


def test_key_created_by_the_server_is_usable_from_another_process(
    token: Pkcs11Hsm, keys: Any
) -> None:
    version_id = create_key(keys).primary_version.id
    iv, sealed = token.encrypt(version_id, b"shared", b"aad")
    assert len(iv) == 12 and len(sealed) == len(b"shared") + 16
    assert token.decrypt(version_id, iv, sealed, b"aad") == b"shared"
    with pytest.raises(InvalidCiphertext):
        token.decrypt(version_id, iv, sealed, b"other")


def test_stale_session_is_reopened_and_handles_re_resolved(token: Pkcs11Hsm, keys: Any) -> None:
    version_id = create_key(keys).primary_version.id
    iv, sealed = token.encrypt(version_id, b"x", b"")
    # Close the session behind the object's back: its cached handles become invalid.
    token._session.close()  # type: ignore[union-attr]
    assert token.decrypt(version_id, iv, sealed, b"") == b"x"


def test_missing_key_object(token: Pkcs11Hsm) -> None:
    with pytest.raises(FailedPrecondition):
        token.encrypt("hkvnosuchobject00000", b"x", b"")


def test_generate_and_destroy(token: Pkcs11Hsm) -> None:
    version_id = "hkvtestdestroy" + os.urandom(3).hex()
    token.generate_aes_key(version_id, 16)
    assert version_id in token.key_version_ids()
    assert token.destroy_key(version_id) is True
    assert version_id not in token.key_version_ids()
    assert token.destroy_key(version_id) is False
    with pytest.raises(FailedPrecondition):
        token.encrypt(version_id, b"x", b"")


def test_random_bytes(token: Pkcs11Hsm) -> None:
    a, b = token.random_bytes(32), token.random_bytes(32)
    assert len(a) == 32 and a != b

"""What the server leaves in the token: only non-extractable, sensitive AES keys."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pkcs11
import pytest
from conftest import DevServer, create_key
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive, UserAlreadyLoggedIn

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms.dev import DEV_TOKEN_LABEL
from hsmkms.hsm.softhsm import default_module_path


@pytest.fixture(scope="module")
def token_session(server: DevServer) -> Iterator[pkcs11.Session]:
    # A second process may use the same SoftHSM2 token; this test process is one.
    os.environ["SOFTHSM2_CONF"] = str(server.data_dir / "softhsm2.conf")
    lib = pkcs11.lib(default_module_path())
    token = lib.get_token(token_label=DEV_TOKEN_LABEL)
    pin = (server.data_dir / "user.pin").read_text().strip()
    try:
        session = token.open(user_pin=pin)
    except UserAlreadyLoggedIn:  # login state is per process: another fixture holds it
        session = token.open()
    with session:
        yield session


def test_key_objects_are_sensitive_and_never_extractable(
    keys: Any, token_session: pkcs11.Session
) -> None:
    created = {
        create_key(keys, alg).primary_version.id: length
        for alg, length in (
            (key_pb.AES_128, 16),
            (key_pb.AES_192, 24),
            (key_pb.AES_256, 32),
            (key_pb.AES_256_HSM, 32),
        )
    }
    objects = list(token_session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))
    assert len(objects) >= len(created)
    seen = set()
    for obj in objects:
        assert obj[Attribute.TOKEN] is True
        assert obj[Attribute.PRIVATE] is True
        assert obj[Attribute.SENSITIVE] is True
        assert obj[Attribute.ALWAYS_SENSITIVE] is True
        assert obj[Attribute.EXTRACTABLE] is False
        assert obj[Attribute.NEVER_EXTRACTABLE] is True
        assert obj[Attribute.ENCRYPT] is True and obj[Attribute.DECRYPT] is True
        assert obj[Attribute.WRAP] is False and obj[Attribute.UNWRAP] is False
        assert obj[Attribute.SIGN] is False and obj[Attribute.DERIVE] is False
        with pytest.raises(AttributeSensitive):
            obj[Attribute.VALUE]
        version_id = obj[Attribute.ID].decode()
        assert obj[Attribute.LABEL] == "hsmkms:" + version_id
        if version_id in created:
            assert obj[Attribute.VALUE_LEN] == created[version_id]
            seen.add(version_id)
    assert seen == set(created)

"""SymmetricKeyService Create/Get/Rotate and OperationService.Get."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from conftest import create_key, decrypt, encrypt, expect
from google.protobuf import duration_pb2

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2 as ops


def test_create_returns_done_operation_with_key(keys: Any, operations: Any) -> None:
    folder = "folder-" + uuid.uuid4().hex[:8]
    op = keys.Create(
        ks.CreateSymmetricKeyRequest(
            folder_id=folder,
            name="payments",
            description="card data",
            labels={"env": "prod", "team-1": "core_a"},
            default_algorithm=key_pb.AES_192,
            rotation_period=duration_pb2.Duration(seconds=86400 * 30),
            deletion_protection=True,
        )
    )
    assert op.done and op.id and op.description
    assert (
        op.metadata.type_url == "type.googleapis.com/yandex.cloud.kms.v1.CreateSymmetricKeyMetadata"
    )
    assert op.response.type_url == "type.googleapis.com/yandex.cloud.kms.v1.SymmetricKey"
    meta = ks.CreateSymmetricKeyMetadata()
    key = key_pb.SymmetricKey()
    assert op.metadata.Unpack(meta) and op.response.Unpack(key)
    assert (meta.key_id, meta.primary_version_id) == (key.id, key.primary_version.id)
    assert key.folder_id == folder
    assert (key.name, key.description) == ("payments", "card data")
    assert dict(key.labels) == {"env": "prod", "team-1": "core_a"}
    assert key.status == key_pb.SymmetricKey.ACTIVE
    assert key.default_algorithm == key_pb.AES_192
    assert key.rotation_period.seconds == 86400 * 30
    assert key.deletion_protection
    assert key.created_at.seconds > 0
    version = key.primary_version
    assert version.key_id == key.id and version.primary and version.hosted_by_hsm
    assert version.status == key_pb.SymmetricKeyVersion.ACTIVE
    assert version.algorithm == key_pb.AES_192

    assert keys.Get(ks.GetSymmetricKeyRequest(key_id=key.id)) == key
    assert operations.Get(ops.GetOperationRequest(operation_id=op.id)) == op


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ks.CreateSymmetricKeyRequest(default_algorithm=key_pb.AES_256), "folder_id"),
        (
            ks.CreateSymmetricKeyRequest(folder_id="f" * 51, default_algorithm=key_pb.AES_256),
            "folder_id",
        ),
        (ks.CreateSymmetricKeyRequest(folder_id="f"), "default_algorithm"),
        (
            ks.CreateSymmetricKeyRequest(
                folder_id="f", default_algorithm=key_pb.GOST_R_3412_2015_K
            ),
            "default_algorithm",
        ),
        (ks.CreateSymmetricKeyRequest(folder_id="f", default_algorithm=17), "default_algorithm"),  # type: ignore[arg-type]
        (ks.CreateSymmetricKeyRequest(folder_id="f", default_algorithm=3, name="n" * 101), "name"),
        (
            ks.CreateSymmetricKeyRequest(
                folder_id="f", default_algorithm=3, description="d" * 1025
            ),
            "description",
        ),
        (
            ks.CreateSymmetricKeyRequest(folder_id="f", default_algorithm=3, labels={"1abc": "v"}),
            "labels",
        ),
        (
            ks.CreateSymmetricKeyRequest(
                folder_id="f", default_algorithm=3, labels={"k" * 64: "v"}
            ),
            "labels",
        ),
        (
            ks.CreateSymmetricKeyRequest(
                folder_id="f", default_algorithm=3, labels={"k": "v" * 64}
            ),
            "labels",
        ),
        (
            ks.CreateSymmetricKeyRequest(folder_id="f", default_algorithm=3, labels={"k": "a b"}),
            "labels",
        ),
        (
            ks.CreateSymmetricKeyRequest(
                folder_id="f",
                default_algorithm=3,
                rotation_period=duration_pb2.Duration(seconds=-1),
            ),
            "rotation_period",
        ),
    ],
)
def test_create_rejects_bad_input(keys: Any, request_: Any, field: str) -> None:
    expect(grpc.StatusCode.INVALID_ARGUMENT, lambda: keys.Create(request_), field)


def test_rotate_makes_new_primary_and_old_ciphertexts_still_decrypt(
    keys: Any, crypto: Any, operations: Any, key: key_pb.SymmetricKey
) -> None:
    old_ct = encrypt(crypto, key.id, b"before").ciphertext
    op = keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id))
    meta = ks.RotateSymmetricKeyMetadata()
    rotated = key_pb.SymmetricKey()
    assert op.done and op.metadata.Unpack(meta) and op.response.Unpack(rotated)
    assert meta.key_id == key.id
    assert meta.new_primary_version_id == rotated.primary_version.id != key.primary_version.id
    assert rotated.rotated_at.seconds > 0
    assert (
        keys.Get(ks.GetSymmetricKeyRequest(key_id=key.id)).primary_version.id
        == meta.new_primary_version_id
    )
    assert operations.Get(ops.GetOperationRequest(operation_id=op.id)) == op

    new = encrypt(crypto, key.id, b"after")
    assert new.version_id == meta.new_primary_version_id
    old = decrypt(crypto, key.id, old_ct)
    assert (old.plaintext, old.version_id) == (b"before", key.primary_version.id)
    # The previous version stays usable for encryption when named explicitly.
    assert (
        encrypt(crypto, key.id, b"x", version_id=key.primary_version.id).version_id
        == key.primary_version.id
    )


def test_unknown_ids_are_not_found(keys: Any, operations: Any) -> None:
    expect(grpc.StatusCode.NOT_FOUND, lambda: keys.Get(ks.GetSymmetricKeyRequest(key_id="hkknope")))
    expect(
        grpc.StatusCode.NOT_FOUND,
        lambda: keys.Rotate(ks.RotateSymmetricKeyRequest(key_id="hkknope")),
    )
    expect(
        grpc.StatusCode.NOT_FOUND,
        lambda: operations.Get(ops.GetOperationRequest(operation_id="hkonope")),
    )
    expect(
        grpc.StatusCode.INVALID_ARGUMENT, lambda: keys.Get(ks.GetSymmetricKeyRequest()), "key_id"
    )
    expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: operations.Get(ops.GetOperationRequest()),
        "operation_id",
    )


def test_keys_in_one_folder_are_independent(keys: Any, crypto: Any) -> None:
    a = create_key(keys, folder_id="shared-folder")
    b = create_key(keys, folder_id="shared-folder")
    assert a.id != b.id and a.primary_version.id != b.primary_version.id
    ct = encrypt(crypto, a.id, b"x").ciphertext
    expect(grpc.StatusCode.INVALID_ARGUMENT, lambda: decrypt(crypto, b.id, ct))

"""The rest of SymmetricKeyService: listing, update, delete, versions, scheduled work."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from conftest import create_key, decrypt, encrypt, expect, wait_for
from google.protobuf import duration_pb2, field_mask_pb2

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms.hsm.pkcs11_hsm import Pkcs11Hsm

Version = key_pb.SymmetricKeyVersion
NOT_FOUND = grpc.StatusCode.NOT_FOUND
INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


def unpack(op: Any, message: Any) -> Any:
    assert op.done and op.response.Unpack(message)
    return message


def rotate(keys: Any, key_id: str) -> key_pb.SymmetricKey:
    return unpack(keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key_id)), key_pb.SymmetricKey())


def get(keys: Any, key_id: str) -> key_pb.SymmetricKey:
    return keys.Get(ks.GetSymmetricKeyRequest(key_id=key_id))


def versions(keys: Any, key_id: str) -> dict[str, Any]:
    listed = keys.ListVersions(ks.ListSymmetricKeyVersionsRequest(key_id=key_id, page_size=1000))
    return {v.id: v for v in listed.key_versions}


def update(keys: Any, key_id: str, paths: list[str], **values: Any) -> Any:
    return keys.Update(
        ks.UpdateSymmetricKeyRequest(
            key_id=key_id, update_mask=field_mask_pb2.FieldMask(paths=paths), **values
        )
    )


def schedule(keys: Any, key_id: str, version_id: str, seconds: float | None = None) -> Any:
    request = ks.ScheduleSymmetricKeyVersionDestructionRequest(key_id=key_id, version_id=version_id)
    if seconds is not None:
        request.pending_period.FromTimedelta(timedelta(seconds=seconds))
    return keys.ScheduleVersionDestruction(request)


def all_pages(call: Any, field: str, **request: Any) -> tuple[list[str], int]:
    ids: list[str] = []
    token, pages = "", 0
    while True:
        response = call(page_token=token, **request)
        pages += 1
        ids += [item.id for item in getattr(response, field)]
        token = response.next_page_token
        if not token:
            return ids, pages


class TestList:
    def test_pages_in_creation_order(self, keys: Any) -> None:
        folder = "folder-" + uuid.uuid4().hex[:8]
        created = [create_key(keys, folder_id=folder).id for _ in range(5)]
        for size, pages in ((2, 3), (5, 1), (1, 5), (1000, 1), (0, 1)):
            ids, n = all_pages(
                lambda **r: keys.List(ks.ListSymmetricKeysRequest(**r)),
                "keys",
                folder_id=folder,
                page_size=size,
            )
            assert ids == created and n == pages, size
        first = keys.List(ks.ListSymmetricKeysRequest(folder_id=folder, page_size=2))
        assert first.keys[0].primary_version.primary and first.next_page_token

    def test_empty_folder(self, keys: Any) -> None:
        response = keys.List(ks.ListSymmetricKeysRequest(folder_id="empty-" + uuid.uuid4().hex))
        assert list(response.keys) == [] and response.next_page_token == ""

    @pytest.mark.parametrize(
        ("request_", "field"),
        [
            (ks.ListSymmetricKeysRequest(), "folder_id"),
            (ks.ListSymmetricKeysRequest(folder_id="f", page_size=1001), "page_size"),
            (ks.ListSymmetricKeysRequest(folder_id="f", page_size=-1), "page_size"),
            (ks.ListSymmetricKeysRequest(folder_id="f", page_token="not-a-token!"), "page_token"),
            (ks.ListSymmetricKeysRequest(folder_id="f", page_token="W3RydWVd"), "page_token"),
            (ks.ListSymmetricKeysRequest(folder_id="f", page_token="x" * 257), "page_token"),
        ],
    )
    def test_bad_requests(self, keys: Any, request_: Any, field: str) -> None:
        expect(INVALID, lambda: keys.List(request_), field)


class TestListVersions:
    def test_pages_and_primary_flag(self, keys: Any, key: key_pb.SymmetricKey) -> None:
        for _ in range(3):
            latest = rotate(keys, key.id)
        ids, pages = all_pages(
            lambda **r: keys.ListVersions(ks.ListSymmetricKeyVersionsRequest(**r)),
            "key_versions",
            key_id=key.id,
            page_size=3,
        )
        assert len(ids) == 4 and len(set(ids)) == 4 and pages == 2
        assert ids[0] == key.primary_version.id and ids[-1] == latest.primary_version.id
        listed = versions(keys, key.id)
        assert [v.id for v in listed.values() if v.primary] == [latest.primary_version.id]
        assert all(v.hosted_by_hsm and v.key_id == key.id for v in listed.values())

    def test_unknown_key_and_bad_token(self, keys: Any, key: key_pb.SymmetricKey) -> None:
        expect(
            NOT_FOUND,
            lambda: keys.ListVersions(ks.ListSymmetricKeyVersionsRequest(key_id="hkknope")),
        )
        expect(
            INVALID,
            lambda: keys.ListVersions(
                ks.ListSymmetricKeyVersionsRequest(key_id=key.id, page_token="%%")
            ),
            "page_token",
        )


class TestUpdate:
    def test_only_masked_fields_change(self, keys: Any, key: key_pb.SymmetricKey) -> None:
        op = update(
            keys,
            key.id,
            ["name", "labels"],
            name="renamed",
            labels={"team": "core"},
            description="ignored: not in the mask",
        )
        meta = ks.UpdateSymmetricKeyMetadata()
        assert op.metadata.Unpack(meta) and meta.key_id == key.id
        updated = unpack(op, key_pb.SymmetricKey())
        assert (updated.name, dict(updated.labels)) == ("renamed", {"team": "core"})
        assert updated.description == key.description
        assert get(keys, key.id) == updated

    def test_every_updatable_field(self, keys: Any, crypto: Any, key: key_pb.SymmetricKey) -> None:
        update(
            keys,
            key.id,
            ["description", "default_algorithm", "rotation_period", "deletionProtection"],
            description="d",
            default_algorithm=key_pb.AES_128,
            rotation_period=duration_pb2.Duration(seconds=86400),
            deletion_protection=True,
        )
        got = get(keys, key.id)
        assert got.description == "d" and got.deletion_protection
        assert got.default_algorithm == key_pb.AES_128 and got.rotation_period.seconds == 86400
        assert rotate(keys, key.id).primary_version.algorithm == key_pb.AES_128
        # rotation_period in the mask but unset: automatic rotation is turned off.
        update(keys, key.id, ["rotation_period"])
        assert not get(keys, key.id).HasField("rotation_period")

    def test_inactive_key_refuses_crypto_until_active(
        self, keys: Any, crypto: Any, key: key_pb.SymmetricKey, other_key: key_pb.SymmetricKey
    ) -> None:
        ct = encrypt(crypto, key.id, b"x").ciphertext
        other_ct = encrypt(crypto, other_key.id, b"x").ciphertext
        update(keys, key.id, ["status"], status=key_pb.SymmetricKey.INACTIVE)
        assert get(keys, key.id).status == key_pb.SymmetricKey.INACTIVE
        refused = [
            lambda: encrypt(crypto, key.id, b"x"),
            lambda: decrypt(crypto, key.id, ct),
            lambda: crypto.GenerateDataKey(c.GenerateDataKeyRequest(key_id=key.id)),
            lambda: crypto.ReEncrypt(
                c.SymmetricReEncryptRequest(
                    key_id=key.id, source_key_id=other_key.id, ciphertext=other_ct
                )
            ),
            lambda: crypto.ReEncrypt(
                c.SymmetricReEncryptRequest(
                    key_id=other_key.id, source_key_id=key.id, ciphertext=ct
                )
            ),
        ]
        for call in refused:
            assert "INACTIVE" in expect(PRECONDITION, call)
        update(keys, key.id, ["status"], status=key_pb.SymmetricKey.ACTIVE)
        assert decrypt(crypto, key.id, ct).plaintext == b"x"

    @pytest.mark.parametrize(
        ("paths", "values", "field"),
        [
            ([], {}, "update_mask"),
            (["id"], {}, "update_mask"),
            (["folder_id"], {}, "update_mask"),
            (["status"], {"status": key_pb.SymmetricKey.CREATING}, "status"),
            (["status"], {}, "status"),
            (
                ["default_algorithm"],
                {"default_algorithm": key_pb.GOST_R_3412_2015_K},
                "default_algorithm",
            ),
            (
                ["rotation_period"],
                {"rotation_period": duration_pb2.Duration(seconds=-5)},
                "rotation_period",
            ),
            (["labels"], {"labels": {"Bad": "x"}}, "labels"),
            (["name"], {"name": "n" * 101}, "name"),
        ],
    )
    def test_bad_updates(
        self,
        keys: Any,
        key: key_pb.SymmetricKey,
        paths: list[str],
        values: dict[str, Any],
        field: str,
    ) -> None:
        expect(INVALID, lambda: update(keys, key.id, paths, **values), field)

    def test_missing_mask_and_unknown_key(self, keys: Any) -> None:
        expect(
            INVALID, lambda: keys.Update(ks.UpdateSymmetricKeyRequest(key_id="k")), "update_mask"
        )
        expect(NOT_FOUND, lambda: update(keys, "hkknope", ["name"], name="x"))


class TestDelete:
    def test_protected_key_is_refused(self, keys: Any, key: key_pb.SymmetricKey) -> None:
        update(keys, key.id, ["deletion_protection"], deletion_protection=True)
        delete = lambda: keys.Delete(ks.DeleteSymmetricKeyRequest(key_id=key.id))  # noqa: E731
        assert "deletion_protection" in expect(PRECONDITION, delete)
        assert get(keys, key.id).id == key.id
        update(keys, key.id, ["deletion_protection"], deletion_protection=False)
        op = delete()
        meta = ks.DeleteSymmetricKeyMetadata()
        assert op.done and op.metadata.Unpack(meta) and meta.key_id == key.id

    def test_deleted_key_is_gone_at_once_and_its_material_later(
        self,
        keys: Any,
        crypto: Any,
        token: Pkcs11Hsm,
        key: key_pb.SymmetricKey,
        other_key: key_pb.SymmetricKey,
    ) -> None:
        second = rotate(keys, key.id).primary_version.id
        ct = encrypt(crypto, key.id, b"x").ciphertext
        folder = keys.List(ks.ListSymmetricKeysRequest(folder_id=key.folder_id))
        assert key.id in [k.id for k in folder.keys]
        keys.Delete(ks.DeleteSymmetricKeyRequest(key_id=key.id))
        gone = [
            lambda: get(keys, key.id),
            lambda: encrypt(crypto, key.id, b"x"),
            lambda: decrypt(crypto, key.id, ct),
            lambda: crypto.GenerateDataKey(c.GenerateDataKeyRequest(key_id=key.id)),
            lambda: crypto.ReEncrypt(
                c.SymmetricReEncryptRequest(
                    key_id=other_key.id, source_key_id=key.id, ciphertext=ct
                )
            ),
            lambda: rotate(keys, key.id),
            lambda: update(keys, key.id, ["name"], name="x"),
            lambda: keys.Delete(ks.DeleteSymmetricKeyRequest(key_id=key.id)),
            lambda: keys.ListVersions(ks.ListSymmetricKeyVersionsRequest(key_id=key.id)),
            lambda: keys.ListOperations(ks.ListSymmetricKeyOperationsRequest(key_id=key.id)),
            lambda: keys.SetPrimaryVersion(
                ks.SetPrimarySymmetricKeyVersionRequest(key_id=key.id, version_id=second)
            ),
        ]
        for call in gone:
            expect(NOT_FOUND, call)
        folder = keys.List(ks.ListSymmetricKeysRequest(folder_id=key.folder_id))
        assert key.id not in [k.id for k in folder.keys]
        # The dev server's key-deletion pending period is 10 s; objects go after it, not before.
        assert {key.primary_version.id, second} <= token.key_version_ids()
        wait_for(lambda: not {key.primary_version.id, second} & token.key_version_ids(), timeout=30)


class TestVersions:
    def test_set_primary_version(
        self, keys: Any, crypto: Any, key: key_pb.SymmetricKey, other_key: key_pb.SymmetricKey
    ) -> None:
        rotate(keys, key.id)
        op = keys.SetPrimaryVersion(
            ks.SetPrimarySymmetricKeyVersionRequest(
                key_id=key.id, version_id=key.primary_version.id
            )
        )
        meta = ks.SetPrimarySymmetricKeyVersionMetadata()
        assert op.metadata.Unpack(meta) and meta.version_id == key.primary_version.id
        assert unpack(op, key_pb.SymmetricKey()).primary_version.id == key.primary_version.id
        assert encrypt(crypto, key.id, b"x").version_id == key.primary_version.id
        for version_id in ("hkvnope", other_key.primary_version.id):
            expect(
                NOT_FOUND,
                lambda v=version_id: keys.SetPrimaryVersion(
                    ks.SetPrimarySymmetricKeyVersionRequest(key_id=key.id, version_id=v)
                ),
            )
        expect(
            INVALID,
            lambda: keys.SetPrimaryVersion(ks.SetPrimarySymmetricKeyVersionRequest(key_id=key.id)),
            "version_id",
        )

    def test_schedule_and_cancel(self, keys: Any, crypto: Any, key: key_pb.SymmetricKey) -> None:
        old = key.primary_version.id
        ct = encrypt(crypto, key.id, b"kept").ciphertext
        expect(PRECONDITION, lambda: schedule(keys, key.id, old), None)  # the primary
        new = rotate(keys, key.id).primary_version.id
        before = datetime.now(UTC)
        op = schedule(keys, key.id, old)  # default pending period: 7 days
        meta = ks.ScheduleSymmetricKeyVersionDestructionMetadata()
        assert op.metadata.Unpack(meta) and (meta.key_id, meta.version_id) == (key.id, old)
        scheduled = unpack(op, key_pb.SymmetricKeyVersion())
        assert scheduled.status == Version.SCHEDULED_FOR_DESTRUCTION
        destroy_at = scheduled.destroy_at.ToDatetime(UTC)
        assert (
            timedelta(days=7) - timedelta(minutes=1)
            < destroy_at - before
            < timedelta(days=7, minutes=1)
        )
        assert meta.destroy_at == scheduled.destroy_at
        # Unusable at once, for every call.
        assert "SCHEDULED_FOR_DESTRUCTION" in expect(
            PRECONDITION, lambda: decrypt(crypto, key.id, ct)
        )
        expect(PRECONDITION, lambda: encrypt(crypto, key.id, b"x", version_id=old))
        expect(PRECONDITION, lambda: schedule(keys, key.id, old, 60))  # already scheduled
        expect(
            PRECONDITION,
            lambda: keys.SetPrimaryVersion(
                ks.SetPrimarySymmetricKeyVersionRequest(key_id=key.id, version_id=old)
            ),
        )
        cancel = ks.CancelSymmetricKeyVersionDestructionRequest(key_id=key.id, version_id=old)
        restored = unpack(keys.CancelVersionDestruction(cancel), key_pb.SymmetricKeyVersion())
        assert restored.status == Version.ACTIVE and not restored.HasField("destroy_at")
        assert decrypt(crypto, key.id, ct).plaintext == b"kept"
        expect(PRECONDITION, lambda: keys.CancelVersionDestruction(cancel))  # not scheduled
        assert versions(keys, key.id)[new].primary

    @pytest.mark.parametrize("seconds", [0.5, 91 * 86400])
    def test_pending_period_limits(
        self, keys: Any, key: key_pb.SymmetricKey, seconds: float
    ) -> None:
        rotate(keys, key.id)
        expect(
            INVALID,
            lambda: schedule(keys, key.id, key.primary_version.id, seconds),
            "pending_period",
        )

    def test_destroyed_on_schedule_and_not_before(
        self, keys: Any, crypto: Any, token: Pkcs11Hsm, key: key_pb.SymmetricKey
    ) -> None:
        old = key.primary_version.id
        ct = encrypt(crypto, key.id, b"doomed").ciphertext
        rotate(keys, key.id)
        schedule(keys, key.id, old, 3)
        time.sleep(1)
        assert versions(keys, key.id)[old].status == Version.SCHEDULED_FOR_DESTRUCTION
        assert old in token.key_version_ids()
        wait_for(lambda: versions(keys, key.id)[old].status == Version.DESTROYED, timeout=15)
        assert old not in token.key_version_ids()
        assert "DESTROYED" in expect(PRECONDITION, lambda: decrypt(crypto, key.id, ct))
        expect(
            PRECONDITION,
            lambda: keys.CancelVersionDestruction(
                ks.CancelSymmetricKeyVersionDestructionRequest(key_id=key.id, version_id=old)
            ),
        )


def test_automatic_rotation(keys: Any, crypto: Any) -> None:
    op = keys.Create(
        ks.CreateSymmetricKeyRequest(
            folder_id="auto-rotation",
            default_algorithm=key_pb.AES_256,
            rotation_period=duration_pb2.Duration(seconds=2),
        )
    )
    key = unpack(op, key_pb.SymmetricKey())
    ct = encrypt(crypto, key.id, b"before").ciphertext
    started = time.monotonic()
    rotated = wait_for(
        lambda: (k := get(keys, key.id)).primary_version.id != key.primary_version.id and k,
        timeout=15,
    )
    assert rotated.HasField("rotated_at")
    assert decrypt(crypto, key.id, ct).plaintext == b"before"
    time.sleep(3)
    elapsed = time.monotonic() - started
    listed = versions(keys, key.id)
    # One new version per period at most: never a double rotation.
    assert 2 <= len(listed) <= 1 + int(elapsed / 2) + 1
    ops = keys.ListOperations(ks.ListSymmetricKeyOperationsRequest(key_id=key.id)).operations
    scheduled = [o for o in ops if o.description == "Rotate symmetric key (scheduled)"]
    assert len(scheduled) == len(listed) - 1 and all(o.created_by == "hsmkms" for o in scheduled)


def test_list_operations_newest_first(keys: Any, operations: Any, key: key_pb.SymmetricKey) -> None:
    rotate(keys, key.id)
    update(keys, key.id, ["name"], name="n2")
    rotate(keys, key.id)
    ids, pages = all_pages(
        lambda **r: keys.ListOperations(ks.ListSymmetricKeyOperationsRequest(**r)),
        "operations",
        key_id=key.id,
        page_size=1,
    )
    assert pages == 4 and len(set(ids)) == 4
    listed = keys.ListOperations(ks.ListSymmetricKeyOperationsRequest(key_id=key.id)).operations
    assert [o.id for o in listed] == ids
    assert [o.description for o in listed] == [
        "Rotate symmetric key",
        "Update symmetric key",
        "Rotate symmetric key",
        "Create symmetric key",
    ]
    times = [o.created_at.ToNanoseconds() for o in listed]
    assert times == sorted(times, reverse=True)
    assert all(o.done and o.metadata.type_url for o in listed)
    expect(
        NOT_FOUND,
        lambda: keys.ListOperations(ks.ListSymmetricKeyOperationsRequest(key_id="hkknope")),
    )

"""Key lifecycle: create, read, rotate; and the operations that record each change."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta

from hsmkms.domain import (
    AES_ALGORITHMS,
    KEY_ID_PREFIX,
    OPERATION_ID_PREFIX,
    VERSION_ID_PREFIX,
    KeyStatus,
    KeyVersion,
    Operation,
    SymmetricAlgorithm,
    SymmetricKey,
    VersionStatus,
    new_id,
    utcnow,
)
from hsmkms.errors import InvalidArgument, KmsError, NotFound
from hsmkms.hsm import Hsm
from hsmkms.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewKey:
    folder_id: str
    default_algorithm: SymmetricAlgorithm
    name: str = ""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    rotation_period: timedelta | None = None
    deletion_protection: bool = False


def check_algorithm(algorithm: SymmetricAlgorithm, field_name: str) -> None:
    if algorithm not in AES_ALGORITHMS:
        raise InvalidArgument(
            f"{field_name}: {algorithm.name} is not supported by this server's HSM"
        )


class KeyService:
    def __init__(self, store: Store, hsm: Hsm) -> None:
        self._store = store
        self._hsm = hsm

    def get(self, key_id: str) -> SymmetricKey:
        key = self._store.get_key(key_id)
        if key is None:
            raise NotFound(f"key {key_id} not found")
        return key

    def _new_version(self, key_id: str, algorithm: SymmetricAlgorithm) -> KeyVersion:
        """Generate a version's key object in the HSM; the caller records it in the store.

        The object is created first: a crash before the store commit leaves an unreferenced
        object labelled with the version ID (found by reconciliation), never a stored version
        without key material.
        """
        version = KeyVersion(
            id=new_id(VERSION_ID_PREFIX),
            key_id=key_id,
            status=VersionStatus.ACTIVE,
            algorithm=algorithm,
            created_at=utcnow(),
            primary=True,
        )
        self._hsm.generate_aes_key(version.id, algorithm.key_bytes)
        return version

    def _discard(self, version: KeyVersion) -> None:
        try:
            self._hsm.destroy_key(version.id)
        except KmsError:
            log.warning("could not remove unreferenced key object of version %s", version.id)

    def create(self, request: NewKey, created_by: str = "") -> Operation:
        check_algorithm(request.default_algorithm, "default_algorithm")
        if request.rotation_period is not None and request.rotation_period <= timedelta(0):
            raise InvalidArgument("rotation_period: must be positive")
        key_id = new_id(KEY_ID_PREFIX)
        version = self._new_version(key_id, request.default_algorithm)
        key = SymmetricKey(
            id=key_id,
            folder_id=request.folder_id,
            created_at=version.created_at,
            name=request.name,
            description=request.description,
            labels=dict(request.labels),
            status=KeyStatus.ACTIVE,
            primary_version=version,
            default_algorithm=request.default_algorithm,
            rotation_period=request.rotation_period,
            deletion_protection=request.deletion_protection,
        )
        op = _done_operation(
            key_id,
            "Create symmetric key",
            created_by,
            "CreateSymmetricKeyMetadata",
            {"key_id": key_id, "primary_version_id": version.id},
            key,
        )
        try:
            self._store.create_key(key, op)
        except BaseException:
            self._discard(version)
            raise
        return op

    def rotate(self, key_id: str, created_by: str = "") -> Operation:
        key = self.get(key_id)
        version = self._new_version(key.id, key.default_algorithm)
        old_primary = replace(key.primary_version, primary=False)
        rotated = replace(key, primary_version=version, rotated_at=version.created_at)
        op = _done_operation(
            key.id,
            "Rotate symmetric key",
            created_by,
            "RotateSymmetricKeyMetadata",
            {"key_id": key.id, "new_primary_version_id": version.id},
            rotated,
        )
        try:
            self._store.add_primary_version(version, version.created_at, op)
        except BaseException:
            self._discard(version)
            raise
        log.info("key %s rotated: primary %s -> %s", key.id, old_primary.id, version.id)
        return op


def _done_operation(
    key_id: str,
    description: str,
    created_by: str,
    metadata_type: str,
    metadata: dict[str, str],
    response: SymmetricKey | KeyVersion,
) -> Operation:
    now = utcnow()
    return Operation(
        id=new_id(OPERATION_ID_PREFIX),
        description=description,
        created_at=now,
        created_by=created_by,
        modified_at=now,
        done=True,
        metadata_type=metadata_type,
        metadata=metadata,
        response=response,
        key_id=key_id,
    )


class OperationService:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, operation_id: str) -> Operation:
        op = self._store.get_operation(operation_id)
        if op is None:
            raise NotFound(f"operation {operation_id} not found")
        return op

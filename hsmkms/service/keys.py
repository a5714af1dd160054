"""Key lifecycle: create, read, update, rotate, delete, version destruction; and the operations
that record each change."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hsmkms.domain import (
    AES_ALGORITHMS,
    KEY_ID_PREFIX,
    VERSION_ID_PREFIX,
    KeyStatus,
    KeyVersion,
    LifecyclePolicy,
    Operation,
    SymmetricAlgorithm,
    SymmetricKey,
    VersionStatus,
    done_operation,
    new_id,
    utcnow,
)
from hsmkms.errors import FailedPrecondition, InvalidArgument, KmsError, NotFound, Unavailable
from hsmkms.hsm import Hsm
from hsmkms.service.pagination import Page, paginate
from hsmkms.service.process import process_owner
from hsmkms.store import Store

log = logging.getLogger(__name__)

SYSTEM_SUBJECT = "hsmkms"
UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "labels",
        "status",
        "default_algorithm",
        "rotation_period",
        "deletion_protection",
    }
)


@dataclass(frozen=True)
class KeySpec:
    """The user-settable attributes of a key, for Create and Update."""

    folder_id: str = ""
    default_algorithm: SymmetricAlgorithm = SymmetricAlgorithm.UNSPECIFIED
    name: str = ""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    status: int = 0
    rotation_period: timedelta | None = None
    deletion_protection: bool = False


def check_algorithm(algorithm: SymmetricAlgorithm, field_name: str) -> None:
    if algorithm not in AES_ALGORITHMS:
        raise InvalidArgument(
            f"{field_name}: {algorithm.name} is not supported by this server's HSM"
        )


def _check_rotation_period(period: timedelta | None) -> None:
    if period is not None and period <= timedelta(0):
        raise InvalidArgument("rotation_period: must be positive")


class KeyService:
    def __init__(
        self,
        store: Store,
        hsm: Hsm,
        policy: LifecyclePolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._hsm = hsm
        self._policy = policy or LifecyclePolicy()
        self._clock = clock
        self._owner = process_owner()

    # -- reads --------------------------------------------------------------------------------

    def get(self, key_id: str) -> SymmetricKey:
        key = self._store.get_key(key_id)
        if key is None:
            raise NotFound(f"key {key_id} not found")
        return key

    def _version(self, key_id: str, version_id: str) -> KeyVersion:
        version = self._store.get_version(version_id)
        if version is None or version.key_id != key_id:
            raise NotFound(f"version {version_id} of key {key_id} not found")
        return version

    def list_keys(self, folder_id: str, page_size: int, page_token: str) -> Page[SymmetricKey]:
        return paginate(
            lambda after, limit: self._store.list_keys(folder_id, after, limit),
            page_token,
            page_size,
            lambda key: (key.created_at, key.id),
        )

    def list_versions(self, key_id: str, page_size: int, page_token: str) -> Page[KeyVersion]:
        self.get(key_id)
        return paginate(
            lambda after, limit: self._store.list_versions(key_id, after, limit),
            page_token,
            page_size,
            lambda version: (version.created_at, version.id),
        )

    def list_operations(self, key_id: str, page_size: int, page_token: str) -> Page[Operation]:
        self.get(key_id)
        return paginate(
            lambda before, limit: self._store.list_operations(key_id, before, limit),
            page_token,
            page_size,
            lambda op: (op.created_at, op.id),
        )

    # -- key material -------------------------------------------------------------------------

    def _new_version(self, key_id: str, algorithm: SymmetricAlgorithm) -> KeyVersion:
        """Generate a version's key object in the HSM; the caller records it in the store.

        Order: an intent row, then the object, then (by the caller) the version row in the
        transaction that removes the intent. A crash at any point leaves either nothing, or an
        intent (with or without its object) that reconciliation cleans up: never a stored
        version without key material, never an object nobody knows about.
        """
        version = KeyVersion(
            id=new_id(VERSION_ID_PREFIX),
            key_id=key_id,
            status=VersionStatus.ACTIVE,
            algorithm=algorithm,
            created_at=self._clock(),
            primary=True,
        )
        self._store.add_pending_version(version.id, self._owner, version.created_at)
        try:
            self._hsm.generate_aes_key(version.id, algorithm.key_bytes)
        except BaseException:
            self._discard(version)
            raise
        return version

    def _discard(self, version: KeyVersion) -> None:
        """Undo _new_version: the object first, then the intent that names it."""
        try:
            self._hsm.destroy_key(version.id)
            self._store.remove_pending_version(version.id)
        except KmsError:
            log.warning("could not discard version %s; reconciliation will", version.id)

    # -- changes ------------------------------------------------------------------------------

    def create(self, spec: KeySpec, created_by: str = "") -> Operation:
        check_algorithm(spec.default_algorithm, "default_algorithm")
        _check_rotation_period(spec.rotation_period)
        key_id = new_id(KEY_ID_PREFIX)
        version = self._new_version(key_id, spec.default_algorithm)
        key = SymmetricKey(
            id=key_id,
            folder_id=spec.folder_id,
            created_at=version.created_at,
            name=spec.name,
            description=spec.description,
            labels=dict(spec.labels),
            status=KeyStatus.ACTIVE,
            primary_version=version,
            default_algorithm=spec.default_algorithm,
            rotation_period=spec.rotation_period,
            deletion_protection=spec.deletion_protection,
        )
        op = done_operation(
            key_id,
            "Create symmetric key",
            created_by,
            "CreateSymmetricKeyMetadata",
            {"key_id": key_id, "primary_version_id": version.id},
            key,
        )
        try:
            created = self._store.create_key(key, op)
        except BaseException:
            self._discard(version)
            raise
        if not created:
            self._discard(version)
            raise Unavailable("key creation was interrupted; retry")
        return op

    def rotate(self, key_id: str, created_by: str = "") -> Operation:
        key = self.get(key_id)
        op = self._rotate(key, created_by, "Rotate symmetric key", conditional=False)
        assert op is not None
        return op

    def _rotate(
        self, key: SymmetricKey, created_by: str, description: str, conditional: bool
    ) -> Operation | None:
        version = self._new_version(key.id, key.default_algorithm)
        rotated = replace(key, primary_version=version, rotated_at=version.created_at)
        op = done_operation(
            key.id,
            description,
            created_by,
            "RotateSymmetricKeyMetadata",
            {"key_id": key.id, "new_primary_version_id": version.id},
            rotated,
        )
        try:
            done = self._store.add_primary_version(
                version,
                op,
                expected_primary_id=key.primary_version.id if conditional else None,
                expected_basis=(key.rotated_at or key.created_at) if conditional else None,
            )
        except BaseException:
            self._discard(version)
            raise
        if not done:
            self._discard(version)
            if not conditional:
                raise NotFound(f"key {key.id} not found")
            return None
        log.info("key %s rotated: primary %s -> %s", key.id, key.primary_version.id, version.id)
        return op

    def update(
        self, key_id: str, paths: list[str], spec: KeySpec, created_by: str = ""
    ) -> Operation:
        if not paths:
            raise InvalidArgument("update_mask: must name at least one field")
        unknown = sorted(set(paths) - UPDATABLE_FIELDS)
        if unknown:
            raise InvalidArgument(
                f"update_mask: unknown or read-only field {unknown[0]!r}; "
                f"updatable: {', '.join(sorted(UPDATABLE_FIELDS))}"
            )
        fields = frozenset(paths)
        key = self.get(key_id)
        changes: dict[str, object] = {}
        if "status" in fields:
            if spec.status not in (KeyStatus.ACTIVE, KeyStatus.INACTIVE):
                raise InvalidArgument("status: must be ACTIVE or INACTIVE")
            changes["status"] = KeyStatus(spec.status)
        if "default_algorithm" in fields:
            check_algorithm(spec.default_algorithm, "default_algorithm")
            changes["default_algorithm"] = spec.default_algorithm
        if "rotation_period" in fields:
            _check_rotation_period(spec.rotation_period)
            changes["rotation_period"] = spec.rotation_period
        for name in ("name", "description", "deletion_protection"):
            if name in fields:
                changes[name] = getattr(spec, name)
        if "labels" in fields:
            changes["labels"] = dict(spec.labels)
        updated = replace(key, **changes)  # type: ignore[arg-type]
        op = done_operation(
            key.id,
            "Update symmetric key",
            created_by,
            "UpdateSymmetricKeyMetadata",
            {"key_id": key.id},
            updated,
        )
        if not self._store.update_key(updated, fields, op):
            raise NotFound(f"key {key_id} not found")
        return op

    def delete(self, key_id: str, created_by: str = "") -> Operation:
        key = self.get(key_id)
        now = self._clock()
        destroy_at = now + self._policy.key_deletion_pending_period
        op = done_operation(
            key.id,
            "Delete symmetric key",
            created_by,
            "DeleteSymmetricKeyMetadata",
            {"key_id": key.id},
            key,
        )
        if not self._store.delete_key(key.id, now, destroy_at, op):
            if self.get(key_id).deletion_protection:
                raise FailedPrecondition(
                    f"key {key_id} has deletion_protection enabled; disable it with Update first"
                )
            raise NotFound(f"key {key_id} not found")
        log.info("key %s deleted; its key material is destroyed at %s", key.id, destroy_at)
        return op

    def set_primary_version(self, key_id: str, version_id: str, created_by: str = "") -> Operation:
        key = self.get(key_id)
        version = self._version(key_id, version_id)
        self._require_active(version)
        updated = replace(key, primary_version=replace(version, primary=True))
        op = done_operation(
            key.id,
            "Set primary version of symmetric key",
            created_by,
            "SetPrimarySymmetricKeyVersionMetadata",
            {"key_id": key.id, "version_id": version.id},
            updated,
        )
        if not self._store.set_primary_version(key.id, version.id, op):
            self._require_active(self._version(key_id, version_id))
            raise NotFound(f"key {key_id} not found")
        return op

    def schedule_version_destruction(
        self,
        key_id: str,
        version_id: str,
        pending_period: timedelta | None,
        created_by: str = "",
    ) -> Operation:
        period = self._pending_period(pending_period)
        self.get(key_id)
        version = self._version(key_id, version_id)
        self._check_schedulable(version)
        destroy_at = self._clock() + period
        scheduled = replace(
            version, status=VersionStatus.SCHEDULED_FOR_DESTRUCTION, destroy_at=destroy_at
        )
        op = done_operation(
            key_id,
            "Schedule symmetric key version destruction",
            created_by,
            "ScheduleSymmetricKeyVersionDestructionMetadata",
            {"key_id": key_id, "version_id": version_id, "destroy_at": _rfc3339(destroy_at)},
            scheduled,
        )
        if not self._store.schedule_version_destruction(key_id, version_id, destroy_at, op):
            self._check_schedulable(self._version(key_id, version_id))
            raise NotFound(f"key {key_id} not found")
        log.info(
            "version %s of key %s scheduled for destruction at %s", version_id, key_id, destroy_at
        )
        return op

    def cancel_version_destruction(
        self, key_id: str, version_id: str, created_by: str = ""
    ) -> Operation:
        self.get(key_id)
        version = self._version(key_id, version_id)
        now = self._clock()
        self._check_cancellable(version, now)
        restored = replace(version, status=VersionStatus.ACTIVE, destroy_at=None)
        op = done_operation(
            key_id,
            "Cancel symmetric key version destruction",
            created_by,
            "CancelSymmetricKeyVersionDestructionMetadata",
            {"key_id": key_id, "version_id": version_id},
            restored,
        )
        if not self._store.cancel_version_destruction(key_id, version_id, now, op):
            self._check_cancellable(self._version(key_id, version_id), now)
            raise NotFound(f"key {key_id} not found")
        return op

    # -- rules --------------------------------------------------------------------------------

    def _pending_period(self, requested: timedelta | None) -> timedelta:
        policy = self._policy
        if requested is None:
            return policy.default_pending_period
        if not policy.min_pending_period <= requested <= policy.max_pending_period:
            raise InvalidArgument(
                f"pending_period: must be between {_human(policy.min_pending_period)} and "
                f"{_human(policy.max_pending_period)}"
            )
        return requested

    @staticmethod
    def _require_active(version: KeyVersion) -> None:
        if version.status != VersionStatus.ACTIVE:
            raise FailedPrecondition(
                f"version {version.id} is {version.status.name}; only an ACTIVE version can be "
                "made primary"
            )

    @staticmethod
    def _check_schedulable(version: KeyVersion) -> None:
        if version.primary:
            raise FailedPrecondition(
                f"version {version.id} is the primary version; make another version primary "
                "or rotate the key first"
            )
        if version.status != VersionStatus.ACTIVE:
            raise FailedPrecondition(f"version {version.id} is {version.status.name}")

    @staticmethod
    def _check_cancellable(version: KeyVersion, now: datetime) -> None:
        if version.status != VersionStatus.SCHEDULED_FOR_DESTRUCTION:
            raise FailedPrecondition(
                f"version {version.id} is {version.status.name}, not SCHEDULED_FOR_DESTRUCTION"
            )
        if version.destroy_at is not None and version.destroy_at <= now:
            raise FailedPrecondition(f"version {version.id} is already due for destruction")

    # -- scheduled work -----------------------------------------------------------------------

    def destroy_due_versions(self) -> list[str]:
        """Destroy the key objects of versions whose destroy_at has passed; returns their IDs.

        Each version is claimed in the store first (exactly one caller wins, whatever the number
        of workers or replicas), then its object is destroyed in the token.
        """
        now = self._clock()
        destroyed = []
        for version_id in self._store.due_destructions(now):
            if not self._store.claim_due_destruction(version_id, now):
                continue
            found = self._hsm.destroy_key(version_id)
            log.info(
                "version %s destroyed (token object %s)",
                version_id,
                "removed" if found else "was absent",
            )
            destroyed.append(version_id)
        return destroyed

    def rotate_exhausted(self, key_id: str, version_id: str) -> bool:
        """Rotate the key if `version_id` is still its primary (nonce budget threshold reached)."""
        key = self._store.get_key(key_id)
        if key is None or key.primary_version.id != version_id:
            return False
        op = self._rotate(
            key, SYSTEM_SUBJECT, "Rotate symmetric key (encryption limit)", conditional=True
        )
        if op is not None:
            log.warning(
                "key %s rotated: version %s reached its encryption threshold", key_id, version_id
            )
        return op is not None

    def rotate_due_keys(self) -> list[str]:
        """Rotate every key whose rotation period has passed; returns the rotated key IDs."""
        rotated = []
        for key in self._store.due_rotations(self._clock()):
            op = self._rotate(
                key, SYSTEM_SUBJECT, "Rotate symmetric key (scheduled)", conditional=True
            )
            if op is not None:
                rotated.append(key.id)
        return rotated


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _human(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class OperationService:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, operation_id: str) -> Operation:
        op = self._store.get_operation(operation_id)
        if op is None:
            raise NotFound(f"operation {operation_id} not found")
        return op

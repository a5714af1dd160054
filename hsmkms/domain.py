"""Keys, versions, operations: plain data and the rules that need no I/O."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


class SymmetricAlgorithm(enum.IntEnum):
    """Values match yandex.cloud.kms.v1.SymmetricAlgorithm on the wire."""

    UNSPECIFIED = 0
    AES_128 = 1
    AES_192 = 2
    AES_256 = 3
    AES_256_HSM = 4
    GOST_R_3412_2015_K = 5

    @property
    def key_bytes(self) -> int:
        """Length of a key of this algorithm; UNSPECIFIED means AES_256 (data keys)."""
        return _KEY_BYTES[self]


_KEY_BYTES = {
    SymmetricAlgorithm.UNSPECIFIED: 32,
    SymmetricAlgorithm.AES_128: 16,
    SymmetricAlgorithm.AES_192: 24,
    SymmetricAlgorithm.AES_256: 32,
    SymmetricAlgorithm.AES_256_HSM: 32,
    SymmetricAlgorithm.GOST_R_3412_2015_K: 32,
}

AES_ALGORITHMS = frozenset(
    {
        SymmetricAlgorithm.AES_128,
        SymmetricAlgorithm.AES_192,
        SymmetricAlgorithm.AES_256,
        SymmetricAlgorithm.AES_256_HSM,
    }
)


class KeyStatus(enum.IntEnum):
    """Values match yandex.cloud.kms.v1.SymmetricKey.Status."""

    CREATING = 1
    ACTIVE = 2
    INACTIVE = 3


class VersionStatus(enum.IntEnum):
    """Values match yandex.cloud.kms.v1.SymmetricKeyVersion.Status."""

    ACTIVE = 1
    SCHEDULED_FOR_DESTRUCTION = 2
    DESTROYED = 3


@dataclass(frozen=True)
class KeyVersion:
    id: str
    key_id: str
    status: VersionStatus
    algorithm: SymmetricAlgorithm
    created_at: datetime
    primary: bool = False
    destroy_at: datetime | None = None
    # AES-GCM invocations recorded so far (flushed in batches; see service/nonce.py).
    encryptions: int = 0


@dataclass(frozen=True)
class SymmetricKey:
    id: str
    folder_id: str
    created_at: datetime
    name: str
    description: str
    labels: dict[str, str]
    status: KeyStatus
    primary_version: KeyVersion
    default_algorithm: SymmetricAlgorithm
    rotated_at: datetime | None = None
    rotation_period: timedelta | None = None
    deletion_protection: bool = False


@dataclass(frozen=True)
class Empty:
    """The response of an operation that returns nothing (google.protobuf.Empty)."""


@dataclass(frozen=True)
class Subject:
    """Who a call acts as: `type:id`, e.g. serviceAccount:ci, userAccount:alice, system:allUsers."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Subject:
        type_, sep, id_ = text.partition(":")
        if not sep or not type_ or not id_:
            raise ValueError(f"subject {text!r} is not of the form type:id")
        return cls(type_, id_)


@dataclass(frozen=True)
class AccessBinding:
    role_id: str
    subject: Subject


@dataclass(frozen=True)
class Credential:
    """An API token's record; the token itself is never stored, only its hash."""

    id: str
    subject: Subject
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """A record of a mutating call, returned as yandex.cloud.operation.Operation.

    `metadata_type` names the metadata message (short name in yandex.cloud.kms.v1) and
    `metadata` holds its fields as strings in the protobuf JSON mapping; `response` is the
    resource as it was when the operation finished.
    """

    id: str
    description: str
    created_at: datetime
    created_by: str
    modified_at: datetime
    done: bool
    metadata_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    response: SymmetricKey | KeyVersion | Empty | None = None
    key_id: str = ""


@dataclass(frozen=True)
class Cursor:
    """A position in a list ordered by (created_at, id): what a page token encodes."""

    created_at_us: int
    id: str

    @classmethod
    def at(cls, created_at: datetime, id_: str) -> Cursor:
        return cls(to_micros(created_at), id_)


@dataclass(frozen=True)
class PendingVersion:
    """A key object being generated (or left by an interrupted Create or Rotate)."""

    version_id: str
    owner: str
    created_at: datetime


@dataclass(frozen=True)
class LifecyclePolicy:
    """Limits and defaults of scheduled destruction (see docs/configuration.md)."""

    default_pending_period: timedelta = timedelta(days=7)
    min_pending_period: timedelta = timedelta(days=1)
    max_pending_period: timedelta = timedelta(days=90)
    key_deletion_pending_period: timedelta = timedelta(days=7)
    # NIST SP 800-38D 8.3: at most 2**32 invocations of AES-GCM with random IVs per key. A key
    # whose primary version reaches the threshold is rotated; a version at the limit refuses to
    # encrypt. The margin below 2**32 covers counts not yet flushed by other workers.
    nonce_rotation_threshold: int = 2**31
    encryption_limit: int = 2**32 - 2**24


def done_operation(
    key_id: str,
    description: str,
    created_by: str,
    metadata_type: str,
    metadata: dict[str, str],
    response: SymmetricKey | KeyVersion | Empty,
) -> Operation:
    """The record of a change that completed within the call (every change here does)."""
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


# IDs look like Yandex Cloud's: a three-letter prefix and 17 base32 characters, 20 in all.
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuv"
KEY_ID_PREFIX = "hkk"
VERSION_ID_PREFIX = "hkv"
OPERATION_ID_PREFIX = "hko"
CREDENTIAL_ID_PREFIX = "hkt"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def utcnow() -> datetime:
    return datetime.now(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float rounding)."""
    return (value - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + value * MICROSECOND

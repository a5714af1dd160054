"""Domain objects <-> protobuf messages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import (
    any_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    json_format,
    message_factory,
    timestamp_pb2,
)

from hsmkms._pb.yandex.cloud.access import access_pb2 as access_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as key_service_pb
from hsmkms._pb.yandex.cloud.operation import operation_pb2
from hsmkms.domain import (
    AccessBinding,
    Empty,
    KeyVersion,
    Operation,
    Subject,
    SymmetricAlgorithm,
    SymmetricKey,
)
from hsmkms.service.keys import KeySpec


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def duration(value: timedelta) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(value)
    return d


def version_to_proto(version: KeyVersion) -> key_pb.SymmetricKeyVersion:
    msg = key_pb.SymmetricKeyVersion(
        id=version.id,
        key_id=version.key_id,
        status=int(version.status),  # type: ignore[arg-type]
        algorithm=int(version.algorithm),  # type: ignore[arg-type]
        created_at=timestamp(version.created_at),
        primary=version.primary,
        hosted_by_hsm=True,
    )
    if version.destroy_at is not None:
        msg.destroy_at.CopyFrom(timestamp(version.destroy_at))
    return msg


def key_to_proto(key: SymmetricKey) -> key_pb.SymmetricKey:
    msg = key_pb.SymmetricKey(
        id=key.id,
        folder_id=key.folder_id,
        created_at=timestamp(key.created_at),
        name=key.name,
        description=key.description,
        labels=key.labels,
        status=int(key.status),  # type: ignore[arg-type]
        primary_version=version_to_proto(key.primary_version),
        default_algorithm=int(key.default_algorithm),  # type: ignore[arg-type]
        deletion_protection=key.deletion_protection,
    )
    if key.rotated_at is not None:
        msg.rotated_at.CopyFrom(timestamp(key.rotated_at))
    if key.rotation_period is not None:
        msg.rotation_period.CopyFrom(duration(key.rotation_period))
    return msg


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _message_class(type_name: str) -> Any:
    """The generated class of a message named by full name (or short name in kms.v1)."""
    full_name = type_name if "." in type_name else f"yandex.cloud.kms.v1.{type_name}"
    return message_factory.GetMessageClass(
        descriptor_pool.Default().FindMessageTypeByName(full_name)
    )


def operation_to_proto(op: Operation) -> operation_pb2.Operation:
    metadata_cls = _message_class(op.metadata_type)
    msg = operation_pb2.Operation(
        id=op.id,
        description=op.description,
        created_at=timestamp(op.created_at),
        created_by=op.created_by,
        modified_at=timestamp(op.modified_at),
        done=op.done,
        metadata=_pack(json_format.ParseDict(op.metadata, metadata_cls())),
    )
    if isinstance(op.response, SymmetricKey):
        msg.response.CopyFrom(_pack(key_to_proto(op.response)))
    elif isinstance(op.response, KeyVersion):
        msg.response.CopyFrom(_pack(version_to_proto(op.response)))
    elif isinstance(op.response, Empty):
        msg.response.CopyFrom(_pack(empty_pb2.Empty()))
    return msg


def binding_to_proto(binding: AccessBinding) -> access_pb.AccessBinding:
    return access_pb.AccessBinding(
        role_id=binding.role_id,
        subject=access_pb.Subject(id=binding.subject.id, type=binding.subject.type),
    )


def binding_from_proto(binding: access_pb.AccessBinding) -> AccessBinding:
    return AccessBinding(binding.role_id, Subject(binding.subject.type, binding.subject.id))


def optional_duration(message: Any, field: str) -> timedelta | None:
    if not message.HasField(field):
        return None
    value: timedelta = getattr(message, field).ToTimedelta()
    return value


def key_spec(
    request: key_service_pb.CreateSymmetricKeyRequest | key_service_pb.UpdateSymmetricKeyRequest,
) -> KeySpec:
    """The key attributes carried by a Create or Update request."""
    return KeySpec(
        folder_id=getattr(request, "folder_id", ""),
        default_algorithm=SymmetricAlgorithm(request.default_algorithm),
        name=request.name,
        description=request.description,
        labels=dict(request.labels),
        status=getattr(request, "status", 0),
        rotation_period=optional_duration(request, "rotation_period"),
        deletion_protection=request.deletion_protection,
    )


_CAMEL = re.compile(r"(?<!^)([A-Z])")


def mask_path(path: str) -> str:
    """A field mask path in snake_case (REST clients send camelCase)."""
    return _CAMEL.sub(r"_\1", path).lower()

import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hsmkms._pb.yandex.cloud.access import access_pb2 as _access_pb2
from hsmkms._pb.yandex.cloud.api import operation_pb2 as _operation_pb2
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as _symmetric_key_pb2
from hsmkms._pb.yandex.cloud.operation import operation_pb2 as _operation_pb2_1
from hsmkms._pb.yandex.cloud import validation_pb2 as _validation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateSymmetricKeyRequest(_message.Message):
    __slots__ = ("folder_id", "name", "description", "labels", "default_algorithm", "rotation_period", "deletion_protection")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    ROTATION_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DELETION_PROTECTION_FIELD_NUMBER: _ClassVar[int]
    folder_id: str
    name: str
    description: str
    labels: _containers.ScalarMap[str, str]
    default_algorithm: _symmetric_key_pb2.SymmetricAlgorithm
    rotation_period: _duration_pb2.Duration
    deletion_protection: bool
    def __init__(self, folder_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., default_algorithm: _Optional[_Union[_symmetric_key_pb2.SymmetricAlgorithm, str]] = ..., rotation_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., deletion_protection: _Optional[bool] = ...) -> None: ...

class CreateSymmetricKeyMetadata(_message.Message):
    __slots__ = ("key_id", "primary_version_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    primary_version_id: str
    def __init__(self, key_id: _Optional[str] = ..., primary_version_id: _Optional[str] = ...) -> None: ...

class GetSymmetricKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class ListSymmetricKeysRequest(_message.Message):
    __slots__ = ("folder_id", "page_size", "page_token")
    FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    folder_id: str
    page_size: int
    page_token: str
    def __init__(self, folder_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSymmetricKeysResponse(_message.Message):
    __slots__ = ("keys", "next_page_token")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[_symmetric_key_pb2.SymmetricKey]
    next_page_token: str
    def __init__(self, keys: _Optional[_Iterable[_Union[_symmetric_key_pb2.SymmetricKey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSymmetricKeyVersionsRequest(_message.Message):
    __slots__ = ("key_id", "page_size", "page_token")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    page_size: int
    page_token: str
    def __init__(self, key_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSymmetricKeyVersionsResponse(_message.Message):
    __slots__ = ("key_versions", "next_page_token")
    KEY_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    key_versions: _containers.RepeatedCompositeFieldContainer[_symmetric_key_pb2.SymmetricKeyVersion]
    next_page_token: str
    def __init__(self, key_versions: _Optional[_Iterable[_Union[_symmetric_key_pb2.SymmetricKeyVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSymmetricKeyRequest(_message.Message):
    __slots__ = ("key_id", "update_mask", "name", "description", "status", "labels", "default_algorithm", "rotation_period", "deletion_protection")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    ROTATION_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DELETION_PROTECTION_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    update_mask: _field_mask_pb2.FieldMask
    name: str
    description: str
    status: _symmetric_key_pb2.SymmetricKey.Status
    labels: _containers.ScalarMap[str, str]
    default_algorithm: _symmetric_key_pb2.SymmetricAlgorithm
    rotation_period: _duration_pb2.Duration
    deletion_protection: bool
    def __init__(self, key_id: _Optional[str] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[_Union[_symmetric_key_pb2.SymmetricKey.Status, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., default_algorithm: _Optional[_Union[_symmetric_key_pb2.SymmetricAlgorithm, str]] = ..., rotation_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., deletion_protection: _Optional[bool] = ...) -> None: ...

class UpdateSymmetricKeyMetadata(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class DeleteSymmetricKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class DeleteSymmetricKeyMetadata(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class SetPrimarySymmetricKeyVersionRequest(_message.Message):
    __slots__ = ("key_id", "version_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    version_id: str
    def __init__(self, key_id: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class SetPrimarySymmetricKeyVersionMetadata(_message.Message):
    __slots__ = ("key_id", "version_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    version_id: str
    def __init__(self, key_id: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class RotateSymmetricKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RotateSymmetricKeyMetadata(_message.Message):
    __slots__ = ("key_id", "new_primary_version_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_PRIMARY_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    new_primary_version_id: str
    def __init__(self, key_id: _Optional[str] = ..., new_primary_version_id: _Optional[str] = ...) -> None: ...

class ScheduleSymmetricKeyVersionDestructionRequest(_message.Message):
    __slots__ = ("key_id", "version_id", "pending_period")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    PENDING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    version_id: str
    pending_period: _duration_pb2.Duration
    def __init__(self, key_id: _Optional[str] = ..., version_id: _Optional[str] = ..., pending_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ScheduleSymmetricKeyVersionDestructionMetadata(_message.Message):
    __slots__ = ("key_id", "version_id", "destroy_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    DESTROY_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    version_id: str
    destroy_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., version_id: _Optional[str] = ..., destroy_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CancelSymmetricKeyVersionDestructionRequest(_message.Message):
    __slots__ = ("key_id", "version_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    version_id: str
    def __init__(self, key_id: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class CancelSymmetricKeyVersionDestructionMetadata(_message.Message):
    __slots__ = ("key_id", "version_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    version_id: str
    def __init__(self, key_id: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class ListSymmetricKeyOperationsRequest(_message.Message):
    __slots__ = ("key_id", "page_size", "page_token")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    page_size: int
    page_token: str
    def __init__(self, key_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSymmetricKeyOperationsResponse(_message.Message):
    __slots__ = ("operations", "next_page_token")
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedCompositeFieldContainer[_operation_pb2_1.Operation]
    next_page_token: str
    def __init__(self, operations: _Optional[_Iterable[_Union[_operation_pb2_1.Operation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

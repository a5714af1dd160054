import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SymmetricAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYMMETRIC_ALGORITHM_UNSPECIFIED: _ClassVar[SymmetricAlgorithm]
    AES_128: _ClassVar[SymmetricAlgorithm]
    AES_192: _ClassVar[SymmetricAlgorithm]
    AES_256: _ClassVar[SymmetricAlgorithm]
    AES_256_HSM: _ClassVar[SymmetricAlgorithm]
    GOST_R_3412_2015_K: _ClassVar[SymmetricAlgorithm]
SYMMETRIC_ALGORITHM_UNSPECIFIED: SymmetricAlgorithm
AES_128: SymmetricAlgorithm
AES_192: SymmetricAlgorithm
AES_256: SymmetricAlgorithm
AES_256_HSM: SymmetricAlgorithm
GOST_R_3412_2015_K: SymmetricAlgorithm

class SymmetricKeyVersion(_message.Message):
    __slots__ = ("id", "key_id", "status", "algorithm", "created_at", "primary", "destroy_at", "hosted_by_hsm")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[SymmetricKeyVersion.Status]
        ACTIVE: _ClassVar[SymmetricKeyVersion.Status]
        SCHEDULED_FOR_DESTRUCTION: _ClassVar[SymmetricKeyVersion.Status]
        DESTROYED: _ClassVar[SymmetricKeyVersion.Status]
    STATUS_UNSPECIFIED: SymmetricKeyVersion.Status
    ACTIVE: SymmetricKeyVersion.Status
    SCHEDULED_FOR_DESTRUCTION: SymmetricKeyVersion.Status
    DESTROYED: SymmetricKeyVersion.Status
    ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    DESTROY_AT_FIELD_NUMBER: _ClassVar[int]
    HOSTED_BY_HSM_FIELD_NUMBER: _ClassVar[int]
    id: str
    key_id: str
    status: SymmetricKeyVersion.Status
    algorithm: SymmetricAlgorithm
    created_at: _timestamp_pb2.Timestamp
    primary: bool
    destroy_at: _timestamp_pb2.Timestamp
    hosted_by_hsm: bool
    def __init__(self, id: _Optional[str] = ..., key_id: _Optional[str] = ..., status: _Optional[_Union[SymmetricKeyVersion.Status, str]] = ..., algorithm: _Optional[_Union[SymmetricAlgorithm, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., primary: _Optional[bool] = ..., destroy_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hosted_by_hsm: _Optional[bool] = ...) -> None: ...

class SymmetricKey(_message.Message):
    __slots__ = ("id", "folder_id", "created_at", "name", "description", "labels", "status", "primary_version", "default_algorithm", "rotated_at", "rotation_period", "deletion_protection")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[SymmetricKey.Status]
        CREATING: _ClassVar[SymmetricKey.Status]
        ACTIVE: _ClassVar[SymmetricKey.Status]
        INACTIVE: _ClassVar[SymmetricKey.Status]
    STATUS_UNSPECIFIED: SymmetricKey.Status
    CREATING: SymmetricKey.Status
    ACTIVE: SymmetricKey.Status
    INACTIVE: SymmetricKey.Status
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    ROTATED_AT_FIELD_NUMBER: _ClassVar[int]
    ROTATION_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DELETION_PROTECTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    folder_id: str
    created_at: _timestamp_pb2.Timestamp
    name: str
    description: str
    labels: _containers.ScalarMap[str, str]
    status: SymmetricKey.Status
    primary_version: SymmetricKeyVersion
    default_algorithm: SymmetricAlgorithm
    rotated_at: _timestamp_pb2.Timestamp
    rotation_period: _duration_pb2.Duration
    deletion_protection: bool
    def __init__(self, id: _Optional[str] = ..., folder_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., status: _Optional[_Union[SymmetricKey.Status, str]] = ..., primary_version: _Optional[_Union[SymmetricKeyVersion, _Mapping]] = ..., default_algorithm: _Optional[_Union[SymmetricAlgorithm, str]] = ..., rotated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rotation_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., deletion_protection: _Optional[bool] = ...) -> None: ...

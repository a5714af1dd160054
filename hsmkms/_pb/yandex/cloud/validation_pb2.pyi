from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
EXACTLY_ONE_FIELD_NUMBER: _ClassVar[int]
exactly_one: _descriptor.FieldDescriptor
REQUIRED_FIELD_NUMBER: _ClassVar[int]
required: _descriptor.FieldDescriptor
PATTERN_FIELD_NUMBER: _ClassVar[int]
pattern: _descriptor.FieldDescriptor
VALUE_FIELD_NUMBER: _ClassVar[int]
value: _descriptor.FieldDescriptor
SIZE_FIELD_NUMBER: _ClassVar[int]
size: _descriptor.FieldDescriptor
LENGTH_FIELD_NUMBER: _ClassVar[int]
length: _descriptor.FieldDescriptor
UNIQUE_FIELD_NUMBER: _ClassVar[int]
unique: _descriptor.FieldDescriptor
MAP_KEY_FIELD_NUMBER: _ClassVar[int]
map_key: _descriptor.FieldDescriptor
BYTES_FIELD_NUMBER: _ClassVar[int]
bytes: _descriptor.FieldDescriptor

class MapKeySpec(_message.Message):
    __slots__ = ("value", "pattern", "length")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    value: str
    pattern: str
    length: str
    def __init__(self, value: _Optional[str] = ..., pattern: _Optional[str] = ..., length: _Optional[str] = ...) -> None: ...

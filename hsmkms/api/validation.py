"""Request validation driven by the (yandex.cloud.*) field options in the proto files.

The limits live in one place, the wire contract: `required`, `length`, `size`, `value`,
`pattern` and `map_key` are read off each request's descriptor once and checked on every call.
A violation raises InvalidArgument naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from hsmkms._pb.yandex.cloud import validation_pb2 as v
from hsmkms.errors import InvalidArgument

_RANGE = re.compile(r"^\s*(?:(<=|>=|<|>)\s*(\d+)|(\d+)\s*-\s*(\d+)|(\d+))\s*$")


@dataclass(frozen=True)
class Range:
    low: int | None
    high: int | None
    text: str

    def __contains__(self, n: int) -> bool:
        return (self.low is None or n >= self.low) and (self.high is None or n <= self.high)


def parse_range(text: str) -> Range:
    m = _RANGE.match(text)
    if m is None:
        raise ValueError(f"unsupported range {text!r}")
    op, bound, low, high, exact = m.groups()
    if op == "<=":
        return Range(None, int(bound), text)
    if op == "<":
        return Range(None, int(bound) - 1, text)
    if op == ">=":
        return Range(int(bound), None, text)
    if op == ">":
        return Range(int(bound) + 1, None, text)
    if exact is not None:
        return Range(int(exact), int(exact), text)
    return Range(int(low), int(high), text)


Check = Callable[[Message, str], None]


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _field_checks(fd: FieldDescriptor) -> list[Check]:
    opts: Any = fd.GetOptions()
    ext: Any = opts.Extensions
    required = ext[v.required]
    length = parse_range(ext[v.length]) if ext[v.length] else None
    size = parse_range(ext[v.size]) if ext[v.size] else None
    value = parse_range(ext[v.value]) if ext[v.value] else None
    pattern = _pattern(ext[v.pattern]) if ext[v.pattern] else None
    key_spec = ext[v.map_key] if opts.HasExtension(v.map_key) else None
    name = fd.name
    is_map = fd.message_type is not None and fd.message_type.GetOptions().map_entry
    is_repeated = fd.is_repeated

    if is_map:
        key_length = parse_range(key_spec.length) if key_spec and key_spec.length else None
        key_pattern = _pattern(key_spec.pattern) if key_spec and key_spec.pattern else None

        def check_map(msg: Message, path: str) -> None:
            entries = getattr(msg, name)
            where = path + name
            if required and not entries:
                raise InvalidArgument(f"{where}: is required")
            if size is not None and len(entries) not in size:
                raise InvalidArgument(f"{where}: number of entries must be {size.text}")
            for k, val in entries.items():
                if key_length is not None and len(k) not in key_length:
                    raise InvalidArgument(f"{where}: key {k!r} length must be {key_length.text}")
                if key_pattern is not None and not key_pattern.fullmatch(k):
                    raise InvalidArgument(f"{where}: key {k!r} must match {key_pattern.pattern}")
                if isinstance(val, str | bytes):
                    if length is not None and len(val) not in length:
                        raise InvalidArgument(f"{where}[{k}]: length must be {length.text}")
                    if pattern is not None and isinstance(val, str) and not pattern.fullmatch(val):
                        raise InvalidArgument(f"{where}[{k}]: must match {pattern.pattern}")
                elif isinstance(val, Message):
                    validate(val, f"{where}[{k}].")

        return [check_map]

    if is_repeated:

        def check_repeated(msg: Message, path: str) -> None:
            items = getattr(msg, name)
            where = path + name
            if required and not items:
                raise InvalidArgument(f"{where}: is required")
            if size is not None and len(items) not in size:
                raise InvalidArgument(f"{where}: number of elements must be {size.text}")
            for i, item in enumerate(items):
                if isinstance(item, Message):
                    validate(item, f"{where}[{i}].")
                elif isinstance(item, str | bytes):
                    if length is not None and len(item) not in length:
                        raise InvalidArgument(f"{where}[{i}]: length must be {length.text}")
                    if (
                        pattern is not None
                        and isinstance(item, str)
                        and not pattern.fullmatch(item)
                    ):
                        raise InvalidArgument(f"{where}[{i}]: must match {pattern.pattern}")

        return [check_repeated]

    if fd.type == fd.TYPE_MESSAGE:

        def check_message(msg: Message, path: str) -> None:
            where = path + name
            if not msg.HasField(name):
                if required:
                    raise InvalidArgument(f"{where}: is required")
                return
            validate(getattr(msg, name), where + ".")

        return [check_message]

    if fd.type == fd.TYPE_ENUM:
        assert fd.enum_type is not None
        known = frozenset(fd.enum_type.values_by_number)

        def check_enum(msg: Message, path: str) -> None:
            n = getattr(msg, name)
            if required and n == 0:
                raise InvalidArgument(f"{path}{name}: is required")
            if n not in known:
                raise InvalidArgument(f"{path}{name}: unknown value {n}")

        return [check_enum]

    if fd.type in (fd.TYPE_STRING, fd.TYPE_BYTES):

        def check_scalar(msg: Message, path: str) -> None:
            val = getattr(msg, name)
            where = path + name
            if required and not val:
                raise InvalidArgument(f"{where}: is required")
            if length is not None and val and len(val) not in length:
                raise InvalidArgument(f"{where}: length must be {length.text} (got {len(val)})")
            if pattern is not None and val and isinstance(val, str) and not pattern.fullmatch(val):
                raise InvalidArgument(f"{where}: must match {pattern.pattern}")

        return [check_scalar] if (required or length or pattern) else []

    if value is not None or required:

        def check_number(msg: Message, path: str) -> None:
            n = getattr(msg, name)
            if required and not n:
                raise InvalidArgument(f"{path}{name}: is required")
            if value is not None and n not in value:
                raise InvalidArgument(f"{path}{name}: value must be {value.text} (got {n})")

        return [check_number]
    return []


@cache
def _checks(descriptor: Descriptor) -> tuple[Check, ...]:
    checks: list[Check] = []
    for fd in descriptor.fields:
        checks.extend(_field_checks(fd))
    return tuple(checks)


def validate(message: Message | Any, path: str = "") -> None:
    """Raise InvalidArgument for the first field of `message` that breaks its declared limits."""
    for check in _checks(message.DESCRIPTOR):
        check(message, path)

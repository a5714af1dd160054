"""Printing results as JSON, YAML or text.

JSON comes from google.protobuf.json_format with proto field names and every field shown. YAML is
the same data in block style, written here without a YAML library: strings are always
double-quoted YAML scalars, so no value can be misread (`no`, `1e3`, `null`, ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

FORMATS = ("text", "json", "yaml")

# Columns of `list` output in text format, by message type.
_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "yandex.cloud.kms.v1.SymmetricKey": (
        ("ID", "id"),
        ("NAME", "name"),
        ("STATUS", "status"),
        ("ALGORITHM", "default_algorithm"),
        ("PRIMARY VERSION", "primary_version.id"),
        ("ROTATION PERIOD", "rotation_period"),
        ("CREATED AT", "created_at"),
    ),
    "yandex.cloud.kms.v1.SymmetricKeyVersion": (
        ("ID", "id"),
        ("STATUS", "status"),
        ("ALGORITHM", "algorithm"),
        ("PRIMARY", "primary"),
        ("CREATED AT", "created_at"),
        ("DESTROY AT", "destroy_at"),
    ),
    "yandex.cloud.operation.Operation": (
        ("ID", "id"),
        ("DESCRIPTION", "description"),
        ("CREATED BY", "created_by"),
        ("CREATED AT", "created_at"),
        ("DONE", "done"),
    ),
    "yandex.cloud.access.AccessBinding": (
        ("ROLE", "role_id"),
        ("SUBJECT TYPE", "subject.type"),
        ("SUBJECT ID", "subject.id"),
    ),
}


def to_data(value: Message | Sequence[Message] | dict[str, Any]) -> Any:
    if isinstance(value, Message):
        return json_format.MessageToDict(
            value, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
        )
    if isinstance(value, dict):
        return value
    return [to_data(item) for item in value]


def render(value: Message | Sequence[Message] | dict[str, Any], fmt: str) -> str:
    """The text to print (without a final newline; empty when there is nothing to show)."""
    data = to_data(value)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False)
    if fmt == "yaml":
        return "\n".join(yaml_lines(data))
    if isinstance(value, Message | dict):
        return "\n".join(f"{k}: {v}" for k, v in flatten(data).items())
    return table(value, data)


def table(messages: Sequence[Message], data: list[dict[str, Any]]) -> str:
    if not messages:
        return ""
    columns = _COLUMNS.get(messages[0].DESCRIPTOR.full_name)
    rows = [flatten(item) for item in data]
    if columns is None:
        names = list(dict.fromkeys(k for row in rows for k in row))
        columns = tuple((name.upper(), name) for name in names)
    cells = [[title for title, _ in columns]]
    cells += [[_text(row.get(path, "")) for _, path in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as `a.b` / `a[0]` paths to scalars."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(data, list) and data:
        out = {}
        for i, value in enumerate(data):
            out.update(flatten(value, f"{prefix}[{i}]"))
        return out
    if isinstance(data, dict | list):
        return {prefix: ""} if prefix else {}
    return {prefix: _text(data)}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# YAML: block style, strings double-quoted.

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def yaml_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        cp = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0x20 <= cp < 0x7F or (
            cp >= 0xA0 and not 0xD800 <= cp <= 0xDFFF and cp not in (0xFEFF, 0xFFFE, 0xFFFF)
        ):
            out.append(ch)
        elif cp <= 0xFF:
            out.append(f"\\x{cp:02x}")
        else:
            out.append(f"\\u{cp:04x}")
    out.append('"')
    return "".join(out)


def _yaml_key(key: str) -> str:
    if _PLAIN_KEY.fullmatch(key) and key.lower() not in _RESERVED:
        return key
    return yaml_quote(key)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return yaml_quote(str(value))


def yaml_lines(data: Any) -> list[str]:
    if isinstance(data, dict) and data:
        lines: list[str] = []
        for key, value in data.items():
            head = f"{_yaml_key(str(key))}:"
            if isinstance(value, dict | list) and value:
                lines.append(head)
                lines += ["  " + line for line in yaml_lines(value)]
            else:
                lines.append(f"{head} {_yaml_scalar(value)}")
        return lines
    if isinstance(data, list) and data:
        lines = []
        for item in data:
            inner = yaml_lines(item)
            lines.append("- " + inner[0])
            lines += ["  " + line for line in inner[1:]]
        return lines
    return [_yaml_scalar(data)]

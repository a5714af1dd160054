"""The audit log: one JSON line per call, never a plaintext, ciphertext, key, AAD or token."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

# Request and response fields that identify what a call touched. Only these are ever logged.
AUDITED_FIELDS = (
    "key_id",
    "version_id",
    "source_key_id",
    "source_version_id",
    "folder_id",
    "resource_id",
    "operation_id",
)


class AuditLog:
    """Appends audit records to a file, or writes them to standard output (path "-").

    Each record is one write(2) on a file opened with O_APPEND, so the lines of several worker
    processes sharing the file never interleave, and nothing is buffered in the process.
    """

    def __init__(self, path: str) -> None:
        if path == "-":
            self._fd = sys.stdout.fileno()
            self._owned = False
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._owned = True

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())

    def close(self) -> None:
        if self._owned:
            os.close(self._fd)
            self._owned = False


@functools.cache
def _fields_of(descriptor: Any) -> tuple[str, ...]:
    names = {field.name for field in descriptor.fields}
    return tuple(name for name in AUDITED_FIELDS if name in names)


def audited_fields(message: Any) -> dict[str, str]:
    """The identifying fields set on a request or response message."""
    out = {}
    for name in _fields_of(message.DESCRIPTOR):
        value = getattr(message, name)
        if value and isinstance(value, str):
            out[name] = value
    return out

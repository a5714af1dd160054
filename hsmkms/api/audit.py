"""The audit log: one JSON line per call, never a plaintext, ciphertext, key, AAD or token."""

from __future__ import annotations

import json
import logging
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
    """Writes audit records to a file (appending) or to standard output (path "-")."""

    def __init__(self, path: str) -> None:
        self._logger = logging.getLogger(f"hsmkms.audit.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        handler: logging.Handler
        if path == "-":
            handler = logging.StreamHandler(sys.stdout)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger.addHandler(handler)
        self._handler = handler

    def write(self, record: dict[str, Any]) -> None:
        self._logger.info(json.dumps(record, separators=(",", ":"), sort_keys=True))

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()


def audited_fields(message: Any) -> dict[str, str]:
    """The identifying fields set on a request or response message."""
    out = {}
    for name in AUDITED_FIELDS:
        value = getattr(message, name, "")
        if value and isinstance(value, str):
            out[name] = value
    return out

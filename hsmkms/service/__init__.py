"""The rules: key lifecycle and cryptographic operations, over the Hsm and Store seams."""

from __future__ import annotations

from hsmkms.service.crypto import CryptoService
from hsmkms.service.keys import KeyService, OperationService

__all__ = ["CryptoService", "KeyService", "OperationService"]

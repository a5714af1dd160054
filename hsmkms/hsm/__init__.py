"""The PKCS#11 boundary: the only package that imports pkcs11.

The service layer depends on the `Hsm` protocol; `Pkcs11Hsm` implements it on a real token.
"""

from __future__ import annotations

from typing import Protocol


class Hsm(Protocol):
    """What the service needs from a hardware security module.

    Key objects are named by key version ID. Every method raises only errors.KmsError subclasses:
    InvalidCiphertext when authentication fails, FailedPrecondition when a version's key object
    is missing, Unavailable when the token cannot be used.
    """

    def generate_aes_key(self, version_id: str, key_bytes: int) -> None: ...

    def encrypt(self, version_id: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """AES-GCM with a fresh random 96-bit IV; returns (iv, ciphertext || tag)."""
        ...

    def decrypt(self, version_id: str, iv: bytes, sealed: bytes, aad: bytes) -> bytes: ...

    def random_bytes(self, n: int) -> bytes: ...

    def destroy_key(self, version_id: str) -> bool:
        """Destroy the version's key object; False if there was none."""
        ...

    def key_version_ids(self) -> set[str]:
        """Version IDs of every key object this service created in the token."""
        ...

    def close(self) -> None: ...

"""The ciphertext format: build and strictly parse, nothing else. See docs/ciphertext.md.

    offset  size  field
    0       4     magic b"HKMS"
    4       1     format version (1)
    5       1     n = length of the key version ID (1..50)
    6       n     key version ID, ASCII
    6+n     12    GCM IV (random, from the HSM)
    18+n    *     GCM ciphertext followed by the 16-byte tag

The header (bytes 0 .. 6+n, magic through version ID) is authenticated: the GCM AAD is
header || aad_context. The header is length-prefixed, so the concatenation is unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass

from hsmkms.errors import InvalidCiphertext

MAGIC = b"HKMS"
FORMAT_VERSION = 1
IV_BYTES = 12
TAG_BYTES = 16
MAX_VERSION_ID_BYTES = 50
_VERSION_ID_CHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.")


@dataclass(frozen=True)
class Envelope:
    version_id: str
    iv: bytes
    sealed: bytes  # GCM ciphertext || tag

    @property
    def header(self) -> bytes:
        return header(self.version_id)

    def aad(self, aad_context: bytes) -> bytes:
        return self.header + aad_context

    def to_bytes(self) -> bytes:
        return self.header + self.iv + self.sealed


def header(version_id: str) -> bytes:
    raw = version_id.encode("ascii")
    if not 0 < len(raw) <= MAX_VERSION_ID_BYTES:
        raise ValueError("version ID length out of range")
    return MAGIC + bytes((FORMAT_VERSION, len(raw))) + raw


def gcm_aad(version_id: str, aad_context: bytes) -> bytes:
    """The AAD passed to AES-GCM for a ciphertext under `version_id`."""
    return header(version_id) + aad_context


def parse(data: bytes) -> Envelope:
    """Parse a ciphertext; any deviation from the format raises InvalidCiphertext."""
    fixed = len(MAGIC) + 2
    if len(data) < fixed or data[: len(MAGIC)] != MAGIC or data[len(MAGIC)] != FORMAT_VERSION:
        raise InvalidCiphertext()
    n = data[len(MAGIC) + 1]
    if not 0 < n <= MAX_VERSION_ID_BYTES:
        raise InvalidCiphertext()
    raw_id = data[fixed : fixed + n]
    if len(raw_id) != n or not _VERSION_ID_CHARS.issuperset(raw_id):
        raise InvalidCiphertext()
    body = data[fixed + n :]
    if len(body) < IV_BYTES + TAG_BYTES:
        raise InvalidCiphertext()
    return Envelope(version_id=raw_id.decode("ascii"), iv=body[:IV_BYTES], sealed=body[IV_BYTES:])

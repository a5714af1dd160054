"""Encrypt, Decrypt, ReEncrypt, GenerateDataKey: the rules about which version may do what."""

from __future__ import annotations

from dataclasses import dataclass

from hsmkms import envelope
from hsmkms.domain import KeyStatus, KeyVersion, SymmetricAlgorithm, SymmetricKey, VersionStatus
from hsmkms.errors import FailedPrecondition, InvalidCiphertext, NotFound
from hsmkms.hsm import Hsm
from hsmkms.service.keys import check_algorithm
from hsmkms.service.nonce import EncryptionCounter
from hsmkms.store import Store


@dataclass(frozen=True)
class Encrypted:
    key_id: str
    version_id: str
    ciphertext: bytes


@dataclass(frozen=True)
class Decrypted:
    key_id: str
    version_id: str
    plaintext: bytes


@dataclass(frozen=True)
class ReEncrypted:
    key_id: str
    version_id: str
    source_key_id: str
    source_version_id: str
    ciphertext: bytes


@dataclass(frozen=True)
class DataKey:
    key_id: str
    version_id: str
    plaintext: bytes
    ciphertext: bytes


class CryptoService:
    def __init__(self, store: Store, hsm: Hsm, counter: EncryptionCounter) -> None:
        self._store = store
        self._hsm = hsm
        self._counter = counter

    # -- rules --------------------------------------------------------------------------------

    def _usable_key(self, key_id: str) -> SymmetricKey:
        key = self._store.get_key(key_id)
        if key is None:
            raise NotFound(f"key {key_id} not found")
        if key.status != KeyStatus.ACTIVE:
            raise FailedPrecondition(f"key {key_id} is {key.status.name}, not ACTIVE")
        return key

    @staticmethod
    def _check_usable(version: KeyVersion) -> None:
        if version.status != VersionStatus.ACTIVE:
            raise FailedPrecondition(f"key version {version.id} is {version.status.name}")

    def _encryption_version(self, key: SymmetricKey, version_id: str) -> KeyVersion:
        if not version_id or version_id == key.primary_version.id:
            version = key.primary_version
        else:
            found = self._store.get_version(version_id)
            if found is None or found.key_id != key.id:
                raise NotFound(f"version {version_id} of key {key.id} not found")
            version = found
        self._check_usable(version)
        return version

    # -- operations ---------------------------------------------------------------------------

    def _seal(self, version: KeyVersion, plaintext: bytes, aad: bytes) -> bytes:
        self._counter.reserve(version)
        iv, sealed = self._hsm.encrypt(version.id, plaintext, envelope.gcm_aad(version.id, aad))
        return envelope.Envelope(version.id, iv, sealed).to_bytes()

    def encrypt(self, key_id: str, version_id: str, plaintext: bytes, aad: bytes) -> Encrypted:
        key = self._usable_key(key_id)
        version = self._encryption_version(key, version_id)
        return Encrypted(key.id, version.id, self._seal(version, plaintext, aad))

    def decrypt(self, key_id: str, ciphertext: bytes, aad: bytes) -> Decrypted:
        key = self._usable_key(key_id)
        parsed = envelope.parse(ciphertext)
        version = self._store.get_version(parsed.version_id)
        if version is None or version.key_id != key.id:
            # A ciphertext of another key (or none at all) is indistinguishable from garbage.
            raise InvalidCiphertext()
        self._check_usable(version)
        plaintext = self._hsm.decrypt(version.id, parsed.iv, parsed.sealed, parsed.aad(aad))
        return Decrypted(key.id, version.id, plaintext)

    def re_encrypt(
        self,
        key_id: str,
        version_id: str,
        aad: bytes,
        source_key_id: str,
        source_aad: bytes,
        ciphertext: bytes,
    ) -> ReEncrypted:
        # Check the target before decrypting, so a refused call never touches the plaintext.
        key = self._usable_key(key_id)
        version = self._encryption_version(key, version_id)
        source = self.decrypt(source_key_id, ciphertext, source_aad)
        return ReEncrypted(
            key_id=key.id,
            version_id=version.id,
            source_key_id=source.key_id,
            source_version_id=source.version_id,
            ciphertext=self._seal(version, source.plaintext, aad),
        )

    def generate_data_key(
        self,
        key_id: str,
        version_id: str,
        aad: bytes,
        spec: SymmetricAlgorithm,
        skip_plaintext: bool,
    ) -> DataKey:
        if spec != SymmetricAlgorithm.UNSPECIFIED:
            check_algorithm(spec, "data_key_spec")
        key = self._usable_key(key_id)
        version = self._encryption_version(key, version_id)
        data_key = self._hsm.random_bytes(spec.key_bytes)
        ciphertext = self._seal(version, data_key, aad)
        return DataKey(key.id, version.id, b"" if skip_plaintext else data_key, ciphertext)

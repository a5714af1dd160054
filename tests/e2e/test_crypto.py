"""SymmetricCryptoService through real gRPC against a real server and SoftHSM2 token."""

from __future__ import annotations

import os
from typing import Any

import grpc
import pytest
from conftest import BAD_CIPHERTEXT, UNKNOWN_KEY, create_key, decrypt, encrypt, expect

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks


@pytest.mark.parametrize("size", [1, 64, 32768])
@pytest.mark.parametrize("aad", [b"", b"tenant=42", b"\x00" * 8192])
def test_round_trip(crypto: Any, key: key_pb.SymmetricKey, size: int, aad: bytes) -> None:
    plaintext = os.urandom(size)
    enc = encrypt(crypto, key.id, plaintext, aad)
    assert enc.key_id == key.id
    assert enc.version_id == key.primary_version.id
    if size >= 16:  # a short plaintext may occur in random bytes by chance
        assert plaintext not in enc.ciphertext
    dec = decrypt(crypto, key.id, enc.ciphertext, aad)
    assert (dec.key_id, dec.version_id, dec.plaintext) == (key.id, enc.version_id, plaintext)


def test_same_plaintext_gives_different_ciphertexts(crypto: Any, key: key_pb.SymmetricKey) -> None:
    assert encrypt(crypto, key.id, b"x").ciphertext != encrypt(crypto, key.id, b"x").ciphertext


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (c.SymmetricEncryptRequest(plaintext=b"p"), "key_id"),
        (c.SymmetricEncryptRequest(key_id="k" * 51, plaintext=b"p"), "key_id"),
        (c.SymmetricEncryptRequest(key_id="k"), "plaintext"),
        (c.SymmetricEncryptRequest(key_id="k", plaintext=b"p" * 32769), "plaintext"),
        (
            c.SymmetricEncryptRequest(key_id="k", plaintext=b"p", aad_context=b"a" * 8193),
            "aad_context",
        ),
        (c.SymmetricEncryptRequest(key_id="k", plaintext=b"p", version_id="v" * 51), "version_id"),
    ],
)
def test_encrypt_limits(crypto: Any, request_: Any, field: str) -> None:
    expect(grpc.StatusCode.INVALID_ARGUMENT, lambda: crypto.Encrypt(request_), field)


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    [
        ("Decrypt", c.SymmetricDecryptRequest(ciphertext=b"c"), "key_id"),
        ("Decrypt", c.SymmetricDecryptRequest(key_id="k"), "ciphertext"),
        (
            "Decrypt",
            c.SymmetricDecryptRequest(key_id="k", ciphertext=b"c", aad_context=b"a" * 8193),
            "aad_context",
        ),
        ("ReEncrypt", c.SymmetricReEncryptRequest(source_key_id="s", ciphertext=b"c"), "key_id"),
        ("ReEncrypt", c.SymmetricReEncryptRequest(key_id="k", ciphertext=b"c"), "source_key_id"),
        ("ReEncrypt", c.SymmetricReEncryptRequest(key_id="k", source_key_id="s"), "ciphertext"),
        (
            "ReEncrypt",
            c.SymmetricReEncryptRequest(key_id="k", source_key_id="s" * 51, ciphertext=b"c"),
            "source_key_id",
        ),
        (
            "ReEncrypt",
            c.SymmetricReEncryptRequest(
                key_id="k", source_key_id="s", ciphertext=b"c", source_aad_context=b"a" * 8193
            ),
            "source_aad_context",
        ),
        ("GenerateDataKey", c.GenerateDataKeyRequest(), "key_id"),
        (
            "GenerateDataKey",
            c.GenerateDataKeyRequest(key_id="k", aad_context=b"a" * 8193),
            "aad_context",
        ),
        (
            "GenerateDataKey",
            c.GenerateDataKeyRequest(key_id="k", data_key_spec=42),
            "data_key_spec",
        ),  # type: ignore[arg-type]
    ],
)
def test_other_limits(crypto: Any, method: str, request_: Any, field: str) -> None:
    expect(grpc.StatusCode.INVALID_ARGUMENT, lambda: getattr(crypto, method)(request_), field)


def test_unknown_key_is_not_found(crypto: Any, key: key_pb.SymmetricKey) -> None:
    ct = encrypt(crypto, key.id, b"p").ciphertext
    calls = [
        lambda: encrypt(crypto, UNKNOWN_KEY, b"p"),
        lambda: decrypt(crypto, UNKNOWN_KEY, ct),
        lambda: crypto.ReEncrypt(
            c.SymmetricReEncryptRequest(key_id=UNKNOWN_KEY, source_key_id=key.id, ciphertext=ct)
        ),
        lambda: crypto.ReEncrypt(
            c.SymmetricReEncryptRequest(key_id=key.id, source_key_id=UNKNOWN_KEY, ciphertext=ct)
        ),
        lambda: crypto.GenerateDataKey(c.GenerateDataKeyRequest(key_id=UNKNOWN_KEY)),
    ]
    for call in calls:
        assert UNKNOWN_KEY in expect(grpc.StatusCode.NOT_FOUND, call)


def test_unknown_or_foreign_version_is_not_found(
    crypto: Any, key: key_pb.SymmetricKey, other_key: key_pb.SymmetricKey
) -> None:
    for version_id in ("hkvdoesnotexist00000", other_key.primary_version.id):
        expect(
            grpc.StatusCode.NOT_FOUND,
            lambda v=version_id: encrypt(crypto, key.id, b"p", version_id=v),
        )
        expect(
            grpc.StatusCode.NOT_FOUND,
            lambda v=version_id: crypto.GenerateDataKey(
                c.GenerateDataKeyRequest(key_id=key.id, version_id=v)
            ),
        )


class TestTampering:
    PLAINTEXT = b"attack at dawn, bring the secret"
    AAD = b"context-1"

    @pytest.fixture
    def sealed(self, crypto: Any, key: key_pb.SymmetricKey) -> bytes:
        ct: bytes = encrypt(crypto, key.id, self.PLAINTEXT, self.AAD).ciphertext
        return ct

    def _rejected(self, crypto: Any, key_id: str, data: bytes, aad: bytes | None = None) -> None:
        details = expect(
            grpc.StatusCode.INVALID_ARGUMENT,
            lambda: decrypt(crypto, key_id, data, self.AAD if aad is None else aad),
        )
        assert details == BAD_CIPHERTEXT

    def test_wrong_or_missing_aad(
        self, crypto: Any, key: key_pb.SymmetricKey, sealed: bytes
    ) -> None:
        for aad in (b"", b"context-2", self.AAD + b"\x00", self.AAD[:-1]):
            self._rejected(crypto, key.id, sealed, aad)

    def test_every_flipped_byte(self, crypto: Any, key: key_pb.SymmetricKey, sealed: bytes) -> None:
        # Header (magic, format, ID length, version ID), IV, ciphertext body and tag alike.
        for i in range(len(sealed)):
            flipped = bytearray(sealed)
            flipped[i] ^= 0x01
            self._rejected(crypto, key.id, bytes(flipped))

    def test_every_truncation_and_extension(
        self, crypto: Any, key: key_pb.SymmetricKey, sealed: bytes
    ) -> None:
        for n in range(1, len(sealed)):
            self._rejected(crypto, key.id, sealed[:n])
        self._rejected(crypto, key.id, sealed + b"\x00")

    def test_garbage(self, crypto: Any, key: key_pb.SymmetricKey) -> None:
        for data in (b"\x00", os.urandom(16), os.urandom(100), b"HKMS" + os.urandom(60)):
            self._rejected(crypto, key.id, data)

    def test_another_keys_ciphertext(
        self, crypto: Any, key: key_pb.SymmetricKey, other_key: key_pb.SymmetricKey, sealed: bytes
    ) -> None:
        self._rejected(crypto, other_key.id, sealed)
        # The header names the version: swapping it for another key's version still fails.
        foreign = encrypt(crypto, other_key.id, self.PLAINTEXT, self.AAD).ciphertext
        self._rejected(crypto, key.id, foreign)

    def test_errors_reveal_nothing(
        self, crypto: Any, key: key_pb.SymmetricKey, sealed: bytes
    ) -> None:
        details = expect(
            grpc.StatusCode.INVALID_ARGUMENT, lambda: decrypt(crypto, key.id, sealed, b"secret-aad")
        )
        assert "secret-aad" not in details and "attack" not in details


class TestReEncrypt:
    def test_to_another_key(
        self, crypto: Any, key: key_pb.SymmetricKey, other_key: key_pb.SymmetricKey
    ) -> None:
        ct = encrypt(crypto, key.id, b"payload", b"old").ciphertext
        r = crypto.ReEncrypt(
            c.SymmetricReEncryptRequest(
                key_id=other_key.id,
                aad_context=b"new",
                source_key_id=key.id,
                source_aad_context=b"old",
                ciphertext=ct,
            )
        )
        assert (r.key_id, r.version_id) == (other_key.id, other_key.primary_version.id)
        assert (r.source_key_id, r.source_version_id) == (key.id, key.primary_version.id)
        assert decrypt(crypto, other_key.id, r.ciphertext, b"new").plaintext == b"payload"
        expect(
            grpc.StatusCode.INVALID_ARGUMENT,
            lambda: decrypt(crypto, other_key.id, r.ciphertext, b"old"),
        )
        expect(
            grpc.StatusCode.INVALID_ARGUMENT, lambda: decrypt(crypto, key.id, r.ciphertext, b"new")
        )

    def test_same_key_to_new_primary(
        self, crypto: Any, keys: Any, key: key_pb.SymmetricKey
    ) -> None:
        ct = encrypt(crypto, key.id, b"payload").ciphertext
        rotated = key_pb.SymmetricKey()
        keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id)).response.Unpack(rotated)
        r = crypto.ReEncrypt(
            c.SymmetricReEncryptRequest(key_id=key.id, source_key_id=key.id, ciphertext=ct)
        )
        assert r.version_id == rotated.primary_version.id != key.primary_version.id
        assert r.source_version_id == key.primary_version.id
        assert decrypt(crypto, key.id, r.ciphertext).version_id == rotated.primary_version.id

    def test_to_explicit_version(self, crypto: Any, keys: Any, key: key_pb.SymmetricKey) -> None:
        keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id))
        ct = encrypt(crypto, key.id, b"payload").ciphertext
        r = crypto.ReEncrypt(
            c.SymmetricReEncryptRequest(
                key_id=key.id,
                version_id=key.primary_version.id,
                source_key_id=key.id,
                ciphertext=ct,
            )
        )
        assert r.version_id == key.primary_version.id

    def test_wrong_source_aad_or_key(
        self, crypto: Any, key: key_pb.SymmetricKey, other_key: key_pb.SymmetricKey
    ) -> None:
        ct = encrypt(crypto, key.id, b"payload", b"old").ciphertext
        for source_key, source_aad in ((key.id, b"wrong"), (other_key.id, b"old")):
            details = expect(
                grpc.StatusCode.INVALID_ARGUMENT,
                lambda sk=source_key, sa=source_aad: crypto.ReEncrypt(
                    c.SymmetricReEncryptRequest(
                        key_id=other_key.id,
                        source_key_id=sk,
                        source_aad_context=sa,
                        ciphertext=ct,
                    )
                ),
            )
            assert details == BAD_CIPHERTEXT


class TestGenerateDataKey:
    @pytest.mark.parametrize(
        ("spec", "length"),
        [
            (key_pb.SYMMETRIC_ALGORITHM_UNSPECIFIED, 32),
            (key_pb.AES_128, 16),
            (key_pb.AES_192, 24),
            (key_pb.AES_256, 32),
            (key_pb.AES_256_HSM, 32),
        ],
    )
    def test_lengths_and_decryptable(
        self, crypto: Any, key: key_pb.SymmetricKey, spec: int, length: int
    ) -> None:
        r = crypto.GenerateDataKey(
            c.GenerateDataKeyRequest(key_id=key.id, aad_context=b"dk", data_key_spec=spec)  # type: ignore[arg-type]
        )
        assert len(r.data_key_plaintext) == length
        assert (r.key_id, r.version_id) == (key.id, key.primary_version.id)
        assert (
            decrypt(crypto, key.id, r.data_key_ciphertext, b"dk").plaintext == r.data_key_plaintext
        )
        expect(
            grpc.StatusCode.INVALID_ARGUMENT, lambda: decrypt(crypto, key.id, r.data_key_ciphertext)
        )

    def test_keys_are_fresh(self, crypto: Any, key: key_pb.SymmetricKey) -> None:
        generated = {
            crypto.GenerateDataKey(c.GenerateDataKeyRequest(key_id=key.id)).data_key_plaintext
            for _ in range(5)
        }
        assert len(generated) == 5

    def test_skip_plaintext(self, crypto: Any, key: key_pb.SymmetricKey) -> None:
        r = crypto.GenerateDataKey(c.GenerateDataKeyRequest(key_id=key.id, skip_plaintext=True))
        assert r.data_key_plaintext == b""
        assert len(decrypt(crypto, key.id, r.data_key_ciphertext).plaintext) == 32

    def test_gost_spec_is_rejected(self, crypto: Any, key: key_pb.SymmetricKey) -> None:
        expect(
            grpc.StatusCode.INVALID_ARGUMENT,
            lambda: crypto.GenerateDataKey(
                c.GenerateDataKeyRequest(key_id=key.id, data_key_spec=key_pb.GOST_R_3412_2015_K)
            ),
            "data_key_spec",
        )


@pytest.mark.parametrize("algorithm", [key_pb.AES_128, key_pb.AES_192, key_pb.AES_256_HSM])
def test_every_algorithm_encrypts(crypto: Any, keys: Any, algorithm: int) -> None:
    key = create_key(keys, algorithm)
    ct = encrypt(crypto, key.id, b"data").ciphertext
    assert decrypt(crypto, key.id, ct).plaintext == b"data"

from __future__ import annotations

import pytest

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as crypto_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as key_service_pb
from hsmkms.api.validation import parse_range, validate
from hsmkms.errors import InvalidArgument


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [("<=50", [0, 50], [51]), ("1-1000", [1, 1000], [0, 1001]), ("0-1000", [0], [1001])],
)
def test_parse_range(text: str, inside: list[int], outside: list[int]) -> None:
    r = parse_range(text)
    assert all(n in r for n in inside)
    assert not any(n in r for n in outside)


def _error(message: object) -> str:
    with pytest.raises(InvalidArgument) as info:
        validate(message)
    return info.value.message


def test_valid_request_passes() -> None:
    validate(crypto_pb.SymmetricEncryptRequest(key_id="k", plaintext=b"p", aad_context=b"a" * 8192))


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (crypto_pb.SymmetricEncryptRequest(plaintext=b"p"), "key_id"),
        (crypto_pb.SymmetricEncryptRequest(key_id="k"), "plaintext"),
        (crypto_pb.SymmetricEncryptRequest(key_id="k" * 51, plaintext=b"p"), "key_id"),
        (crypto_pb.SymmetricEncryptRequest(key_id="k", plaintext=b"p" * 32769), "plaintext"),
        (
            crypto_pb.SymmetricEncryptRequest(key_id="k", plaintext=b"p", aad_context=b"a" * 8193),
            "aad_context",
        ),
        (
            crypto_pb.SymmetricEncryptRequest(key_id="k", plaintext=b"p", version_id="v" * 51),
            "version_id",
        ),
        (crypto_pb.SymmetricDecryptRequest(key_id="k"), "ciphertext"),
        (crypto_pb.SymmetricReEncryptRequest(key_id="k", ciphertext=b"c"), "source_key_id"),
        (
            crypto_pb.GenerateDataKeyRequest(key_id="k", data_key_spec=99),  # type: ignore[arg-type]
            "data_key_spec",
        ),
        (key_service_pb.CreateSymmetricKeyRequest(default_algorithm=3), "folder_id"),
        (key_service_pb.CreateSymmetricKeyRequest(folder_id="f"), "default_algorithm"),
        (
            key_service_pb.CreateSymmetricKeyRequest(
                folder_id="f", default_algorithm=3, name="n" * 101
            ),
            "name",
        ),
        (
            key_service_pb.CreateSymmetricKeyRequest(
                folder_id="f", default_algorithm=3, labels={"Bad": "v"}
            ),
            "labels",
        ),
        (
            key_service_pb.CreateSymmetricKeyRequest(
                folder_id="f", default_algorithm=3, labels={"k": "UPPER"}
            ),
            "labels",
        ),
        (
            key_service_pb.CreateSymmetricKeyRequest(
                folder_id="f", default_algorithm=3, labels={f"k{i}": "v" for i in range(65)}
            ),
            "labels",
        ),
    ],
)
def test_limit_violation_names_the_field(request_: object, field: str) -> None:
    assert _error(request_).startswith(field)

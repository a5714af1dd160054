"""The measured RPCs: keys to use, their pre-encoded requests, and checks of their responses.

Every request body that h2load sends is first sent once (twice, in fact) by a real gRPC client
with the very same bytes; the raw response must decode and be right (a ciphertext decrypts to
the plaintext, Decrypt returns the expected plaintext, ...), and its size must be stable, since
the size is what each h2load run's byte count is checked against.
"""

from __future__ import annotations

import collections
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from bench_procs import BenchError
from floor_server import FLOOR_METHOD

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as crypto_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as key_service_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_service_grpc

CRYPTO_SERVICE = "/yandex.cloud.kms.v1.SymmetricCryptoService/"
AAD = b"bench:tenant=42"
DATA_KEY_BYTES = 32  # AES_256
RPC_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class KeyRef:
    key_id: str
    version_id: str


@dataclass(frozen=True)
class Rpc:
    """One pre-encoded unary call and the check its raw response must pass."""

    name: str
    path: str
    request: bytes  # the serialized request message
    check: Callable[[bytes], None]  # raises BenchError when the raw response is wrong


def raw_call(channel: grpc.Channel, path: str, request: bytes) -> bytes:
    # No serializers: the request bytes go out unchanged, the response comes back unparsed.
    response: bytes = channel.unary_unary(path)(request, timeout=RPC_TIMEOUT_S)
    return response


def response_size(channel: grpc.Channel, rpc: Rpc) -> int:
    """Send the exact request h2load will send, check the response; return its size."""
    sizes = set()
    for _ in range(2):
        try:
            raw = raw_call(channel, rpc.path, rpc.request)
        except grpc.RpcError as exc:
            raise BenchError(f"{rpc.name}: {exc.code()} {exc.details()}") from None
        rpc.check(raw)
        sizes.add(len(raw))
    if len(sizes) != 1:
        raise BenchError(f"{rpc.name}: response size varies ({sorted(sizes)}): cannot verify")
    return sizes.pop()


def _parse(message_type: type[Any], raw: bytes, name: str) -> Any:
    message = message_type()
    try:
        message.ParseFromString(raw)
    except Exception as exc:
        raise BenchError(f"{name}: response does not decode: {exc}") from None
    return message


def _expect(condition: bool, name: str, what: str) -> None:
    if not condition:
        raise BenchError(f"{name}: wrong response: {what}")


def _create_request(name: str) -> key_service_pb.CreateSymmetricKeyRequest:
    return key_service_pb.CreateSymmetricKeyRequest(
        folder_id="bench", name=name, default_algorithm=key_pb.AES_256
    )


def _key_ref(operation: Any) -> KeyRef:
    key = key_pb.SymmetricKey()
    if not (operation.done and operation.response.Unpack(key)):
        raise BenchError("Create returned an operation without a key")
    return KeyRef(key.id, key.primary_version.id)


def create_key(channel: grpc.Channel, name: str) -> KeyRef:
    stub = key_service_grpc.SymmetricKeyServiceStub(channel)
    return _key_ref(stub.Create(_create_request(name), timeout=RPC_TIMEOUT_S))


def create_keys(channel: grpc.Channel, count: int, in_flight: int = 32) -> float:
    """Create `count` keys through the API, `in_flight` calls at a time; returns keys/s."""
    stub = key_service_grpc.SymmetricKeyServiceStub(channel)
    pending: collections.deque[Any] = collections.deque()
    start = time.monotonic()
    for i in range(count):
        pending.append(stub.Create.future(_create_request(f"bulk-{i}"), timeout=RPC_TIMEOUT_S))
        if len(pending) >= in_flight:
            _key_ref(pending.popleft().result())
        if (i + 1) % 1000 == 0:
            rate = (i + 1) / (time.monotonic() - start)
            print(f"  {i + 1}/{count} keys ({rate:.0f}/s)", file=sys.stderr, flush=True)
    while pending:
        _key_ref(pending.popleft().result())
    return count / (time.monotonic() - start)


class KmsRpcs:
    """The measured calls on one key: Encrypt 64 B / 32 KiB, Decrypt, ReEncrypt, GenerateDataKey."""

    def __init__(self, channel: grpc.Channel, key: KeyRef) -> None:
        self._crypto = crypto_grpc.SymmetricCryptoServiceStub(channel)
        self.key = key
        self.plaintext = os.urandom(64)
        self.ciphertext = self._crypto.Encrypt(
            crypto_pb.SymmetricEncryptRequest(
                key_id=key.key_id, plaintext=self.plaintext, aad_context=AAD
            ),
            timeout=RPC_TIMEOUT_S,
        ).ciphertext

    def _decrypts_to(self, ciphertext: bytes, plaintext: bytes, name: str) -> None:
        request = crypto_pb.SymmetricDecryptRequest(
            key_id=self.key.key_id, ciphertext=ciphertext, aad_context=AAD
        )
        try:
            opened = self._crypto.Decrypt(request, timeout=RPC_TIMEOUT_S).plaintext
        except grpc.RpcError as exc:
            raise BenchError(f"{name}: its ciphertext does not decrypt: {exc.code()}") from None
        _expect(opened == plaintext, name, "its ciphertext decrypts to other bytes")

    def _same_key(self, response: Any, name: str) -> None:
        _expect(response.key_id == self.key.key_id, name, f"key_id {response.key_id}")
        _expect(
            response.version_id == self.key.version_id, name, f"version_id {response.version_id}"
        )

    def encrypt(self, size: int, name: str) -> Rpc:
        plaintext = os.urandom(size)

        def check(raw: bytes) -> None:
            response = _parse(crypto_pb.SymmetricEncryptResponse, raw, name)
            self._same_key(response, name)
            self._decrypts_to(response.ciphertext, plaintext, name)

        request = crypto_pb.SymmetricEncryptRequest(
            key_id=self.key.key_id, plaintext=plaintext, aad_context=AAD
        )
        return Rpc(name, CRYPTO_SERVICE + "Encrypt", request.SerializeToString(), check)

    def decrypt(self, name: str) -> Rpc:
        def check(raw: bytes) -> None:
            response = _parse(crypto_pb.SymmetricDecryptResponse, raw, name)
            self._same_key(response, name)
            _expect(response.plaintext == self.plaintext, name, "plaintext differs")

        request = crypto_pb.SymmetricDecryptRequest(
            key_id=self.key.key_id, ciphertext=self.ciphertext, aad_context=AAD
        )
        return Rpc(name, CRYPTO_SERVICE + "Decrypt", request.SerializeToString(), check)

    def re_encrypt(self, name: str) -> Rpc:
        def check(raw: bytes) -> None:
            response = _parse(crypto_pb.SymmetricReEncryptResponse, raw, name)
            self._same_key(response, name)
            _expect(response.source_key_id == self.key.key_id, name, "source_key_id")
            _expect(response.source_version_id == self.key.version_id, name, "source_version_id")
            _expect(response.ciphertext != self.ciphertext, name, "ciphertext not re-encrypted")
            self._decrypts_to(response.ciphertext, self.plaintext, name)

        request = crypto_pb.SymmetricReEncryptRequest(
            key_id=self.key.key_id,
            aad_context=AAD,
            source_key_id=self.key.key_id,
            source_aad_context=AAD,
            ciphertext=self.ciphertext,
        )
        return Rpc(name, CRYPTO_SERVICE + "ReEncrypt", request.SerializeToString(), check)

    def generate_data_key(self, name: str) -> Rpc:
        def check(raw: bytes) -> None:
            response = _parse(crypto_pb.GenerateDataKeyResponse, raw, name)
            self._same_key(response, name)
            _expect(len(response.data_key_plaintext) == DATA_KEY_BYTES, name, "data key length")
            self._decrypts_to(response.data_key_ciphertext, response.data_key_plaintext, name)

        request = crypto_pb.GenerateDataKeyRequest(
            key_id=self.key.key_id, data_key_spec=key_pb.AES_256, aad_context=AAD
        )
        return Rpc(name, CRYPTO_SERVICE + "GenerateDataKey", request.SerializeToString(), check)


def floor_rpc(request: bytes) -> Rpc:
    """The framework floor's echo call, sent the same bytes as a real request."""

    def check(raw: bytes) -> None:
        _expect(raw == request, "floor", "the echo differs from the request")

    return Rpc("floor", FLOOR_METHOD, request, check)

"""Where the server is and how to reach it: flags, then environment, then a profile file."""

from __future__ import annotations

import ipaddress
import stat
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import descriptor_pool, empty_pb2, message_factory
from google.protobuf.message import Message

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_grpc
from hsmkms._pb.yandex.cloud.operation import operation_pb2
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2 as op_service_pb
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2_grpc as op_grpc

DEFAULT_ENDPOINT = "127.0.0.1:50051"
ENV_ENDPOINT = "HSMKMS_ENDPOINT"
ENV_TOKEN = "HSMKMS_TOKEN"
ENV_CA = "HSMKMS_CA"
ENV_PROFILE = "HSMKMS_PROFILE"
ENV_PROFILES = "HSMKMS_PROFILES"
PROFILE_KEYS = frozenset({"endpoint", "token_file", "ca"})

# Keeps google.protobuf.Empty in the default pool: operations without a result carry one.
_EMPTY = empty_pb2.Empty


class ClientError(Exception):
    """A local problem (arguments, files, profile): reported without a stack trace, exit 2."""


class OperationError(Exception):
    """An operation that finished with an error status."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Connection:
    endpoint: str
    ca_pem: bytes | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float = 30.0


def profiles_path(environ: Mapping[str, str]) -> Path:
    if environ.get(ENV_PROFILES):
        return Path(environ[ENV_PROFILES]).expanduser()
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "hsmkms" / "profiles.toml"


def load_profile(name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The profile's settings; relative paths in it are relative to the profile file."""
    path = profiles_path(environ)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ClientError(f"profile {name!r}: profile file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ClientError(f"{path}: {exc}") from None
    profile = data.get(name)
    if not isinstance(profile, dict):
        known = ", ".join(sorted(k for k, v in data.items() if isinstance(v, dict))) or "none"
        raise ClientError(f"profile {name!r} not found in {path} (profiles: {known})")
    settings: dict[str, str] = {}
    for key, value in profile.items():
        if key not in PROFILE_KEYS:
            raise ClientError(
                f"{path}: [{name}] {key}: unknown key; known: {', '.join(sorted(PROFILE_KEYS))}"
            )
        if not isinstance(value, str) or not value:
            raise ClientError(f"{path}: [{name}] {key}: must be a non-empty string")
        if key == "endpoint":
            settings[key] = value
        else:
            settings[key] = str(path.parent / Path(value).expanduser())
    return settings


def is_loopback(endpoint: str) -> bool:
    if endpoint.startswith(("unix:", "unix-abstract:")):
        return True
    host = endpoint.rpartition(":")[0] if ":" in endpoint else endpoint
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ClientError(f"token file {path}: {exc.strerror}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise ClientError(f"token file {path} is accessible by group or others: chmod 600 {path}")
    return _check_token(path.read_text(), f"token file {path}")


def _check_token(text: str, origin: str) -> str:
    token = text.strip()
    if not token:
        raise ClientError(f"{origin} is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ClientError(f"{origin}: a token is one line of printable characters")
    return token


def resolve(
    *,
    endpoint: str | None,
    token_file: str | None,
    ca: str | None,
    profile: str | None,
    timeout: float,
    environ: Mapping[str, str],
) -> Connection:
    """Each setting from its flag, else its environment variable, else the profile."""
    profile_name = profile or environ.get(ENV_PROFILE) or ""
    from_profile = load_profile(profile_name, environ) if profile_name else {}

    chosen_endpoint = (
        endpoint or environ.get(ENV_ENDPOINT) or from_profile.get("endpoint") or DEFAULT_ENDPOINT
    )
    token: str | None = None
    if token_file:
        token = read_token_file(Path(token_file))
    elif environ.get(ENV_TOKEN):
        token = _check_token(environ[ENV_TOKEN], ENV_TOKEN)
    elif "token_file" in from_profile:
        token = read_token_file(Path(from_profile["token_file"]))

    ca_file = ca or environ.get(ENV_CA) or from_profile.get("ca")
    ca_pem: bytes | None = None
    if ca_file:
        try:
            ca_pem = Path(ca_file).read_bytes()
        except OSError as exc:
            raise ClientError(f"CA file {ca_file}: {exc.strerror}") from None
        if b"-----BEGIN CERTIFICATE-----" not in ca_pem:
            raise ClientError(f"CA file {ca_file}: no PEM certificate in it")
    if token is not None and ca_pem is None and not is_loopback(chosen_endpoint):
        raise ClientError(
            f"refusing to send a token in plaintext to {chosen_endpoint}: "
            "give the server's CA with --ca (or HSMKMS_CA) to use TLS"
        )
    if not 0 < timeout < 86400:
        raise ClientError("--timeout: must be more than 0 seconds and less than a day")
    return Connection(chosen_endpoint, ca_pem, token, timeout)


def _message_class(type_name: str) -> Any:
    return message_factory.GetMessageClass(
        descriptor_pool.Default().FindMessageTypeByName(type_name)
    )


def _code_name(code: int) -> str:
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return str(status.name)
    return str(code)


class Client:
    """Stubs on one channel; every call carries the token and a deadline."""

    def __init__(self, connection: Connection) -> None:
        if connection.ca_pem is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=connection.ca_pem)
            self._channel = grpc.secure_channel(connection.endpoint, credentials)
        else:
            self._channel = grpc.insecure_channel(connection.endpoint)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {connection.token}"),) if connection.token else ()
        )
        self._timeout = connection.timeout
        self.keys = key_grpc.SymmetricKeyServiceStub(self._channel)
        self.crypto = crypto_grpc.SymmetricCryptoServiceStub(self._channel)
        self.operations = op_grpc.OperationServiceStub(self._channel)

    def call(self, method: Any, request: Message) -> Any:
        return method(request, metadata=self._metadata, timeout=self._timeout)

    def result(self, op: operation_pb2.Operation) -> Message:
        """The unpacked response of an operation, waiting for it if it is not done yet."""
        deadline = time.monotonic() + self._timeout
        delay = 0.05
        while not op.done:
            if time.monotonic() > deadline:
                raise OperationError("DEADLINE_EXCEEDED", f"operation {op.id} is not done")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            op = self.call(
                self.operations.Get, op_service_pb.GetOperationRequest(operation_id=op.id)
            )
        if op.HasField("error"):
            raise OperationError(_code_name(op.error.code), op.error.message)
        response: Message = _message_class(op.response.TypeName())()
        op.response.Unpack(response)
        return response

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

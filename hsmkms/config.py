"""Settings: from a TOML file for `hsmkms serve`, or built by `hsmkms dev`.

Secrets (the HSM user PIN) come from a file readable only by its owner or from an environment
variable; never from the command line, and they are never logged or printed.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from hsmkms.domain import LifecyclePolicy
from hsmkms.hsm.pkcs11_hsm import TokenConfig
from hsmkms.service.jwt_auth import JwtIssuer
from hsmkms.tls import TlsFiles

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_GRACE_SECONDS = 10.0
DEFAULT_THREADS = 4
DEFAULT_SCHEDULER_INTERVAL = 10.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(Exception):
    """The configuration is unusable; the message says which setting and why."""


@dataclass(frozen=True)
class AuthSettings:
    """Authentication and authorization; `enabled` false serves everyone (dev default)."""

    enabled: bool = False
    jwt_issuers: tuple[JwtIssuer, ...] = ()
    # Subject type given to a verified client certificate's CN; None: certificates do not
    # identify callers.
    certificate_subject_type: str | None = None
    # Folder bindings applied at start: (folder_id or "*", role_id, subject).
    bootstrap_bindings: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Settings:
    token: TokenConfig
    store_url: str
    listen: str = DEFAULT_LISTEN
    threads: int = DEFAULT_THREADS
    # Server processes sharing the port; 0: one per CPU.
    workers: int = 0
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    # Environment the PKCS#11 module reads at load time (SOFTHSM2_CONF, vendor config paths).
    module_environment: dict[str, str] = field(default_factory=dict)
    lifecycle: LifecyclePolicy = field(default_factory=LifecyclePolicy)
    # How often due destructions and rotations are looked for.
    scheduler_interval: float = DEFAULT_SCHEDULER_INTERVAL
    tls: TlsFiles | None = None
    auth: AuthSettings = field(default_factory=AuthSettings)
    # Audit log file, "-" for standard output, None for none.
    audit_path: str | None = None
    # host:port of the Prometheus /metrics endpoint, None for none.
    metrics_listen: str | None = None
    # host:port of the REST/JSON API, None for none.
    rest_listen: str | None = None

    @property
    def secure(self) -> bool:
        """TLS and authentication are both on: safe to listen beyond loopback."""
        return self.tls is not None and self.auth.enabled


def parse_duration(value: object, name: str) -> timedelta:
    """A duration from a number of seconds or a string like "90s", "15m", "12h", "7d"."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration such as 30s, 15m, 12h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ConfigError(f"{name}: expected a duration such as 30s, 15m, 12h or 7d")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds <= 0:
        raise ConfigError(f"{name}: must be positive")
    return timedelta(seconds=seconds)


def _lifecycle(section: dict[str, Any]) -> LifecyclePolicy:
    defaults = LifecyclePolicy()
    known = {f for f in LifecyclePolicy.__dataclass_fields__}
    unknown = sorted(set(section) - known - {"scheduler_interval"})
    if unknown:
        raise ConfigError(f"lifecycle.{unknown[0]}: unknown setting")
    counts = {"nonce_rotation_threshold", "encryption_limit"}
    values: dict[str, Any] = {}
    for name in known:
        if name not in section:
            values[name] = getattr(defaults, name)
        elif name in counts:
            value = section[name]
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"lifecycle.{name}: expected a positive integer")
            values[name] = value
        else:
            values[name] = parse_duration(section[name], f"lifecycle.{name}")
    policy = LifecyclePolicy(**values)
    if policy.nonce_rotation_threshold >= policy.encryption_limit:
        raise ConfigError("lifecycle: nonce_rotation_threshold must be below encryption_limit")
    if not policy.min_pending_period <= policy.default_pending_period <= policy.max_pending_period:
        raise ConfigError(
            "lifecycle: default_pending_period must lie between min_pending_period and "
            "max_pending_period"
        )
    return policy


def _systemd_credential(path: Path) -> bool:
    """A file systemd passed with LoadCredential=: private to the service, though its ACL
    mask shows in the group bits of the mode."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return False
    return path.resolve().is_relative_to(Path(directory).resolve())


def read_secret_file(path: Path) -> str:
    """Read a PIN or token file, refusing one that others can read or write."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"secret file {path} does not exist") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO) and not _systemd_credential(path):
        raise ConfigError(
            f"secret file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"secret file {path} is empty")
    return value


def write_secret_file(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def is_loopback(listen: str) -> bool:
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _pin(section: dict[str, Any], base: Path) -> str:
    if "pin_file" in section and "pin_env" in section:
        raise ConfigError("hsm: set either pin_file or pin_env, not both")
    if "pin_file" in section:
        return read_secret_file(base / str(section["pin_file"]))
    if "pin_env" in section:
        name = str(section["pin_env"])
        value = os.environ.get(name, "")
        if not value:
            raise ConfigError(f"hsm.pin_env: environment variable {name} is not set")
        return value
    raise ConfigError("hsm: pin_file or pin_env is required")


def _path(base: Path, value: object, name: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name}: expected a file path")
    return base / value


def _tls(section: object, base: Path) -> TlsFiles | None:
    if section is None:
        return None
    if not isinstance(section, dict) or "cert_file" not in section or "key_file" not in section:
        raise ConfigError("tls: cert_file and key_file are required")
    client_ca = section.get("client_ca_file")
    return TlsFiles(
        cert_file=_path(base, section["cert_file"], "tls.cert_file"),
        key_file=_path(base, section["key_file"], "tls.key_file"),
        client_ca_file=None if client_ca is None else _path(base, client_ca, "tls.client_ca_file"),
        require_client_cert=bool(section.get("require_client_cert", False)),
    )


def _jwt_issuer(section: dict[str, Any], base: Path, i: int) -> JwtIssuer:
    name = f"auth.jwt[{i}]"
    for required in ("issuer", "audience"):
        if not section.get(required):
            raise ConfigError(f"{name}.{required} is required")
    jwks = section.get("jwks_file")
    keys = section.get("public_key_files", [])
    if bool(jwks) == bool(keys):
        raise ConfigError(f"{name}: set exactly one of jwks_file and public_key_files")
    return JwtIssuer(
        issuer=str(section["issuer"]),
        audience=str(section["audience"]),
        algorithms=tuple(section.get("algorithms", ("RS256", "ES256"))),
        jwks_file=None if not jwks else _path(base, jwks, f"{name}.jwks_file"),
        public_key_files=tuple(_path(base, k, f"{name}.public_key_files") for k in keys),
        subject_type=str(section.get("subject_type", "serviceAccount")),
    )


def _auth(section: dict[str, Any], bindings: list[Any], base: Path) -> AuthSettings:
    issuers = section.get("jwt", [])
    if not isinstance(issuers, list):
        raise ConfigError("auth.jwt: expected [[auth.jwt]] tables")
    bootstrap = []
    for i, binding in enumerate(bindings):
        if not isinstance(binding, dict) or not {"folder_id", "role_id", "subject"} <= set(binding):
            raise ConfigError(f"bindings[{i}]: folder_id, role_id and subject are required")
        bootstrap.append(
            (str(binding["folder_id"]), str(binding["role_id"]), str(binding["subject"]))
        )
    subject_type = section.get("certificate_subject_type")
    return AuthSettings(
        enabled=bool(section.get("enabled", False)),
        jwt_issuers=tuple(_jwt_issuer(s, base, i) for i, s in enumerate(issuers)),
        certificate_subject_type=None if subject_type is None else str(subject_type),
        bootstrap_bindings=tuple(bootstrap),
    )


def load(path: Path, read_pin: bool = True) -> Settings:
    """Load settings from a TOML file (see docs/configuration.md).

    `read_pin` false leaves the PIN empty, for commands that only use the store.
    """
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    base = path.parent
    hsm = data.get("hsm")
    store = data.get("store")
    if not isinstance(hsm, dict):
        raise ConfigError("[hsm] section is required")
    if not isinstance(store, dict) or "url" not in store:
        raise ConfigError("[store] url is required")
    for required in ("module", "token_label"):
        if required not in hsm:
            raise ConfigError(f"hsm.{required} is required")
    environment = hsm.get("environment", {})
    if not isinstance(environment, dict):
        raise ConfigError("hsm.environment must be a table of strings")
    server = data.get("server", {})
    lifecycle = data.get("lifecycle", {})
    return Settings(
        token=TokenConfig(
            module_path=str(hsm["module"]),
            token_label=str(hsm["token_label"]),
            pin=_pin(hsm, base) if read_pin else "",
        ),
        store_url=str(store["url"]),
        listen=str(server.get("listen", DEFAULT_LISTEN)),
        threads=int(server.get("threads", DEFAULT_THREADS)),
        workers=int(server.get("workers", 0)),
        grace_seconds=float(server.get("grace_seconds", DEFAULT_GRACE_SECONDS)),
        module_environment={str(k): str(v) for k, v in environment.items()},
        lifecycle=_lifecycle(lifecycle),
        scheduler_interval=parse_duration(
            lifecycle.get("scheduler_interval", DEFAULT_SCHEDULER_INTERVAL),
            "lifecycle.scheduler_interval",
        ).total_seconds(),
        tls=_tls(data.get("tls"), base),
        auth=_auth(data.get("auth", {}), data.get("bindings", []), base),
        audit_path=data.get("audit", {}).get("path"),
        metrics_listen=data.get("metrics", {}).get("listen"),
        rest_listen=server.get("rest_listen"),
    )

"""TLS for the gRPC server: development certificates, server credentials, client identities.

`ensure_dev_tls` gives `hsmkms dev --auth` a private CA with a server and a client certificate
that survive restarts. `server_credentials` turns certificate and key files into gRPC server
credentials, refusing a private key that group or others can read. The `*_from_*` helpers map
a verified mTLS client certificate to the subject name the authorization layer sees.

Every private key is EC P-256, written as unencrypted PKCS#8 to a file that is created with
mode 0600 (never readable by others, not even briefly) and renamed into place, so a crash
never leaves a half-written key under its final name.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEV_CA_COMMON_NAME = "hsmkms dev CA"
DEV_SERVER_COMMON_NAME = "localhost"
DEV_CLIENT_COMMON_NAME = "dev-client"
CA_VALIDITY = datetime.timedelta(days=3650)
SERVER_VALIDITY = datetime.timedelta(days=825)
DEFAULT_CLIENT_DAYS = 365
# Certificates start a little in the past so a peer whose clock is behind still accepts them.
_BACKDATE = datetime.timedelta(minutes=5)
# A reused certificate closer than this to its end is issued again.
_RENEW_BEFORE = datetime.timedelta(days=1)
# The auth_context() entry in which gRPC puts the verified client certificate.
AUTH_CONTEXT_PEM_CERT = "x509_pem_cert"


@dataclass(frozen=True)
class TlsFiles:
    """Where the server's certificate chain and key are, and how clients are verified."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    require_client_cert: bool = False


@dataclass(frozen=True)
class DevTls:
    """The files `ensure_dev_tls` keeps in its directory."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_files(self, require_client_cert: bool = False) -> TlsFiles:
        return TlsFiles(
            cert_file=self.server_cert,
            key_file=self.server_key,
            client_ca_file=self.ca_cert,
            require_client_cert=require_client_cert,
        )


def _config_error(message: str) -> Exception:
    # Imported here, not at the top: hsmkms.config may one day import this module to build
    # TlsFiles from the configuration file, and must then not find a cycle.
    from hsmkms.config import ConfigError

    return ConfigError(message)


# --- writing files ----------------------------------------------------------------------------


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a new file created with `mode`, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(path, pem, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _write_atomically(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


# --- building certificates --------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _create_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(DEV_CA_COMMON_NAME))
        .issuer_name(_name(DEV_CA_COMMON_NAME))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    validity: datetime.timedelta,
    usage: x509.ObjectIdentifier,
    alternative_names: Sequence[x509.GeneralName] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + validity, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if alternative_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(list(alternative_names)), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _load_ca(ca_cert: Path, ca_key: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise _config_error(f"CA file {exc.filename} does not exist") from None
    except (ValueError, TypeError) as exc:
        raise _config_error(f"CA certificate {ca_cert} or key {ca_key}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise _config_error(f"CA key {ca_key}: expected an EC private key")
    if key.public_key() != cert.public_key():
        raise _config_error(f"CA key {ca_key} does not match certificate {ca_cert}")
    return cert, key


def _usable(cert_path: Path, key_path: Path, issuer: x509.Certificate | None) -> bool:
    """Whether a certificate and key written earlier can be kept: both present and parseable,
    matching, not about to expire, and (for a leaf) signed by the current CA."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if issuer is not None:
            cert.verify_directly_issued_by(issuer)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    return (
        key.public_key() == cert.public_key() and cert.not_valid_after_utc - _RENEW_BEFORE > _now()
    )


# --- public API -------------------------------------------------------------------------------


def ensure_dev_tls(tls_dir: Path) -> DevTls:
    """Create (or reuse) a development CA, server and client certificate in `tls_dir`.

    The server certificate is for localhost, 127.0.0.1 and ::1. A later call keeps every file
    that is still valid, so clients that trust `ca.pem` keep working across restarts; a file
    that is missing, damaged or expiring is replaced (and a new CA replaces both leaves).
    """
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tls_dir.chmod(0o700)
    files = DevTls(
        directory=tls_dir,
        ca_cert=tls_dir / "ca.pem",
        ca_key=tls_dir / "ca.key",
        server_cert=tls_dir / "server.pem",
        server_key=tls_dir / "server.key",
        client_cert=tls_dir / "client.pem",
        client_key=tls_dir / "client.key",
    )
    if _usable(files.ca_cert, files.ca_key, None):
        ca_cert, ca_key = _load_ca(files.ca_cert, files.ca_key)
    else:
        ca_cert, ca_key = _create_ca()
        _write_key(files.ca_key, ca_key)
        _write_cert(files.ca_cert, ca_cert)
    if not _usable(files.server_cert, files.server_key, ca_cert):
        cert, key = _issue(
            ca_cert,
            ca_key,
            DEV_SERVER_COMMON_NAME,
            SERVER_VALIDITY,
            ExtendedKeyUsageOID.SERVER_AUTH,
            [
                x509.DNSName("localhost"),
                x509.IPAddress(ip_address("127.0.0.1")),
                x509.IPAddress(ip_address("::1")),
            ],
        )
        _write_key(files.server_key, key)
        _write_cert(files.server_cert, cert)
    if not _usable(files.client_cert, files.client_key, ca_cert):
        cert, key = _issue(
            ca_cert,
            ca_key,
            DEV_CLIENT_COMMON_NAME,
            datetime.timedelta(days=DEFAULT_CLIENT_DAYS),
            ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        _write_key(files.client_key, key)
        _write_cert(files.client_cert, cert)
    return files


def issue_client_certificate(
    ca_cert: Path,
    ca_key: Path,
    common_name: str,
    out_cert: Path,
    out_key: Path,
    days: int = DEFAULT_CLIENT_DAYS,
) -> None:
    """Issue a client (clientAuth) certificate with subject CN `common_name`, signed by the CA.

    The new key is written to `out_key` (mode 0600) and the certificate to `out_cert`; existing
    files of those names are replaced.
    """
    if not common_name:
        raise ValueError("common_name must not be empty")
    if days <= 0:
        raise ValueError("days must be positive")
    cert, key = _issue(
        *_load_ca(ca_cert, ca_key),
        common_name,
        datetime.timedelta(days=days),
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    _write_key(out_key, key)
    _write_cert(out_cert, cert)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _config_error(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise _config_error(f"{what} {path}: {exc.strerror}") from None


def read_private_key_file(path: Path) -> bytes:
    """The bytes of a private key file, refusing one that group or others can access."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise _config_error(f"TLS key file {path} does not exist") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise _config_error(
            f"TLS key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )
    return _read(path, "TLS key file")


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """gRPC server credentials from PEM files, checked first so mistakes surface as
    ConfigError naming the file rather than as a failed handshake later."""
    if files.require_client_cert and files.client_ca_file is None:
        raise _config_error("TLS: require_client_cert needs client_ca_file")
    key_pem = read_private_key_file(files.key_file)
    chain_pem = _read(files.cert_file, "TLS certificate file")
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise _config_error(f"TLS certificate file {files.cert_file}: no PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise _config_error(
            f"TLS key file {files.key_file}: encrypted keys are not supported"
        ) from None
    except ValueError:
        raise _config_error(f"TLS key file {files.key_file}: no usable PEM private key") from None
    if key.public_key() != chain[0].public_key():
        raise _config_error(
            f"TLS key file {files.key_file} does not match the first certificate in "
            f"{files.cert_file}"
        )
    client_ca_pem: bytes | None = None
    if files.client_ca_file is not None:
        client_ca_pem = _read(files.client_ca_file, "TLS client CA file")
        try:
            x509.load_pem_x509_certificates(client_ca_pem)
        except ValueError:
            raise _config_error(
                f"TLS client CA file {files.client_ca_file}: no PEM certificate"
            ) from None
    return grpc.ssl_server_credentials(
        [(key_pem, chain_pem)],
        root_certificates=client_ca_pem,
        require_client_auth=files.require_client_cert,
    )


def _common_name(cert: x509.Certificate) -> str | None:
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    # Two CNs would make the identity depend on which one a reader picks: accept neither.
    if len(attributes) != 1:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) and value else None


def _subject(cert: x509.Certificate) -> str | None:
    common_name = _common_name(cert)
    if common_name is not None:
        return common_name
    if cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        return None  # several CNs: ambiguous, do not fall back
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    names = san.get_values_for_type(x509.DNSName)
    return names[0] if names else None


def _load_certificate(data: bytes) -> x509.Certificate | None:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        return None


def subject_from_certificate(der: bytes) -> str | None:
    """The subject a client certificate names: its CN, or with no CN its first DNS SAN.

    Takes DER (PEM is also accepted). None when the certificate cannot be parsed, names
    neither, or carries more than one CN.
    """
    cert = _load_certificate(der)
    return None if cert is None else _subject(cert)


def common_name_from_pem(pem: bytes) -> str | None:
    """The single subject CN of a PEM certificate; None if it has none, several, or no parse."""
    cert = _load_certificate(pem)
    return None if cert is None else _common_name(cert)


def peer_subject(auth_context: Mapping[str, Sequence[bytes]]) -> str | None:
    """The subject of an mTLS peer, from `grpc.ServicerContext.auth_context()`.

    gRPC only fills in the certificate after verifying it against the client CA, so a value
    here is an authenticated identity. None for a plaintext or server-only-TLS connection.
    """
    pems = auth_context.get(AUTH_CONTEXT_PEM_CERT) or ()
    return subject_from_certificate(pems[0]) if pems else None

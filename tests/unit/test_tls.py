from __future__ import annotations

import datetime
import stat
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from ipaddress import ip_address
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hsmkms.config import ConfigError
from hsmkms.tls import (
    DevTls,
    TlsFiles,
    common_name_from_pem,
    ensure_dev_tls,
    issue_client_certificate,
    peer_subject,
    server_credentials,
    subject_from_certificate,
)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> DevTls:
    return ensure_dev_tls(tmp_path_factory.mktemp("dev") / "tls")


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_dev_files_and_modes(dev: DevTls) -> None:
    assert _mode(dev.directory) == 0o700
    for key in (dev.ca_key, dev.server_key, dev.client_key):
        assert _mode(key) == 0o600
        assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    for cert in (dev.ca_cert, dev.server_cert, dev.client_cert):
        assert not _mode(cert) & 0o022
    assert sorted(p.name for p in dev.directory.iterdir()) == [
        "ca.key",
        "ca.pem",
        "client.key",
        "client.pem",
        "server.key",
        "server.pem",
    ]


def test_dev_ca(dev: DevTls) -> None:
    ca = _cert(dev.ca_cert)
    assert ca.subject.rfc4514_string() == "CN=hsmkms dev CA"
    assert ca.issuer == ca.subject
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert datetime.timedelta(days=3649) < lifetime < datetime.timedelta(days=3651)


def test_dev_server_and_client(dev: DevTls) -> None:
    ca, server, client = _cert(dev.ca_cert), _cert(dev.server_cert), _cert(dev.client_cert)
    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ip_address("127.0.0.1"), ip_address("::1")]
    assert list(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert datetime.timedelta(days=824) < lifetime < datetime.timedelta(days=826)
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert client.subject.rfc4514_string() == "CN=dev-client"
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]


def test_second_call_reuses_files(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path / "tls")
    contents = {p: p.read_bytes() for p in first.directory.iterdir()}
    second = ensure_dev_tls(tmp_path / "tls")
    assert second == first
    assert {p: p.read_bytes() for p in second.directory.iterdir()} == contents


def test_missing_leaf_is_reissued_under_the_same_ca(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path / "tls")
    ca, client = first.ca_cert.read_bytes(), first.client_cert.read_bytes()
    first.server_key.unlink()
    second = ensure_dev_tls(tmp_path / "tls")
    assert second.ca_cert.read_bytes() == ca and second.client_cert.read_bytes() == client
    _cert(second.server_cert).verify_directly_issued_by(_cert(second.ca_cert))
    assert _mode(second.server_key) == 0o600


def test_new_ca_replaces_leaves(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path / "tls")
    client = first.client_cert.read_bytes()
    first.ca_key.unlink()
    second = ensure_dev_tls(tmp_path / "tls")
    assert second.client_cert.read_bytes() != client
    for leaf in (second.server_cert, second.client_cert):
        _cert(leaf).verify_directly_issued_by(_cert(second.ca_cert))


def test_issue_client_certificate(dev: DevTls, tmp_path: Path) -> None:
    cert_path, key_path = tmp_path / "alice.pem", tmp_path / "alice.key"
    issue_client_certificate(dev.ca_cert, dev.ca_key, "alice", cert_path, key_path, days=2)
    cert = _cert(cert_path)
    cert.verify_directly_issued_by(_cert(dev.ca_cert))
    assert _mode(key_path) == 0o600
    assert common_name_from_pem(cert_path.read_bytes()) == "alice"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc < datetime.timedelta(days=3)
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert key.public_key() == cert.public_key()


def test_server_credentials_build(dev: DevTls) -> None:
    assert isinstance(
        server_credentials(TlsFiles(dev.server_cert, dev.server_key)), grpc.ServerCredentials
    )
    assert isinstance(
        server_credentials(dev.server_files(require_client_cert=True)), grpc.ServerCredentials
    )


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_group_or_world_readable_key_refused(dev: DevTls, tmp_path: Path, mode: int) -> None:
    key = tmp_path / "server.key"
    key.write_bytes(dev.server_key.read_bytes())
    key.chmod(mode)
    with pytest.raises(ConfigError, match=f"chmod 600 {key}"):
        server_credentials(TlsFiles(dev.server_cert, key))


def test_server_credentials_errors(dev: DevTls, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        server_credentials(TlsFiles(dev.server_cert, tmp_path / "missing.key"))
    with pytest.raises(ConfigError, match="does not match"):
        server_credentials(TlsFiles(dev.client_cert, dev.server_key))
    with pytest.raises(ConfigError, match="client_ca_file"):
        server_credentials(TlsFiles(dev.server_cert, dev.server_key, require_client_cert=True))
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    with pytest.raises(ConfigError, match="no PEM certificate"):
        server_credentials(TlsFiles(not_pem, dev.server_key))


def _self_signed(name: x509.Name, dns_names: list[str]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def _cn(*values: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, v) for v in values])


ORG = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "acme")])


@pytest.mark.parametrize(
    ("name", "dns_names", "subject", "common_name"),
    [
        (_cn("svc-a"), ["svc-a.example"], "svc-a", "svc-a"),
        (ORG, ["svc-b.example", "other.example"], "svc-b.example", None),
        (ORG, [], None, None),
        (_cn("one", "two"), ["svc.example"], None, None),  # ambiguous: neither is trusted
    ],
)
def test_subject_extraction(
    name: x509.Name, dns_names: list[str], subject: str | None, common_name: str | None
) -> None:
    cert = _self_signed(name, dns_names)
    der = cert.public_bytes(serialization.Encoding.DER)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    assert subject_from_certificate(der) == subject
    assert subject_from_certificate(pem) == subject
    assert common_name_from_pem(pem) == common_name
    assert peer_subject({"x509_pem_cert": [pem]}) == subject


def test_subject_extraction_garbage() -> None:
    assert subject_from_certificate(b"\x30\x03junk") is None
    assert (
        common_name_from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        is None
    )
    assert peer_subject({}) is None


# --- a real TLS round trip --------------------------------------------------------------------

_METHOD = "/hsmkms.test.Echo/Call"


@contextmanager
def _server(files: TlsFiles, seen: list[dict[str, list[bytes]]]) -> Iterator[int]:
    def call(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen.append(context.auth_context())
        return request

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "hsmkms.test.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call)}
            ),
        )
    )
    port = server.add_secure_port("127.0.0.1:0", server_credentials(files))
    server.start()
    try:
        yield port
    finally:
        server.stop(None)


def _call(target: str, credentials: grpc.ChannelCredentials) -> bytes:
    with grpc.secure_channel(target, credentials) as channel:
        response: bytes = channel.unary_unary(_METHOD)(b"ping", timeout=10)
        return response


def test_tls_round_trip(dev: DevTls) -> None:
    seen: list[dict[str, list[bytes]]] = []
    trust = grpc.ssl_channel_credentials(root_certificates=dev.ca_cert.read_bytes())
    with _server(TlsFiles(dev.server_cert, dev.server_key), seen) as port:
        # Both the DNS and the IP subject alternative names are accepted by the client.
        assert _call(f"localhost:{port}", trust) == b"ping"
        assert _call(f"127.0.0.1:{port}", trust) == b"ping"
        # A client that does not trust the dev CA refuses the server.
        other_ca = ensure_dev_tls(dev.directory.parent / "other")
        distrust = grpc.ssl_channel_credentials(root_certificates=other_ca.ca_cert.read_bytes())
        with pytest.raises(grpc.RpcError) as failure:
            _call(f"localhost:{port}", distrust)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert seen[0]["transport_security_type"] == [b"ssl"]
    assert peer_subject(seen[0]) is None  # no client certificate without mTLS


def test_mutual_tls(dev: DevTls, tmp_path: Path) -> None:
    seen: list[dict[str, list[bytes]]] = []
    ca = dev.ca_cert.read_bytes()
    with _server(dev.server_files(require_client_cert=True), seen) as port:
        target = f"localhost:{port}"
        with pytest.raises(grpc.RpcError) as failure:
            _call(target, grpc.ssl_channel_credentials(root_certificates=ca))
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE

        with_cert = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=dev.client_key.read_bytes(),
            certificate_chain=dev.client_cert.read_bytes(),
        )
        assert _call(target, with_cert) == b"ping"
        assert seen[-1]["x509_common_name"] == [b"dev-client"]
        assert common_name_from_pem(seen[-1]["x509_pem_cert"][0]) == "dev-client"
        assert peer_subject(seen[-1]) == "dev-client"

        issue_client_certificate(
            dev.ca_cert, dev.ca_key, "svc-42", tmp_path / "c.pem", tmp_path / "c.key"
        )
        issued = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=(tmp_path / "c.key").read_bytes(),
            certificate_chain=(tmp_path / "c.pem").read_bytes(),
        )
        assert _call(target, issued) == b"ping"
        assert peer_subject(seen[-1]) == "svc-42"

        # A certificate from another CA is refused even though its CN looks right.
        foreign = ensure_dev_tls(tmp_path / "foreign")
        with pytest.raises(grpc.RpcError) as failure:
            _call(
                target,
                grpc.ssl_channel_credentials(
                    root_certificates=ca,
                    private_key=foreign.client_key.read_bytes(),
                    certificate_chain=foreign.client_cert.read_bytes(),
                ),
            )
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(seen) == 2


def test_client_ca_without_require_does_not_request_certificates(dev: DevTls) -> None:
    # grpcio offers mTLS only as all-or-nothing: without require_client_cert the server never
    # asks for a certificate, so a client that has one still arrives without an identity.
    seen: list[dict[str, list[bytes]]] = []
    with _server(dev.server_files(require_client_cert=False), seen) as port:
        with_cert = grpc.ssl_channel_credentials(
            root_certificates=dev.ca_cert.read_bytes(),
            private_key=dev.client_key.read_bytes(),
            certificate_chain=dev.client_cert.read_bytes(),
        )
        assert _call(f"localhost:{port}", with_cert) == b"ping"
    assert peer_subject(seen[0]) is None

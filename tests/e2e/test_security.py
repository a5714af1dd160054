"""TLS, authentication, Yandex roles and access bindings, audit — against `hsmkms dev --auth`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from conftest import DevServer, expect, serve_config
from google.protobuf import field_mask_pb2

from hsmkms._pb.yandex.cloud.access import access_pb2 as access_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_grpc
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2 as ops
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2_grpc as op_grpc
from hsmkms.dev import store_url
from hsmkms.domain import AccessBinding, Subject
from hsmkms.service.access import AccessService, CredentialService
from hsmkms.store import Store

DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
ENCRYPT, DECRYPT, VIEW, EDIT, DELETE, ACCESS = "E", "D", "V", "ED", "DEL", "ACC"

# What each role may do, as the issue and Yandex's documentation describe it.
ROLE_PERMISSIONS = {
    "kms.keys.encrypter": {ENCRYPT},
    "kms.keys.decrypter": {DECRYPT},
    "kms.keys.encrypterDecrypter": {ENCRYPT, DECRYPT},
    "kms.viewer": {VIEW},
    "kms.editor": {VIEW, EDIT},
    "kms.admin": {ENCRYPT, DECRYPT, VIEW, EDIT, DELETE, ACCESS},
    "viewer": {VIEW},
    "editor": {VIEW, EDIT},
    "admin": {ENCRYPT, DECRYPT, VIEW, EDIT, DELETE, ACCESS},
    "": set(),
}


@pytest.fixture(scope="module")
def store(auth_server: DevServer) -> Iterator[Store]:
    s = Store(store_url(auth_server.data_dir))
    yield s
    s.close()


def tls_channel(
    server: DevServer, token: str | None = None, client_cert: bool = False
) -> grpc.Channel:
    tls = server.data_dir / "tls"
    creds = grpc.ssl_channel_credentials(
        root_certificates=(tls / "ca.pem").read_bytes(),
        private_key=(tls / "client.key").read_bytes() if client_cert else None,
        certificate_chain=(tls / "client.pem").read_bytes() if client_cert else None,
    )
    if token is not None:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return grpc.secure_channel(server.address, creds)


class Client:
    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.keys = key_grpc.SymmetricKeyServiceStub(channel)
        self.crypto = crypto_grpc.SymmetricCryptoServiceStub(channel)
        self.ops = op_grpc.OperationServiceStub(channel)


@pytest.fixture(scope="module")
def admin(auth_server: DevServer) -> Iterator[Client]:
    token = (auth_server.data_dir / "admin.token").read_text().strip()
    with tls_channel(auth_server, token) as ch:
        yield Client(ch)


def issue(store: Store, subject: str, expires_in: Any = None) -> str:
    return CredentialService(store).issue(Subject.parse(subject), expires_in)[1]


def new_key(admin: Client, folder: str) -> key_pb.SymmetricKey:
    op = admin.keys.Create(
        ks.CreateSymmetricKeyRequest(folder_id=folder, default_algorithm=key_pb.AES_256)
    )
    key = key_pb.SymmetricKey()
    op.response.Unpack(key)
    return key


def test_admin_token_and_tls_files(auth_server: DevServer) -> None:
    for name in ("admin.token", "tls/ca.key", "tls/server.key"):
        assert (auth_server.data_dir / name).stat().st_mode & 0o777 == 0o600
    assert (auth_server.data_dir / "admin.token").read_text().startswith("hkt1.")


def test_plaintext_is_refused_by_the_tls_listener(auth_server: DevServer) -> None:
    with grpc.insecure_channel(auth_server.address) as ch:
        err = expect(
            grpc.StatusCode.UNAVAILABLE,
            lambda: key_grpc.SymmetricKeyServiceStub(ch).Get(
                ks.GetSymmetricKeyRequest(key_id="k"), timeout=5
            ),
        )
    assert err is not None


class TestAuthentication:
    def _get(self, channel: grpc.Channel, metadata: tuple[tuple[str, str], ...] = ()) -> Any:
        return key_grpc.SymmetricKeyServiceStub(channel).Get(
            ks.GetSymmetricKeyRequest(key_id="hkkwhatever"), metadata=metadata, timeout=10
        )

    def test_bad_credentials(self, auth_server: DevServer, store: Store) -> None:
        revoked = issue(store, "serviceAccount:revoked")
        credential_id = revoked.split(".")[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "hsmkms.cli",
                "credentials",
                "revoke",
                "--data-dir",
                str(auth_server.data_dir),
                credential_id,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        from datetime import timedelta

        expired = issue(store, "serviceAccount:expired", timedelta(seconds=1))
        good = issue(store, "serviceAccount:good")
        time.sleep(1.1)
        wrong_secret = good.rsplit(".", 1)[0] + "." + "A" * 43
        cases = {
            "missing": (),
            "not bearer": (("authorization", "Basic dXNlcjpwYXNz"),),
            "empty bearer": (("authorization", "Bearer "),),
            "garbage": (("authorization", "Bearer garbage"),),
            "unknown id": (("authorization", "Bearer hkt1.hktnosuchcredential00." + "A" * 43),),
            "wrong secret": (("authorization", f"Bearer {wrong_secret}"),),
            "revoked": (("authorization", f"Bearer {revoked}"),),
            "expired": (("authorization", f"Bearer {expired}"),),
            "bad jwt": (("authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),),
        }
        with tls_channel(auth_server) as ch:
            for name, metadata in cases.items():
                details = expect(UNAUTHENTICATED, lambda m=metadata: self._get(ch, m))
                assert "hkt1." not in details, name
            # A valid token passes authentication (and the key then is simply unknown).
            expect(
                grpc.StatusCode.NOT_FOUND,
                lambda: self._get(ch, (("authorization", f"Bearer {good}"),)),
            )


ISSUER = "https://issuer.test"


@pytest.fixture(scope="module")
def jwt_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def strict_server(
    auth_server: DevServer, jwt_key: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevServer]:
    """`hsmkms serve` on the same token and store: client certificates required, JWT issuer."""
    from cryptography.hazmat.primitives import serialization

    base = tmp_path_factory.mktemp("strict")
    data, tls = auth_server.data_dir, auth_server.data_dir / "tls"
    public = base / "issuer.pem"
    public.write_bytes(
        jwt_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    config = serve_config(
        base,
        auth_server,
        store=store_url(data),
        extra=f"""
[tls]
cert_file = "{tls / "server.pem"}"
key_file = "{tls / "server.key"}"
client_ca_file = "{tls / "ca.pem"}"
require_client_cert = true
[auth]
enabled = true
certificate_subject_type = "serviceAccount"
[[auth.jwt]]
issuer = "{ISSUER}"
audience = "hsmkms"
public_key_files = ["{public}"]
algorithms = ["ES256"]
subject_type = "federatedUser"
[audit]
path = "{base / "audit.log"}"
""",
    )
    server = DevServer(
        data_dir=data, log_path=base / "server.log", command=("serve", "--config", str(config))
    )
    server.start()
    yield server
    if server.process is not None:
        server.stop()


def make_jwt(key: Any, **claims: Any) -> str:
    import jwt

    now = int(time.time())
    body = {"iss": ISSUER, "aud": "hsmkms", "sub": "alice", "iat": now, "exp": now + 300}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="ES256")


class TestStrictServer:
    def test_client_certificate_identifies_the_caller(
        self, strict_server: DevServer, store: Store
    ) -> None:
        folder = "mtls-" + uuid.uuid4().hex[:8]
        with tls_channel(strict_server, client_cert=True) as ch:
            client = Client(ch)
            request = ks.ListSymmetricKeysRequest(folder_id=folder)
            details = expect(DENIED, lambda: client.keys.List(request))
            assert "serviceAccount:dev-client" in details
            AccessService(store, True).add_folder_bindings(
                folder, [AccessBinding("kms.viewer", Subject("serviceAccount", "dev-client"))]
            )
            assert list(client.keys.List(request).keys) == []

    def test_no_client_certificate_no_connection(self, strict_server: DevServer) -> None:
        token = (strict_server.data_dir / "admin.token").read_text().strip()
        with tls_channel(strict_server, token) as ch:
            expect(
                grpc.StatusCode.UNAVAILABLE,
                lambda: Client(ch).keys.List(ks.ListSymmetricKeysRequest(folder_id="f"), timeout=5),
            )

    def test_jwt_subject(self, strict_server: DevServer, store: Store, jwt_key: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        folder = "jwt-" + uuid.uuid4().hex[:8]
        AccessService(store, True).add_folder_bindings(
            folder, [AccessBinding("kms.editor", Subject("federatedUser", "alice"))]
        )
        request = ks.CreateSymmetricKeyRequest(folder_id=folder, default_algorithm=key_pb.AES_256)
        with tls_channel(strict_server, client_cert=True) as ch:
            client = Client(ch)

            def create(token: str) -> Any:
                return client.keys.Create(request, metadata=(("authorization", f"Bearer {token}"),))

            assert create(make_jwt(jwt_key)).created_by == "federatedUser:alice"
            other = ec.generate_private_key(ec.SECP256R1())
            now = int(time.time())
            bad = {
                "expired": make_jwt(jwt_key, exp=now - 120),
                "not yet valid": make_jwt(jwt_key, nbf=now + 600),
                "audience": make_jwt(jwt_key, aud="someone-else"),
                "issuer": make_jwt(jwt_key, iss="https://evil.test"),
                "signature": make_jwt(other),
                "no subject": make_jwt(jwt_key, sub=None),
            }
            for name, token in bad.items():
                details = expect(UNAUTHENTICATED, lambda t=token: create(t))
                assert token not in details, name


def matrix_calls(
    admin: Client, folder: str, key: key_pb.SymmetricKey
) -> dict[str, tuple[set[str], Callable[[Client], Any]]]:
    """Each method with the permissions it needs and a call that exercises it."""
    ct = admin.crypto.Encrypt(c.SymmetricEncryptRequest(key_id=key.id, plaintext=b"m")).ciphertext
    op_id = admin.keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id)).id
    versions = admin.keys.ListVersions(
        ks.ListSymmetricKeyVersionsRequest(key_id=key.id)
    ).key_versions
    old = next(v.id for v in versions if not v.primary)
    current = next(v.id for v in versions if v.primary)

    def fresh() -> key_pb.SymmetricKey:
        return new_key(admin, folder)

    binding = access_pb.AccessBinding(
        role_id="kms.viewer", subject=access_pb.Subject(id="x", type="serviceAccount")
    )
    return {
        "Encrypt": (
            {ENCRYPT},
            lambda u: u.crypto.Encrypt(c.SymmetricEncryptRequest(key_id=key.id, plaintext=b"x")),
        ),
        "Decrypt": (
            {DECRYPT},
            lambda u: u.crypto.Decrypt(c.SymmetricDecryptRequest(key_id=key.id, ciphertext=ct)),
        ),
        "ReEncrypt": (
            {ENCRYPT, DECRYPT},
            lambda u: u.crypto.ReEncrypt(
                c.SymmetricReEncryptRequest(key_id=key.id, source_key_id=key.id, ciphertext=ct)
            ),
        ),
        "GenerateDataKey": (
            {ENCRYPT},
            lambda u: u.crypto.GenerateDataKey(c.GenerateDataKeyRequest(key_id=key.id)),
        ),
        "Create": (
            {EDIT},
            lambda u: u.keys.Create(
                ks.CreateSymmetricKeyRequest(folder_id=folder, default_algorithm=key_pb.AES_128)
            ),
        ),
        "Get": ({VIEW}, lambda u: u.keys.Get(ks.GetSymmetricKeyRequest(key_id=key.id))),
        "List": ({VIEW}, lambda u: u.keys.List(ks.ListSymmetricKeysRequest(folder_id=folder))),
        "ListVersions": (
            {VIEW},
            lambda u: u.keys.ListVersions(ks.ListSymmetricKeyVersionsRequest(key_id=key.id)),
        ),
        "ListOperations": (
            {VIEW},
            lambda u: u.keys.ListOperations(ks.ListSymmetricKeyOperationsRequest(key_id=key.id)),
        ),
        "Update": (
            {EDIT},
            lambda u: u.keys.Update(
                ks.UpdateSymmetricKeyRequest(
                    key_id=key.id,
                    update_mask=field_mask_pb2.FieldMask(paths=["description"]),
                    description="d",
                )
            ),
        ),
        "Rotate": (
            {EDIT},
            lambda u: u.keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=fresh().id)),
        ),
        "SetPrimaryVersion": (
            {EDIT},
            lambda u: u.keys.SetPrimaryVersion(
                ks.SetPrimarySymmetricKeyVersionRequest(key_id=key.id, version_id=current)
            ),
        ),
        "ScheduleVersionDestruction": (
            {EDIT},
            lambda u: u.keys.ScheduleVersionDestruction(
                ks.ScheduleSymmetricKeyVersionDestructionRequest(key_id=key.id, version_id=old)
            ),
        ),
        "CancelVersionDestruction": (
            {EDIT},
            lambda u: u.keys.CancelVersionDestruction(
                ks.CancelSymmetricKeyVersionDestructionRequest(key_id=key.id, version_id=old)
            ),
        ),
        "Delete": (
            {DELETE},
            lambda u: u.keys.Delete(ks.DeleteSymmetricKeyRequest(key_id=fresh().id)),
        ),
        "ListAccessBindings": (
            {VIEW},
            lambda u: u.keys.ListAccessBindings(
                access_pb.ListAccessBindingsRequest(resource_id=key.id)
            ),
        ),
        "SetAccessBindings": (
            {ACCESS},
            lambda u: u.keys.SetAccessBindings(
                access_pb.SetAccessBindingsRequest(
                    resource_id=fresh().id, access_bindings=[binding]
                )
            ),
        ),
        "UpdateAccessBindings": (
            {ACCESS},
            lambda u: u.keys.UpdateAccessBindings(
                access_pb.UpdateAccessBindingsRequest(
                    resource_id=fresh().id,
                    access_binding_deltas=[
                        access_pb.AccessBindingDelta(action=access_pb.ADD, access_binding=binding)
                    ],
                )
            ),
        ),
        "OperationService.Get": (
            {VIEW},
            lambda u: u.ops.Get(ops.GetOperationRequest(operation_id=op_id)),
        ),
    }


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_role_method_matrix(auth_server: DevServer, admin: Client, store: Store, role: str) -> None:
    folder = "matrix-" + uuid.uuid4().hex[:8]
    key = new_key(admin, folder)
    subject = f"serviceAccount:matrix-{role or 'none'}-{uuid.uuid4().hex[:6]}"
    if role:
        AccessService(store, True).add_folder_bindings(
            folder, [AccessBinding(role, Subject.parse(subject))]
        )
    granted = ROLE_PERMISSIONS[role]
    with tls_channel(auth_server, issue(store, subject)) as ch:
        user = Client(ch)
        for method, (needs, call) in matrix_calls(admin, folder, key).items():
            if needs <= granted:
                call(user)  # allowed: succeeds
            else:
                details = expect(DENIED, lambda call=call: call(user))
                assert subject in details, method


def test_reencrypt_needs_decrypter_on_source_and_encrypter_on_target(
    auth_server: DevServer, admin: Client, store: Store
) -> None:
    folder = "reencrypt-" + uuid.uuid4().hex[:8]
    source, target = new_key(admin, folder), new_key(admin, folder)
    subject = access_pb.Subject(type="serviceAccount", id="mover-" + uuid.uuid4().hex[:6])
    ct = admin.crypto.Encrypt(
        c.SymmetricEncryptRequest(key_id=source.id, plaintext=b"m")
    ).ciphertext

    def grant(key_id: str, role: str, action: int = access_pb.ADD) -> None:
        admin.keys.UpdateAccessBindings(
            access_pb.UpdateAccessBindingsRequest(
                resource_id=key_id,
                access_binding_deltas=[
                    access_pb.AccessBindingDelta(
                        action=action,
                        access_binding=access_pb.AccessBinding(role_id=role, subject=subject),
                    )
                ],
            )
        )

    request = c.SymmetricReEncryptRequest(key_id=target.id, source_key_id=source.id, ciphertext=ct)
    with tls_channel(auth_server, issue(store, f"{subject.type}:{subject.id}")) as ch:
        user = Client(ch)
        grant(source.id, "kms.keys.decrypter")
        expect(DENIED, lambda: user.crypto.ReEncrypt(request))  # no encrypter on the target
        grant(target.id, "kms.keys.encrypter")
        assert user.crypto.ReEncrypt(request).source_key_id == source.id
        # Binding changes take effect on the very next call.
        grant(source.id, "kms.keys.decrypter", access_pb.REMOVE)
        expect(DENIED, lambda: user.crypto.ReEncrypt(request))
        listed = admin.keys.ListAccessBindings(
            access_pb.ListAccessBindingsRequest(resource_id=target.id)
        )
        assert [(b.role_id, b.subject.id) for b in listed.access_bindings] == [
            ("kms.keys.encrypter", subject.id)
        ]
        admin.keys.SetAccessBindings(access_pb.SetAccessBindingsRequest(resource_id=target.id))
        assert not admin.keys.ListAccessBindings(
            access_pb.ListAccessBindingsRequest(resource_id=target.id)
        ).access_bindings


def test_access_binding_operations(admin: Client) -> None:
    key = new_key(admin, "ops-" + uuid.uuid4().hex[:8])
    binding = access_pb.AccessBinding(
        role_id="kms.viewer", subject=access_pb.Subject(id="v", type="userAccount")
    )
    op = admin.keys.SetAccessBindings(
        access_pb.SetAccessBindingsRequest(resource_id=key.id, access_bindings=[binding])
    )
    meta = access_pb.SetAccessBindingsMetadata()
    assert op.done and op.metadata.Unpack(meta) and meta.resource_id == key.id
    assert op.response.type_url == "type.googleapis.com/google.protobuf.Empty"
    assert op.created_by == "serviceAccount:admin"
    assert admin.ops.Get(ops.GetOperationRequest(operation_id=op.id)) == op
    bad = access_pb.AccessBinding(
        role_id="kms.superuser", subject=access_pb.Subject(id="v", type="userAccount")
    )
    expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: admin.keys.SetAccessBindings(
            access_pb.SetAccessBindingsRequest(resource_id=key.id, access_bindings=[bad])
        ),
        "access_bindings[0].role_id",
    )
    expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: admin.keys.UpdateAccessBindings(
            access_pb.UpdateAccessBindingsRequest(resource_id=key.id)
        ),
        "access_binding_deltas",
    )
    expect(
        grpc.StatusCode.NOT_FOUND,
        lambda: admin.keys.ListAccessBindings(
            access_pb.ListAccessBindingsRequest(resource_id="hkknope")
        ),
    )
    rotate = admin.keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id))
    assert rotate.created_by == "serviceAccount:admin"


def test_cli_issues_tokens_that_work(auth_server: DevServer, admin: Client) -> None:
    folder = "cli-" + uuid.uuid4().hex[:8]
    subject = "serviceAccount:cli-" + uuid.uuid4().hex[:6]
    base = [sys.executable, "-m", "hsmkms.cli"]
    issued = subprocess.run(
        [
            *base,
            "credentials",
            "issue",
            "--data-dir",
            str(auth_server.data_dir),
            "--subject",
            subject,
            "--expires-in",
            "1h",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = issued.stdout.strip()
    assert token.startswith("hkt1.") and token not in issued.stderr
    subprocess.run(
        [
            *base,
            "bindings",
            "add",
            "--data-dir",
            str(auth_server.data_dir),
            "--folder",
            folder,
            "--role",
            "kms.editor",
            "--subject",
            subject,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    with tls_channel(auth_server, token) as ch:
        created = Client(ch).keys.Create(
            ks.CreateSymmetricKeyRequest(folder_id=folder, default_algorithm=key_pb.AES_256)
        )
    assert created.created_by == subject
    listing = subprocess.run(
        [*base, "credentials", "list", "--data-dir", str(auth_server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert subject in listing.stdout and token.split(".")[2] not in listing.stdout


def test_no_secret_reaches_logs_or_audit(auth_server: DevServer, admin: Client) -> None:
    """A burst of calls, then every log and audit line is searched for what must not be there."""
    folder = "secrets-" + uuid.uuid4().hex[:8]
    key = new_key(admin, folder)
    secrets_used: list[bytes] = []
    for _ in range(20):
        plaintext, aad = os.urandom(24).hex().encode(), os.urandom(12).hex().encode()
        ct = admin.crypto.Encrypt(
            c.SymmetricEncryptRequest(key_id=key.id, plaintext=plaintext, aad_context=aad)
        ).ciphertext
        admin.crypto.Decrypt(
            c.SymmetricDecryptRequest(key_id=key.id, ciphertext=ct, aad_context=aad)
        )
        wrong = c.SymmetricDecryptRequest(key_id=key.id, ciphertext=ct, aad_context=b"wrong-" + aad)
        expect(grpc.StatusCode.INVALID_ARGUMENT, lambda w=wrong: admin.crypto.Decrypt(w))
        dk = admin.crypto.GenerateDataKey(c.GenerateDataKeyRequest(key_id=key.id, aad_context=aad))
        secrets_used += [plaintext, aad, ct, dk.data_key_plaintext, dk.data_key_ciphertext]
    data = auth_server.data_dir
    for name in ("admin.token", "user.pin", "so.pin"):
        secrets_used.append((data / name).read_text().strip().encode())
    audit = (data / "audit.log").read_bytes()
    logs = audit + auth_server.log_path.read_bytes()
    for secret in secrets_used:
        for form in (
            secret,
            secret.hex().encode(),
            base64.b64encode(secret),
            base64.urlsafe_b64encode(secret),
        ):
            assert form not in logs
    records = [json.loads(line) for line in audit.splitlines()]
    mine = [r for r in records if r.get("key_id") == key.id]
    assert len(mine) >= 80
    assert {r["subject"] for r in mine} == {"serviceAccount:admin"}
    statuses = {r["method"].rsplit("/", 1)[1]: r["status"] for r in mine if r["status"] != "OK"}
    assert statuses == {"Decrypt": "INVALID_ARGUMENT"}
    sample = next(r for r in mine if r["method"].endswith("/Encrypt"))
    assert {"time", "request_id", "latency_ms", "peer", "response_version_id"} <= set(sample)


def test_update_bindings_names_the_offending_delta(admin: Client) -> None:
    key = new_key(admin, "deltas-" + uuid.uuid4().hex[:8])
    subject = access_pb.Subject(id="v", type="userAccount")
    deltas = [
        access_pb.AccessBindingDelta(
            action=access_pb.REMOVE,
            access_binding=access_pb.AccessBinding(role_id="kms.viewer", subject=subject),
        ),
        access_pb.AccessBindingDelta(
            action=access_pb.ADD,
            access_binding=access_pb.AccessBinding(role_id="kms.nosuchrole", subject=subject),
        ),
    ]
    request = access_pb.UpdateAccessBindingsRequest(
        resource_id=key.id, access_binding_deltas=deltas
    )
    expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: admin.keys.UpdateAccessBindings(request),
        "access_binding_deltas[1].access_binding.role_id",
    )

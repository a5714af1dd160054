"""The composition root: wires store, HSM, services and gRPC servicers, and runs the server."""

from __future__ import annotations

import logging
import os
import signal
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_service_grpc
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2_grpc as op_service_grpc
from hsmkms.api.audit import AuditLog
from hsmkms.api.gate import Gate
from hsmkms.api.grpc_services import (
    OperationServicer,
    SymmetricCryptoServicer,
    SymmetricKeyServicer,
)
from hsmkms.config import ConfigError, Settings
from hsmkms.domain import AccessBinding, Subject
from hsmkms.hsm.pkcs11_hsm import Pkcs11Hsm
from hsmkms.service import CryptoService, KeyService, OperationService
from hsmkms.service.access import AccessService, Authenticator, CredentialService
from hsmkms.service.background import Scheduler, reconcile
from hsmkms.service.jwt_auth import JwtVerifier
from hsmkms.store import Store
from hsmkms.tls import TlsFiles, server_credentials

log = logging.getLogger(__name__)

# The largest valid request (ReEncrypt: a 32 KiB ciphertext and two 8 KiB AADs) is far below.
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 16 * 1024


@dataclass
class App:
    store: Store
    hsm: Pkcs11Hsm
    keys: KeyService
    crypto: CryptoService
    operations: OperationService
    access: AccessService
    gate: Gate
    audit: AuditLog | None = None

    def close(self) -> None:
        self.hsm.close()
        self.store.close()
        if self.audit is not None:
            self.audit.close()


def build_app(settings: Settings) -> App:
    # The module reads its configuration from the environment when it is loaded.
    os.environ.update(settings.module_environment)
    store = Store(settings.store_url)
    hsm = Pkcs11Hsm(settings.token)
    hsm.connect()
    operations = OperationService(store)
    access = AccessService(store, enforce=settings.auth.enabled)
    bootstrap_bindings(access, settings)
    audit = None if settings.audit_path is None else AuditLog(settings.audit_path)
    return App(
        store=store,
        hsm=hsm,
        keys=KeyService(store, hsm, settings.lifecycle),
        crypto=CryptoService(store, hsm),
        operations=operations,
        access=access,
        gate=Gate(access, operations, authenticator(store, settings), audit),
        audit=audit,
    )


def authenticator(store: Store, settings: Settings) -> Authenticator | None:
    auth = settings.auth
    if not auth.enabled:
        return None
    verifier = JwtVerifier(list(auth.jwt_issuers)) if auth.jwt_issuers else None
    return Authenticator(
        CredentialService(store),
        None if verifier is None else verifier.verify,
        auth.certificate_subject_type,
    )


def bootstrap_bindings(access: AccessService, settings: Settings) -> None:
    """Apply the folder bindings of the configuration (idempotent)."""
    for folder_id, role_id, subject in settings.auth.bootstrap_bindings:
        try:
            binding = AccessBinding(role_id, Subject.parse(subject))
        except ValueError as exc:
            raise ConfigError(f"bindings: {exc}") from None
        access.add_folder_bindings(folder_id, [binding])


def check_consistency(app: App) -> None:
    """At start: finish interrupted destructions and report what differs between store and token."""
    report = reconcile(app.store, app.hsm, fix=True)
    for line in report.lines():
        if line.startswith("ERROR"):
            log.error("consistency: %s", line)
        elif line.startswith(("WARN", "FIXED")):
            log.warning("consistency: %s", line)
        else:
            log.info("consistency: %s", line)


def create_server(
    app: App, address: str, threads: int, tls: TlsFiles | None = None
) -> tuple[grpc.Server, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    crypto_grpc.add_SymmetricCryptoServiceServicer_to_server(
        SymmetricCryptoServicer(app.gate, app.crypto), server
    )
    key_service_grpc.add_SymmetricKeyServiceServicer_to_server(
        SymmetricKeyServicer(app.gate, app.keys, app.access), server
    )
    op_service_grpc.add_OperationServiceServicer_to_server(
        OperationServicer(app.gate, app.operations), server
    )
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, server_credentials(tls))
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}")
    return server, port


def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then finish in-flight calls and log out of the token."""
    app = build_app(settings)
    check_consistency(app)
    server, port = create_server(app, settings.listen, settings.threads, settings.tls)
    scheduler = Scheduler(app.keys, settings.scheduler_interval)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    scheduler.start()
    host = settings.listen.rsplit(":", 1)[0]
    log.info(
        "hsmkms listening on %s:%d (%s, %s)",
        host,
        port,
        "TLS" if settings.tls else "plaintext",
        "authentication required" if settings.auth.enabled else "no authentication",
    )
    stop.wait()
    log.info("shutting down: finishing in-flight calls")
    scheduler.stop()
    server.stop(settings.grace_seconds).wait()
    app.close()
    log.info("stopped")

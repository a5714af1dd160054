"""The composition root: wires store, HSM, services and gRPC servicers, and runs the server."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hsmkms import metrics
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_service_grpc
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2_grpc as op_service_grpc
from hsmkms.api import endpoints
from hsmkms.api.audit import AuditLog
from hsmkms.api.endpoints import ApiEndpointServicer, listen_address
from hsmkms.api.gate import Gate
from hsmkms.api.grpc_services import (
    OperationServicer,
    SymmetricCryptoServicer,
    SymmetricKeyServicer,
)
from hsmkms.config import ConfigError, Settings
from hsmkms.domain import AccessBinding, Subject
from hsmkms.errors import KmsError
from hsmkms.hsm.pkcs11_hsm import Pkcs11Hsm
from hsmkms.service import CryptoService, KeyService, OperationService
from hsmkms.service.access import AccessService, Authenticator, CredentialService
from hsmkms.service.background import Periodic, Scheduler, reconcile
from hsmkms.service.jwt_auth import JwtVerifier
from hsmkms.service.nonce import EncryptionCounter, NonceBudget
from hsmkms.signals import StopRequest
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
    nonce_budget: NonceBudget
    audit: AuditLog | None = None

    def close(self) -> None:
        self.hsm.close()
        self.store.close()
        if self.audit is not None:
            self.audit.close()


def build_app(settings: Settings, bootstrap: bool = True) -> App:
    """Wire the application; `bootstrap` applies the configuration's folder bindings (a
    server start does, `hsmkms doctor` does not)."""
    # The module reads its configuration from the environment when it is loaded.
    os.environ.update(settings.module_environment)
    store = Store(settings.store_url)
    hsm = Pkcs11Hsm(settings.token, metrics.observe_hsm)
    hsm.connect()
    operations = OperationService(store)
    access = AccessService(store, enforce=settings.auth.enabled)
    if bootstrap:
        bootstrap_bindings(access, settings)
    audit = None if settings.audit_path is None else AuditLog(settings.audit_path)
    keys = KeyService(store, hsm, settings.lifecycle)
    counter = EncryptionCounter(store, settings.lifecycle, _publish_encryptions)
    return App(
        store=store,
        hsm=hsm,
        keys=keys,
        crypto=CryptoService(store, hsm, counter),
        operations=operations,
        access=access,
        gate=Gate(access, operations, authenticator(store, settings), audit),
        nonce_budget=NonceBudget(counter, keys),
        audit=audit,
    )


def _publish_encryptions(totals: dict[str, int]) -> None:
    for version_id, total in totals.items():
        metrics.VERSION_ENCRYPTIONS.labels(version_id).set(total)


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
    app: App,
    address: str,
    threads: int,
    tls: TlsFiles | None = None,
    reuse_port: bool = False,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            # Workers share one port; a lone server must not share it with anyone by accident.
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ],
    )
    crypto, keys, operations = servicers(app)
    crypto_grpc.add_SymmetricCryptoServiceServicer_to_server(crypto, server)
    key_service_grpc.add_SymmetricKeyServiceServicer_to_server(keys, server)
    op_service_grpc.add_OperationServiceServicer_to_server(operations, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, server_credentials(tls))
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}")
    # Discovery is unauthenticated by design and never reaches the Gate (see api/endpoints.py).
    endpoints.add_to_server(ApiEndpointServicer(listen_address(address, port)), server)
    reflection.enable_server_reflection(REFLECTED_SERVICES, server)
    return server, port, health_servicer


def servicers(
    app: App,
) -> tuple[SymmetricCryptoServicer, SymmetricKeyServicer, OperationServicer]:
    return (
        SymmetricCryptoServicer(app.gate, app.crypto),
        SymmetricKeyServicer(app.gate, app.keys, app.access),
        OperationServicer(app.gate, app.operations),
    )


class RestServer:
    """The REST/JSON API (api/rest.py) served by uvicorn on a thread of this worker."""

    def __init__(self, app: App, listen: str, tls: TlsFiles | None, reuse_port: bool) -> None:
        import uvicorn

        from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as crypto_pb
        from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as key_service_pb
        from hsmkms._pb.yandex.cloud.operation import operation_service_pb2 as op_service_pb
        from hsmkms.api.rest import create_app

        crypto, keys, operations = servicers(app)
        asgi = create_app(
            [
                (crypto_pb.DESCRIPTOR.services_by_name["SymmetricCryptoService"], crypto),
                (key_service_pb.DESCRIPTOR.services_by_name["SymmetricKeyService"], keys),
                (op_service_pb.DESCRIPTOR.services_by_name["OperationService"], operations),
            ]
        )
        host, _, port = listen.rpartition(":")
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._socket.bind((host.strip("[]"), int(port)))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            asgi,
            log_level="warning",
            access_log=False,
            ssl_certfile=str(tls.cert_file) if tls else None,
            ssl_keyfile=str(tls.key_file) if tls else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="rest", daemon=True
        )

    def start(self, timeout: float = 30.0) -> None:
        """Start serving; returns once the socket accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the REST API did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()


HEALTH_SERVICES = (
    "",
    "yandex.cloud.kms.v1.SymmetricCryptoService",
    "yandex.cloud.kms.v1.SymmetricKeyService",
    "yandex.cloud.operation.OperationService",
)
REFLECTED_SERVICES = (
    *HEALTH_SERVICES[1:],
    ApiEndpointServicer.SERVICE,
    health.SERVICE_NAME,
    reflection.SERVICE_NAME,
)


class HealthMonitor(Periodic):
    """Probes the token and the store every `interval` seconds and publishes the result through
    grpc.health.v1 (SERVING only while both answer); a lost token is reconnected by the probe."""

    name = "health"

    def __init__(self, app: App, servicer: health.HealthServicer, interval: float = 1.0) -> None:
        super().__init__(interval)
        self._app = app
        self._servicer = servicer
        self.serving: bool | None = None
        self._reconnects = 0

    def run_once(self) -> None:
        healthy = self._app.hsm.probe()
        try:
            metrics.KEYS.set(self._app.store.count_keys())
        except KmsError:
            healthy = False
        metrics.HSM_SESSIONS.set(1 if self._app.hsm.healthy else 0)
        reconnects = self._app.hsm.reconnects
        metrics.HSM_RECONNECTS.inc(reconnects - self._reconnects)
        self._reconnects = reconnects
        if healthy != self.serving:
            self._publish(
                health_pb2.HealthCheckResponse.SERVING
                if healthy
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            if self.serving is not None:
                log.warning("health: %s", "SERVING" if healthy else "NOT_SERVING")
            self.serving = healthy

    def _publish(self, status: int) -> None:
        for name in HEALTH_SERVICES:
            self._servicer.set(name, status)

    def start(self) -> None:
        self.run_once()
        super().start()

    def stop(self) -> None:
        super().stop()
        self._publish(health_pb2.HealthCheckResponse.NOT_SERVING)


def run_worker(
    settings: Settings,
    on_ready: Callable[[int], None],
    *,
    primary: bool = True,
    reuse_port: bool = False,
) -> None:
    """Serve until SIGTERM or SIGINT, then finish in-flight calls and log out of the token.

    The primary worker (the only one, or worker 0) also reconciles at start and runs the
    scheduler; every worker serves calls and reports health.
    """
    stop = StopRequest().install()
    if settings.metrics_listen and primary and not reuse_port:
        metrics.serve(settings.metrics_listen)  # a lone server serves its own metrics
    app = build_app(settings)
    if primary:
        check_consistency(app)
    server, port, health_servicer = create_server(
        app, settings.listen, settings.threads, settings.tls, reuse_port
    )
    monitor = HealthMonitor(app, health_servicer)
    rest = (
        RestServer(app, settings.rest_listen, settings.tls, reuse_port)
        if settings.rest_listen
        else None
    )
    scheduler = Scheduler(app.keys, settings.scheduler_interval) if primary else None
    server.start()
    if rest is not None:
        rest.start()
        log.info("REST API on port %d", rest.port)
    monitor.start()
    app.nonce_budget.start()
    if scheduler is not None:
        scheduler.start()
    on_ready(port)
    stop.wait()
    log.info("shutting down: finishing in-flight calls")
    if scheduler is not None:
        scheduler.stop()
    monitor.stop()
    if rest is not None:
        rest.stop()
    server.stop(settings.grace_seconds).wait()
    app.nonce_budget.stop()  # after the last call: every encryption is counted
    app.close()
    log.info("stopped")


def describe(settings: Settings, port: int, workers: int) -> str:
    host = settings.listen.rsplit(":", 1)[0]
    return (
        f"hsmkms listening on {host}:{port} ({workers} worker{'s' if workers > 1 else ''}, "
        f"{'TLS' if settings.tls else 'plaintext'}, "
        f"{'authentication required' if settings.auth.enabled else 'no authentication'})"
    )


def serve(settings: Settings) -> None:
    workers = settings.workers or os.cpu_count() or 1
    if workers == 1:
        run_worker(settings, lambda port: log.info("%s", describe(settings, port, 1)))
    else:
        from hsmkms.supervisor import Supervisor

        Supervisor(settings, workers).run()

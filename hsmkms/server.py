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
from hsmkms.api.grpc_services import (
    OperationServicer,
    SymmetricCryptoServicer,
    SymmetricKeyServicer,
)
from hsmkms.config import Settings
from hsmkms.hsm.pkcs11_hsm import Pkcs11Hsm
from hsmkms.service import CryptoService, KeyService, OperationService
from hsmkms.service.background import Scheduler, reconcile
from hsmkms.store import Store

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

    def close(self) -> None:
        self.hsm.close()
        self.store.close()


def build_app(settings: Settings) -> App:
    # The module reads its configuration from the environment when it is loaded.
    os.environ.update(settings.module_environment)
    store = Store(settings.store_url)
    hsm = Pkcs11Hsm(settings.token)
    hsm.connect()
    return App(
        store=store,
        hsm=hsm,
        keys=KeyService(store, hsm, settings.lifecycle),
        crypto=CryptoService(store, hsm),
        operations=OperationService(store),
    )


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


def create_server(app: App, address: str, threads: int) -> tuple[grpc.Server, int]:
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
        SymmetricCryptoServicer(app.crypto), server
    )
    key_service_grpc.add_SymmetricKeyServiceServicer_to_server(
        SymmetricKeyServicer(app.keys), server
    )
    op_service_grpc.add_OperationServiceServicer_to_server(
        OperationServicer(app.operations), server
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}")
    return server, port


def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then finish in-flight calls and log out of the token."""
    app = build_app(settings)
    check_consistency(app)
    server, port = create_server(app, settings.listen, settings.threads)
    scheduler = Scheduler(app.keys, settings.scheduler_interval)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    scheduler.start()
    host = settings.listen.rsplit(":", 1)[0]
    log.info("hsmkms listening on %s:%d", host, port)
    stop.wait()
    log.info("shutting down: finishing in-flight calls")
    scheduler.stop()
    server.stop(settings.grace_seconds).wait()
    app.close()
    log.info("stopped")

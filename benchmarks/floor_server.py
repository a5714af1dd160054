"""The framework floor: a trivial unary RPC on the same grpcio server stack as hsmkms.

One method, FLOOR_METHOD, answers every request with the request bytes (no protobuf, no
PKCS#11, no store): whatever a real RPC costs beyond this is the service's own work. The server
uses hsmkms's thread pool size and channel options. With --workers N > 1 it runs N processes
sharing one port through SO_REUSEPORT, for comparison with a multi-process hsmkms.

Logs `floor listening on 127.0.0.1:PORT` on stderr once every process accepts calls; stops on
SIGTERM or SIGINT (stopping its worker processes too).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import threading
from concurrent import futures
from typing import Any

import grpc

from hsmkms.config import DEFAULT_THREADS
from hsmkms.server import MAX_MESSAGE_BYTES, MAX_METADATA_BYTES

FLOOR_METHOD = "/hsmkms.bench.Floor/Echo"


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


class _EchoHandler(grpc.GenericRpcHandler):
    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler | None:
        if handler_call_details.method == FLOOR_METHOD:
            # No (de)serializers: the handler sees and returns the raw message bytes.
            return grpc.unary_unary_rpc_method_handler(_echo)
        return None


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def serve_one(address: str, threads: int, worker: bool) -> None:
    """Serve in this process; as a worker of serve_many, share the port and report on stdout."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.so_reuseport", 1 if worker else 0),
        ],
    )
    server.add_generic_rpc_handlers((_EchoHandler(),))
    port = server.add_insecure_port(address)
    if port == 0:
        raise SystemExit(f"floor: cannot listen on {address}")
    server.start()
    host = address.rsplit(":", 1)[0]
    print(
        f"floor listening on {host}:{port}", file=sys.stdout if worker else sys.stderr, flush=True
    )
    _wait_for_signal()
    server.stop(1).wait()


def serve_many(address: str, threads: int, workers: int) -> None:
    """Reserve a port, start `workers` single-process floors on it, relay their readiness."""
    host, port_text = address.rsplit(":", 1)
    # Held (bound, not listening) until the end so no other program takes the port meanwhile.
    reserve = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    reserve.bind((host, int(port_text)))
    port = reserve.getsockname()[1]
    children: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(workers):
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--listen",
                        f"{host}:{port}",
                        "--threads",
                        str(threads),
                        "--worker",
                    ],
                    stdout=subprocess.PIPE,
                )
            )
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline().decode()
            if "listening on" not in line:
                raise SystemExit(f"floor: a worker did not start: {line.strip()}")
        print(
            f"floor listening on {host}:{port} ({workers} processes)", file=sys.stderr, flush=True
        )
        _wait_for_signal()
    finally:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        for child in children:
            child.wait(30)
        reserve.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="ADDR")
    parser.add_argument("--workers", type=int, default=1, metavar="N")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, metavar="N")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workers > 1:
        serve_many(args.listen, args.threads, args.workers)
    else:
        serve_one(args.listen, args.threads, args.worker)


if __name__ == "__main__":
    main()

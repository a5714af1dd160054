"""End-to-end check of a running hsmkms server and its HSM: create, encrypt, decrypt, rotate.

Run it with the interpreter hsmkms is installed in (it uses hsmkms's generated stubs):

    /opt/hsmkms/bin/python deploy/smoke-test.py --endpoint kms.example.internal:50051 \
        --ca-file /etc/hsmkms/tls/ca.pem --folder hsmkms-smoke

The API token is read from the terminal (never from the command line). The caller needs
kms.admin on the folder (kms.editor suffices except for the final Delete). A new key is created
in the folder and deleted at the end; its token objects are destroyed after
[lifecycle] key_deletion_pending_period. Exit status 0 means every step passed.

A plaintext of 32768 bytes (the API's maximum) is included on purpose: a module that refuses
caller-supplied AES-GCM IVs, or limits GCM buffers, fails here rather than in production.
Each step opens its own connection, so with several workers a key created by one worker is used
by others: run it a few times to catch a module that hides objects created by other processes.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as c_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as k
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as ks_grpc


def connector(args: argparse.Namespace) -> Callable[[], grpc.Channel]:
    """Opens a new connection per call, so that with several workers the steps of one run land
    on different workers (the kernel spreads connections over them)."""
    if args.plaintext:
        return lambda: grpc.insecure_channel(args.endpoint)
    cert = key = None
    if args.client_cert:
        cert, key = Path(args.client_cert).read_bytes(), Path(args.client_key).read_bytes()
    creds = grpc.ssl_channel_credentials(Path(args.ca_file).read_bytes(), key, cert)
    if not args.no_token:
        token = getpass.getpass("API token: ").strip()
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return lambda: grpc.secure_channel(args.endpoint, creds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", required=True, help="HOST:PORT")
    parser.add_argument("--ca-file", help="CA certificate that signed the server certificate")
    parser.add_argument("--client-cert", help="client certificate (mutual TLS)")
    parser.add_argument("--client-key", help="client private key (mutual TLS)")
    parser.add_argument("--no-token", action="store_true", help="authenticate by certificate")
    parser.add_argument(
        "--plaintext", action="store_true", help="no TLS, no token (a loopback dev server)"
    )
    parser.add_argument("--folder", default="hsmkms-smoke")
    args = parser.parse_args()
    if not args.plaintext and not args.ca_file:
        parser.error("--ca-file is required unless --plaintext")
    if bool(args.client_cert) != bool(args.client_key):
        parser.error("--client-cert and --client-key go together")

    connect = connector(args)

    def keys() -> ks_grpc.SymmetricKeyServiceStub:
        return ks_grpc.SymmetricKeyServiceStub(connect())

    def crypto() -> c_grpc.SymmetricCryptoServiceStub:
        return c_grpc.SymmetricCryptoServiceStub(connect())

    step = "Create"
    try:
        name = time.strftime("smoke-%Y%m%d-%H%M%S")
        req = ks.CreateSymmetricKeyRequest(
            folder_id=args.folder, name=name, default_algorithm=k.AES_256
        )
        key = k.SymmetricKey()
        keys().Create(req).response.Unpack(key)
        print(f"ok  Create          key {key.id}, version {key.primary_version.id}")
        sealed = {}
        for size in (1, 32768):
            step = f"Encrypt {size} bytes"
            plaintext, aad = bytes(range(256)) * (size // 256) or b"x", b"hsmkms-smoke"
            enc = crypto().Encrypt(
                c.SymmetricEncryptRequest(key_id=key.id, plaintext=plaintext, aad_context=aad)
            )
            step = f"Decrypt {size} bytes"
            dec = crypto().Decrypt(
                c.SymmetricDecryptRequest(key_id=key.id, ciphertext=enc.ciphertext, aad_context=aad)
            )
            if dec.plaintext != plaintext:
                print(f"FAIL {step}: plaintext differs", file=sys.stderr)
                return 1
            sealed[size] = (enc.ciphertext, aad, plaintext)
            print(f"ok  Encrypt/Decrypt {size} bytes")
        step = "GenerateDataKey"
        dk = crypto().GenerateDataKey(c.GenerateDataKeyRequest(key_id=key.id))
        dec = crypto().Decrypt(
            c.SymmetricDecryptRequest(key_id=key.id, ciphertext=dk.data_key_ciphertext)
        )
        if dec.plaintext != dk.data_key_plaintext or len(dec.plaintext) != 32:
            print(f"FAIL {step}: data key differs", file=sys.stderr)
            return 1
        print("ok  GenerateDataKey")
        step = "Rotate"
        keys().Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id))
        ciphertext, aad, plaintext = sealed[1]
        step = "Decrypt after Rotate"
        dec = crypto().Decrypt(
            c.SymmetricDecryptRequest(key_id=key.id, ciphertext=ciphertext, aad_context=aad)
        )
        if dec.plaintext != plaintext:
            print(f"FAIL {step}: plaintext differs", file=sys.stderr)
            return 1
        print("ok  Rotate, old ciphertext still decrypts")
        step = "Delete"
        keys().Delete(ks.DeleteSymmetricKeyRequest(key_id=key.id))
        print("ok  Delete")
    except grpc.RpcError as exc:
        print(f"FAIL {step}: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    print("all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

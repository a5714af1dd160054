"""The official yandexcloud stubs over TLS with a bearer token (run under the compat venv).

Usage: HSMKMS_TOKEN=... python sdk_tls_client.py ADDRESS CA_PEM
Prints a JSON summary; exits 0 when every step worked.
"""

from __future__ import annotations

import json
import os
import sys

import grpc
from yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as c_grpc
from yandex.cloud.kms.v1 import symmetric_key_pb2 as k
from yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as ks_grpc


def main() -> int:
    address, ca = sys.argv[1], sys.argv[2]
    token = os.environ["HSMKMS_TOKEN"]
    with open(ca, "rb") as f:
        tls = grpc.ssl_channel_credentials(root_certificates=f.read())
    credentials = grpc.composite_channel_credentials(tls, grpc.access_token_call_credentials(token))
    channel = grpc.secure_channel(address, credentials)
    keys = ks_grpc.SymmetricKeyServiceStub(channel)
    crypto = c_grpc.SymmetricCryptoServiceStub(channel)
    op = keys.Create(ks.CreateSymmetricKeyRequest(folder_id="sdk-tls", default_algorithm=k.AES_256))
    key = k.SymmetricKey()
    op.response.Unpack(key)
    enc = crypto.Encrypt(c.SymmetricEncryptRequest(key_id=key.id, plaintext=b"over tls"))
    dec = crypto.Decrypt(c.SymmetricDecryptRequest(key_id=key.id, ciphertext=enc.ciphertext))
    try:
        ks_grpc.SymmetricKeyServiceStub(grpc.secure_channel(address, tls)).Get(
            ks.GetSymmetricKeyRequest(key_id=key.id)
        )
        anonymous = "OK"
    except grpc.RpcError as err:
        anonymous = err.code().name
    print(
        json.dumps(
            {
                "created_by": op.created_by,
                "plaintext": dec.plaintext.decode(),
                "anonymous": anonymous,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

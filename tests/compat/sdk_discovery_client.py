"""The official `yandexcloud.SDK` object against hsmkms: endpoint discovery, then KMS calls.

Run under the compatibility interpreter (HSMKMS_COMPAT_PYTHON), never inside the test process.

    HSMKMS_TOKEN=... python sdk_discovery_client.py HOST:PORT CA_PEM

The SDK lists endpoints from HOST:PORT without credentials, then opens a channel per service
to the address it was given, sending the token as `authorization: Bearer`. Prints one JSON
object and exits 0 when every step worked.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

import yandexcloud
from yandex.cloud.endpoint.api_endpoint_service_pb2 import (
    GetApiEndpointRequest,
    ListApiEndpointsRequest,
)
from yandex.cloud.endpoint.api_endpoint_service_pb2_grpc import ApiEndpointServiceStub
from yandex.cloud.kms.v1.symmetric_crypto_service_pb2 import (
    SymmetricDecryptRequest,
    SymmetricEncryptRequest,
)
from yandex.cloud.kms.v1.symmetric_crypto_service_pb2_grpc import SymmetricCryptoServiceStub
from yandex.cloud.kms.v1.symmetric_key_pb2 import AES_256, SymmetricKey
from yandex.cloud.kms.v1.symmetric_key_service_pb2 import (
    CreateSymmetricKeyMetadata,
    CreateSymmetricKeyRequest,
)
from yandex.cloud.kms.v1.symmetric_key_service_pb2_grpc import SymmetricKeyServiceStub

TIMEOUT = 15.0


def main() -> int:
    address, ca_path = sys.argv[1], sys.argv[2]
    with open(ca_path, "rb") as f:
        ca = f.read()
    sdk = yandexcloud.SDK(
        endpoint=address, iam_token=os.environ["HSMKMS_TOKEN"], root_certificates=ca
    )

    keys = sdk.client(SymmetricKeyServiceStub)
    op = keys.Create(
        CreateSymmetricKeyRequest(
            folder_id="sdk-discovery",
            name="discovery-" + uuid.uuid4().hex[:8],
            default_algorithm=AES_256,
        ),
        timeout=TIMEOUT,
    )
    result = sdk.wait_operation_and_get_result(
        op, response_type=SymmetricKey, meta_type=CreateSymmetricKeyMetadata, timeout=TIMEOUT
    )
    key = result.response

    crypto = sdk.client(SymmetricCryptoServiceStub)
    aad = b"discovered"
    enc = crypto.Encrypt(
        SymmetricEncryptRequest(key_id=key.id, plaintext=b"via discovery", aad_context=aad),
        timeout=TIMEOUT,
    )
    dec = crypto.Decrypt(
        SymmetricDecryptRequest(key_id=key.id, ciphertext=enc.ciphertext, aad_context=aad),
        timeout=TIMEOUT,
    )

    # The endpoint service itself, through the channel the SDK builds for the `endpoint` id.
    endpoints = sdk.client(ApiEndpointServiceStub)
    listed = endpoints.List(ListApiEndpointsRequest(), timeout=TIMEOUT)
    got = endpoints.Get(GetApiEndpointRequest(api_endpoint_id="kms-crypto"), timeout=TIMEOUT)

    print(
        json.dumps(
            {
                "key_id": key.id,
                "meta_key_id": result.meta.key_id,
                "created_by": op.created_by,
                "encrypt_key_id": enc.key_id,
                "version_id": enc.version_id,
                "primary_version_id": key.primary_version.id,
                "plaintext": dec.plaintext.decode(),
                "endpoints": {e.id: e.address for e in listed.endpoints},
                "get_kms_crypto": [got.id, got.address],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Server reflection and endpoint discovery against real `hsmkms dev` servers."""

from __future__ import annotations

import grpc
import pytest
from conftest import DevServer, expect
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from hsmkms._pb.yandex.cloud.endpoint import api_endpoint_service_pb2 as endpoint_pb
from hsmkms._pb.yandex.cloud.endpoint import api_endpoint_service_pb2_grpc as endpoint_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_service_grpc
from hsmkms.api.endpoints import ENDPOINT_IDS, listen_address

SERVICES = {
    "yandex.cloud.kms.v1.SymmetricCryptoService": {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
    },
    "yandex.cloud.kms.v1.SymmetricKeyService": {"Create", "Get", "Rotate", "ListAccessBindings"},
    "yandex.cloud.operation.OperationService": {"Get"},
    "yandex.cloud.endpoint.ApiEndpointService": {"Get", "List"},
    "grpc.health.v1.Health": {"Check", "Watch"},
    "grpc.reflection.v1alpha.ServerReflection": {"ServerReflectionInfo"},
}


def test_reflection_lists_and_describes_every_service(server: DevServer) -> None:
    with server.channel() as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert set(database.get_services()) == set(SERVICES)
        # A pool of its own: the descriptors come from the server, not from this process.
        pool = descriptor_pool.DescriptorPool(database)
        for name, methods in SERVICES.items():
            service = pool.FindServiceByName(name)
            assert methods <= {m.name for m in service.methods}, name
        encrypt = pool.FindMethodByName("yandex.cloud.kms.v1.SymmetricCryptoService.Encrypt")
        assert encrypt.input_type.full_name == "yandex.cloud.kms.v1.SymmetricEncryptRequest"
        assert "aad_context" in encrypt.input_type.fields_by_name


def _tls_channel(auth_server: DevServer, target: str = "") -> grpc.Channel:
    """TLS with the dev CA and no call credentials: an anonymous caller."""
    ca = (auth_server.data_dir / "tls" / "ca.pem").read_bytes()
    return grpc.secure_channel(
        target or auth_server.address,
        grpc.ssl_channel_credentials(root_certificates=ca),
        options=[("grpc.use_local_subchannel_pool", 1)],
    )


def test_discovery_answers_without_credentials(auth_server: DevServer) -> None:
    address = auth_server.address
    with _tls_channel(auth_server) as channel:
        endpoints = endpoint_grpc.ApiEndpointServiceStub(channel)
        listed = endpoints.List(endpoint_pb.ListApiEndpointsRequest(), timeout=10)
        assert [(e.id, e.address) for e in listed.endpoints] == [
            (id_, address) for id_ in ENDPOINT_IDS
        ]
        assert {"kms", "kms-crypto", "operation", "iam"} <= set(ENDPOINT_IDS)
        for id_ in ENDPOINT_IDS:
            got = endpoints.Get(endpoint_pb.GetApiEndpointRequest(api_endpoint_id=id_), timeout=10)
            assert (got.id, got.address) == (id_, address)
        details = expect(
            grpc.StatusCode.NOT_FOUND,
            lambda: endpoints.Get(
                endpoint_pb.GetApiEndpointRequest(api_endpoint_id="compute"), timeout=10
            ),
        )
        assert "compute" not in details

        # The same anonymous channel gets nothing from the KMS services.
        keys = key_service_grpc.SymmetricKeyServiceStub(channel)
        crypto = crypto_grpc.SymmetricCryptoServiceStub(channel)
        expect(
            grpc.StatusCode.UNAUTHENTICATED,
            lambda: keys.List(ks.ListSymmetricKeysRequest(folder_id="any"), timeout=10),
        )
        expect(
            grpc.StatusCode.UNAUTHENTICATED,
            lambda: crypto.Encrypt(
                c.SymmetricEncryptRequest(key_id="hkkdoesnotexist00000", plaintext=b"x"),
                timeout=10,
            ),
        )


def test_discovery_answers_with_the_address_the_client_used(auth_server: DevServer) -> None:
    port = auth_server.address.rpartition(":")[2]
    with _tls_channel(auth_server, f"localhost:{port}") as channel:
        endpoints = endpoint_grpc.ApiEndpointServiceStub(channel)
        listed = endpoints.List(endpoint_pb.ListApiEndpointsRequest(), timeout=10)
    assert {e.address for e in listed.endpoints} == {f"localhost:{port}"}


def test_discovery_calls_are_not_audited(auth_server: DevServer) -> None:
    with _tls_channel(auth_server) as channel:
        endpoint_grpc.ApiEndpointServiceStub(channel).List(
            endpoint_pb.ListApiEndpointsRequest(), timeout=10
        )
    audit = auth_server.data_dir / "audit.log"
    assert "ApiEndpointService" not in (audit.read_text() if audit.exists() else "")


@pytest.mark.parametrize(
    ("listen", "port", "expected"),
    [
        ("127.0.0.1:0", 50123, "127.0.0.1:50123"),
        ("kms.example.com:443", 443, "kms.example.com:443"),
        ("[::1]:0", 50123, "[::1]:50123"),
        ("0.0.0.0:50051", 50051, None),
        ("[::]:50051", 50051, None),
    ],
)
def test_listen_address_fallback(listen: str, port: int, expected: str | None) -> None:
    assert listen_address(listen, port) == expected

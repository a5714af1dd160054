"""Servicers for yandex.cloud.kms.v1 and yandex.cloud.operation: thin adapters over service/."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from hsmkms._pb.yandex.cloud.access import access_pb2 as access_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as crypto_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as key_service_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_service_grpc
from hsmkms._pb.yandex.cloud.operation import operation_pb2
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2 as op_service_pb
from hsmkms._pb.yandex.cloud.operation import operation_service_pb2_grpc as op_service_grpc
from hsmkms.api.convert import (
    binding_from_proto,
    binding_to_proto,
    key_spec,
    key_to_proto,
    mask_path,
    operation_to_proto,
    optional_duration,
    version_to_proto,
)
from hsmkms.api.gate import Gate, current_caller
from hsmkms.api.status import rpc
from hsmkms.domain import SymmetricAlgorithm
from hsmkms.service import CryptoService, KeyService, OperationService
from hsmkms.service.access import AccessService

Context: TypeAlias = grpc.ServicerContext


class SymmetricCryptoServicer(crypto_grpc.SymmetricCryptoServiceServicer):
    SERVICE = "yandex.cloud.kms.v1.SymmetricCryptoService"

    def __init__(self, gate: Gate, crypto: CryptoService) -> None:
        self._gate = gate
        self._crypto = crypto

    @rpc
    def Encrypt(
        self, request: crypto_pb.SymmetricEncryptRequest, context: Context
    ) -> crypto_pb.SymmetricEncryptResponse:
        r = self._crypto.encrypt(
            request.key_id, request.version_id, request.plaintext, request.aad_context
        )
        return crypto_pb.SymmetricEncryptResponse(
            key_id=r.key_id, version_id=r.version_id, ciphertext=r.ciphertext
        )

    @rpc
    def Decrypt(
        self, request: crypto_pb.SymmetricDecryptRequest, context: Context
    ) -> crypto_pb.SymmetricDecryptResponse:
        r = self._crypto.decrypt(request.key_id, request.ciphertext, request.aad_context)
        return crypto_pb.SymmetricDecryptResponse(
            key_id=r.key_id, version_id=r.version_id, plaintext=r.plaintext
        )

    @rpc
    def ReEncrypt(
        self, request: crypto_pb.SymmetricReEncryptRequest, context: Context
    ) -> crypto_pb.SymmetricReEncryptResponse:
        r = self._crypto.re_encrypt(
            key_id=request.key_id,
            version_id=request.version_id,
            aad=request.aad_context,
            source_key_id=request.source_key_id,
            source_aad=request.source_aad_context,
            ciphertext=request.ciphertext,
        )
        return crypto_pb.SymmetricReEncryptResponse(
            key_id=r.key_id,
            version_id=r.version_id,
            source_key_id=r.source_key_id,
            source_version_id=r.source_version_id,
            ciphertext=r.ciphertext,
        )

    @rpc
    def GenerateDataKey(
        self, request: crypto_pb.GenerateDataKeyRequest, context: Context
    ) -> crypto_pb.GenerateDataKeyResponse:
        r = self._crypto.generate_data_key(
            key_id=request.key_id,
            version_id=request.version_id,
            aad=request.aad_context,
            spec=SymmetricAlgorithm(request.data_key_spec),
            skip_plaintext=request.skip_plaintext,
        )
        return crypto_pb.GenerateDataKeyResponse(
            key_id=r.key_id,
            version_id=r.version_id,
            data_key_plaintext=r.plaintext,
            data_key_ciphertext=r.ciphertext,
        )


class SymmetricKeyServicer(key_service_grpc.SymmetricKeyServiceServicer):
    SERVICE = "yandex.cloud.kms.v1.SymmetricKeyService"

    def __init__(self, gate: Gate, keys: KeyService, access: AccessService) -> None:
        self._gate = gate
        self._keys = keys
        self._access = access

    @rpc
    def Create(
        self, request: key_service_pb.CreateSymmetricKeyRequest, context: Context
    ) -> operation_pb2.Operation:
        return operation_to_proto(self._keys.create(key_spec(request), _by()))

    @rpc
    def Get(
        self, request: key_service_pb.GetSymmetricKeyRequest, context: Context
    ) -> key_pb.SymmetricKey:
        return key_to_proto(self._keys.get(request.key_id))

    @rpc
    def List(
        self, request: key_service_pb.ListSymmetricKeysRequest, context: Context
    ) -> key_service_pb.ListSymmetricKeysResponse:
        page = self._keys.list_keys(request.folder_id, request.page_size, request.page_token)
        return key_service_pb.ListSymmetricKeysResponse(
            keys=[key_to_proto(k) for k in page.items], next_page_token=page.next_page_token
        )

    @rpc
    def ListVersions(
        self, request: key_service_pb.ListSymmetricKeyVersionsRequest, context: Context
    ) -> key_service_pb.ListSymmetricKeyVersionsResponse:
        page = self._keys.list_versions(request.key_id, request.page_size, request.page_token)
        return key_service_pb.ListSymmetricKeyVersionsResponse(
            key_versions=[version_to_proto(v) for v in page.items],
            next_page_token=page.next_page_token,
        )

    @rpc
    def Update(
        self, request: key_service_pb.UpdateSymmetricKeyRequest, context: Context
    ) -> operation_pb2.Operation:
        paths = [mask_path(p) for p in request.update_mask.paths]
        return operation_to_proto(
            self._keys.update(request.key_id, paths, key_spec(request), _by())
        )

    @rpc
    def Delete(
        self, request: key_service_pb.DeleteSymmetricKeyRequest, context: Context
    ) -> operation_pb2.Operation:
        return operation_to_proto(self._keys.delete(request.key_id, _by()))

    @rpc
    def SetPrimaryVersion(
        self, request: key_service_pb.SetPrimarySymmetricKeyVersionRequest, context: Context
    ) -> operation_pb2.Operation:
        return operation_to_proto(
            self._keys.set_primary_version(request.key_id, request.version_id, _by())
        )

    @rpc
    def ScheduleVersionDestruction(
        self,
        request: key_service_pb.ScheduleSymmetricKeyVersionDestructionRequest,
        context: Context,
    ) -> operation_pb2.Operation:
        return operation_to_proto(
            self._keys.schedule_version_destruction(
                request.key_id,
                request.version_id,
                optional_duration(request, "pending_period"),
                _by(),
            )
        )

    @rpc
    def CancelVersionDestruction(
        self,
        request: key_service_pb.CancelSymmetricKeyVersionDestructionRequest,
        context: Context,
    ) -> operation_pb2.Operation:
        return operation_to_proto(
            self._keys.cancel_version_destruction(request.key_id, request.version_id, _by())
        )

    @rpc
    def Rotate(
        self, request: key_service_pb.RotateSymmetricKeyRequest, context: Context
    ) -> operation_pb2.Operation:
        return operation_to_proto(self._keys.rotate(request.key_id, _by()))

    @rpc
    def ListOperations(
        self, request: key_service_pb.ListSymmetricKeyOperationsRequest, context: Context
    ) -> key_service_pb.ListSymmetricKeyOperationsResponse:
        page = self._keys.list_operations(request.key_id, request.page_size, request.page_token)
        return key_service_pb.ListSymmetricKeyOperationsResponse(
            operations=[operation_to_proto(op) for op in page.items],
            next_page_token=page.next_page_token,
        )

    @rpc
    def ListAccessBindings(
        self, request: access_pb.ListAccessBindingsRequest, context: Context
    ) -> access_pb.ListAccessBindingsResponse:
        page = self._access.list_key_bindings(
            request.resource_id, request.page_size, request.page_token
        )
        return access_pb.ListAccessBindingsResponse(
            access_bindings=[binding_to_proto(b) for b in page.items],
            next_page_token=page.next_page_token,
        )

    @rpc
    def SetAccessBindings(
        self, request: access_pb.SetAccessBindingsRequest, context: Context
    ) -> operation_pb2.Operation:
        bindings = [binding_from_proto(b) for b in request.access_bindings]
        return operation_to_proto(
            self._access.set_key_bindings(request.resource_id, bindings, current_caller())
        )

    @rpc
    def UpdateAccessBindings(
        self, request: access_pb.UpdateAccessBindingsRequest, context: Context
    ) -> operation_pb2.Operation:
        deltas = [
            (delta.action == access_pb.ADD, binding_from_proto(delta.access_binding))
            for delta in request.access_binding_deltas
        ]
        return operation_to_proto(
            self._access.update_key_bindings(request.resource_id, deltas, current_caller())
        )


def _by() -> str:
    """Who to record as an operation's created_by."""
    return current_caller().name


class OperationServicer(op_service_grpc.OperationServiceServicer):
    SERVICE = "yandex.cloud.operation.OperationService"

    def __init__(self, gate: Gate, operations: OperationService) -> None:
        self._gate = gate
        self._operations = operations

    @rpc
    def Get(
        self, request: op_service_pb.GetOperationRequest, context: Context
    ) -> operation_pb2.Operation:
        return operation_to_proto(self._operations.get(request.operation_id))

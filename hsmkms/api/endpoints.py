"""yandex.cloud.endpoint.ApiEndpointService: where each API lives (here, all on this server).

The official `yandexcloud` SDK asks this service for every API's address before it has any
credentials (its auth plugin sends no token on this service), so discovery answers every
caller. It is deliberately kept apart from the Gate: the servicer holds nothing but an address,
never sees the store, the token or the caller's metadata, and answers with addresses only.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

import grpc

from hsmkms._pb.yandex.cloud.endpoint import api_endpoint_pb2 as endpoint_pb
from hsmkms._pb.yandex.cloud.endpoint import api_endpoint_service_pb2 as endpoint_service_pb
from hsmkms._pb.yandex.cloud.endpoint import api_endpoint_service_pb2_grpc as endpoint_grpc

Context: TypeAlias = grpc.ServicerContext

# The ids the SDK looks up (yandexcloud/_sdk.py maps stub modules to ids; _channels.py reads
# them): `kms-crypto` for SymmetricCryptoService, `kms` for the rest of yandex.cloud.kms,
# `operation` for OperationService (wait_operation_and_get_result), `endpoint` for this service.
# `iam` is read for every channel the SDK builds; with an `iam_token` the SDK never calls it, so
# pointing it here only turns other SDK credential kinds (OAuth token, service-account key)
# into an UNIMPLEMENTED IamTokenService call instead of a KeyError inside the SDK.
ENDPOINT_IDS = ("kms", "kms-crypto", "operation", "iam", "endpoint")

# A host name, IPv4 address or bracketed IPv6 address, with an optional port: anything else
# in the call's authority is not repeated back.
_AUTHORITY = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?")
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})


def listen_address(listen: str, port: int) -> str | None:
    """`host:port` of the listen address with the bound port, or None for a wildcard host
    (0.0.0.0, [::]), which no client can use to reach this server."""
    host = listen.rpartition(":")[0]
    if host.strip("[]") in _WILDCARD_HOSTS:
        return None
    return f"{host}:{port}"


def call_authority(context: Any) -> str | None:
    """The `:authority` the client used for this call (the target it dialled), if well-formed.

    grpc Python has no public accessor for it yet (grpc/grpc#38906); the sync server keeps it
    in the call details of calls dispatched to generic handlers (see add_to_server). Anything
    unexpected gives None and the caller falls back.
    """
    details = getattr(getattr(context, "_rpc_event", None), "call_details", None)
    raw = getattr(details, "host", None)
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", errors="replace")
    if isinstance(raw, str) and _AUTHORITY.fullmatch(raw):
        return raw
    return None


class ApiEndpointServicer(endpoint_grpc.ApiEndpointServiceServicer):
    """Answers every endpoint id with this server's own address: the authority the client
    reached it by, else the configured listen address (with the bound port)."""

    SERVICE = "yandex.cloud.endpoint.ApiEndpointService"

    def __init__(self, fallback_address: str | None) -> None:
        self._fallback_address = fallback_address

    def _address(self, context: Context) -> str:
        address = call_authority(context) or self._fallback_address
        if address is None:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "this server's address is unknown: listen on a specific address",
            )
        return str(address)

    def List(
        self, request: endpoint_service_pb.ListApiEndpointsRequest, context: Context
    ) -> endpoint_service_pb.ListApiEndpointsResponse:
        address = self._address(context)
        return endpoint_service_pb.ListApiEndpointsResponse(
            endpoints=[endpoint_pb.ApiEndpoint(id=id_, address=address) for id_ in ENDPOINT_IDS]
        )

    def Get(
        self, request: endpoint_service_pb.GetApiEndpointRequest, context: Context
    ) -> endpoint_pb.ApiEndpoint:
        if request.api_endpoint_id not in ENDPOINT_IDS:
            # Fixed message: the requested id is not echoed.
            context.abort(grpc.StatusCode.NOT_FOUND, "api endpoint not found")
        return endpoint_pb.ApiEndpoint(id=request.api_endpoint_id, address=self._address(context))


def add_to_server(servicer: ApiEndpointServicer, server: grpc.Server) -> None:
    """Register the servicer through a generic handler only.

    The generated add_..._to_server also pre-registers the methods with the core, and calls to
    pre-registered methods arrive without their authority; discovery is rare, so the slower
    generic dispatch costs nothing that matters.
    """
    handlers = {
        "Get": grpc.unary_unary_rpc_method_handler(
            servicer.Get,
            request_deserializer=endpoint_service_pb.GetApiEndpointRequest.FromString,
            response_serializer=endpoint_pb.ApiEndpoint.SerializeToString,
        ),
        "List": grpc.unary_unary_rpc_method_handler(
            servicer.List,
            request_deserializer=endpoint_service_pb.ListApiEndpointsRequest.FromString,
            response_serializer=endpoint_service_pb.ListApiEndpointsResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(servicer.SERVICE, handlers),)
    )

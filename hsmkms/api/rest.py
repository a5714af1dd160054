"""REST/JSON on Yandex Cloud KMS's HTTP paths, through the very same servicers as gRPC.

Routes come from the `google.api.http` options of the proto files. A request is turned into
the method's protobuf request (path parameters, then the JSON body or the query string, in the
protobuf JSON mapping) and handed to the gRPC servicer method with an HTTP-backed context, so
authentication, validation, authorization, error mapping and audit are the Gate's, unchanged.
Responses use the protobuf JSON mapping (camelCase, base64 bytes, RFC 3339 times).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.api import annotations_pb2
from google.protobuf import json_format, message_factory
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# gRPC status -> HTTP status (as Google's and Yandex's gateways map them).
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
_PARAM = re.compile(r"\{([a-z_]+)\}")


class _Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class HttpContext:
    """The parts of grpc.ServicerContext the servicers and the Gate use, over an HTTP request."""

    def __init__(self, request: Request) -> None:
        self._metadata = tuple(
            (name, value)
            for name, value in request.headers.items()
            if name in ("authorization", "x-request-id")
        )
        client = request.client
        self._peer = f"http:{client.host}:{client.port}" if client else "http:unknown"

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}  # client certificates are not used over REST

    def peer(self) -> str:
        return self._peer

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise _Aborted(code, details)


@dataclass(frozen=True)
class _Binding:
    verb: str
    pattern: re.Pattern[str]
    has_body: bool
    call: Callable[[Any, Any], Any]
    request_class: Any


def _bindings(services: list[tuple[Any, Any]]) -> list[_Binding]:
    """(service descriptor, servicer) pairs -> the HTTP bindings of the methods it implements."""
    out = []
    for descriptor, servicer in services:
        for method in descriptor.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            if method.name not in type(servicer).__dict__:
                continue  # not implemented here: leave it to the 404
            rule = options.Extensions[annotations_pb2.http]
            verb = rule.WhichOneof("pattern")
            template = re.escape(getattr(rule, verb)).replace(r"\{", "{").replace(r"\}", "}")
            out.append(
                _Binding(
                    verb=verb.upper(),
                    pattern=re.compile("^" + _PARAM.sub(r"(?P<\1>[^/:]+)", template) + "$"),
                    has_body=bool(rule.body),
                    call=getattr(servicer, method.name),
                    request_class=message_factory.GetMessageClass(method.input_type),
                )
            )
    return out


def _error(code: grpc.StatusCode, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code.value[0], "message": message, "details": []},
        status_code=HTTP_STATUS.get(code, 500),
    )


def create_app(services: list[tuple[Any, Any]]) -> Starlette:
    bindings = _bindings(services)

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        matched = [b for b in bindings if b.pattern.match(path)]
        if not matched:
            return _error(grpc.StatusCode.NOT_FOUND, f"no API at {path}")
        binding = next((b for b in matched if b.verb == request.method), None)
        if binding is None:
            return JSONResponse({"message": "method not allowed"}, status_code=405)
        fields: dict[str, Any] = {}
        try:
            if binding.has_body:
                raw = await request.body()
                if raw:
                    body = json.loads(raw)
                    if not isinstance(body, dict):
                        raise ValueError("the body must be a JSON object")
                    fields.update(body)
            else:
                fields.update(request.query_params)
            match = binding.pattern.match(path)
            assert match is not None
            fields.update(match.groupdict())
            message = json_format.ParseDict(fields, binding.request_class())
        except (ValueError, json_format.ParseError) as exc:
            return _error(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {exc}")
        context = HttpContext(request)
        try:
            response = await run_in_threadpool(binding.call, message, context)
        except _Aborted as aborted:
            return _error(aborted.code, aborted.details)
        return JSONResponse(json_format.MessageToDict(response))

    routes = [
        Route("/{path:path}", dispatch, methods=["GET", "POST", "PATCH", "DELETE"]),
    ]
    return Starlette(routes=routes)

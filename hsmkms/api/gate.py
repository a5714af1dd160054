"""Every call passes the gate: authentication, validation, authorization, error mapping, audit.

The table RULES says which permission each method needs on which resource; AccessService
decides whether the caller has it. A method missing from the table is refused (fail closed).
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc

from hsmkms import errors, metrics
from hsmkms.api.audit import AuditLog, audited_fields
from hsmkms.api.validation import validate
from hsmkms.service.access import ANONYMOUS, AccessService, Authenticator, Caller, Permission
from hsmkms.service.keys import OperationService
from hsmkms.tls import peer_subject

log = logging.getLogger(__name__)

_CODES: tuple[tuple[type[errors.KmsError], grpc.StatusCode], ...] = (
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
)

INTERNAL_MESSAGE = "internal error"
_REQUEST_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.:")

_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("caller", default=ANONYMOUS)


def current_caller() -> Caller:
    """The caller of the call being served (set by the gate for the duration of the call)."""
    return _caller.get()


def status_code(error: errors.KmsError) -> grpc.StatusCode:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL


@dataclass(frozen=True)
class Rule:
    """A permission the caller needs on the resource named by one request field."""

    permission: Permission
    key_field: str = ""
    folder_field: str = ""
    operation_field: str = ""


_CRYPTO = "yandex.cloud.kms.v1.SymmetricCryptoService"
_KEYS = "yandex.cloud.kms.v1.SymmetricKeyService"
_OPS = "yandex.cloud.operation.OperationService"
P = Permission

RULES: dict[str, tuple[Rule, ...]] = {
    f"{_CRYPTO}/Encrypt": (Rule(P.ENCRYPT, key_field="key_id"),),
    f"{_CRYPTO}/Decrypt": (Rule(P.DECRYPT, key_field="key_id"),),
    f"{_CRYPTO}/ReEncrypt": (
        Rule(P.DECRYPT, key_field="source_key_id"),
        Rule(P.ENCRYPT, key_field="key_id"),
    ),
    f"{_CRYPTO}/GenerateDataKey": (Rule(P.ENCRYPT, key_field="key_id"),),
    f"{_KEYS}/Create": (Rule(P.EDIT, folder_field="folder_id"),),
    f"{_KEYS}/Get": (Rule(P.VIEW, key_field="key_id"),),
    f"{_KEYS}/List": (Rule(P.VIEW, folder_field="folder_id"),),
    f"{_KEYS}/ListVersions": (Rule(P.VIEW, key_field="key_id"),),
    f"{_KEYS}/ListOperations": (Rule(P.VIEW, key_field="key_id"),),
    f"{_KEYS}/Update": (Rule(P.EDIT, key_field="key_id"),),
    f"{_KEYS}/Rotate": (Rule(P.EDIT, key_field="key_id"),),
    f"{_KEYS}/SetPrimaryVersion": (Rule(P.EDIT, key_field="key_id"),),
    f"{_KEYS}/ScheduleVersionDestruction": (Rule(P.EDIT, key_field="key_id"),),
    f"{_KEYS}/CancelVersionDestruction": (Rule(P.EDIT, key_field="key_id"),),
    f"{_KEYS}/Delete": (Rule(P.DELETE, key_field="key_id"),),
    f"{_KEYS}/ListAccessBindings": (Rule(P.VIEW, key_field="resource_id"),),
    f"{_KEYS}/SetAccessBindings": (Rule(P.MANAGE_ACCESS, key_field="resource_id"),),
    f"{_KEYS}/UpdateAccessBindings": (Rule(P.MANAGE_ACCESS, key_field="resource_id"),),
    f"{_OPS}/Get": (Rule(P.VIEW, operation_field="operation_id"),),
}


class Gate:
    def __init__(
        self,
        access: AccessService,
        operations: OperationService,
        authenticator: Authenticator | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._access = access
        self._operations = operations
        self._authenticator = authenticator
        self._audit = audit

    def _authenticate(self, context: grpc.ServicerContext) -> Caller:
        if self._authenticator is None:
            return ANONYMOUS
        bearer = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                scheme, _, token = str(value).partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    raise errors.Unauthenticated("malformed authorization header")
                bearer = token.strip()
        certificate_name = peer_subject(context.auth_context() or {})
        return self._authenticator.authenticate(bearer, certificate_name)

    def _authorize(self, method: str, request: Any, caller: Caller) -> None:
        if not self._access.enforce:
            return
        rules = RULES.get(method)
        if rules is None:
            raise errors.PermissionDenied(f"{method} is not available")
        for rule in rules:
            if rule.operation_field:
                operation = self._operations.get(getattr(request, rule.operation_field))
                self._access.check(caller, rule.permission, key_id=operation.key_id)
            elif rule.key_field:
                self._access.check(caller, rule.permission, key_id=getattr(request, rule.key_field))
            else:
                folder = getattr(request, rule.folder_field)
                self._access.check(caller, rule.permission, folder_id=folder)

    def run(
        self,
        method: str,
        handler: Callable[[Any, grpc.ServicerContext], Any],
        request: Any,
        context: grpc.ServicerContext,
    ) -> Any:
        started = time.perf_counter()
        request_id = _request_id(context)
        caller = ANONYMOUS
        code = grpc.StatusCode.OK
        response = None
        try:
            caller = self._authenticate(context)
            validate(request)
            self._authorize(method, request, caller)
            token = _caller.set(caller)
            try:
                response = handler(request, context)
            finally:
                _caller.reset(token)
            return response
        except errors.KmsError as exc:
            code = status_code(exc)
            context.abort(code, exc.message)
        except Exception:
            code = grpc.StatusCode.INTERNAL
            log.exception("unexpected error in %s (request %s)", method, request_id)
            context.abort(code, INTERNAL_MESSAGE)
        finally:
            elapsed = time.perf_counter() - started
            metrics.REQUESTS.labels(method, code.name).inc()
            metrics.REQUEST_SECONDS.labels(method).observe(elapsed)
            if self._audit is not None:
                self._audit.write(
                    {
                        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "request_id": request_id,
                        "subject": caller.name,
                        "method": method,
                        "status": code.name,
                        "latency_ms": round(elapsed * 1000, 3),
                        "peer": context.peer(),
                        "pid": os.getpid(),
                        **audited_fields(request),
                        **({} if response is None else _response_fields(response)),
                    }
                )
        raise AssertionError("unreachable")  # context.abort always raises


def _response_fields(response: Any) -> dict[str, str]:
    return {f"response_{k}": v for k, v in audited_fields(response).items()}


def _request_id(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id":
            text = str(value)[:64]
            if text and _REQUEST_ID_CHARS.issuperset(text):
                return text
    return os.urandom(12).hex()

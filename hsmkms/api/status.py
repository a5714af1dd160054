"""The one place where errors become gRPC status codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from hsmkms import errors
from hsmkms.api.validation import validate

log = logging.getLogger(__name__)

_CODES: tuple[tuple[type[errors.KmsError], grpc.StatusCode], ...] = (
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
)

INTERNAL_MESSAGE = "internal error"


def status_code(error: errors.KmsError) -> grpc.StatusCode:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL


R = TypeVar("R")
Method = Callable[[Any, Any, grpc.ServicerContext], R]


def rpc(method: Method[R]) -> Method[R]:
    """Wrap a servicer method: validate the request, then map errors to status codes.

    Servicer methods stay free of try/except; anything unexpected becomes INTERNAL with a
    generic message, the cause logged server-side (never the request's contents).
    """

    @functools.wraps(method)
    def handler(self: Any, request: Any, context: grpc.ServicerContext) -> R:
        try:
            validate(request)
            return method(self, request, context)
        except errors.KmsError as exc:
            context.abort(status_code(exc), exc.message)
        except Exception:
            log.exception("unexpected error in %s", method.__qualname__)
            context.abort(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)
        raise AssertionError("unreachable")  # context.abort always raises

    return handler

"""The `rpc` decorator: every servicer method runs through its servicer's Gate."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

R = TypeVar("R")
Method = Callable[[Any, Any, grpc.ServicerContext], R]


def rpc(method: Method[R]) -> Method[R]:
    """Run a servicer method through the gate (authentication, validation, authorization,
    error mapping, audit). Servicer methods stay free of try/except and access checks."""

    @functools.wraps(method)
    def handler(self: Any, request: Any, context: grpc.ServicerContext) -> R:
        name = f"{self.SERVICE}/{method.__name__}"
        result: R = self._gate.run(name, lambda req, ctx: method(self, req, ctx), request, context)
        return result

    return handler

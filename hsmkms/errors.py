"""The error hierarchy shared by every layer.

Each class carries the meaning of a failure, not its transport: the API layer maps these to
gRPC status codes in one place. Messages are written for the caller and never contain secrets.
"""

from __future__ import annotations


class KmsError(Exception):
    """Base class of every error a caller may see."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(KmsError):
    """The request itself is wrong: a missing or oversize field, a malformed ciphertext."""


class InvalidCiphertext(InvalidArgument):
    """A ciphertext failed to parse or authenticate.

    One fixed message for every cause, so a caller learns nothing about which check failed.
    """

    MESSAGE = "ciphertext is invalid or does not match the key and aad_context"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class NotFound(KmsError):
    """The named key, version or operation does not exist."""


class FailedPrecondition(KmsError):
    """The resource exists but is in a state that does not allow the call."""


class Unavailable(KmsError):
    """The HSM or the store cannot be reached right now; the call may be retried."""


class Unauthenticated(KmsError):
    """The call carries no credentials, or credentials that cannot be verified."""


class PermissionDenied(KmsError):
    """The caller is known but may not perform this call on this resource."""

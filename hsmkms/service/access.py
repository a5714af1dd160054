"""Who may do what: Yandex Cloud's KMS roles, bindings on folders and keys, API credentials."""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hsmkms.domain import (
    CREDENTIAL_ID_PREFIX,
    AccessBinding,
    Credential,
    Empty,
    Operation,
    Subject,
    done_operation,
    new_id,
    utcnow,
)
from hsmkms.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from hsmkms.service.pagination import Page, page_size
from hsmkms.store import Store

log = logging.getLogger(__name__)

ALL_FOLDERS = "*"
ALL_USERS = "system:allUsers"
ALL_AUTHENTICATED_USERS = "system:allAuthenticatedUsers"
TOKEN_PREFIX = "hkt1"


class Permission(enum.StrEnum):
    ENCRYPT = "use to encrypt"
    DECRYPT = "use to decrypt"
    VIEW = "view"
    EDIT = "edit"
    DELETE = "delete"
    MANAGE_ACCESS = "manage access bindings"


_VIEWER = frozenset({Permission.VIEW})
_EDITOR = _VIEWER | {Permission.EDIT}
_ADMIN = frozenset(Permission)

ROLES: dict[str, frozenset[Permission]] = {
    "kms.keys.encrypter": frozenset({Permission.ENCRYPT}),
    "kms.keys.decrypter": frozenset({Permission.DECRYPT}),
    "kms.keys.encrypterDecrypter": frozenset({Permission.ENCRYPT, Permission.DECRYPT}),
    "kms.viewer": _VIEWER,
    "kms.editor": _EDITOR,
    "kms.admin": _ADMIN,
    # Yandex Cloud's primitive roles include the corresponding KMS ones.
    "viewer": _VIEWER,
    "editor": _EDITOR,
    "admin": _ADMIN,
}

# The role to suggest in a PERMISSION_DENIED message.
_SUGGESTED_ROLE = {
    Permission.ENCRYPT: "kms.keys.encrypter",
    Permission.DECRYPT: "kms.keys.decrypter",
    Permission.VIEW: "kms.viewer",
    Permission.EDIT: "kms.editor",
    Permission.DELETE: "kms.admin",
    Permission.MANAGE_ACCESS: "kms.admin",
}


@dataclass(frozen=True)
class Caller:
    """The authenticated subject of a call; ANONYMOUS when authentication is off."""

    subject: Subject | None

    @property
    def name(self) -> str:
        return "" if self.subject is None else str(self.subject)


ANONYMOUS = Caller(None)


def check_role(role_id: str, field: str) -> None:
    if role_id not in ROLES:
        raise InvalidArgument(f"{field}: unknown role {role_id!r}; known: {', '.join(ROLES)}")


class AccessService:
    """Authorization decisions and access bindings.

    With `enforce` false (the dev server without --auth) every call is allowed; bindings can
    still be managed, so a setup can be prepared before authentication is turned on.
    """

    def __init__(self, store: Store, enforce: bool) -> None:
        self._store = store
        self.enforce = enforce

    def key_folder(self, key_id: str) -> str:
        key = self._store.get_key(key_id)
        if key is None:
            raise NotFound(f"key {key_id} not found")
        return key.folder_id

    def check(
        self,
        caller: Caller,
        permission: Permission,
        *,
        folder_id: str | None = None,
        key_id: str | None = None,
    ) -> None:
        """Raise PermissionDenied unless a role bound to the caller grants `permission`.

        Bindings on the key's folder (or on every folder) apply to the key.
        """
        if not self.enforce:
            return
        if key_id is not None and folder_id is None:
            folder_id = self.key_folder(key_id)
        resources = [("folder", ALL_FOLDERS)]
        if folder_id is not None:
            resources.append(("folder", folder_id))
        if key_id is not None:
            resources.append(("key", key_id))
        subjects = {ALL_USERS}
        if caller.subject is not None:
            subjects |= {str(caller.subject), ALL_AUTHENTICATED_USERS}
        roles = self._store.roles_of(subjects, resources)
        if any(permission in ROLES.get(role, ()) for role in roles):
            return
        target = f"key {key_id}" if key_id is not None else f"folder {folder_id}"
        raise PermissionDenied(
            f"{caller.name or 'anonymous'} may not {permission.value} {target} "
            f"(requires e.g. role {_SUGGESTED_ROLE[permission]})"
        )

    # -- bindings on keys (the API) -----------------------------------------------------------

    def list_key_bindings(self, key_id: str, size: int, page_token: str) -> Page[AccessBinding]:
        self.key_folder(key_id)
        bindings = self._store.list_bindings("key", key_id)
        start = _offset_token(page_token)
        limit = page_size(size)
        page = bindings[start : start + limit]
        more = start + limit < len(bindings)
        return Page(page, str(start + limit) if more else "")

    def set_key_bindings(
        self, key_id: str, bindings: list[AccessBinding], caller: Caller
    ) -> Operation:
        """Replace every binding on the key (SetAccessBindings)."""
        for i, binding in enumerate(bindings):
            check_role(binding.role_id, f"access_bindings[{i}].role_id")
        return self._change_key_bindings(
            key_id, "Set", caller, add=bindings, remove=[], replace_all=True
        )

    def update_key_bindings(
        self, key_id: str, deltas: list[tuple[bool, AccessBinding]], caller: Caller
    ) -> Operation:
        """Apply (add?, binding) deltas to the key's bindings (UpdateAccessBindings)."""
        for i, (adding, binding) in enumerate(deltas):
            if adding:
                check_role(binding.role_id, f"access_binding_deltas[{i}].access_binding.role_id")
        add = [binding for adding, binding in deltas if adding]
        remove = [binding for adding, binding in deltas if not adding]
        return self._change_key_bindings(key_id, "Update", caller, add, remove, replace_all=False)

    def _change_key_bindings(
        self,
        key_id: str,
        verb: str,
        caller: Caller,
        add: list[AccessBinding],
        remove: list[AccessBinding],
        replace_all: bool,
    ) -> Operation:
        self.key_folder(key_id)
        op = done_operation(
            key_id,
            f"{verb} access bindings",
            caller.name,
            f"yandex.cloud.access.{verb}AccessBindingsMetadata",
            {"resource_id": key_id},
            Empty(),
        )
        self._store.change_bindings("key", key_id, add, remove, replace_all=replace_all, op=op)
        return op

    # -- bindings on folders (configuration and command line) ---------------------------------

    def list_folder_bindings(self, folder_id: str) -> list[AccessBinding]:
        return self._store.list_bindings("folder", folder_id)

    def add_folder_bindings(self, folder_id: str, bindings: Iterable[AccessBinding]) -> None:
        bindings = list(bindings)
        for binding in bindings:
            check_role(binding.role_id, "role")
        self._store.change_bindings("folder", folder_id, bindings, [])

    def remove_folder_bindings(self, folder_id: str, bindings: Iterable[AccessBinding]) -> None:
        self._store.change_bindings("folder", folder_id, [], list(bindings))


def _offset_token(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit() or len(token) > 9:
        raise InvalidArgument("page_token: not a token returned by this method")
    return int(token)


# -- authentication ---------------------------------------------------------------------------


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CredentialService:
    """API tokens: `hkt1.<credential id>.<secret>`; the store keeps the secret's SHA-256.

    The secret is 256 random bits, so a plain hash suffices (no password stretching needed);
    comparison is constant-time.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def issue(
        self, subject: Subject, expires_in: timedelta | None = None, description: str = ""
    ) -> tuple[Credential, str]:
        """Create a credential; returns it and the token, which is shown once and never stored."""
        now = utcnow()
        credential = Credential(
            id=new_id(CREDENTIAL_ID_PREFIX),
            subject=subject,
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            description=description,
        )
        secret = secrets.token_urlsafe(32)
        self._store.add_credential(credential, _sha256(secret))
        return credential, f"{TOKEN_PREFIX}.{credential.id}.{secret}"

    def revoke(self, credential_id: str) -> None:
        if not self._store.revoke_credential(credential_id, utcnow()):
            raise NotFound(f"credential {credential_id} not found or already revoked")

    def list_all(self) -> list[Credential]:
        return self._store.list_credentials()

    def authenticate(self, token: str) -> Subject:
        prefix, _, rest = token.partition(".")
        credential_id, _, secret = rest.partition(".")
        if prefix != TOKEN_PREFIX or not credential_id or not secret:
            raise Unauthenticated("malformed credentials")
        found = self._store.get_credential(credential_id)
        # Compare against a dummy hash when the ID is unknown, so timing does not tell.
        credential, stored = found if found is not None else (None, _sha256(""))
        if not hmac.compare_digest(_sha256(secret), stored) or credential is None:
            raise Unauthenticated("invalid credentials")
        if credential.revoked_at is not None:
            raise Unauthenticated("credentials revoked")
        if credential.expires_at is not None and credential.expires_at <= utcnow():
            raise Unauthenticated("credentials expired")
        return credential.subject


JwtVerify = Callable[[str], "str | None"]


class Authenticator:
    """Turns what a call presents (bearer token, client certificate) into a Caller."""

    def __init__(
        self,
        credentials: CredentialService,
        jwt_verify: JwtVerify | None = None,
        certificate_subject_type: str | None = None,
    ) -> None:
        self._credentials = credentials
        self._jwt_verify = jwt_verify
        self._certificate_subject_type = certificate_subject_type

    def authenticate(self, bearer: str | None, certificate_name: str | None) -> Caller:
        if bearer is not None:
            if self._jwt_verify is not None:
                subject = self._jwt_verify(bearer)
                if subject is not None:
                    return Caller(Subject.parse(subject))
            return Caller(self._credentials.authenticate(bearer))
        if certificate_name and self._certificate_subject_type:
            return Caller(Subject(self._certificate_subject_type, certificate_name))
        raise Unauthenticated("missing credentials: send 'authorization: Bearer <token>'")


def expires_after(credential: Credential, now: datetime | None = None) -> str:
    """How long until the credential expires, for listings."""
    if credential.expires_at is None:
        return "never"
    left = credential.expires_at - (now or utcnow())
    return "expired" if left <= timedelta(0) else f"in {left}"

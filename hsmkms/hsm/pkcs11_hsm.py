"""Pkcs11Hsm: the Hsm protocol on a PKCS#11 token through python-pkcs11.

Thread safety: python-pkcs11 calls C_Initialize(NULL), so the module is told nothing about
threads and SoftHSM2 (among others) then does no locking of its own; concurrent calls corrupt
its heap even on separate sessions. Every call into the module therefore goes through one
process-wide lock. Parallelism comes from running several processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pkcs11
import pkcs11.exceptions as p11e
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.mechanisms import GCMParams

from hsmkms.envelope import IV_BYTES, TAG_BYTES
from hsmkms.errors import FailedPrecondition, InvalidCiphertext, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

LABEL_PREFIX = "hsmkms:"

# One lock for every call into any PKCS#11 module of this process (see module docstring).
_P11_LOCK = threading.Lock()

# Errors after which the session, the login or the cached handles can no longer be trusted:
# reconnect and retry once.
_STALE = (
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.ObjectHandleInvalid,
    p11e.KeyHandleInvalid,
    p11e.UserNotLoggedIn,
    p11e.DeviceRemoved,
    p11e.TokenNotPresent,
    p11e.TokenNotRecognised,
    p11e.DeviceError,
    p11e.DeviceMemory,
    p11e.NoSuchToken,
    p11e.SessionCount,
    p11e.FunctionFailed,
    p11e.GeneralError,
)


class _LoginRefused(Unavailable):
    """The token refused the PIN: retrying could lock the user out."""


class _KeyNotFound(Exception):
    def __init__(self, version_id: str) -> None:
        super().__init__(version_id)
        self.version_id = version_id


# Pauses before each lookup of a key object (see Pkcs11Hsm._call).
_NOT_FOUND_PAUSES = (0.0, 0.0, 0.02, 0.05, 0.1)
MIN_BACKOFF = 0.1
MAX_BACKOFF = 5.0


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, Unavailable) else type(exc).__name__


def key_label(version_id: str) -> str:
    return LABEL_PREFIX + version_id


def key_object_id(version_id: str) -> bytes:
    return version_id.encode("ascii")


@dataclass(frozen=True)
class TokenConfig:
    module_path: str
    token_label: str
    pin: str

    def __repr__(self) -> str:  # never print the PIN
        return f"TokenConfig(module_path={self.module_path!r}, token_label={self.token_label!r})"


class Pkcs11Hsm:
    """One logged-in session per process, a version → key object cache, and a single lock."""

    def __init__(
        self, config: TokenConfig, observe: Callable[[str, float], None] | None = None
    ) -> None:
        self._config = config
        # Told each operation's name and duration (lock wait included), e.g. for metrics.
        self._observe = observe
        self._session: pkcs11.Session | None = None
        # python-pkcs11's stubs omit the encrypt/decrypt mixins of SecretKey.
        self._keys: dict[str, Any] = {}
        # Reconnection backoff: while the token cannot be reached, calls fail fast until
        # _retry_at, and the wait doubles after each failed attempt.
        self._retry_at = 0.0
        self._backoff = MIN_BACKOFF
        self._login_refused = False
        self.reconnects = 0

    @property
    def healthy(self) -> bool:
        """True while a logged-in session is open."""
        return self._session is not None

    # -- connection ---------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the session now (at start-up), so configuration errors surface early."""
        with _P11_LOCK:
            self._ensure_session()

    def probe(self) -> bool:
        """Check the token with a cheap call (reconnecting if due); True if it answered."""
        try:
            self._call("probe", lambda session: session.generate_random(64))
        except Unavailable:
            return False
        return True

    def _ensure_session(self) -> pkcs11.Session:
        if self._session is not None:
            return self._session
        # pkcs11.lib loads and initialises a module once per process and returns it thereafter:
        # repeated C_Initialize/C_Finalize cycles crash several vendors' libraries.
        lib = pkcs11.lib(self._config.module_path)
        try:
            token = lib.get_token(token_label=self._config.token_label)
        except p11e.NoSuchToken:
            raise Unavailable(f"token {self._config.token_label!r} not found") from None
        session: pkcs11.Session
        try:
            session = token.open(rw=True, user_pin=self._config.pin)
        except p11e.UserAlreadyLoggedIn:
            # The login state is per process: another session of ours is still logged in.
            session = token.open(rw=True)
        except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange, p11e.PinLocked) as exc:
            raise _LoginRefused(f"login to token failed: {type(exc).__name__}") from None
        self._session = session
        self._keys.clear()
        return self._session

    def _connected(self) -> pkcs11.Session:
        """The session, reconnecting if there is none, unless a reconnect failed moments ago."""
        if self._session is not None:
            return self._session
        now = time.monotonic()
        if self._login_refused:
            raise Unavailable("HSM login was refused; fix the PIN and restart")
        if now < self._retry_at:
            raise Unavailable("HSM is unavailable; reconnecting")
        try:
            session = self._ensure_session()
        except _LoginRefused:
            # Retrying a wrong PIN from every worker would lock the HSM user: stop trying.
            self._login_refused = True
            log.error("HSM login refused (wrong or locked PIN); not retrying until restart")
            raise Unavailable("HSM login was refused; fix the PIN and restart") from None
        except (Unavailable, p11e.PKCS11Error) as exc:
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            log.warning("reconnecting to the HSM failed (%s)", _reason(exc))
            raise Unavailable("HSM is unavailable") from None
        self._retry_at, self._backoff = 0.0, MIN_BACKOFF
        self.reconnects += 1
        log.info("connected to the HSM")
        return session

    def _drop_session(self) -> None:
        # Closing calls C_Logout, which is what we want when starting over; a session that is
        # already invalid fails to close, which is fine.
        session, self._session = self._session, None
        self._keys.clear()
        if session is not None:
            with contextlib.suppress(p11e.PKCS11Error):
                session.close()

    def _call(self, what: str, fn: Callable[[pkcs11.Session], T]) -> T:
        """Run fn with the session under the lock; on a stale session reconnect and retry once.

        A key object that is not found is looked for again, first on a fresh session (private
        objects are invisible to a session that lost its login), then after short pauses:
        SoftHSM2 processes sharing a token refresh their view of it only when the token
        changes, and a refresh that races another process's write can briefly miss an object.
        """
        if self._observe is None:
            return self._attempts(what, fn)
        started = time.perf_counter()
        try:
            return self._attempts(what, fn)
        finally:
            self._observe(what, time.perf_counter() - started)

    def _attempts(self, what: str, fn: Callable[[pkcs11.Session], T]) -> T:
        stale_retried, missing = False, ""
        for pause in _NOT_FOUND_PAUSES:
            if pause:
                time.sleep(pause)  # outside the lock: other calls go on meanwhile
            with _P11_LOCK:
                try:
                    return fn(self._connected())
                except _KeyNotFound as exc:
                    missing = exc.version_id
                    self._drop_session()
                except _STALE as exc:
                    log.warning("PKCS#11 %s failed (%s)", what, type(exc).__name__)
                    self._drop_session()
                    if stale_retried:
                        raise Unavailable("HSM is unavailable") from None
                    stale_retried = True
                except p11e.PKCS11Error as exc:
                    log.error("PKCS#11 %s failed: %s", what, type(exc).__name__)
                    raise Unavailable("HSM is unavailable") from None
        raise FailedPrecondition(f"key material of version {missing} is not present in the HSM")

    def _key(self, session: pkcs11.Session, version_id: str) -> Any:
        key = self._keys.get(version_id)
        if key is None:
            try:
                key = session.get_key(
                    object_class=ObjectClass.SECRET_KEY, id=key_object_id(version_id)
                )
            except p11e.NoSuchKey:
                raise _KeyNotFound(version_id) from None
            self._keys[version_id] = key
        return key

    # -- Hsm protocol -------------------------------------------------------------------------

    def generate_aes_key(self, version_id: str, key_bytes: int) -> None:
        def generate(session: pkcs11.Session) -> None:
            key = session.generate_key(
                KeyType.AES,
                key_bytes * 8,
                id=key_object_id(version_id),
                label=key_label(version_id),
                store=True,
                template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                    Attribute.WRAP: False,
                    Attribute.UNWRAP: False,
                    Attribute.SIGN: False,
                    Attribute.VERIFY: False,
                    Attribute.DERIVE: False,
                },
            )
            self._keys[version_id] = key

        self._call("generate_key", generate)

    def encrypt(self, version_id: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        # The IV comes from the operating system's CSPRNG (getrandom): NIST SP 800-38D's random
        # IV construction asks for an approved RBG, not for the key's device, and a separate
        # C_GenerateRandom call would nearly double the time spent holding the module lock.
        iv = os.urandom(IV_BYTES)

        def encrypt(session: pkcs11.Session) -> tuple[bytes, bytes]:
            key = self._key(session, version_id)
            sealed = key.encrypt(
                plaintext,
                mechanism=Mechanism.AES_GCM,
                mechanism_param=GCMParams(iv, aad, TAG_BYTES * 8),
            )
            return iv, sealed

        return self._call("encrypt", encrypt)

    def decrypt(self, version_id: str, iv: bytes, sealed: bytes, aad: bytes) -> bytes:
        def decrypt(session: pkcs11.Session) -> bytes:
            key = self._key(session, version_id)
            try:
                plaintext: bytes = key.decrypt(
                    sealed,
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(iv, aad, TAG_BYTES * 8),
                )
            except (
                p11e.GeneralError,  # SoftHSM2 reports a GCM tag mismatch this way
                p11e.EncryptedDataInvalid,
                p11e.EncryptedDataLenRange,
                p11e.DataInvalid,
                p11e.DataLenRange,
                p11e.FunctionFailed,
            ):
                raise InvalidCiphertext() from None
            return plaintext

        return self._call("decrypt", decrypt)

    def random_bytes(self, n: int) -> bytes:
        return self._call("generate_random", lambda session: session.generate_random(n * 8))

    def destroy_key(self, version_id: str) -> bool:
        def destroy(session: pkcs11.Session) -> bool:
            self._keys.pop(version_id, None)
            found = list(
                session.get_objects(
                    {
                        Attribute.CLASS: ObjectClass.SECRET_KEY,
                        Attribute.ID: key_object_id(version_id),
                    }
                )
            )
            for obj in found:
                obj.destroy()
            return bool(found)

        return self._call("destroy", destroy)

    def key_version_ids(self) -> set[str]:
        """Version IDs of every key object this service created in the token."""

        def scan(session: pkcs11.Session) -> set[str]:
            ids = set()
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                label = obj[Attribute.LABEL]
                if isinstance(label, str) and label.startswith(LABEL_PREFIX):
                    ids.add(label[len(LABEL_PREFIX) :])
            return ids

        return self._call("scan", scan)

    def close(self) -> None:
        with _P11_LOCK:
            self._drop_session()

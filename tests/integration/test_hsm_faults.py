"""HSM faults against the real SoftHSM2 token: sessions closed or logged out behind the
server's back, device errors, a token that disappears — calls fail fast with UNAVAILABLE and
the service heals by itself."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator
from typing import Any

import pkcs11
import pkcs11.exceptions as p11e
import pytest
from conftest import create_key

from hsmkms.dev import DEV_TOKEN_LABEL
from hsmkms.errors import Unavailable
from hsmkms.hsm.pkcs11_hsm import Pkcs11Hsm
from hsmkms.hsm.softhsm import default_module_path


def cryptoki() -> ctypes.CDLL:
    # The same shared object python-pkcs11 loaded: these calls act on its state.
    dll = ctypes.CDLL(default_module_path())
    for name in ("C_CloseAllSessions", "C_OpenSession", "C_Logout", "C_CloseSession"):
        getattr(dll, name).restype = ctypes.c_ulong
    return dll


def slot_id() -> int:
    token = pkcs11.lib(default_module_path()).get_token(token_label=DEV_TOKEN_LABEL)
    return int(token.slot.slot_id)


@pytest.fixture
def version_id(keys: Any, token: Pkcs11Hsm) -> str:
    token.probe()
    return create_key(keys).primary_version.id


def test_all_sessions_closed_behind_its_back(token: Pkcs11Hsm, version_id: str) -> None:
    iv, sealed = token.encrypt(version_id, b"x", b"")
    before = token.reconnects
    assert cryptoki().C_CloseAllSessions(ctypes.c_ulong(slot_id())) == 0
    assert token.decrypt(version_id, iv, sealed, b"") == b"x"
    assert token.reconnects == before + 1 and token.healthy


def test_logged_out_behind_its_back(token: Pkcs11Hsm, version_id: str) -> None:
    dll = cryptoki()
    session = ctypes.c_ulong(0)
    assert (
        dll.C_OpenSession(
            ctypes.c_ulong(slot_id()), ctypes.c_ulong(4), None, None, ctypes.byref(session)
        )
        == 0
    )
    assert dll.C_Logout(session) == 0  # logs out every session of this process
    dll.C_CloseSession(session)
    iv, sealed = token.encrypt(version_id, b"y", b"")
    assert token.decrypt(version_id, iv, sealed, b"") == b"y"


class FlakyModule:
    """Makes the token unreachable: open sessions fail and new ones cannot be opened."""

    def __init__(self, hsm: Pkcs11Hsm, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = False
        self.attempts = 0
        real = hsm._ensure_session

        def ensure() -> Any:
            if self.down:
                self.attempts += 1
                raise p11e.DeviceRemoved()
            return real()

        monkeypatch.setattr(hsm, "_ensure_session", ensure)
        self.hsm = hsm

    def fail(self) -> None:
        self.down = True
        cryptoki().C_CloseAllSessions(ctypes.c_ulong(slot_id()))  # the device went away


@pytest.fixture
def flaky(token: Pkcs11Hsm, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyModule]:
    module = FlakyModule(token, monkeypatch)
    yield module
    module.down = False
    monkeypatch.undo()
    token._retry_at = 0.0
    token.probe()


def test_unreachable_token_fails_fast_then_heals(
    token: Pkcs11Hsm, version_id: str, flaky: FlakyModule
) -> None:
    iv, sealed = token.encrypt(version_id, b"z", b"")
    flaky.fail()
    with pytest.raises(Unavailable):
        token.encrypt(version_id, b"z", b"")
    assert not token.healthy and not token.probe()
    # While reconnection backs off, calls fail at once without touching the module.
    attempts = flaky.attempts
    started = time.monotonic()
    for _ in range(50):
        with pytest.raises(Unavailable):
            token.decrypt(version_id, iv, sealed, b"")
    assert time.monotonic() - started < 0.5
    assert flaky.attempts <= attempts + 1
    flaky.down = False
    deadline = time.monotonic() + 10
    while not token.probe():
        assert time.monotonic() < deadline, "did not reconnect"
        time.sleep(0.1)
    assert token.healthy and token.decrypt(version_id, iv, sealed, b"") == b"z"


def test_device_error_on_a_call_is_retried_once(
    token: Pkcs11Hsm, version_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    iv, sealed = token.encrypt(version_id, b"w", b"")
    session = token._session
    assert session is not None
    failures = iter([p11e.DeviceError()])

    class OnceBroken:
        def __getattr__(self, name: str) -> Any:
            error = next(failures, None)
            if error is not None:
                raise error
            return getattr(session, name)

    token._session = OnceBroken()  # type: ignore[assignment]
    token._keys.clear()
    assert token.decrypt(version_id, iv, sealed, b"") == b"w"


def test_health_follows_the_token(token: Pkcs11Hsm, server: Any, flaky: FlakyModule) -> None:
    from grpc_health.v1 import health, health_pb2

    from hsmkms.dev import store_url
    from hsmkms.server import HealthMonitor
    from hsmkms.store import Store

    class Parts:  # what the monitor uses of an App
        hsm = token
        store = Store(store_url(server.data_dir))

    servicer = health.HealthServicer()
    monitor = HealthMonitor(Parts(), servicer)  # type: ignore[arg-type]

    def status() -> int:
        request = health_pb2.HealthCheckRequest(
            service="yandex.cloud.kms.v1.SymmetricCryptoService"
        )
        return int(servicer.Check(request, None).status)

    monitor.run_once()
    assert monitor.serving and status() == health_pb2.HealthCheckResponse.SERVING
    flaky.fail()
    monitor.run_once()
    assert monitor.serving is False and status() == health_pb2.HealthCheckResponse.NOT_SERVING
    flaky.down = False
    deadline = time.monotonic() + 10
    while not monitor.serving:
        assert time.monotonic() < deadline, "health did not recover"
        time.sleep(0.2)
        monitor.run_once()
    assert status() == health_pb2.HealthCheckResponse.SERVING
    Parts.store.close()


def test_a_refused_pin_is_not_retried(
    token: Pkcs11Hsm, version_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hsmkms.hsm.pkcs11_hsm import _LoginRefused

    attempts = []

    def refuse() -> Any:
        attempts.append(1)
        raise _LoginRefused("login to token failed: PinIncorrect")

    monkeypatch.setattr(token, "_ensure_session", refuse)
    cryptoki().C_CloseAllSessions(ctypes.c_ulong(slot_id()))
    try:
        for _ in range(3):
            with pytest.raises(Unavailable, match="PIN"):
                token.encrypt(version_id, b"x", b"")
            token._retry_at = 0.0  # even with no backoff left, the login is not tried again
        assert len(attempts) == 1 and not token.probe()
    finally:
        monkeypatch.undo()
        token._login_refused = False
        token._retry_at = 0.0
        token.probe()

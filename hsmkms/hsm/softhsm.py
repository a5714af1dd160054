"""Creating SoftHSM2 tokens for development and tests.

python-pkcs11 has no C_InitToken, and softhsm2-util would need the PINs on its command line, so
a token is initialised here through ctypes, in a child process (the server process itself loads
the module once and never re-initialises it). The PINs reach the child through its environment.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)

CKF_RW_SESSION = 0x2
CKF_SERIAL_SESSION = 0x4
CKF_TOKEN_INITIALIZED = 0x400
CKU_SO = 0
CKR_OK = 0
_TOKEN_INFO_FLAGS_OFFSET = 96  # label[32] manufacturerID[32] model[16] serialNumber[16]


def default_module_path() -> str:
    for path in DEFAULT_MODULE_CANDIDATES:
        if os.path.exists(path):
            return path
    raise FileNotFoundError(
        "SoftHSM2 is not installed (libsofthsm2.so not found); install the softhsm2 package"
    )


def write_config(data_dir: Path) -> Path:
    """Write DIR/softhsm2.conf keeping the tokens under DIR/tokens; returns its path."""
    token_dir = data_dir / "tokens"
    token_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf = data_dir / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    return conf


def ensure_token(module_path: str, conf: Path, label: str, so_pin: str, user_pin: str) -> None:
    """Create the token `label` in the SoftHSM2 configured by `conf`, unless it exists."""
    env = dict(os.environ)
    env.update(
        SOFTHSM2_CONF=str(conf),
        HSMKMS_PROVISION_MODULE=module_path,
        HSMKMS_PROVISION_LABEL=label,
        HSMKMS_PROVISION_SO_PIN=so_pin,
        HSMKMS_PROVISION_USER_PIN=user_pin,
    )
    result = subprocess.run(
        [sys.executable, "-m", "hsmkms.hsm.softhsm"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"creating the SoftHSM2 token failed: {result.stderr.strip()}")


class _Cryptoki:
    def __init__(self, path: str) -> None:
        self._dll = ctypes.CDLL(path)

    def __call__(self, name: str, *args: object) -> None:
        fn = getattr(self._dll, name)
        fn.restype = ctypes.c_ulong
        rv = fn(*args)
        if rv != CKR_OK:
            raise RuntimeError(f"{name} returned 0x{rv:x}")

    def slots(self) -> list[tuple[int, str, int]]:
        count = ctypes.c_ulong(0)
        self("C_GetSlotList", ctypes.c_ubyte(1), None, ctypes.byref(count))
        ids = (ctypes.c_ulong * max(count.value, 1))()
        self("C_GetSlotList", ctypes.c_ubyte(1), ids, ctypes.byref(count))
        result = []
        for slot in ids[: count.value]:
            info = ctypes.create_string_buffer(1024)
            self("C_GetTokenInfo", ctypes.c_ulong(slot), info)
            label = info.raw[:32].decode("utf-8", "replace").rstrip(" \0")
            flags = int.from_bytes(
                info.raw[_TOKEN_INFO_FLAGS_OFFSET : _TOKEN_INFO_FLAGS_OFFSET + 8], sys.byteorder
            )
            result.append((slot, label, flags))
        return result


def _provision() -> None:
    module = os.environ["HSMKMS_PROVISION_MODULE"]
    label = os.environ["HSMKMS_PROVISION_LABEL"]
    so_pin = os.environ["HSMKMS_PROVISION_SO_PIN"].encode()
    user_pin = os.environ["HSMKMS_PROVISION_USER_PIN"].encode()
    ck = _Cryptoki(module)
    ck("C_Initialize", None)
    slots = ck.slots()
    if any(slot_label == label and flags & CKF_TOKEN_INITIALIZED for _, slot_label, flags in slots):
        return
    free = [slot for slot, _, flags in slots if not flags & CKF_TOKEN_INITIALIZED]
    if not free:
        raise SystemExit("no free slot for a new token")
    padded = label.encode().ljust(32, b" ")
    ck("C_InitToken", ctypes.c_ulong(free[0]), so_pin, ctypes.c_ulong(len(so_pin)), padded)
    # SoftHSM2 gives the new token a new slot ID: look it up again.
    ck("C_Finalize", None)
    ck("C_Initialize", None)
    slot = next(s for s, slot_label, _ in ck.slots() if slot_label == label)
    session = ctypes.c_ulong(0)
    ck(
        "C_OpenSession",
        ctypes.c_ulong(slot),
        ctypes.c_ulong(CKF_SERIAL_SESSION | CKF_RW_SESSION),
        None,
        None,
        ctypes.byref(session),
    )
    ck("C_Login", session, ctypes.c_ulong(CKU_SO), so_pin, ctypes.c_ulong(len(so_pin)))
    ck("C_InitPIN", session, user_pin, ctypes.c_ulong(len(user_pin)))
    ck("C_Logout", session)
    ck("C_CloseSession", session)
    ck("C_Finalize", None)


if __name__ == "__main__":
    try:
        _provision()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None

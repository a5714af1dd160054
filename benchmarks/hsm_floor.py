"""The HSM floor: raw python-pkcs11 AES-GCM encrypts of 64 bytes, one thread, one key object.

Opens a `hsmkms dev` server's token from this separate process (SOFTHSM2_CONF and the user PIN
from the server's data directory), finds the key object of a version by CKA_ID, checks one
encrypt/decrypt round trip, prints `ready`, then serves measurement commands on stdin, one per
line: `MODE SECONDS`. It answers each with one JSON line {"ops", "seconds", "cpu_seconds"}.

Modes:
  encrypt      C_EncryptInit + C_Encrypt, a fresh IV from os.urandom each time (as hsmkms does)
  rng+encrypt  the same with the IV from the token's C_GenerateRandom
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Mechanism, ObjectClass
from pkcs11.mechanisms import GCMParams

from hsmkms.config import read_secret_file
from hsmkms.dev import DEV_TOKEN_LABEL
from hsmkms.hsm.softhsm import default_module_path

PLAINTEXT = bytes(range(64))
IV_BYTES = 12
TAG_BITS = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", type=Path, required=True, metavar="DIR")
    parser.add_argument("--version-id", required=True, help="key version created by the server")
    args = parser.parse_args()
    data_dir: Path = args.data_dir.resolve()
    # SoftHSM2 reads its configuration when the module is initialised, in pkcs11.lib().
    os.environ["SOFTHSM2_CONF"] = str(data_dir / "softhsm2.conf")
    lib = pkcs11.lib(default_module_path())
    token = lib.get_token(token_label=DEV_TOKEN_LABEL)
    with token.open(user_pin=read_secret_file(data_dir / "user.pin")) as session:
        # Any: python-pkcs11's stubs omit the encrypt/decrypt mixins of secret keys.
        key: Any = session.get_key(
            object_class=ObjectClass.SECRET_KEY, id=args.version_id.encode("ascii")
        )

        def encrypt(iv: bytes) -> bytes:
            sealed: bytes = key.encrypt(
                PLAINTEXT, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, b"", TAG_BITS)
            )
            return sealed

        iv = os.urandom(IV_BYTES)
        opened = key.decrypt(
            encrypt(iv), mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, b"", TAG_BITS)
        )
        if opened != PLAINTEXT:
            raise SystemExit("hsm floor: AES-GCM round trip failed")

        modes: dict[str, Callable[[], bytes]] = {
            "encrypt": lambda: encrypt(os.urandom(IV_BYTES)),
            "rng+encrypt": lambda: encrypt(session.generate_random(IV_BYTES * 8)),
        }
        print("ready", flush=True)
        for line in sys.stdin:
            mode, seconds_text = line.split()
            op, seconds = modes[mode], float(seconds_text)
            ops = 0
            cpu0, t0 = time.process_time(), time.perf_counter()
            deadline = t0 + seconds
            while True:
                for _ in range(100):
                    op()
                ops += 100
                now = time.perf_counter()
                if now >= deadline:
                    break
            result = {"ops": ops, "seconds": now - t0, "cpu_seconds": time.process_time() - cpu0}
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

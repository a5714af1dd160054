"""Newcomer flow against hsmkms using only the official `yandexcloud` SDK stubs.

Run under the compatibility interpreter (HSMKMS_COMPAT_PYTHON), never inside the test process:
the official `yandex.*` descriptors would clash with the server's generated ones.

    python sdk_client.py HOST:PORT

Prints one JSON object ({"ok", "checks", "failed", "errors", "facts"}) to stdout and exits 0
only if every check passed.
"""

from __future__ import annotations

import base64
import json
import sys
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import grpc
from yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as crypto_pb
from yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from yandex.cloud.kms.v1 import symmetric_key_service_pb2 as key_service_pb
from yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_service_grpc
from yandex.cloud.operation import operation_service_pb2 as op_service_pb
from yandex.cloud.operation import operation_service_pb2_grpc as op_service_grpc

TIMEOUT = 15.0  # seconds per RPC
UNKNOWN_KEY = "hkkdoesnotexist00000"


class Report:
    def __init__(self) -> None:
        self.checks: dict[str, bool] = {}
        self.errors: dict[str, str] = {}
        self.facts: dict[str, Any] = {}

    def check(self, name: str, ok: bool, detail: Any = None) -> bool:
        if name in self.checks:
            raise AssertionError(f"duplicate check name {name!r}")
        self.checks[name] = bool(ok)
        if not ok and detail is not None:
            self.errors[name] = str(detail)
        return bool(ok)

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run one step; an exception fails check `name` and aborts the rest of the flow."""
        try:
            return fn()
        except Exception as exc:
            detail = (
                f"{exc.code()}: {exc.details()}"
                if isinstance(exc, grpc.RpcError) and hasattr(exc, "code")
                else traceback.format_exc()
            )
            self.check(name, False, detail)
            raise _Abort from exc

    def expect_code(self, name: str, code: grpc.StatusCode, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except grpc.RpcError as exc:
            got = exc.code()
            self.facts[name + "_code"] = got.name
            self.facts[name + "_details"] = exc.details()
            self.check(name, got == code, f"expected {code.name}, got {got.name}: {exc.details()}")
        else:
            self.check(name, False, f"expected {code.name}, the call succeeded")

    def failed(self) -> list[str]:
        return [name for name, ok in self.checks.items() if not ok]

    def to_json(self) -> dict[str, Any]:
        failed = self.failed()
        return {
            "ok": bool(self.checks) and not failed,
            "checks": self.checks,
            "failed": failed,
            "errors": self.errors,
            "facts": self.facts,
        }


class _Abort(Exception):
    pass


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def run(address: str, r: Report) -> None:
    channel = grpc.insecure_channel(address, options=[("grpc.enable_http_proxy", 0)])
    keys = key_service_grpc.SymmetricKeyServiceStub(channel)
    crypto = crypto_grpc.SymmetricCryptoServiceStub(channel)
    operations = op_service_grpc.OperationServiceStub(channel)
    folder = "folder-" + uuid.uuid4().hex[:8]

    # --- Create key A (AES_256) and key B (AES_128) --------------------------------------
    def create(label: str, algorithm: int) -> key_pb.SymmetricKey:
        op = r.step(
            f"create_{label}",
            lambda: keys.Create(
                key_service_pb.CreateSymmetricKeyRequest(
                    folder_id=folder,
                    name=f"sdk-{label}-" + uuid.uuid4().hex[:6],
                    description="yandexcloud SDK compatibility check",
                    labels={"suite": "compat"},
                    default_algorithm=algorithm,
                ),
                timeout=TIMEOUT,
            ),
        )
        r.check(f"create_{label}_done", op.done, op)
        r.check(f"create_{label}_no_error", not op.HasField("error"), op.error)
        key = key_pb.SymmetricKey()
        meta = key_service_pb.CreateSymmetricKeyMetadata()
        r.check(
            f"create_{label}_response_is_symmetric_key",
            op.response.Unpack(key),
            op.response.type_url,
        )
        r.check(
            f"create_{label}_metadata_is_create_metadata",
            op.metadata.Unpack(meta),
            op.metadata.type_url,
        )
        r.check(f"create_{label}_key_id_set", bool(key.id), key)
        r.check(f"create_{label}_metadata_key_id", meta.key_id == key.id, (meta, key.id))
        r.check(
            f"create_{label}_metadata_primary_version_id",
            bool(meta.primary_version_id) and meta.primary_version_id == key.primary_version.id,
            (meta, key.primary_version),
        )
        r.check(
            f"create_{label}_algorithm",
            key.default_algorithm == algorithm and key.primary_version.algorithm == algorithm,
            key,
        )
        r.check(f"create_{label}_folder", key.folder_id == folder, key.folder_id)
        r.check(
            f"create_{label}_primary_flag",
            key.primary_version.primary and key.primary_version.key_id == key.id,
            key.primary_version,
        )

        # OperationService.Get on the operation id returns the same operation.
        got = r.step(
            f"operation_get_{label}",
            lambda: operations.Get(
                op_service_pb.GetOperationRequest(operation_id=op.id), timeout=TIMEOUT
            ),
        )
        got_key = key_pb.SymmetricKey()
        got_meta = key_service_pb.CreateSymmetricKeyMetadata()
        r.check(
            f"operation_get_{label}_same",
            got.id == op.id
            and got.done
            and got.response.Unpack(got_key)
            and got.metadata.Unpack(got_meta)
            and got_key == key
            and got_meta == meta,
            (op, got),
        )
        r.facts[f"operation_get_{label}_identical"] = got == op
        r.facts[f"key_{label}"] = {
            "id": key.id,
            "primary_version_id": key.primary_version.id,
            "default_algorithm": key_pb.SymmetricAlgorithm.Name(key.default_algorithm),
            "operation_id": op.id,
        }
        return key

    key_a = create("a", key_pb.AES_256)
    key_b = create("b", key_pb.AES_128)
    v1 = key_a.primary_version.id

    # --- Get key A --------------------------------------------------------------------------
    fetched = r.step(
        "get_a",
        lambda: keys.Get(key_service_pb.GetSymmetricKeyRequest(key_id=key_a.id), timeout=TIMEOUT),
    )
    r.check(
        "get_a_matches_created",
        fetched.id == key_a.id
        and fetched.primary_version.id == v1
        and fetched.default_algorithm == key_pb.AES_256
        and fetched.name == key_a.name
        and fetched.folder_id == folder,
        fetched,
    )

    # --- Encrypt with aad ---------------------------------------------------------------------
    aad = b"tenant=42"
    plaintext = b"hello from the yandexcloud SDK"
    enc1 = r.step(
        "encrypt_v1",
        lambda: crypto.Encrypt(
            crypto_pb.SymmetricEncryptRequest(
                key_id=key_a.id, plaintext=plaintext, aad_context=aad
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check("encrypt_v1_key_id", enc1.key_id == key_a.id, enc1.key_id)
    r.check("encrypt_v1_version_id", enc1.version_id == v1, (enc1.version_id, v1))
    r.check(
        "encrypt_v1_ciphertext_opaque",
        len(enc1.ciphertext) > len(plaintext) and plaintext not in enc1.ciphertext,
        b64(enc1.ciphertext),
    )
    dec = r.step(
        "decrypt_v1",
        lambda: crypto.Decrypt(
            crypto_pb.SymmetricDecryptRequest(
                key_id=key_a.id, ciphertext=enc1.ciphertext, aad_context=aad
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check(
        "decrypt_v1_round_trip",
        (dec.key_id, dec.version_id, dec.plaintext) == (key_a.id, v1, plaintext),
        dec,
    )

    # --- Rotate key A -------------------------------------------------------------------------
    rot = r.step(
        "rotate_a",
        lambda: keys.Rotate(
            key_service_pb.RotateSymmetricKeyRequest(key_id=key_a.id), timeout=TIMEOUT
        ),
    )
    rotated = key_pb.SymmetricKey()
    rot_meta = key_service_pb.RotateSymmetricKeyMetadata()
    r.check("rotate_a_done", rot.done and not rot.HasField("error"), rot)
    r.check("rotate_a_response_is_symmetric_key", rot.response.Unpack(rotated), rot.response)
    r.check("rotate_a_metadata_is_rotate_metadata", rot.metadata.Unpack(rot_meta), rot.metadata)
    v2 = rot_meta.new_primary_version_id
    r.check("rotate_a_metadata_key_id", rot_meta.key_id == key_a.id, rot_meta)
    r.check("rotate_a_new_version_differs", bool(v2) and v2 != v1, (v1, v2))
    r.check(
        "rotate_a_response_primary_is_new",
        rotated.id == key_a.id and rotated.primary_version.id == v2,
        rotated,
    )
    rot_got = r.step(
        "operation_get_rotate",
        lambda: operations.Get(
            op_service_pb.GetOperationRequest(operation_id=rot.id), timeout=TIMEOUT
        ),
    )
    rot_got_meta = key_service_pb.RotateSymmetricKeyMetadata()
    r.check(
        "operation_get_rotate_same",
        rot_got.id == rot.id
        and rot_got.done
        and rot_got.metadata.Unpack(rot_got_meta)
        and rot_got_meta == rot_meta,
        rot_got,
    )
    after = r.step(
        "get_a_after_rotate",
        lambda: keys.Get(key_service_pb.GetSymmetricKeyRequest(key_id=key_a.id), timeout=TIMEOUT),
    )
    r.check("get_a_after_rotate_primary", after.primary_version.id == v2, after.primary_version)
    r.facts["rotate"] = {"old_version_id": v1, "new_version_id": v2}

    # --- Old ciphertext still decrypts, with the old version ----------------------------------
    old = r.step(
        "decrypt_old_after_rotate",
        lambda: crypto.Decrypt(
            crypto_pb.SymmetricDecryptRequest(
                key_id=key_a.id, ciphertext=enc1.ciphertext, aad_context=aad
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check(
        "decrypt_old_after_rotate_result",
        (old.key_id, old.version_id, old.plaintext) == (key_a.id, v1, plaintext),
        old,
    )
    r.facts["decrypt_old_version_id"] = old.version_id

    # --- Encrypt again: the new primary version is used ---------------------------------------
    enc2 = r.step(
        "encrypt_v2",
        lambda: crypto.Encrypt(
            crypto_pb.SymmetricEncryptRequest(
                key_id=key_a.id, plaintext=plaintext, aad_context=aad
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check(
        "encrypt_v2_uses_new_version",
        enc2.key_id == key_a.id and enc2.version_id == v2,
        (enc2.key_id, enc2.version_id),
    )
    r.facts["encrypt_version_ids"] = [enc1.version_id, enc2.version_id]
    dec2 = r.step(
        "decrypt_v2",
        lambda: crypto.Decrypt(
            crypto_pb.SymmetricDecryptRequest(
                key_id=key_a.id, ciphertext=enc2.ciphertext, aad_context=aad
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check(
        "decrypt_v2_round_trip",
        (dec2.version_id, dec2.plaintext) == (v2, plaintext),
        dec2,
    )

    # --- ReEncrypt the old ciphertext to key B, then Decrypt with B ---------------------------
    aad_b = b"tenant=42;moved"
    re = r.step(
        "reencrypt_to_b",
        lambda: crypto.ReEncrypt(
            crypto_pb.SymmetricReEncryptRequest(
                key_id=key_b.id,
                aad_context=aad_b,
                source_key_id=key_a.id,
                source_aad_context=aad,
                ciphertext=enc1.ciphertext,
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check("reencrypt_key_id", re.key_id == key_b.id, re.key_id)
    r.check("reencrypt_version_id", re.version_id == key_b.primary_version.id, re.version_id)
    r.check("reencrypt_source_key_id", re.source_key_id == key_a.id, re.source_key_id)
    r.check("reencrypt_source_version_id", re.source_version_id == v1, re.source_version_id)
    r.check(
        "reencrypt_ciphertext",
        bool(re.ciphertext) and re.ciphertext != enc1.ciphertext and plaintext not in re.ciphertext,
        b64(re.ciphertext),
    )
    r.facts["reencrypt"] = {
        "key_id": re.key_id,
        "version_id": re.version_id,
        "source_key_id": re.source_key_id,
        "source_version_id": re.source_version_id,
        "ciphertext_len": len(re.ciphertext),
    }
    dec_b = r.step(
        "decrypt_reencrypted_with_b",
        lambda: crypto.Decrypt(
            crypto_pb.SymmetricDecryptRequest(
                key_id=key_b.id, ciphertext=re.ciphertext, aad_context=aad_b
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check(
        "decrypt_reencrypted_with_b_result",
        (dec_b.key_id, dec_b.version_id, dec_b.plaintext)
        == (key_b.id, key_b.primary_version.id, plaintext),
        dec_b,
    )

    # --- GenerateDataKey ----------------------------------------------------------------------
    dk_aad = b"object=invoice-17"
    lengths: dict[str, int] = {}
    for label, spec, expected in (
        ("aes_128", key_pb.AES_128, 16),
        ("default", None, 32),
    ):
        kwargs: dict[str, Any] = {"key_id": key_a.id, "aad_context": dk_aad}
        if spec is not None:
            kwargs["data_key_spec"] = spec
        dk = r.step(
            f"generate_data_key_{label}",
            lambda kwargs=kwargs: crypto.GenerateDataKey(
                crypto_pb.GenerateDataKeyRequest(**kwargs), timeout=TIMEOUT
            ),
        )
        lengths[label] = len(dk.data_key_plaintext)
        r.check(
            f"generate_data_key_{label}_length",
            len(dk.data_key_plaintext) == expected,
            len(dk.data_key_plaintext),
        )
        r.check(
            f"generate_data_key_{label}_ids",
            dk.key_id == key_a.id and dk.version_id == v2,
            (dk.key_id, dk.version_id),
        )
        r.check(
            f"generate_data_key_{label}_ciphertext",
            bool(dk.data_key_ciphertext) and dk.data_key_plaintext not in dk.data_key_ciphertext,
            b64(dk.data_key_ciphertext),
        )
        unwrapped = r.step(
            f"generate_data_key_{label}_decrypt",
            lambda dk=dk: crypto.Decrypt(
                crypto_pb.SymmetricDecryptRequest(
                    key_id=key_a.id, ciphertext=dk.data_key_ciphertext, aad_context=dk_aad
                ),
                timeout=TIMEOUT,
            ),
        )
        r.check(
            f"generate_data_key_{label}_decrypt_matches",
            unwrapped.plaintext == dk.data_key_plaintext and unwrapped.version_id == v2,
            (len(unwrapped.plaintext), unwrapped.version_id),
        )
    r.facts["data_key_lengths"] = lengths

    skipped = r.step(
        "generate_data_key_skip_plaintext",
        lambda: crypto.GenerateDataKey(
            crypto_pb.GenerateDataKeyRequest(
                key_id=key_a.id, aad_context=dk_aad, skip_plaintext=True
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check(
        "generate_data_key_skip_plaintext_empty",
        skipped.data_key_plaintext == b"" and bool(skipped.data_key_ciphertext),
        (len(skipped.data_key_plaintext), len(skipped.data_key_ciphertext)),
    )
    unwrapped_skipped = r.step(
        "generate_data_key_skip_plaintext_decrypt",
        lambda: crypto.Decrypt(
            crypto_pb.SymmetricDecryptRequest(
                key_id=key_a.id, ciphertext=skipped.data_key_ciphertext, aad_context=dk_aad
            ),
            timeout=TIMEOUT,
        ),
    )
    r.check(
        "generate_data_key_skip_plaintext_decrypt_length",
        len(unwrapped_skipped.plaintext) == 32,
        len(unwrapped_skipped.plaintext),
    )
    r.facts["skip_plaintext_plaintext_len"] = len(skipped.data_key_plaintext)

    # --- Errors -------------------------------------------------------------------------------
    r.expect_code(
        "decrypt_wrong_aad_invalid_argument",
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: crypto.Decrypt(
            crypto_pb.SymmetricDecryptRequest(
                key_id=key_a.id, ciphertext=enc1.ciphertext, aad_context=b"tenant=43"
            ),
            timeout=TIMEOUT,
        ),
    )
    r.expect_code(
        "get_unknown_key_not_found",
        grpc.StatusCode.NOT_FOUND,
        lambda: keys.Get(
            key_service_pb.GetSymmetricKeyRequest(key_id=UNKNOWN_KEY), timeout=TIMEOUT
        ),
    )
    channel.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} HOST:PORT", file=sys.stderr)
        return 2
    report = Report()
    try:
        run(argv[1], report)
    except _Abort:
        report.check("flow_completed", False, "aborted after a failed step")
    except Exception:
        report.check("flow_completed", False, traceback.format_exc())
    else:
        report.check("flow_completed", True)
    result = report.to_json()
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    if not result["ok"]:
        print("FAILED checks: " + ", ".join(result["failed"]), file=sys.stderr)
        for name in result["failed"]:
            print(f"  {name}: {report.errors.get(name, '')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""`hsmkms kms ...`: the client CLI as a subprocess against real servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import BAD_CIPHERTEXT, DevServer, decrypt, encrypt

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as crypto_grpc
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as key_grpc
from hsmkms.client.reencrypt import STATE_FILE_NAME

AAD = "tenant=42"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment without any HSMKMS_* setting or profile file of the user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSMKMS_")}
    env["HSMKMS_PROFILES"] = "/nonexistent/profiles.toml"
    env.update(extra)
    return env


def run(
    *args: str,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "hsmkms.cli", "kms", *args],
        capture_output=True,
        input=input,
        env=env if env is not None else cli_env(),
        timeout=timeout,
        check=False,
    )


def kms(kms_server: DevServer, *args: str, input: bytes | None = None) -> str:
    """Run a command against the plaintext dev server; it must succeed."""
    result = run(*args, "--endpoint", kms_server.address, input=input)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    return result.stdout.decode()


def kms_json(kms_server: DevServer, *args: str) -> Any:
    return json.loads(kms(kms_server, *args, "--format", "json"))


def kms_error(kms_server: DevServer, *args: str, code: str) -> str:
    result = run(*args, "--endpoint", kms_server.address)
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert stderr.startswith(f"hsmkms: {code}: "), stderr
    assert "Traceback" not in stderr
    return stderr


def folder() -> str:
    return "cli-" + uuid.uuid4().hex[:8]


def new_key(kms_server: DevServer, folder_id: str = "", *extra: str) -> dict[str, Any]:
    return kms_json(  # type: ignore[no-any-return]
        kms_server,
        "symmetric-key",
        "create",
        "--folder-id",
        folder_id or folder(),
        "--name",
        "k-" + uuid.uuid4().hex[:6],
        *extra,
    )


@pytest.fixture(scope="module")
def kms_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A plaintext dev server of this module's own, with one worker process: the client's
    tests count calls and files, and keep other modules' keys and load out of the picture.
    (Cross-worker behaviour is tested in test_workers.py.)"""
    base = tmp_path_factory.mktemp("hsmkms-kms")
    dev = DevServer(base / "data", base / "server.log", extra_args=("--workers", "1"))
    dev.start()
    yield dev
    if dev.process is not None:
        dev.stop()


@pytest.fixture(scope="module")
def kms_channel(kms_server: DevServer) -> Iterator[grpc.Channel]:
    with kms_server.channel() as channel:
        yield channel


@pytest.fixture(scope="module")
def kms_keys(kms_channel: grpc.Channel) -> key_grpc.SymmetricKeyServiceStub:
    return key_grpc.SymmetricKeyServiceStub(kms_channel)


@pytest.fixture(scope="module")
def kms_crypto(kms_channel: grpc.Channel) -> crypto_grpc.SymmetricCryptoServiceStub:
    return crypto_grpc.SymmetricCryptoServiceStub(kms_channel)


# symmetric-key


def test_key_lifecycle(kms_server: DevServer) -> None:
    f = folder()
    key = new_key(
        kms_server,
        f,
        "--description",
        "payments",
        "--labels",
        "env=prod,team=billing",
        "--rotation-period",
        "24h",
        "--deletion-protection",
    )
    assert key["folder_id"] == f and key["description"] == "payments"
    assert key["labels"] == {"env": "prod", "team": "billing"}
    assert key["rotation_period"] == "86400s"
    assert key["deletion_protection"] is True
    assert key["status"] == "ACTIVE" and key["default_algorithm"] == "AES_256"
    key_id = key["id"]
    first_version = key["primary_version"]["id"]
    assert kms_json(kms_server, "symmetric-key", "get", key_id) == key

    # list follows pages
    others = [new_key(kms_server, f)["id"] for _ in range(2)]
    listed = kms_json(kms_server, "symmetric-key", "list", "--folder-id", f, "--page-size", "1")
    assert sorted(k["id"] for k in listed) == sorted([key_id, *others])

    updated = kms_json(
        kms_server,
        "symmetric-key",
        "update",
        key_id,
        "--name",
        "renamed",
        "--labels",
        "env=dev",
        "--status",
        "inactive",
        "--rotation-period",
        "none",
    )
    assert updated["name"] == "renamed" and updated["labels"] == {"env": "dev"}
    assert updated["status"] == "INACTIVE" and "rotation_period" not in updated
    assert updated["description"] == "payments"  # not in the mask: unchanged
    updated = kms_json(kms_server, "symmetric-key", "update", key_id, "--status", "active")
    assert updated["status"] == "ACTIVE" and updated["name"] == "renamed"

    rotated = kms_json(kms_server, "symmetric-key", "rotate", key_id)
    second_version = rotated["primary_version"]["id"]
    assert second_version != first_version
    versions = kms_json(kms_server, "symmetric-key", "list-versions", key_id)
    assert {v["id"]: v["primary"] for v in versions} == {
        first_version: False,
        second_version: True,
    }

    scheduled = kms_json(
        kms_server,
        "symmetric-key",
        "schedule-version-destruction",
        key_id,
        "--version-id",
        first_version,
        "--pending-period",
        "7d",
    )
    assert scheduled["id"] == first_version
    assert scheduled["status"] == "SCHEDULED_FOR_DESTRUCTION" and scheduled["destroy_at"]
    cancelled = kms_json(
        kms_server,
        "symmetric-key",
        "cancel-version-destruction",
        key_id,
        "--version-id",
        first_version,
    )
    assert cancelled["status"] == "ACTIVE"
    primary = kms_json(
        kms_server, "symmetric-key", "set-primary-version", key_id, "--version-id", first_version
    )
    assert primary["primary_version"]["id"] == first_version

    operations = kms_json(kms_server, "symmetric-key", "list-operations", key_id)
    descriptions = {op["description"] for op in operations}
    assert {"Create symmetric key", "Rotate symmetric key"} <= descriptions
    assert all(op["done"] for op in operations)

    kms_error(kms_server, "symmetric-key", "delete", key_id, code="FAILED_PRECONDITION")
    kms_json(kms_server, "symmetric-key", "update", key_id, "--no-deletion-protection")
    deleted = kms_json(kms_server, "symmetric-key", "delete", key_id)
    assert deleted["id"] == key_id
    kms_error(kms_server, "symmetric-key", "get", key_id, code="NOT_FOUND")


def test_update_needs_a_field_and_bad_flags_are_refused(kms_server: DevServer) -> None:
    key_id = new_key(kms_server)["id"]
    result = run("symmetric-key", "update", key_id, "--endpoint", kms_server.address)
    assert result.returncode == 2
    assert b"at least one field" in result.stderr
    for args in (
        ("symmetric-key", "create", "--folder-id", "f", "--name", "n", "--rotation-period", "1y"),
        ("symmetric-key", "create", "--folder-id", "f", "--name", "n", "--labels", "novalue"),
        ("symmetric-key", "add-access-binding", key_id, "--role", "r", "--subject", "nocolon"),
    ):
        result = run(*args, "--endpoint", kms_server.address)
        assert result.returncode == 2, args
        assert b"Traceback" not in result.stderr


def test_text_and_yaml_formats(kms_server: DevServer) -> None:
    f = folder()
    key = new_key(kms_server, f, "--labels", "env=prod")
    text = kms(kms_server, "symmetric-key", "get", key["id"])
    assert f"id: {key['id']}" in text.splitlines()
    assert "labels.env: prod" in text.splitlines()
    assert "status: ACTIVE" in text.splitlines()

    table = kms(kms_server, "symmetric-key", "list", "--folder-id", f).splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert table[1].split()[:3] == [key["id"], key["name"], "ACTIVE"]

    yaml = kms(kms_server, "symmetric-key", "get", key["id"], "--format", "yaml").splitlines()
    assert f'id: "{key["id"]}"' in yaml
    assert "labels:" in yaml and '  env: "prod"' in yaml
    assert "primary_version:" in yaml and "  primary: true" in yaml

    versions = kms(kms_server, "symmetric-key", "list-versions", key["id"], "--format", "yaml")
    assert versions.startswith(f'- id: "{key["primary_version"]["id"]}"')

    # Flags given before the command are the defaults of those after it.
    before = run(
        "--format", "json", "--endpoint", kms_server.address, "symmetric-key", "get", key["id"]
    )
    assert before.returncode == 0 and json.loads(before.stdout)["id"] == key["id"]


def test_access_bindings(kms_server: DevServer) -> None:
    key_id = new_key(kms_server)["id"]
    assert kms_json(kms_server, "symmetric-key", "list-access-bindings", key_id) == []
    added = kms_json(
        kms_server,
        "symmetric-key",
        "add-access-binding",
        key_id,
        "--role",
        "kms.keys.encrypter",
        "--subject",
        "serviceAccount:billing",
        "--subject",
        "system:allAuthenticatedUsers",
    )
    assert added == {}
    bindings = kms_json(kms_server, "symmetric-key", "list-access-bindings", key_id)
    assert sorted((b["role_id"], b["subject"]["type"], b["subject"]["id"]) for b in bindings) == [
        ("kms.keys.encrypter", "serviceAccount", "billing"),
        ("kms.keys.encrypter", "system", "allAuthenticatedUsers"),
    ]
    table = kms(kms_server, "symmetric-key", "list-access-bindings", key_id).splitlines()
    assert table[0].split() == ["ROLE", "SUBJECT", "TYPE", "SUBJECT", "ID"]
    kms(
        kms_server,
        "symmetric-key",
        "remove-access-binding",
        key_id,
        "--role",
        "kms.keys.encrypter",
        "--subject",
        "serviceAccount:billing",
    )
    bindings = kms_json(kms_server, "symmetric-key", "list-access-bindings", key_id)
    assert [b["subject"]["id"] for b in bindings] == ["allAuthenticatedUsers"]


# symmetric-crypto


def test_crypto_round_trips_with_files(
    kms_server: DevServer, kms_crypto: crypto_grpc.SymmetricCryptoServiceStub, tmp_path: Path
) -> None:
    key = new_key(kms_server)
    other = new_key(kms_server)
    plain = tmp_path / "secret.txt"
    plain.write_bytes(b"attack at dawn\x00\xff")
    ct = tmp_path / "secret.enc"
    shown = kms_json(
        kms_server,
        "symmetric-crypto",
        "encrypt",
        "--id",
        key["id"],
        "--plaintext-file",
        str(plain),
        "--ciphertext-file",
        str(ct),
        "--aad-context",
        AAD,
    )
    assert shown == {"key_id": key["id"], "version_id": key["primary_version"]["id"]}
    assert ct.read_bytes() and plain.read_bytes() not in ct.read_bytes()

    out = tmp_path / "decrypted.txt"
    out.write_text("old contents, broader mode")
    out.chmod(0o644)
    kms(
        kms_server,
        "symmetric-crypto",
        "decrypt",
        "--id",
        key["id"],
        "--ciphertext-file",
        str(ct),
        "--plaintext-file",
        str(out),
        "--aad-context",
        AAD,
    )
    assert out.read_bytes() == plain.read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600

    kms_error(
        kms_server,
        "symmetric-crypto",
        "decrypt",
        "--id",
        key["id"],
        "--ciphertext-file",
        str(ct),
        "--plaintext-file",
        str(tmp_path / "never.txt"),
        code="INVALID_ARGUMENT",
    )
    assert not (tmp_path / "never.txt").exists()

    moved = tmp_path / "moved.enc"
    shown = kms_json(
        kms_server,
        "symmetric-crypto",
        "re-encrypt",
        "--id",
        other["id"],
        "--source-key-id",
        key["id"],
        "--ciphertext-file",
        str(ct),
        "--new-ciphertext-file",
        str(moved),
        "--source-aad-context",
        AAD,
        "--aad-context",
        "other",
    )
    assert shown["key_id"] == other["id"] and shown["source_key_id"] == key["id"]
    assert shown["source_version_id"] == key["primary_version"]["id"]
    # stdin to stdout; the result line goes to stderr then
    result = run(
        "symmetric-crypto",
        "decrypt",
        "--id",
        other["id"],
        "--ciphertext-file",
        "-",
        "--plaintext-file",
        "-",
        "--aad-context",
        "other",
        "--endpoint",
        kms_server.address,
        input=moved.read_bytes(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.read_bytes()
    assert other["id"].encode() in result.stderr

    piped = run(
        "symmetric-crypto",
        "encrypt",
        "--id",
        key["id"],
        "--plaintext-file",
        "-",
        "--ciphertext-file",
        "-",
        "--endpoint",
        kms_server.address,
        input=b"from stdin",
    )
    assert piped.returncode == 0
    assert decrypt(kms_crypto, key["id"], piped.stdout).plaintext == b"from stdin"


def test_generate_data_key(
    kms_server: DevServer, kms_crypto: crypto_grpc.SymmetricCryptoServiceStub, tmp_path: Path
) -> None:
    key = new_key(kms_server)
    dk_plain, dk_enc = tmp_path / "dk.bin", tmp_path / "dk.enc"
    shown = kms_json(
        kms_server,
        "symmetric-crypto",
        "generate-data-key",
        "--id",
        key["id"],
        "--data-key-spec",
        "aes-128",
        "--data-key-plaintext-file",
        str(dk_plain),
        "--data-key-ciphertext-file",
        str(dk_enc),
    )
    assert shown["key_id"] == key["id"]
    assert len(dk_plain.read_bytes()) == 16
    assert dk_plain.stat().st_mode & 0o777 == 0o600
    assert decrypt(kms_crypto, key["id"], dk_enc.read_bytes()).plaintext == dk_plain.read_bytes()

    only_enc = tmp_path / "only.enc"
    kms(
        kms_server,
        "symmetric-crypto",
        "generate-data-key",
        "--id",
        key["id"],
        "--skip-plaintext",
        "--data-key-ciphertext-file",
        str(only_enc),
    )
    assert len(decrypt(kms_crypto, key["id"], only_enc.read_bytes()).plaintext) == 32
    # one of the plaintext options is required: a data key is never silently dropped
    result = run(
        "symmetric-crypto",
        "generate-data-key",
        "--id",
        key["id"],
        "--data-key-ciphertext-file",
        str(only_enc),
        "--endpoint",
        kms_server.address,
    )
    assert result.returncode == 2


def test_errors_are_one_line(kms_server: DevServer, tmp_path: Path) -> None:
    kms_error(kms_server, "symmetric-key", "get", "hkkdoesnotexist00000", code="NOT_FOUND")
    result = run("symmetric-key", "get", "x", "--endpoint", "127.0.0.1:1", "--timeout", "3")
    assert result.returncode == 1
    assert result.stderr.startswith(b"hsmkms: UNAVAILABLE: ")
    missing = run(
        "symmetric-crypto",
        "encrypt",
        "--id",
        "k",
        "--plaintext-file",
        str(tmp_path / "missing"),
        "--ciphertext-file",
        str(tmp_path / "out"),
        "--endpoint",
        kms_server.address,
    )
    assert missing.returncode == 2
    assert missing.stderr.decode().startswith("hsmkms: ")
    assert b"Traceback" not in missing.stderr


# connection settings


def test_tls_with_token_from_environment(auth_server: DevServer, tmp_path: Path) -> None:
    token_file = auth_server.data_dir / "admin.token"
    ca = str(auth_server.data_dir / "tls" / "ca.pem")
    token = token_file.read_text().strip()
    args = ("symmetric-key", "create", "--folder-id", folder(), "--name", "tls", "--format", "json")

    result = run(
        *args, "--ca", ca, env=cli_env(HSMKMS_ENDPOINT=auth_server.address, HSMKMS_TOKEN=token)
    )
    assert result.returncode == 0, result.stderr
    key_id = json.loads(result.stdout)["id"]

    no_token = run(*args, "--ca", ca, env=cli_env(HSMKMS_ENDPOINT=auth_server.address))
    assert no_token.returncode == 1
    assert no_token.stderr.startswith(b"hsmkms: UNAUTHENTICATED: ")
    assert b"Traceback" not in no_token.stderr

    # --token-file, and a CA from the environment
    result = run(
        "symmetric-key",
        "get",
        key_id,
        "--token-file",
        str(token_file),
        "--endpoint",
        auth_server.address,
        env=cli_env(HSMKMS_CA=ca),
    )
    assert result.returncode == 0, result.stderr
    assert f"id: {key_id}" in result.stdout.decode()

    # a profile with relative paths; HSMKMS_PROFILE selects it
    shutil_copy(token_file, tmp_path / "t.token", 0o600)
    shutil_copy(Path(ca), tmp_path / "ca.pem", 0o644)
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        f'[lab]\nendpoint = "{auth_server.address}"\ntoken_file = "t.token"\nca = "ca.pem"\n'
    )
    env = cli_env(HSMKMS_PROFILES=str(profiles))
    result = run("symmetric-key", "get", key_id, "--profile", "lab", env=env)
    assert result.returncode == 0, result.stderr
    result = run("symmetric-key", "get", key_id, env={**env, "HSMKMS_PROFILE": "lab"})
    assert result.returncode == 0, result.stderr
    # the environment beats the profile, a flag beats the environment
    env_wrong = {**env, "HSMKMS_ENDPOINT": "127.0.0.1:1"}
    result = run(
        "symmetric-key", "get", key_id, "--profile", "lab", "--timeout", "3", env=env_wrong
    )
    assert result.returncode == 1 and result.stderr.startswith(b"hsmkms: UNAVAILABLE")
    result = run(
        "symmetric-key", "get", key_id, "--profile", "lab", "--endpoint", auth_server.address,
        env=env_wrong,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = run("symmetric-key", "get", key_id, "--profile", "nope", env=env)
    assert result.returncode == 2 and b"profile 'nope' not found" in result.stderr

    assert token not in (result.stdout + result.stderr).decode()


def shutil_copy(source: Path, target: Path, mode: int) -> None:
    target.write_bytes(source.read_bytes())
    target.chmod(mode)


def test_token_handling_refuses_unsafe_setups(auth_server: DevServer, tmp_path: Path) -> None:
    token = (auth_server.data_dir / "admin.token").read_text().strip()
    loose = tmp_path / "loose.token"
    shutil_copy(auth_server.data_dir / "admin.token", loose, 0o644)
    result = run("symmetric-key", "get", "k", "--token-file", str(loose))
    assert result.returncode == 2 and b"chmod 600" in result.stderr
    # a token is never sent in plaintext to a remote address
    result = run(
        "symmetric-key", "get", "k", "--endpoint", "192.0.2.1:443", env=cli_env(HSMKMS_TOKEN=token)
    )
    assert result.returncode == 2 and b"--ca" in result.stderr
    # and cannot be given as a flag
    result = run("symmetric-key", "get", "k", "--token", token)
    assert result.returncode == 2
    assert token not in result.stderr.decode()


# reencrypt-files


def make_tree(crypto: Any, root: Path, key_id: str, count: int = 30) -> dict[str, bytes]:
    """`count` ciphertext files in nested directories; returns relative path -> plaintext."""
    plaintexts: dict[str, bytes] = {}
    for i in range(count):
        rel = f"d{i % 3}/sub{i % 2}/file{i:02}.enc" if i % 5 else f"file{i:02}.enc"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        plaintexts[rel] = f"record {i} ".encode() * (i + 1)
        path.write_bytes(encrypt(crypto, key_id, plaintexts[rel], AAD.encode()).ciphertext)
    (root / "README.txt").write_text("not a ciphertext, not matched by the pattern")
    return plaintexts


def reencrypt_files(
    kms_server: DevServer, root: Path, target: str, source: str, *extra: str
) -> tuple[int, dict[str, Any], str]:
    result = run(
        "reencrypt-files",
        str(root),
        "--id",
        target,
        "--source-key-id",
        source,
        "--pattern",
        "*.enc",
        "--aad-context",
        AAD,
        "--format",
        "json",
        "--endpoint",
        kms_server.address,
        *extra,
    )
    assert b"Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr.decode()


def state_records(root: Path) -> dict[str, dict[str, str]]:
    lines = (root / STATE_FILE_NAME).read_text().splitlines()
    return {r["path"]: r for r in map(json.loads, lines)}


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.endswith(".hsmkms-tmp")]


def test_reencrypt_files_resumes_and_reports_bad_files(
    kms_server: DevServer,
    kms_keys: key_grpc.SymmetricKeyServiceStub,
    kms_crypto: crypto_grpc.SymmetricCryptoServiceStub,
    tmp_path: Path,
) -> None:
    source, target = new_key(kms_server)["id"], new_key(kms_server)["id"]
    root = tmp_path / "tree"
    plaintexts = make_tree(kms_crypto, root, source)
    kms_keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=source))
    target_primary = kms_keys.Get(ks.GetSymmetricKeyRequest(key_id=target)).primary_version.id

    # an interrupted run: only 10 files
    code, summary, stderr = reencrypt_files(kms_server, root, target, source, "--limit", "10")
    assert code == 0, stderr
    assert summary["files"] == 30 and summary["reencrypted"] == 10
    assert summary["reencrypt_calls"] == 10 and summary["remaining"] == 20
    first = state_records(root)
    assert len(first) == 10
    assert {r["key_id"] for r in first.values()} == {target}
    assert {r["version_id"] for r in first.values()} == {target_primary}

    bad = root / "d1" / "garbage.enc"
    bad.write_bytes(b"this is not a ciphertext at all")
    before = {p: p.read_bytes() for p in root.rglob("*.enc")}

    code, summary, stderr = reencrypt_files(
        kms_server, root, target, source, "--concurrency", "4", "--progress"
    )
    assert code == 1
    assert summary["resumed"] == 10
    assert summary["reencrypted"] == summary["reencrypt_calls"] == 20
    assert summary["failed"] == 1
    assert summary["failures"][0]["path"] == "d1/garbage.enc"
    assert summary["failures"][0]["error"] == f"INVALID_ARGUMENT: {BAD_CIPHERTEXT}"
    assert "hsmkms: failed: d1/garbage.enc: INVALID_ARGUMENT" in stderr
    assert "31/31 files, 1 failed" in stderr  # the progress bar
    assert bad.read_bytes() == b"this is not a ciphertext at all"
    # the first run's files were not touched again
    for rel in first:
        assert (root / rel).read_bytes() == before[root / rel]

    for rel, plaintext in plaintexts.items():
        reply = decrypt(kms_crypto, target, (root / rel).read_bytes(), AAD.encode())
        assert reply.plaintext == plaintext and reply.version_id == target_primary
    assert len(state_records(root)) == 30
    assert no_temp_files(root)
    assert (root / "README.txt").read_text().startswith("not a ciphertext")

    code, summary, _ = reencrypt_files(kms_server, root, target, source)
    assert code == 1 and summary["resumed"] == 30 and summary["reencrypt_calls"] == 0


def test_reencrypt_files_after_a_crash(
    kms_server: DevServer, kms_crypto: crypto_grpc.SymmetricCryptoServiceStub, tmp_path: Path
) -> None:
    """SIGKILL mid-run: every file is whole, and the next run redoes nothing that was done."""
    source, target = new_key(kms_server)["id"], new_key(kms_server)["id"]
    root = tmp_path / "tree"
    plaintexts = make_tree(kms_crypto, root, source)
    state = tmp_path / "state.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hsmkms.cli", "kms", "reencrypt-files", str(root), "--id", target,
         "--source-key-id", source, "--aad-context", AAD, "--concurrency", "1",
         "--state-file", str(state), "--endpoint", kms_server.address],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists() and len(state.read_bytes().splitlines()) >= 3:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    done = {json.loads(line)["path"] for line in state.read_bytes().splitlines()}
    assert len(done) >= 3
    still_old = 0
    for rel, plaintext in plaintexts.items():
        data = (root / rel).read_bytes()
        try:
            reply = decrypt(kms_crypto, source, data, AAD.encode())
            still_old += 1
        except grpc.RpcError:
            reply = decrypt(kms_crypto, target, data, AAD.encode())
        assert reply.plaintext == plaintext
    assert still_old <= 30 - len(done)

    code, summary, stderr = reencrypt_files(
        kms_server, root, target, source, "--state-file", str(state)
    )
    assert code == 0, stderr
    assert summary["resumed"] == len(done)
    assert summary["reencrypt_calls"] == summary["reencrypted"] == still_old
    # replaced but not yet recorded when killed: found under the target key, not redone
    assert summary["already_current"] == 30 - len(done) - still_old
    for rel, plaintext in plaintexts.items():
        assert (
            decrypt(kms_crypto, target, (root / rel).read_bytes(), AAD.encode()).plaintext
            == plaintext
        )
    assert no_temp_files(root)


def test_reencrypt_files_within_one_key(
    kms_server: DevServer,
    kms_keys: key_grpc.SymmetricKeyServiceStub,
    kms_crypto: crypto_grpc.SymmetricCryptoServiceStub,
    tmp_path: Path,
) -> None:
    """Source key = target key: after a rotation, old versions move to the new primary."""
    key_id = new_key(kms_server)["id"]
    root = tmp_path / "tree"
    plaintexts = make_tree(kms_crypto, root, key_id, count=12)
    fresh = root / "fresh.enc"  # written after the rotation: already current
    kms_keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key_id))
    fresh.write_bytes(encrypt(kms_crypto, key_id, b"fresh", AAD.encode()).ciphertext)
    fresh_before = fresh.read_bytes()
    primary = kms_keys.Get(ks.GetSymmetricKeyRequest(key_id=key_id)).primary_version.id

    code, summary, stderr = reencrypt_files(kms_server, root, key_id, key_id)
    assert code == 0, stderr
    assert summary["reencrypted"] == summary["reencrypt_calls"] == 12
    assert summary["already_current"] == 1
    assert fresh.read_bytes() == fresh_before
    for rel, plaintext in plaintexts.items():
        reply = decrypt(kms_crypto, key_id, (root / rel).read_bytes(), AAD.encode())
        assert reply.plaintext == plaintext and reply.version_id == primary

    # without the state file every file is found current by Decrypt: nothing is re-encrypted
    (root / STATE_FILE_NAME).unlink()
    code, summary, _ = reencrypt_files(kms_server, root, key_id, key_id, "--format", "json")
    assert code == 0
    assert summary["already_current"] == 13 and summary["reencrypt_calls"] == 0


def test_reencrypt_files_details(
    kms_server: DevServer, kms_crypto: crypto_grpc.SymmetricCryptoServiceStub, tmp_path: Path
) -> None:
    """File modes are kept, stale temporary files removed, files already moved left alone."""
    source, target = new_key(kms_server)["id"], new_key(kms_server)["id"]
    root = tmp_path / "tree"
    make_tree(kms_crypto, root, source, count=3)
    (root / "file00.enc").chmod(0o640)
    stale = root / ".file00.enc.abcd1234.hsmkms-tmp"
    stale.write_bytes(b"left over by a killed run")
    # as if a run had replaced it and was killed before recording it
    moved = root / "moved.enc"
    moved.write_bytes(encrypt(kms_crypto, target, b"moved", AAD.encode()).ciphertext)
    moved_before = moved.read_bytes()

    code, summary, stderr = reencrypt_files(kms_server, root, target, source)
    assert code == 0, stderr
    assert summary["reencrypted"] == summary["reencrypt_calls"] == 3
    assert summary["already_current"] == 1 and moved.read_bytes() == moved_before
    assert summary["stale_temp_files_removed"] == 1 and not stale.exists()
    assert (root / "file00.enc").stat().st_mode & 0o777 == 0o640

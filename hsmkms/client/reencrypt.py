"""`hsmkms kms reencrypt-files`: re-wrap a tree of ciphertext files to a key's primary version.

Each file is handled on its own and is never overwritten before its new ciphertext is known good:

1. Decrypt the file with the source key (with the target key when it is already under it; a file
   under the target's primary version is left alone), keeping the plaintext in memory only.
2. ReEncrypt it to the target key; write the new ciphertext to a temporary file beside it, fsync.
3. Read the temporary file back and Decrypt it with the target key; the plaintext must equal the
   old one, and the file must not have changed meanwhile.
4. os.replace() the temporary file over the original, fsync the directory, and append a record
   (path, SHA-256 of the new contents, key and version) to the state file.

A later run skips files whose record still matches (same contents, same key, version still the
primary), so an interrupted run resumes where it stopped; files that fail are reported and left
untouched while the others proceed.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import hmac
import json
import os
import re
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import grpc

from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as crypto_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as key_service_pb
from hsmkms.client.connection import Client, ClientError
from hsmkms.client.files import TMP_SUFFIX, fsync_dir, write_temp

STATE_FILE_NAME = ".hsmkms-reencrypt-state.jsonl"
_STALE_TMP = re.compile(r"\..+\.[a-z0-9_]{8}" + re.escape(TMP_SUFFIX))
# Errors that no other file would escape: stop instead of failing every file the same way.
_FATAL = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


@dataclass(frozen=True)
class Job:
    target_key_id: str
    source_key_id: str
    root: Path
    pattern: str = "*"
    aad_context: bytes = b""
    source_aad_context: bytes = b""
    concurrency: int = 8
    state_file: Path | None = None
    limit: int | None = None


@dataclass
class Summary:
    files: int = 0
    resumed: int = 0
    reencrypted: int = 0
    already_current: int = 0
    skipped: int = 0
    remaining: int = 0
    reencrypt_calls: int = 0
    stale_temp_files_removed: int = 0
    interrupted: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self, job: Job, primary_version_id: str, state_file: Path) -> dict[str, Any]:
        return {
            "dir": str(job.root),
            "key_id": job.target_key_id,
            "primary_version_id": primary_version_id,
            "source_key_id": job.source_key_id,
            "state_file": str(state_file),
            "files": self.files,
            "reencrypted": self.reencrypted,
            "already_current": self.already_current,
            "resumed": self.resumed,
            "skipped": self.skipped,
            "failed": len(self.failures),
            "remaining": self.remaining,
            "reencrypt_calls": self.reencrypt_calls,
            "stale_temp_files_removed": self.stale_temp_files_removed,
            "interrupted": self.interrupted,
            "failures": [{"path": p, "error": e} for p, e in self.failures],
        }


class FileFailed(Exception):
    """One file could not be re-encrypted; it is left as it was."""


class StateFile:
    """Append-only JSON lines, one per finished file; a torn last line is ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._file: IO[bytes] = os.fdopen(fd, "a+b")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise ClientError(f"state file {path} is in use by another run") from None
        self._file.seek(0)
        content = self._file.read()
        self.records: dict[str, dict[str, str]] = {}
        for line in content.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("path"), str):
                self.records[record["path"]] = record
        if content and not content.endswith(b"\n"):
            self._file.write(b"\n")

    def finished(self, rel: str, sha256: str, key_id: str, version_id: str) -> bool:
        record = self.records.get(rel)
        return (
            record is not None
            and record.get("sha256") == sha256
            and record.get("key_id") == key_id
            and record.get("version_id") == version_id
        )

    def record(self, rel: str, sha256: str, key_id: str, version_id: str) -> None:
        line = {"path": rel, "sha256": sha256, "key_id": key_id, "version_id": version_id}
        data = json.dumps(line, sort_keys=True).encode() + b"\n"
        with self._lock:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class Progress:
    """A one-line text bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: IO[str], enabled: bool) -> None:
        self._total = total
        self._stream = stream
        self._enabled = enabled and total > 0
        self._last = 0.0

    def update(self, done: int, failed: int, final: bool = False) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = width * done // self._total
        bar = "#" * filled + "-" * (width - filled)
        failed_text = f", {failed} failed" if failed else ""
        self._stream.write(f"\r[{bar}] {done}/{self._total} files{failed_text}")
        if final:
            self._stream.write("\n")
        self._stream.flush()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.RpcError):
        return f"{exc.code().name}: {exc.details()}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}"
    return str(exc)


class Reencryptor:
    def __init__(self, client: Client, job: Job, primary_version_id: str, state: StateFile):
        self._client = client
        self._job = job
        self._primary = primary_version_id
        self._state = state
        self._lock = threading.Lock()
        self.reencrypt_calls = 0

    def _decrypt(self, key_id: str, ciphertext: bytes, aad: bytes) -> Any:
        request = crypto_pb.SymmetricDecryptRequest(
            key_id=key_id, ciphertext=ciphertext, aad_context=aad
        )
        return self._client.call(self._client.crypto.Decrypt, request)

    def _old_plaintext(self, ciphertext: bytes) -> tuple[str, Any]:
        """(key the file is under, its Decrypt response)."""
        job = self._job
        try:
            return job.source_key_id, self._decrypt(
                job.source_key_id, ciphertext, job.source_aad_context
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            if job.source_key_id == job.target_key_id:
                raise
            # Perhaps already moved (a run stopped between replacing the file and recording it).
            try:
                return job.target_key_id, self._decrypt(
                    job.target_key_id, ciphertext, job.aad_context
                )
            except grpc.RpcError:
                raise exc from None

    def process(self, path: Path, rel: str, old: bytes, before: os.stat_result) -> str:
        """Re-encrypt one file; returns "reencrypted" or "already_current"."""
        job = self._job
        source_key_id, old_plain = self._old_plaintext(old)
        if source_key_id == job.target_key_id and old_plain.version_id == self._primary:
            self._state.record(rel, _sha256(old), job.target_key_id, self._primary)
            return "already_current"
        source_aad = (
            job.source_aad_context if source_key_id == job.source_key_id else job.aad_context
        )
        request = crypto_pb.SymmetricReEncryptRequest(
            key_id=job.target_key_id,
            source_key_id=source_key_id,
            ciphertext=old,
            aad_context=job.aad_context,
            source_aad_context=source_aad,
        )
        with self._lock:
            self.reencrypt_calls += 1
        moved = self._client.call(self._client.crypto.ReEncrypt, request)
        tmp = write_temp(path, moved.ciphertext, stat.S_IMODE(before.st_mode))
        try:
            written = tmp.read_bytes()
            new_plain = self._decrypt(job.target_key_id, written, job.aad_context)
            if (
                new_plain.key_id != job.target_key_id
                or new_plain.version_id != moved.version_id
                or not hmac.compare_digest(new_plain.plaintext, old_plain.plaintext)
            ):
                raise FileFailed("verification failed: the new ciphertext does not decrypt")
            now = os.lstat(path)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (
                before.st_ino,
                before.st_size,
                before.st_mtime_ns,
            ):
                raise FileFailed("the file changed while it was being re-encrypted")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        fsync_dir(path.parent)
        self._state.record(rel, _sha256(written), job.target_key_id, moved.version_id)
        return "reencrypted"


def _walk(job: Job, state_path: Path, summary: Summary) -> Iterator[tuple[Path, str]]:
    """Regular files under the root matching the pattern, sorted; removes stale temp files."""
    state_resolved = state_path.resolve()
    for directory, dirnames, filenames in os.walk(job.root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory) / name
            if _STALE_TMP.fullmatch(name):
                with contextlib.suppress(OSError):
                    if stat.S_ISREG(path.lstat().st_mode):
                        path.unlink()
                        summary.stale_temp_files_removed += 1
                continue
            if not fnmatch.fnmatchcase(name, job.pattern) or path.resolve() == state_resolved:
                continue
            if not stat.S_ISREG(path.lstat().st_mode):
                summary.skipped += 1  # symlinks and special files are never followed
                continue
            yield path, path.relative_to(job.root).as_posix()


def run(client: Client, job: Job, progress_stream: IO[str], show_progress: bool) -> dict[str, Any]:
    if not job.root.is_dir():
        raise ClientError(f"{job.root}: not a directory")
    if not 1 <= job.concurrency <= 64:
        raise ClientError("--concurrency: must be between 1 and 64")
    if job.limit is not None and job.limit < 0:
        raise ClientError("--limit: must be 0 or more")
    request = key_service_pb.GetSymmetricKeyRequest(key_id=job.target_key_id)
    primary = client.call(client.keys.Get, request).primary_version.id
    state_path = job.state_file or job.root / STATE_FILE_NAME
    state = StateFile(state_path)
    summary = Summary()
    try:
        paths = list(_walk(job, state_path, summary))
        summary.files = len(paths)
        worker = Reencryptor(client, job, primary, state)
        _Scheduler(worker, job, state, primary, summary).run(
            paths, Progress(len(paths), progress_stream, show_progress)
        )
        summary.reencrypt_calls = worker.reencrypt_calls
    finally:
        state.close()
    summary.failures.sort()
    return summary.as_dict(job, primary, state_path)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set `stop` (files in flight finish; no new one starts)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            print("\nhsmkms: interrupted: finishing the files in flight", file=sys.stderr)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Scheduler:
    """Reads files in order, skips finished ones, keeps up to `concurrency` files in flight."""

    def __init__(
        self, worker: Reencryptor, job: Job, state: StateFile, primary: str, summary: Summary
    ) -> None:
        self._worker = worker
        self._job = job
        self._state = state
        self._primary = primary
        self._summary = summary
        self._stop = threading.Event()
        self._fatal = False
        self._submitted = 0
        self._done = 0

    def _next(self, queue: Iterator[tuple[Path, str]]) -> _Item | None:
        """The next file that needs work; counts the others on the way."""
        job, summary = self._job, self._summary
        for path, rel in queue:
            if self._stop.is_set():
                summary.remaining += 1
                continue
            try:
                before = path.lstat()
                data = path.read_bytes()
            except OSError as exc:
                summary.failures.append((rel, _describe(exc)))
                self._done += 1
                continue
            if self._state.finished(rel, _sha256(data), job.target_key_id, self._primary):
                summary.resumed += 1
                self._done += 1
            elif job.limit is not None and self._submitted >= job.limit:
                summary.remaining += 1
            else:
                self._submitted += 1
                return path, rel, data, before
        return None

    def run(self, paths: list[tuple[Path, str]], progress: Progress) -> None:
        summary = self._summary
        queue = iter(paths)
        running: dict[Future[str], str] = {}
        concurrency = self._job.concurrency
        with _stop_on_signals(self._stop), ThreadPoolExecutor(max_workers=concurrency) as pool:
            while True:
                while len(running) < concurrency:
                    item = self._next(queue)
                    if item is None:
                        break
                    running[pool.submit(self._worker.process, *item)] = item[1]
                progress.update(self._done, len(summary.failures))
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    rel = running.pop(future)
                    self._done += 1
                    exc = future.exception()
                    if exc is None:
                        if future.result() == "reencrypted":
                            summary.reencrypted += 1
                        else:
                            summary.already_current += 1
                        continue
                    summary.failures.append((rel, _describe(exc)))
                    if isinstance(exc, grpc.RpcError) and exc.code() in _FATAL:
                        self._fatal = True
                        self._stop.set()
        summary.interrupted = self._stop.is_set() and not self._fatal
        progress.update(self._done, len(summary.failures), final=True)


_Item = tuple[Path, str, bytes, os.stat_result]

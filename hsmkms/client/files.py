"""Reading inputs and writing outputs: `-` is stdin/stdout, files are replaced atomically."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

STDIO = "-"
# Temporary files are hidden siblings of their target: `.NAME.XXXXXXXX.hsmkms-tmp`.
TMP_SUFFIX = ".hsmkms-tmp"


def read_input(path: str) -> bytes:
    if path == STDIO:
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(target: Path, data: bytes, mode: int) -> Path:
    """`data` in a new, fsynced file beside `target` (created 0600, then given `mode`)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def write_output(path: str, data: bytes, *, secret: bool) -> None:
    """Write `data` to `path` (atomically) or stdout; a secret file gets mode 0600."""
    if path == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    mode = 0o600 if secret else 0o666 & ~_umask()
    tmp = write_temp(target, data, mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)

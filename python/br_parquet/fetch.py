"""Bringing one backup SST to where RocksDB can open it: checked against its `File` entry
(size and SHA-256 of the stored bytes), decrypted when the backup is encrypted.

SSTs up to `IN_MEMORY_MAX` bytes are kept in an anonymous in-memory file (Linux
`memfd`), opened through `/proc/self/fd`, and never touch the disk; larger ones are
streamed to a file in the given directory.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .crypto import Cipher
from .errors import ChecksumMismatchError, StorageError
from .proto import brpb_pb2 as brpb
from .storage import Storage

IN_MEMORY_MAX = 16 << 20
"""SSTs up to this many bytes are read from memory instead of a local file."""

_DECRYPT_CHUNK = 8 << 20
_MEMFD = sys.platform == "linux" and hasattr(os, "memfd_create")


@dataclass
class LocalSst:
    """An SST ready to open at `path`; `close()` releases its memory or file."""

    path: str
    size: int
    _fd: int | None = None

    @property
    def in_memory(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        else:
            Path(self.path).unlink(missing_ok=True)


def fetch_sst(storage: Storage, f: brpb.File, cipher: Cipher | None, directory: Path) -> LocalSst:
    """Fetch data file `f` of the backup in `storage` into memory or `directory`."""
    encrypted = cipher is not None and bool(f.cipher_iv)
    if _MEMFD and 0 < f.size <= IN_MEMORY_MAX:
        data = storage.get_bytes(f.name)
        _check(storage, f, hashlib.sha256(data).digest(), len(data))
        if encrypted:
            assert cipher is not None
            data = cipher.decrypt(data, bytes(f.cipher_iv))
        return _in_memory(f.name, data)
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="sst-", suffix=".sst", dir=directory)
    os.close(fd)
    path = Path(name)
    sha256, size = bytes(f.sha256) or None, f.size or None
    try:
        if not encrypted:
            storage.download_to(f.name, path, expected_sha256=sha256, expected_size=size)
        else:
            assert cipher is not None
            stored = path.with_name(path.name + ".stored")
            try:
                storage.download_to(f.name, stored, expected_sha256=sha256, expected_size=size)
                _decrypt_file(cipher, bytes(f.cipher_iv), stored, path)
            finally:
                stored.unlink(missing_ok=True)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return LocalSst(str(path), path.stat().st_size)


def _check(storage: Storage, f: brpb.File, digest: bytes, size: int) -> None:
    if f.size and size != f.size:
        raise StorageError(
            f"size mismatch for {f.name!r} in {storage.location}: expected {f.size} bytes, "
            f"got {size}",
            name=f.name,
            location=storage.location,
        )
    if f.sha256 and digest != bytes(f.sha256):
        raise ChecksumMismatchError(f.name, expected=bytes(f.sha256), actual=digest, what="object")


def _in_memory(name: str, data: bytes) -> LocalSst:
    fd = os.memfd_create(f"sst:{os.path.basename(name)}"[:240], os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        raise
    return LocalSst(f"/proc/self/fd/{fd}", len(data), fd)


def _decrypt_file(cipher: Cipher, iv: bytes, src: Path, dst: Path) -> None:
    """AES-CTR-decrypts an SST as TiKV encrypted it (its own IV), in bounded chunks."""
    ctx = cipher.context(iv)
    with src.open("rb") as inp, dst.open("wb") as out:
        while chunk := inp.read(_DECRYPT_CHUNK):
            out.write(ctx.update(chunk))
        out.write(ctx.finalize())

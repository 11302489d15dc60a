"""Bringing one backup SST to where RocksDB can open it: checked against its `File` entry
(size and SHA-256 of the stored bytes), decrypted when the backup is encrypted.

A plaintext SST on local storage is read in place, after its checksum is verified. Other
SSTs up to `IN_MEMORY_MAX` bytes are kept in an anonymous in-memory file (Linux `memfd`),
opened through `/proc/self/fd`, and never touch the disk; larger ones are streamed to a
file in the given directory.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .crypto import Cipher
from .errors import (
    ChecksumMismatchError,
    MissingInputError,
    ObjectNotFoundError,
    SizeMismatchError,
    StorageError,
)
from .proto import brpb_pb2 as brpb
from .storage import Sink, Storage

IN_MEMORY_MAX = 16 << 20
"""SSTs up to this many bytes are read from memory instead of a local file."""

_DECRYPT_CHUNK = 8 << 20
_HASH_CHUNK = 1 << 20
_MEMFD = sys.platform == "linux" and hasattr(os, "memfd_create")


@dataclass
class LocalSst:
    """An SST ready to open at `path`; `close()` releases its memory or file."""

    path: str
    size: int
    _fd: int | None = None
    owned: bool = True
    """False for a file of the backup itself, read in place: never removed."""

    @property
    def in_memory(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        elif self.owned:
            Path(self.path).unlink(missing_ok=True)


def fetch_sst(storage: Storage, f: brpb.File, cipher: Cipher | None, directory: Path) -> LocalSst:
    """Fetch data file `f` of the backup in `storage` into memory or `directory`."""
    try:
        return _fetch(storage, f, cipher, directory)
    except ObjectNotFoundError as e:
        # A file the backupmeta lists is missing: the backup is incomplete.
        raise MissingInputError(f.name, location=storage.location) from e


def _fetch(storage: Storage, f: brpb.File, cipher: Cipher | None, directory: Path) -> LocalSst:
    encrypted = cipher is not None and bool(f.cipher_iv)
    in_place = None if encrypted else storage.local_file(f.name)
    if in_place is not None:
        digest, size = _file_sha256(storage, f.name, in_place)
        _check(storage, f, digest, size)
        return LocalSst(str(in_place), size, owned=False)
    if _MEMFD and 0 < f.size <= IN_MEMORY_MAX:
        return _in_memory(storage, f, cipher if encrypted else None)
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="sst-", suffix=".sst", dir=directory)
    os.close(fd)
    path = Path(name)
    sha256, expected_size = bytes(f.sha256) or None, f.size or None
    try:
        if not encrypted:
            storage.download_to(f.name, path, expected_sha256=sha256, expected_size=expected_size)
        else:
            assert cipher is not None
            stored = path.with_name(path.name + ".stored")
            try:
                storage.download_to(
                    f.name, stored, expected_sha256=sha256, expected_size=expected_size
                )
                _decrypt_file(cipher, bytes(f.cipher_iv), stored, path)
            finally:
                stored.unlink(missing_ok=True)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return LocalSst(str(path), path.stat().st_size)


def _file_sha256(storage: Storage, name: str, path: Path) -> tuple[bytes, int]:
    hasher = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise ObjectNotFoundError(name, location=storage.location) from None
    except OSError as e:
        raise StorageError(f"cannot read {path}: {e}", name=name, location=storage.location) from e
    return hasher.digest(), size


def _check(storage: Storage, f: brpb.File, digest: bytes, size: int) -> None:
    if f.size and size != f.size:
        raise SizeMismatchError(f.name, expected=f.size, actual=size, location=storage.location)
    if f.sha256 and digest != bytes(f.sha256):
        raise ChecksumMismatchError(f.name, expected=bytes(f.sha256), actual=digest, what="object")


def _in_memory(storage: Storage, f: brpb.File, cipher: Cipher | None) -> LocalSst:
    """Streams SST `f` into a memfd, decrypting on the way; checked over the stored bytes."""
    fd = os.memfd_create(f"sst:{os.path.basename(f.name)}"[:240], os.MFD_CLOEXEC)
    try:
        with os.fdopen(fd, "wb", closefd=False) as raw:
            out: Sink = raw if cipher is None else _Decrypting(raw, cipher, bytes(f.cipher_iv))
            digest, size = storage.stream_to(f.name, out)
        _check(storage, f, digest, size)
    except BaseException:
        os.close(fd)
        raise
    return LocalSst(f"/proc/self/fd/{fd}", size, fd)


class _Decrypting:
    """A sink that AES-CTR-decrypts what it is given into `out`."""

    def __init__(self, out: Sink, cipher: Cipher, iv: bytes) -> None:
        self._out = out
        self._ctx = cipher.context(iv)

    def write(self, data: bytes, /) -> int:
        self._out.write(self._ctx.update(data))
        return len(data)


def _decrypt_file(cipher: Cipher, iv: bytes, src: Path, dst: Path) -> None:
    """AES-CTR-decrypts an SST as TiKV encrypted it (its own IV), in bounded chunks."""
    ctx = cipher.context(iv)
    with src.open("rb") as inp, dst.open("wb") as out:
        while chunk := inp.read(_DECRYPT_CHUNK):
            out.write(ctx.update(chunk))
        out.write(ctx.finalize())

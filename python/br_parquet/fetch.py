"""Bringing one backup SST to where RocksDB can open it: checked against its `File` entry
(size and SHA-256 of the stored bytes), decrypted when the backup is encrypted.

A plaintext SST on local storage is read in place: its size is checked at once and its
SHA-256 computed on a thread of its own while it is decoded (`LocalSst.verify` waits for
it), so the file is read once from disk. Other SSTs are hashed as they stream in: those
up to `IN_MEMORY_MAX` bytes are kept in an anonymous in-memory file (Linux `memfd`),
opened through `/proc/self/fd`, and never touch the disk; larger ones are streamed to a
file in the given directory.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
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
    """An SST ready to open at `path`; `verify()` raises if its bytes do not match its
    `File` entry, `close()` releases its memory or file."""

    path: str
    size: int
    _fd: int | None = None
    owned: bool = True
    """False for a file of the backup itself, read in place: never removed."""
    _check: _BackgroundCheck | None = None
    """The checksum of a file read in place, still being computed."""

    @property
    def in_memory(self) -> bool:
        return self._fd is not None

    def verify(self) -> None:
        """Waits until the file's checksum is known; raises `ChecksumMismatchError` (or
        the error that stopped the reading) if it does not match. Done at once for
        files checked as they were fetched."""
        if self._check is not None:
            self._check.wait()

    def failed(self) -> bool:
        """Whether the file is already known not to match (`verify` raises at once)."""
        return self._check is not None and self._check.failed()

    def close(self) -> None:
        if self._check is not None:
            self._check.cancel()
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
        check = _BackgroundCheck(storage, f, in_place)
        return LocalSst(str(in_place), check.size, owned=False, _check=check)
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


class _BackgroundCheck:
    """The size of a local file checked at once, its SHA-256 on a thread of its own:
    `hashlib` and file reads release the GIL, so this overlaps the decoding of the same
    file (which then finds its pages in the page cache)."""

    def __init__(self, storage: Storage, f: brpb.File, path: Path) -> None:
        self._storage = storage
        self._f = f
        self._path = path
        try:
            self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the thread
            self.size = os.fstat(self._file.fileno()).st_size
        except FileNotFoundError:
            raise ObjectNotFoundError(f.name, location=storage.location) from None
        except OSError as e:
            raise self._read_error(e) from e
        if f.size and self.size != f.size:
            self._file.close()
            raise SizeMismatchError(
                f.name, expected=f.size, actual=self.size, location=storage.location
            )
        self._stop = threading.Event()
        self._digest: bytes | None = None
        self._hashed = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sst-sha256", daemon=True)
        self._thread.start()

    def _read_error(self, e: OSError) -> StorageError:
        return StorageError(
            f"cannot read {self._path}: {e}", name=self._f.name, location=self._storage.location
        )

    def _run(self) -> None:
        hasher = hashlib.sha256()
        buffer = bytearray(_HASH_CHUNK)
        view = memoryview(buffer)
        try:
            with self._file:
                while not self._stop.is_set():
                    n = self._file.readinto(buffer)
                    if not n:
                        break
                    hasher.update(view[:n])
                    self._hashed += n
            self._digest = hasher.digest()
            if not self._stop.is_set():
                _check(self._storage, self._f, self._digest, self._hashed)
        except OSError as e:
            self._error = self._read_error(e)
        except BaseException as e:
            self._error = e

    def failed(self) -> bool:
        return self._error is not None

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()


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

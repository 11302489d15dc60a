"""A bounded local cache of a backup's SSTs, so that scanning a table again (other
columns, another handle range) does not download its SSTs again.

Each SST is fetched once (`fetch.fetch_sst`: checked, decrypted, small ones kept in
memory) and pinned while a scan reads it; unpinned SSTs are dropped, least recently
used first, whenever the cache holds more than `max_bytes` on disk or
`MEMORY_CACHE_BYTES` in memory.

The cache folder is private (mode 0700) and removed by `close()`, else when the cache is
garbage-collected or the interpreter exits; an export that was killed leaves it to the
next export, which removes the temp folders of dead processes.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .crypto import Cipher
from .fetch import LocalSst, fetch_sst
from .interrupt import make_temp_dir, remove_temp_dir
from .proto import brpb_pb2 as brpb
from .storage import Storage

DEFAULT_CACHE_BYTES = 2 << 30
"""Bytes of unpinned SSTs a backup keeps on local disk by default."""
MEMORY_CACHE_BYTES = 64 << 20
"""Bytes of unpinned small SSTs kept in memory: small, so that the memory of a scan
does not grow with the backup."""


@dataclass
class CacheStats:
    """What the cache did since the backup was opened."""

    downloads: int = 0
    """SSTs fetched from the storage."""
    downloaded_bytes: int = 0
    hits: int = 0
    """Scans of an SST served from the cache."""
    evictions: int = 0


@dataclass
class _Entry:
    ready: threading.Event = field(default_factory=threading.Event)
    local: LocalSst | None = None
    error: BaseException | None = None
    pins: int = 0


class SstCache:
    """The cache of one backup's SSTs; thread-safe."""

    def __init__(
        self,
        storage: Storage,
        cipher: Cipher | None,
        *,
        directory: str | None = None,
        max_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self._storage = storage
        self._cipher = cipher
        self._parent = directory
        self._directory: Path | None = None
        self._cleanup: weakref.finalize[[Path], SstCache] | None = None
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    @contextmanager
    def open(self, f: brpb.File) -> Iterator[str]:
        """The local path of SST `f`, fetched if needed, pinned while the block runs."""
        with self._lock:
            entry = self._entries.get(f.name)
            fetch = entry is None
            if entry is None:
                entry = self._entries[f.name] = _Entry()
            else:
                self._entries.move_to_end(f.name)
                self.stats.hits += 1
            entry.pins += 1
        try:
            if fetch:
                self._fetch(f, entry)
            entry.ready.wait()
            if entry.error is not None:
                raise entry.error
            assert entry.local is not None
            yield entry.local.path
        finally:
            with self._lock:
                entry.pins -= 1
                self._evict()

    def _fetch(self, f: brpb.File, entry: _Entry) -> None:
        try:
            entry.local = fetch_sst(self._storage, f, self._cipher, self._folder())
            with self._lock:
                self.stats.downloads += 1
                self.stats.downloaded_bytes += f.size
        except BaseException as e:
            entry.error = e
            with self._lock:
                self._entries.pop(f.name, None)  # a later scan tries again
            raise
        finally:
            entry.ready.set()

    def _folder(self) -> Path:
        with self._lock:
            if self._directory is None:
                self._directory = make_temp_dir("cache", self._parent)
                self._cleanup = weakref.finalize(self, remove_temp_dir, self._directory)
            return self._directory

    def _evict(self) -> None:
        """Drops unpinned SSTs, oldest first, while over budget. Holds the lock."""
        budget = {True: min(self.max_bytes, MEMORY_CACHE_BYTES), False: self.max_bytes}
        held = {True: 0, False: 0}
        for e in self._entries.values():
            if e.local is not None:
                held[e.local.in_memory] += e.local.size
        for name in list(self._entries):
            entry = self._entries[name]
            local = entry.local
            if entry.pins or local is None or held[local.in_memory] <= budget[local.in_memory]:
                continue
            held[local.in_memory] -= local.size
            local.close()
            del self._entries[name]
            self.stats.evictions += 1

    def clear(self) -> None:
        """Drops every unpinned SST."""
        with self._lock:
            budget, self.max_bytes = self.max_bytes, -1
            self._evict()
            self.max_bytes = budget

    def close(self) -> None:
        """Drops every SST and removes the cache folder."""
        self.clear()
        with self._lock:
            if self._cleanup is not None:
                self._cleanup()
                self._cleanup = None
                self._directory = None

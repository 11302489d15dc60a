"""Writing SST files through the native module (the only place that calls it).

The native module writes a RocksDB block-based table the way TiKV's backup writer does.
Everything else in `br_parquet.testing` is pure Python.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal, Protocol, cast

__all__ = ["Compression", "native_available", "write_sst"]

Compression = Literal["zstd", "lz4", "snappy"]
_NATIVE_MODULE = "br_parquet._native"


class _NativeSstWriter(Protocol):
    def write_sst(
        self,
        path: str,
        entries: list[tuple[bytes, bytes]],
        *,
        compression: str = "zstd",
        whole_key_filtering: bool = True,
    ) -> int: ...


def _native() -> _NativeSstWriter:
    return cast(_NativeSstWriter, importlib.import_module(_NATIVE_MODULE))


def native_available() -> bool:
    """Whether the native module (needed to write SSTs) can be imported."""
    try:
        _native()
    except ImportError:
        return False
    return True


def write_sst(
    path: Path,
    entries: list[tuple[bytes, bytes]],
    *,
    compression: Compression = "zstd",
    whole_key_filtering: bool = True,
) -> int:
    """Write `entries` (user keys strictly ascending) as an SST at `path`; return its size.

    TiKV's default CF filters on whole keys; its write CF does not (it uses a prefix
    extractor that drops the timestamp), hence the flag.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    return _native().write_sst(
        str(path), entries, compression=compression, whole_key_filtering=whole_key_filtering
    )

"""Type stubs of the native core (`rust/python`)."""

import os
from typing import final

import pyarrow as pa

__all__ = [
    "NativeError",
    "RowDecodeError",
    "SchemaError",
    "SstReadError",
    "SstReader",
    "SstScan",
    "TableDecoder",
    "__version__",
    "crc64_xz",
    "write_sst",
]

__version__: str

class NativeError(Exception): ...
class SstReadError(NativeError): ...
class RowDecodeError(NativeError): ...
class SchemaError(NativeError): ...

def crc64_xz(data: bytes) -> int:
    """CRC-64/XZ of `data`, the per-KV hash of TiKV's backup checksums."""

def write_sst(
    path: str | os.PathLike[str],
    entries: list[tuple[bytes, bytes]],
    *,
    compression: str = "zstd",
    whole_key_filtering: bool = True,
    format_version: int = 2,
) -> int:
    """Writes strictly ascending `entries` to a new SST; returns its size in bytes."""

@final
class SstReader:
    """A standalone SST file opened through RocksDB's `SstFileReader`."""

    def __new__(cls, path: str | os.PathLike[str]) -> SstReader: ...
    @property
    def path(self) -> str: ...
    @property
    def num_entries(self) -> int: ...
    def verify_checksum(self) -> None: ...
    def properties(self) -> dict[str, bytes]: ...
    def scan(self) -> tuple[int, int, int]: ...
    def entries(self) -> list[tuple[bytes, bytes]]: ...

@final
class TableDecoder:
    """A table's output schema, derived from its TiDB `TableInfo` JSON."""

    def __new__(cls, table_info_json: bytes, type_mapping: str = "compat") -> TableDecoder: ...
    @property
    def table_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def physical_ids(self) -> list[int]: ...
    @property
    def type_mapping(self) -> str: ...
    def arrow_schema(self) -> pa.Schema: ...

@final
class SstScan:
    """Decodes one backup SST into `(table index, pyarrow.RecordBatch)` pairs."""

    def __new__(
        cls,
        write_sst: str | os.PathLike[str],
        tables: list[TableDecoder],
        *,
        default_sst: str | os.PathLike[str] | None = None,
        name: str | None = None,
        batch_rows: int = 8192,
    ) -> SstScan: ...
    def __iter__(self) -> SstScan: ...
    def __next__(self) -> tuple[int, pa.RecordBatch]: ...
    def stats(self) -> dict[str, int]: ...

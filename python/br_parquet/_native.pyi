"""Type stubs of the native core (`rust/python`)."""

import os
from collections.abc import Sequence
from typing import final

import pyarrow as pa

__all__ = [
    "SstReader",
    "SstScan",
    "TableDecoder",
    "__version__",
    "crc64_xz",
    "write_sst",
]

__version__: str

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
    """A table's output schema, derived from its TiDB `TableInfo` JSON.

    `type_mapping` is `"compat"` or `"typed"`. Batches hold `_tidb_table_id`,
    `_tidb_handle`, then the change columns that are on, then every public column in
    definition order, unless projected.

    Change columns: `op_column` adds `_tidb_op` (utf8, `put` or `delete`) and makes
    scans emit a tombstone row for each Delete record (the key columns set, every table
    column NULL, so every table column is nullable); `commit_ts_column` adds
    `_tidb_commit_ts` (int64, the commit ts of the row's write record).
    """

    def __new__(
        cls,
        table_info_json: bytes,
        type_mapping: str,
        *,
        op_column: bool = False,
        commit_ts_column: bool = False,
    ) -> TableDecoder:
        """Raises `br_parquet.errors.TableInfoError` (with `table`, `table_id`, `column`)
        when the TableInfo cannot be mapped: invalid JSON, unknown type code, duplicate
        column IDs or names, lengths beyond MySQL's limits, a table column named like a
        change column that is on."""
    def project(self, columns: Sequence[str]) -> TableDecoder:
        """A decoder of the same table whose batches hold only `columns`, in that order.

        Names are output column names; `_tidb_table_id`, `_tidb_handle` and the change
        columns that are on are included only when named. Unnamed columns are never
        decoded. Always chosen from the whole table, also on a projected decoder; the
        change options are kept (with `op_column`, Delete records still give tombstone
        rows when `_tidb_op` is not named). ValueError on an empty list, a duplicate or
        an unknown name (the message lists the available names).
        """
    @property
    def table_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def physical_ids(self) -> list[int]: ...
    @property
    def type_mapping(self) -> str: ...
    @property
    def column_names(self) -> list[str]:
        """The table's public column names in definition order (no pseudo columns)."""
    @property
    def op_column(self) -> bool:
        """Whether `_tidb_op` can be output and Delete records become tombstone rows."""
    @property
    def commit_ts_column(self) -> bool:
        """Whether `_tidb_commit_ts` can be output."""
    @property
    def clustered(self) -> bool:
        """Whether rows are keyed by a clustered (common) handle."""
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of every batch of this decoder (its projection, if any)."""

@final
class SstScan:
    """Decodes one backup SST into `(table index, pyarrow.RecordBatch)` pairs.

    `batch_rows` is the number of rows per batch (the last one of a table may hold
    fewer). `handle_range=(lo, hi)` keeps only rows with `lo <= handle < hi` (`None`: no
    bound); it needs integer handles: ValueError if a table is clustered. `name` and
    `default_name` are how errors name the files (their names in the backup);
    `key_range=(start, end)` is the write-CF file's raw-key range from its `File` entry
    (empty end: unbounded), and a key outside it is an error. `clip_range=(start, end)`,
    in the same raw-key form, decodes only the entries inside it; the others are skipped
    (counted in `clipped`), still covered by `checksums`. Iterating releases the GIL.

    Errors are `br_parquet.errors.SstReadError` (RocksDB cannot read a file) and
    `SstDecodeError` (a key, record or row does not decode), with `sst`, `key` (hex)
    and `column`.
    """

    def __new__(
        cls,
        write_sst: str | os.PathLike[str],
        tables: list[TableDecoder],
        *,
        batch_rows: int,
        default_sst: str | os.PathLike[str] | None = None,
        name: str | None = None,
        default_name: str | None = None,
        key_range: tuple[bytes, bytes] | None = None,
        handle_range: tuple[int | None, int | None] | None = None,
        checksums: bool = False,
        clip_range: tuple[bytes, bytes] | None = None,
    ) -> SstScan: ...
    def __iter__(self) -> SstScan: ...
    def __next__(self) -> tuple[int, pa.RecordBatch]: ...
    def checksums(self) -> dict[str, tuple[int, int, int]] | None:
        """The files' TiKV checksums `(crc64xor, total_kvs, total_bytes)` keyed `write`
        and, with a default-CF file, `default`; None unless opened with `checksums=True`
        and iterated to the end."""
    def table_rows(self) -> list[int]:
        """Rows emitted so far per table, indexed like `tables`."""
    def stats(self) -> dict[str, int]:
        """Counters: `write_kvs`, `rows` (tombstones included), `index_kvs`,
        `unselected_kvs`, `deletes` (Delete records, emitted or skipped), `delete_rows`
        (tombstone rows emitted), `locks_and_rollbacks`, `default_cf_values`,
        `zero_dates_nulled`, `out_of_range` (entries skipped by `handle_range`),
        `clipped` (entries skipped by `clip_range`)."""

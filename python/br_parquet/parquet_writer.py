"""Parquet files with the original design's writer settings.

Dictionary encoding on, page-level statistics (column index), row groups of
exactly `row_group_size` rows (the last one may be shorter), a writer batch
size of min(max(row_group_size, 1024), 8192), and the chosen codec.

Rows are in key order, which is `(_tidb_table_id, _tidb_handle)` order (integer handles
are keyed sign-flipped, so as signed numbers; common handles as their bytes): every row
group's `sorting_columns` says so, for engines that skip a sort.

The file is hashed (SHA-256) as it is written, so that its digest needs no second read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# `--compression` names → pyarrow codec names. pyarrow writes LZ4 as the
# LZ4_RAW Parquet codec (the legacy Hadoop-framed LZ4 is deprecated by the
# format), so `lz4` and `lz4raw` produce the same files.
CODECS: dict[str, str] = {
    "snappy": "snappy",
    "zstd": "zstd",
    "gzip": "gzip",
    "brotli": "brotli",
    "lz4": "lz4",
    "lz4raw": "lz4",
    "none": "none",
}


SORTED_BY = ("_tidb_table_id", "_tidb_handle")
"""The columns every file is sorted by, ascending (see the module doc)."""
_MIN_WRITE_BATCH = 1024
_MAX_WRITE_BATCH = 8192
_SINK_BUFFER = 1 << 20
"""Bytes pyarrow gathers before it hands them to the hashing file: each hand-over takes
the GIL, so they must be few and large."""


@dataclass(frozen=True)
class ParquetOptions:
    """The writer settings of the export's options (`ExportOptions` holds the defaults)."""

    row_group_size: int
    compression: str

    def __post_init__(self) -> None:
        if self.row_group_size < 1:
            raise ValueError(f"row group size must be at least 1, got {self.row_group_size}")
        if self.compression not in CODECS:
            raise ValueError(
                f"unknown compression {self.compression!r}; expected one of {', '.join(CODECS)}"
            )

    @property
    def write_batch_size(self) -> int:
        return min(max(self.row_group_size, _MIN_WRITE_BATCH), _MAX_WRITE_BATCH)

    def open_writer(self, sink: str | pa.NativeFile, schema: pa.Schema) -> pq.ParquetWriter:
        """A pyarrow writer of `schema` into `sink` with these settings."""
        sorted_by = [
            pq.SortingColumn(schema.get_field_index(name))
            for name in SORTED_BY
            if schema.get_field_index(name) >= 0
        ]
        return pq.ParquetWriter(
            sink,
            schema,
            compression=CODECS[self.compression],
            use_dictionary=True,
            write_statistics=True,
            write_page_index=True,
            write_batch_size=self.write_batch_size,
            sorting_columns=sorted_by or None,
        )


class ParquetFileWriter:
    """Writes record batches of one schema to a local Parquet file, hashing it on the way.

    `schema` is the file's; batches whose types differ from it (a dictionary column
    written as plain strings) are cast to it, while field metadata (Iceberg field IDs)
    needs no cast: the writer takes it from `schema`."""

    def __init__(self, path: Path, schema: pa.Schema, options: ParquetOptions) -> None:
        self.path = path
        self.options = options
        self.rows = 0
        self._schema = schema
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._file = _HashingFile(path)
        try:
            self._stream = pa.output_stream(self._file, buffer_size=_SINK_BUFFER)
            self._writer = options.open_writer(self._stream, schema)
        except BaseException:
            self._file.close()
            path.unlink(missing_ok=True)
            raise

    @property
    def size(self) -> int:
        """Bytes written so far (all of the file's once `close` returned)."""
        return self._file.size

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes written so far (the file's once `close` returned)."""
        return self._file.hexdigest()

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if not batch.schema.equals(self._schema):
            batch = batch.cast(self._schema)
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        size = self.options.row_group_size
        while self._pending_rows >= size:
            self._flush(size)

    def end_row_group(self) -> int:
        """Writes the pending rows as a (possibly short) row group and flushes them into
        the file; returns `size`, then exact but for the footer."""
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._stream.flush()
        return self.size

    def close(self) -> int:
        """Writes the last (possibly short) row group; returns the row count."""
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()
        self._stream.close()  # flushes pyarrow's buffer into the file, then closes it
        return self.rows

    def abort(self) -> None:
        """Closes and removes the file (also when it failed half-way through a write)."""
        try:
            self._writer.close()
            self._stream.close()
        except Exception:
            pass  # the file is removed either way
        finally:
            self._file.close()
            self.path.unlink(missing_ok=True)

    def _flush(self, rows: int) -> None:
        # One write_table call per row group: pyarrow never merges calls.
        if len(self._pending) == 1 and self._pending_rows == rows:
            table = pa.Table.from_batches(self._pending)
            self._pending = []
        else:
            both = pa.Table.from_batches(self._pending)
            table = both.slice(0, rows)
            self._pending = both.slice(rows).to_batches()
        self._writer.write_table(table, row_group_size=rows)
        self._pending_rows -= rows
        self.rows += rows


class _HashingFile:
    """A binary file open for writing that feeds SHA-256 with every byte written."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._hasher = hashlib.sha256()
        self.size = 0

    @property
    def closed(self) -> bool:
        return self._file.closed

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        # Both release the GIL for buffers of this size.
        self._hasher.update(data)
        written = self._file.write(data)
        self.size += written
        return written

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()

"""Parquet files with the original design's writer settings.

Dictionary encoding on, page-level statistics (column index), row groups of
exactly `row_group_size` rows (the last one may be shorter), a writer batch
size of min(max(row_group_size, 1024), 8192), and the chosen codec.
"""

from __future__ import annotations

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


_MIN_WRITE_BATCH = 1024
_MAX_WRITE_BATCH = 8192


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


class ParquetFileWriter:
    """Writes record batches of one schema to a local Parquet file."""

    def __init__(self, path: Path, schema: pa.Schema, options: ParquetOptions) -> None:
        self.path = path
        self.options = options
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(
            str(path),
            schema,
            compression=CODECS[options.compression],
            use_dictionary=True,
            write_statistics=True,
            write_page_index=True,
            write_batch_size=options.write_batch_size,
        )

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        size = self.options.row_group_size
        while self._pending_rows >= size:
            self._flush(size)

    def close(self) -> int:
        """Writes the last (possibly short) row group; returns the row count."""
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()
        return self.rows

    def abort(self) -> None:
        self._writer.close()
        self.path.unlink(missing_ok=True)

    def _flush(self, rows: int) -> None:
        # One write_table call per row group: pyarrow never merges calls.
        table = pa.Table.from_batches(self._pending).slice(0, rows)
        self._writer.write_table(table, row_group_size=rows)
        rest = pa.Table.from_batches(self._pending).slice(rows)
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows
        self.rows += rows

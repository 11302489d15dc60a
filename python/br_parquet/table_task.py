"""One table's rows in files of about a target size (`--target-file-size`): the rolling
per-table task, as a plain picklable value, and `run_table_task`.

The task reads the table's SSTs in key order, one at a time (fetched, decoded with only
the table's decoder, checked), and appends their rows to one open Parquet file. Files
are closed only between SSTs, and whether to close depends only on the bytes (the file's
size and the sizes of the SSTs), never on timing, so the files of a table are the same
in every run: a run resumed after the last recorded file makes the same remaining files,
byte for byte. Each SST's rows end its row group, so a file's row groups are those of
the one-file-per-SST layout, and its size is exact (but for the footer) when it is
measured.

The closing rule, after SST k when a file is open (`size` its bytes plus an estimate of
its footer, `FOOTER_CHUNK_BYTES` a column chunk; `est` the bytes SST k+1 would add at the
file's ratio of bytes written to SST bytes read): close when
`size >= target`, or when `size >= 0.8 * target` and adding SST k+1 would either pass
`1.2 * target` or end farther from the target than now. The close itself waits for the
next row: when no SST after k has a row of the table, the file extends to the last SST,
so that the last file's group always ends with the task's last SST (a resumed run knows
a table is finished from its files alone).

A file of SSTs `first` … `last` is `{first_stem}__{last_stem}.parquet`; its checkpoint
entry records the group (first and last SST, their count), once it is uploaded.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ._native import SstScan
from .checkpoint import EntryWriter
from .crashpoints import task_delay, task_gate
from .decode_ahead import DEFAULT_AHEAD, DecodeAhead, spare_cores
from .errors import VerificationError
from .fetch import LocalSst, fetch_sst
from .interrupt import make_temp_dir, remove_temp_dir
from .naming import group_object_name
from .options import ExportOptions
from .parquet_writer import ParquetFileWriter
from .plan import SstTask, TableUnit
from .proto import brpb_pb2 as brpb
from .storage import shared_storage
from .tables import Table
from .task import Clock, TaskResult, _raise_input_mismatch, publish_objects
from .verify import check_files
from .written import WrittenObject

LOW = 0.8
HIGH = 1.2
"""The band around the target that files (but each table's last) are meant to fall in."""
FOOTER_CHUNK_BYTES = 160
"""The footer bytes a column chunk (a column of a row group) is counted with before the
file is closed: its metadata, statistics and page index (about 100 to 250 bytes)."""


@dataclass(frozen=True)
class TableTask:
    """Everything one table task needs; no native object, so it pickles."""

    unit: TableUnit
    table: Table
    input: brpb.StorageBackend
    output: brpb.StorageBackend
    options: ExportOptions
    checkpoint: EntryWriter | None
    file_schema: pa.Schema | None = None
    """The Parquet schema when it is not the table's (Iceberg field IDs)."""

    @property
    def name(self) -> str:
        return self.unit.name

    @property
    def size(self) -> int:
        """Bytes of the SSTs it still reads."""
        return self.unit.size

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.table,)


def _close_fetched(ahead: Future[list[LocalSst]]) -> None:
    """Waits for a fetch no longer wanted and releases what it fetched."""
    try:
        fetched = ahead.result()
    except BaseException:
        return  # the error that stopped the task is the one raised
    for f in fetched:
        f.close()


def should_close(size: int, ratio: float, next_sst: int, target: int) -> bool:
    """Whether a file of `size` bytes closes before the next SST of `next_sst` bytes,
    which would add about `ratio * next_sst` bytes (see the module doc)."""
    if size >= target:
        return True
    if size < LOW * target:
        return False
    after = size + ratio * next_sst
    return after > HIGH * target or abs(after - target) > abs(size - target)


def run_table_task(task: TableTask, workdir: str | None = None) -> TaskResult:
    """Does `task` in a private folder under `workdir`, removed afterwards."""
    tmp = make_temp_dir("table", workdir)
    try:
        return _TableRun(task, tmp).run()
    finally:
        remove_temp_dir(tmp)


class _OpenFile:
    """The file being written: its writer and its group so far."""

    def __init__(self, writer: ParquetFileWriter, first: int) -> None:
        self.writer = writer
        self.first = first
        self.input_bytes = 0
        """Bytes of the group's SSTs read so far."""
        self.row_groups = 0


class _TableRun:
    def __init__(self, task: TableTask, tmp: Path) -> None:
        self.task = task
        self.tmp = tmp
        self.clock = Clock()
        self.options = task.options
        self.target = task.options.target_bytes or 1
        self.source = shared_storage(task.input, task.options.storage)
        self.output = shared_storage(task.output, task.options.storage)
        self.schema = task.file_schema or task.table.output_decoder(task.options).arrow_schema()
        self.stats: Counter[str] = Counter()
        self.published: list[WrittenObject] = []
        self.input_bytes = 0
        self.file: _OpenFile | None = None
        self.next_first = task.unit.start
        """The first SST of the next file."""
        self.close_after: int | None = None
        """The SST after which the open file closes, once another row comes."""

    def run(self) -> TaskResult:
        task_delay()
        task_gate()
        ssts = self.task.unit.ssts
        # The next SST is fetched while this one is decoded: one task may be a whole table.
        with ThreadPoolExecutor(1, thread_name_prefix="sst-fetch") as pool:
            start = self.task.unit.start
            ahead = pool.submit(self._fetch, ssts[start]) if start < len(ssts) else None
            try:
                for k in range(start, len(ssts)):
                    assert ahead is not None
                    started = time.monotonic()
                    fetched = ahead.result()
                    self.clock.lap("download", started)
                    ahead = pool.submit(self._fetch, ssts[k + 1]) if k + 1 < len(ssts) else None
                    self._export_sst(k, ssts[k], fetched)
                if self.file is not None:
                    self._finish(len(ssts) - 1)
            except BaseException:
                if self.file is not None:
                    self.file.writer.abort()
                if ahead is not None and not ahead.cancel():
                    _close_fetched(ahead)
                raise
        if not self.published and self.task.unit.start == 0:
            publish_objects(self.task.name, None, self.task.checkpoint, self.output, [], self.clock)
        return TaskResult(
            sst=self.task.name,
            objects=tuple(self.published),
            stats=dict(self.stats),
            stage_seconds=dict(self.clock.seconds),
            input_bytes=self.input_bytes,
        )

    def _fetch(self, sst: SstTask) -> list[LocalSst]:
        """The SST's write-CF file and its default-CF file (if any), fetched."""
        fetched: list[LocalSst] = []
        cipher = self.options.crypter
        try:
            fetched.append(fetch_sst(self.source, sst.write, cipher, self.tmp))
            if sst.default is not None:
                fetched.append(fetch_sst(self.source, sst.default, cipher, self.tmp))
        except BaseException:
            for f in fetched:
                f.close()
            raise
        return fetched

    def _export_sst(self, k: int, sst: SstTask, fetched: list[LocalSst]) -> None:
        """Decodes, writes and checks SST `k` (its `fetched` files, closed here); then
        decides whether the open file closes after it."""
        write, default = fetched[0], fetched[1] if len(fetched) > 1 else None
        try:
            try:
                written = self._decode(k, sst, write, default, fetched)
            except Exception as error:
                _raise_input_mismatch(fetched, error)
                raise
            started = time.monotonic()
            for f in fetched:
                f.verify()
            self.clock.lap("download", started)
        finally:
            for f in fetched:
                f.close()
        self.input_bytes += sum(f.size for f in fetched)
        file = self.file
        if file is None:
            return
        file.input_bytes += sst.size
        if written:
            started = time.monotonic()
            size = file.writer.end_row_group()
            file.row_groups += -(-written // self.options.row_group_size)
            self.clock.lap("write", started)
        else:
            size = file.writer.size
        ssts = self.task.unit.ssts
        if self.close_after is None and k + 1 < len(ssts):
            ratio = size / file.input_bytes if file.input_bytes else 0.0
            footer = FOOTER_CHUNK_BYTES * len(self.schema) * file.row_groups
            if should_close(size + footer, ratio, ssts[k + 1].size, self.target):
                self.close_after = k

    def _decode(
        self,
        k: int,
        sst: SstTask,
        write: LocalSst,
        default: LocalSst | None,
        inputs: list[LocalSst],
    ) -> int:
        """Writes the table's rows of SST `k`; returns how many. Checks its row count and,
        with `--verify files`, its TiKV checksums."""
        options = self.options
        table = self.task.table
        scan = SstScan(
            write.path,
            [table.output_decoder(options)],
            default_sst=default.path if default else None,
            name=sst.name,
            default_name=sst.default.name if sst.default else None,
            key_range=(bytes(sst.write.start_key), bytes(sst.write.end_key)),
            batch_rows=options.parquet.write_batch_size,
            checksums=options.verify != "none",
        )
        written = 0
        ahead = DEFAULT_AHEAD if spare_cores(options.sst_concurrency) else 0
        with DecodeAhead(scan, ahead) as batches:
            started = time.monotonic()
            for _, batch in batches:
                started = self.clock.lap("decode", started)
                if any(f.failed() for f in inputs):
                    break  # an SST does not match its checksum: stop decoding it
                if batch.num_rows == 0:
                    continue
                self._writer_for(k).write(batch)
                written += batch.num_rows
                started = self.clock.lap("write", started)
        self.stats.update(scan.stats())
        if options.verify != "none":
            (decoded,) = scan.table_rows()
            if decoded != written:
                raise VerificationError(
                    sst.name,
                    table.qualified_name,
                    "rows",
                    expected=f"{decoded} rows decoded",
                    actual=f"{written} rows written",
                )
            sums = scan.checksums()
            if sums is None:
                raise VerificationError(
                    sst.name, table.qualified_name, "checksum", expected="a checksum", actual="none"
                )
            files = [("write", sst.write), ("default", sst.default)]
            self.stats.update(check_files(files, sums, table.qualified_name))
        return written

    def _writer_for(self, k: int) -> ParquetFileWriter:
        """The open file's writer for a row of SST `k`: the file that was to close is
        closed first, and a new one opened when none is open."""
        if self.file is not None and self.close_after is not None:
            self._finish(self.close_after)
        if self.file is None:
            first = self.task.unit.ssts[self.next_first]
            table = self.task.table
            # Staged beside the first file of the group: the name, which says the last
            # SST, is known only when the file closes (a rename in the same folder).
            name = group_object_name(
                self.options.output_prefix, table.db, table.name, first.name, first.name
            )
            local = self.output.staging_file(name) or self.tmp / f"{self.next_first}.parquet"
            file = _OpenFile(
                ParquetFileWriter(local, self.schema, self.options.parquet), self.next_first
            )
            # The group's SSTs before `k` held no row of the table.
            file.input_bytes = sum(s.size for s in self.task.unit.ssts[self.next_first : k])
            self.file = file
        return self.file.writer

    def _finish(self, last: int) -> None:
        """Closes the open file as the group of its first SST to `last`, uploads it and
        records it in the checkpoint."""
        file = self.file
        assert file is not None
        self.file = None
        self.close_after = None
        self.next_first = last + 1
        started = time.monotonic()
        writer = file.writer
        try:
            writer.close()
        except BaseException:
            writer.abort()
            raise
        self.clock.lap("write", started)
        ssts = self.task.unit.ssts
        first, end = ssts[file.first], ssts[last]
        table = self.task.table
        path = group_object_name(
            self.options.output_prefix, table.db, table.name, first.name, end.name
        )
        obj = WrittenObject(
            path=path,
            db=table.db,
            table=table.name,
            table_id=table.table_id,
            rows=writer.rows,
            size=writer.size,
            sha256=writer.sha256,
            source_sst=first.name,
            source_default_sst=first.default.name if first.default else None,
            task_objects=(path,),
            finished_at="",
            group_first=first.name,
            group_last=end.name,
            group_ssts=last - file.first + 1,
        )
        try:
            self.published.extend(
                publish_objects(
                    self.task.name,
                    None,
                    self.task.checkpoint,
                    self.output,
                    [(obj, writer.path)],
                    self.clock,
                )
            )
        finally:
            writer.path.unlink(missing_ok=True)  # a staged file left by a failed publish

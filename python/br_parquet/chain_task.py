"""One task of a chain export as a plain, picklable value, and `run_chain_task`.

The task fetches the SSTs of every backup that overlap its key range, decodes each
backup's part of the range (clipped to it) with `_tidb_op` and `_tidb_commit_ts`, keeps
the newest version of each key (`merge.merge_newest`: a Delete removes it, or stays as a
tombstone with `--emit-deletes`), and writes the result, in handle order, as one Parquet
file; then it uploads it and records it in the checkpoint, as an SST task does.

Each SST is checked as it is read: its SHA-256 (`fetch`), and with `--verify files` its
TiKV checksum once scanned (every entry counts, clipped ones too), before anything of
the task is uploaded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ._native import SstScan, TableDecoder
from .chain import ChainUnit
from .checkpoint import EntryWriter
from .crashpoints import task_delay, task_gate
from .fetch import LocalSst, fetch_sst
from .interrupt import make_temp_dir, remove_temp_dir
from .merge import merge_newest
from .naming import parquet_object_name
from .options import ExportOptions
from .parquet_writer import ParquetFileWriter
from .plan import SstTask
from .proto import brpb_pb2 as brpb
from .storage import shared_storage
from .tables import Table
from .task import Clock, TaskResult, publish_objects
from .verify import check_files
from .written import WrittenObject


@dataclass(frozen=True)
class ChainTask:
    """Everything one chain task needs; no native object, so it pickles."""

    unit: ChainUnit
    table: Table
    inputs: tuple[brpb.StorageBackend, ...]
    """The chain's backups, oldest first (`unit.sources` index them)."""
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
        return self.unit.size


def run_chain_task(task: ChainTask, workdir: str | None = None) -> TaskResult:
    """Does `task` in a private folder under `workdir`, removed afterwards."""
    tmp = make_temp_dir("chain", workdir)
    try:
        return _run(task, tmp)
    finally:
        remove_temp_dir(tmp)


def _run(task: ChainTask, tmp: Path) -> TaskResult:
    task_delay()
    task_gate()
    clock = Clock()
    options = task.options
    output = shared_storage(task.output, options.storage)
    started = time.monotonic()
    fetched: list[LocalSst] = []
    stats: dict[str, int] = {}
    path = parquet_object_name(options.output_prefix, task.table.db, task.table.name, task.name)
    finished: list[tuple[WrittenObject, Path]] = []
    try:
        try:
            local = []
            for source in task.unit.sources:
                storage = shared_storage(task.inputs[source.backup], options.storage)
                write = fetch_sst(storage, source.sst.write, options.crypter, tmp)
                fetched.append(write)
                default = None
                if source.sst.default is not None:
                    default = fetch_sst(storage, source.sst.default, options.crypter, tmp)
                    fetched.append(default)
                local.append((source.backup, source.sst, write, default))
            started = clock.lap("download", started)
            writer = _write(task, local, tmp, output.staging_file(path), stats)
            for f in fetched:
                f.verify()
        finally:
            for f in fetched:
                f.close()
        clock.lap("decode", started)
        if writer is not None:
            obj = WrittenObject(
                path=path,
                db=task.table.db,
                table=task.table.name,
                table_id=task.table.table_id,
                rows=writer.rows,
                size=writer.size,
                sha256=writer.sha256,
                source_sst=task.name,
                source_default_sst=None,
                task_objects=(path,),
                finished_at="",
            )
            finished.append((obj, writer.path))
        published = publish_objects(task.name, None, task.checkpoint, output, finished, clock)
    finally:
        for _, staged in finished:
            staged.unlink(missing_ok=True)
    return TaskResult(
        sst=task.name,
        objects=tuple(published),
        stats=stats,
        stage_seconds=dict(clock.seconds),
        input_bytes=sum(f.size for f in fetched),
    )


def _write(
    task: ChainTask,
    local: list[tuple[int, SstTask, LocalSst, LocalSst | None]],
    tmp: Path,
    staging: Path | None,
    stats: dict[str, int],
) -> ParquetFileWriter | None:
    """Merges and writes the task's rows; None when none is left."""
    options = task.options
    decoder = task.table.decoder(options.type_mapping, op_column=True, commit_ts_column=True)
    schema = task.file_schema or task.table.output_decoder(options).arrow_schema()
    backups = sorted({b for b, _, _, _ in local})
    streams = [
        _stream(task, decoder, [(s, w, d) for b, s, w, d in local if b == backup], stats)
        for backup in backups
    ]
    writer: ParquetFileWriter | None = None
    try:
        for batch in merge_newest(streams, keep_deletes=options.emit_deletes):
            if writer is None:
                writer = ParquetFileWriter(
                    staging or tmp / "chain.parquet", schema, options.parquet
                )
            writer.write(_project(batch, schema))
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return writer


def _project(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The columns of `schema`, in its order (the change columns not asked for dropped)."""
    columns = [batch.column(name) for name in schema.names]
    return pa.RecordBatch.from_arrays(columns, names=schema.names)


def _stream(
    task: ChainTask,
    decoder: TableDecoder,
    ssts: list[tuple[SstTask, LocalSst, LocalSst | None]],
    stats: dict[str, int],
) -> Iterator[pa.RecordBatch]:
    """One backup's rows of the task's range, in key order, each SST checked once read."""
    options = task.options
    for sst, write, default in ssts:
        files = (sst.write, sst.default)
        scan = SstScan(
            write.path,
            [decoder],
            default_sst=default.path if default else None,
            name=files[0].name,
            default_name=files[1].name if files[1] is not None else None,
            key_range=(bytes(files[0].start_key), bytes(files[0].end_key)),
            clip_range=task.unit.clip,
            batch_rows=options.parquet.write_batch_size,
            checksums=options.verify != "none",
        )
        for _, batch in scan:
            yield batch
        for key, value in scan.stats().items():
            stats[key] = stats.get(key, 0) + value
        if options.verify != "none":
            sums = scan.checksums() or {}
            checked = check_files(
                [("write", files[0]), ("default", files[1])], sums, task.table.qualified_name
            )
            for key, value in checked.items():
                stats[key] = stats.get(key, 0) + value

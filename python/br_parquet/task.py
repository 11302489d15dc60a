"""One SST task of an export as a plain, picklable value, and `run_task`, the top-level
function that does it anywhere: in the exporting process, a process pool or a cluster.

A task fetches its write-CF SST (and default-CF SST), decodes them in Rust with the GIL
released, on a thread of its own, while it writes one Parquet file per table it holds rows
of; then it uploads each, and records each in the checkpoint after its upload. It returns
its objects, counts and stage times.

Each byte is read once: a local SST is hashed while it is decoded, a remote one while it
is downloaded, and each Parquet file while it is written. On local output storage the
Parquet file is written next to its object under a staging name and renamed into place
(atomic, no copy); for object stores it is written to the task's folder and uploaded.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from ._native import SstScan
from .checkpoint import EntryWriter, utc_now
from .crashpoints import crash_point, task_delay, task_gate
from .decode_ahead import DEFAULT_AHEAD, DecodeAhead, spare_cores
from .errors import VerificationError
from .fetch import LocalSst, fetch_sst
from .interrupt import make_temp_dir, remove_temp_dir
from .naming import parquet_object_name
from .options import ExportOptions
from .parquet_writer import ParquetFileWriter
from .plan import SstTask
from .proto import brpb_pb2 as brpb
from .storage import Storage, shared_storage
from .tables import Table
from .verify import check_files
from .written import WrittenObject

STAGES = ("download", "decode", "write", "upload", "checkpoint")
"""The stages whose durations a task reports, in the order it runs them."""


@dataclass(frozen=True)
class ExportTask:
    """Everything one SST task needs; no native object, so it pickles."""

    sst: SstTask
    tables: tuple[Table, ...]
    """The selected tables whose rows the SST may hold (indexes of `sst.tables` resolved)."""
    input: brpb.StorageBackend
    output: brpb.StorageBackend
    options: ExportOptions
    checkpoint: EntryWriter | None
    """Where finished objects are recorded; None with the checkpoint off."""
    file_schemas: tuple[pa.Schema, ...] | None = None
    """The Parquet schema of each table's files when it is not the decoder's (Iceberg
    field IDs, plain strings: see `iceberg_tables`)."""

    def file_schema(self, idx: int) -> pa.Schema:
        """The schema of the Parquet file of `tables[idx]`."""
        if self.file_schemas is not None:
            return self.file_schemas[idx]
        return self.tables[idx].output_decoder(self.options).arrow_schema()

    @property
    def size(self) -> int:
        """Bytes of its SST files."""
        return self.sst.size

    @property
    def name(self) -> str:
        return self.sst.name


@dataclass(frozen=True)
class TaskResult:
    """What a task did: small, so it crosses process boundaries cheaply."""

    sst: str
    objects: tuple[WrittenObject, ...]
    stats: dict[str, int]
    """The decoder's counters (rows, index entries skipped, deletes, …), and
    `verified_files` / `unverifiable_files`: data files whose TiKV checksum was checked /
    could not be (all zero in the backupmeta while their contents are not empty)."""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    input_bytes: int = 0
    """Bytes of the SSTs fetched."""


class Clock:
    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def lap(self, stage: str, started: float) -> float:
        now = time.monotonic()
        self.seconds[stage] += now - started
        return now


def run_task(task: ExportTask, workdir: str | None = None) -> TaskResult:
    """Does `task`; local files go to a private folder (mode 0700) under `workdir`
    (default: the system temp folder) that is removed afterwards, also on error.

    >>> from br_parquet.job import prepare
    >>> from br_parquet.storage_url import parse_location
    >>> planned = prepare(parse_location(backup_dir), parse_location(out_dir), ExportOptions())
    >>> done = run_task(pickle.loads(pickle.dumps(planned.tasks[0])))
    >>> [(o.table, o.rows) for o in done.objects]
    [('group_a', 2), ('group_b', 2)]
    """
    tmp = make_temp_dir("sst", workdir)
    try:
        return _run(task, tmp)
    finally:
        remove_temp_dir(tmp)


def _run(task: ExportTask, tmp: Path) -> TaskResult:
    task_delay()
    task_gate()
    clock = Clock()
    source = shared_storage(task.input, task.options.storage)
    output = shared_storage(task.output, task.options.storage)
    started = time.monotonic()
    cipher = task.options.crypter
    fetched: list[LocalSst] = []
    objects: list[tuple[WrittenObject, Path]] = []
    try:
        try:
            write = fetch_sst(source, task.sst.write, cipher, tmp)
            fetched.append(write)
            default = fetch_sst(source, task.sst.default, cipher, tmp) if task.sst.default else None
            if default is not None:
                fetched.append(default)
            started = clock.lap("download", started)
            objects, stats = _convert(task, write, default, tmp, output, fetched, clock)
        finally:
            for f in fetched:
                f.close()
        default_name = task.sst.default.name if task.sst.default else None
        published = publish_objects(
            task.name, default_name, task.checkpoint, output, objects, clock
        )
    finally:
        for _, local in objects:
            local.unlink(missing_ok=True)  # a staged file left by a failed publish
    return TaskResult(
        sst=task.name,
        objects=tuple(published),
        stats=stats,
        stage_seconds=dict(clock.seconds),
        input_bytes=sum(f.size for f in fetched),
    )


def _convert(
    task: ExportTask,
    write: LocalSst,
    default: LocalSst | None,
    tmp: Path,
    output: Storage,
    inputs: list[LocalSst],
    clock: Clock,
) -> tuple[list[tuple[WrittenObject, Path]], dict[str, int]]:
    """Decodes the SSTs into one complete local Parquet file per table with rows, and
    checks them (the SSTs' SHA-256, and with `--verify` their TiKV checksums)."""
    options = task.options
    parquet = options.parquet
    paths = {
        idx: parquet_object_name(options.output_prefix, table.db, table.name, task.name)
        for idx, table in enumerate(task.tables)
    }
    writers: dict[int, ParquetFileWriter] = {}
    try:
        scan = SstScan(
            write.path,
            [t.output_decoder(options) for t in task.tables],
            default_sst=default.path if default else None,
            name=task.name,
            default_name=task.sst.default.name if task.sst.default else None,
            key_range=(bytes(task.sst.write.start_key), bytes(task.sst.write.end_key)),
            batch_rows=parquet.write_batch_size,
            checksums=options.verify != "none",
        )
        ahead = DEFAULT_AHEAD if spare_cores(options.sst_concurrency) else 0
        with DecodeAhead(scan, ahead) as batches:
            started = time.monotonic()
            for idx, batch in batches:
                started = clock.lap("decode", started)
                if any(f.failed() for f in inputs):
                    break  # an SST does not match its checksum: stop decoding it
                writer = writers.get(idx)
                if writer is None:
                    schema = task.file_schema(idx)
                    local = output.staging_file(paths[idx]) or tmp / f"{idx}.parquet"
                    writer = ParquetFileWriter(local, schema, parquet)
                    writers[idx] = writer
                writer.write(batch)
                started = clock.lap("write", started)
        started = time.monotonic()
        for f in inputs:
            f.verify()
        started = clock.lap("download", started)
        for writer in writers.values():
            writer.close()
    except BaseException as error:
        for w in writers.values():
            w.abort()
        if isinstance(error, Exception):
            _raise_input_mismatch(inputs, error)
        raise
    task_objects = tuple(sorted(paths[idx] for idx in writers))
    finished: list[tuple[WrittenObject, Path]] = []
    for idx, writer in sorted(writers.items()):
        table = task.tables[idx]
        obj = WrittenObject(
            path=paths[idx],
            db=table.db,
            table=table.name,
            table_id=table.table_id,
            rows=writer.rows,
            size=writer.size,
            sha256=writer.sha256,
            source_sst=task.name,
            source_default_sst=task.sst.default.name if task.sst.default else None,
            task_objects=task_objects,
            finished_at="",
        )
        finished.append((obj, writer.path))
    try:
        stats = scan.stats()
        if options.verify != "none":
            rows_written = {idx: w.rows for idx, w in writers.items()}
            stats.update(_verify(task, scan, rows_written))
    except BaseException:
        for _, local in finished:
            local.unlink(missing_ok=True)
        raise
    clock.lap("write", started)
    return finished, stats


def _raise_input_mismatch(inputs: list[LocalSst], error: Exception) -> None:
    """Raises the input's own error (its SHA-256 does not match) in place of `error`,
    which a damaged SST can cause while it is decoded: the mismatch says why."""
    for f in inputs:
        try:
            f.verify()
        except Exception as mismatch:
            if mismatch is error:
                raise
            raise mismatch from error


def _verify(task: ExportTask, scan: SstScan, rows_written: dict[int, int]) -> dict[str, int]:
    """Checks the task's files against their `File` checksums and its Parquet row counts
    against the rows decoded; raises `VerificationError` on the first difference. Runs
    before any upload, so a failing task leaves no object and no checkpoint entry."""
    for idx, decoded in enumerate(scan.table_rows()):
        written = rows_written.get(idx, 0)
        if written != decoded:
            raise VerificationError(
                task.name,
                task.tables[idx].qualified_name,
                "rows",
                expected=f"{decoded} rows decoded",
                actual=f"{written} rows written",
            )
    sums = scan.checksums()
    if sums is None:
        raise VerificationError(
            task.name, _tables_of(task), "checksum", expected="a checksum", actual="none"
        )
    files = [("write", task.sst.write), ("default", task.sst.default)]
    return check_files(files, sums, _tables_of(task))


def _tables_of(task: ExportTask) -> str:
    return ", ".join(t.qualified_name for t in task.tables) or "(none selected)"


def publish_objects(
    name: str,
    default_name: str | None,
    checkpoint: EntryWriter | None,
    output: Storage,
    objects: list[tuple[WrittenObject, Path]],
    clock: Clock,
) -> list[WrittenObject]:
    """Uploads (on local disk: renames into place) every object of task `name`, each
    followed by its checkpoint entry. Every object is complete before the first upload, so
    each entry lists all objects of its task: a task is finished when all of them have
    entries."""
    published: list[WrittenObject] = []
    for written, local in objects:
        started = time.monotonic()
        crash_point("before-upload")
        if output.local_file(written.path) is None:
            uploaded = output.put_file(written.path, local)
        else:
            uploaded = output.publish_staged(written.path, local)
        crash_point("after-upload")
        # The ETag lets a resumed run check the object with a listing, without reading it.
        obj = replace(written, finished_at=utc_now(), etag=uploaded["e_tag"])
        published.append(obj)
        started = clock.lap("upload", started)
        if checkpoint is not None:
            crash_point("before-entry")
            checkpoint.record_object(output, obj)
            crash_point("after-entry")
            clock.lap("checkpoint", started)
    if not objects and checkpoint is not None:
        started = time.monotonic()
        crash_point("before-entry")
        checkpoint.record_empty_task(output, name, default_name)
        crash_point("after-entry")
        clock.lap("checkpoint", started)
    return published

"""One SST task of an export as a plain, picklable value, and `run_task`, the top-level
function that does it anywhere: in the exporting process, a process pool or a cluster.

A task fetches its write-CF SST (and default-CF SST), decodes them in Rust with the GIL
released, writes one Parquet file per table it holds rows of, uploads each, and records
each in the checkpoint after its upload. It returns its objects, counts and stage times.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from ._native import SstScan
from .checkpoint import EntryWriter, utc_now
from .crashpoints import crash_point, task_delay, task_gate
from .errors import VerificationError
from .fetch import LocalSst, fetch_sst
from .interrupt import make_temp_dir, remove_temp_dir
from .naming import parquet_object_name
from .options import ExportOptions
from .parquet_writer import ParquetFileWriter
from .plan import SstTask
from .proto import brpb_pb2 as brpb
from .storage import shared_storage
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


class _Clock:
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
    clock = _Clock()
    source = shared_storage(task.input, task.options.storage)
    started = time.monotonic()
    cipher = task.options.crypter
    fetched: list[LocalSst] = []
    try:
        write = fetch_sst(source, task.sst.write, cipher, tmp)
        fetched.append(write)
        default = fetch_sst(source, task.sst.default, cipher, tmp) if task.sst.default else None
        if default is not None:
            fetched.append(default)
        started = clock.lap("download", started)
        objects, stats = _convert(task, write, default, tmp, clock)
    finally:
        for f in fetched:
            f.close()
    published = _publish(task, objects, clock)
    return TaskResult(
        sst=task.name,
        objects=tuple(published),
        stats=stats,
        stage_seconds=dict(clock.seconds),
        input_bytes=sum(f.size for f in fetched),
    )


def _convert(
    task: ExportTask, write: LocalSst, default: LocalSst | None, tmp: Path, clock: _Clock
) -> tuple[list[tuple[WrittenObject, Path]], dict[str, int]]:
    """Decodes the SSTs into one local Parquet file per table with rows."""
    options = task.options
    parquet = options.parquet
    scan = SstScan(
        write.path,
        [t.decoder(options.type_mapping) for t in task.tables],
        default_sst=default.path if default else None,
        name=task.name,
        default_name=task.sst.default.name if task.sst.default else None,
        key_range=(bytes(task.sst.write.start_key), bytes(task.sst.write.end_key)),
        batch_rows=parquet.write_batch_size,
        checksums=options.verify != "none",
    )
    writers: dict[int, ParquetFileWriter] = {}
    try:
        started = time.monotonic()
        for idx, batch in scan:
            started = clock.lap("decode", started)
            writer = writers.get(idx)
            if writer is None:
                schema = task.tables[idx].decoder(options.type_mapping).arrow_schema()
                writer = ParquetFileWriter(tmp / f"{idx}.parquet", schema, parquet)
                writers[idx] = writer
            writer.write(batch)
            started = clock.lap("write", started)
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    started = time.monotonic()
    paths = {
        idx: parquet_object_name(
            options.output_prefix, task.tables[idx].db, task.tables[idx].name, task.name
        )
        for idx in writers
    }
    task_objects = tuple(sorted(paths.values()))
    finished: list[tuple[WrittenObject, Path]] = []
    for idx, writer in sorted(writers.items()):
        rows = writer.close()
        table = task.tables[idx]
        obj = WrittenObject(
            path=paths[idx],
            db=table.db,
            table=table.name,
            table_id=table.table_id,
            rows=rows,
            size=writer.path.stat().st_size,
            sha256=_file_sha256(writer.path),
            source_sst=task.name,
            source_default_sst=task.sst.default.name if task.sst.default else None,
            task_objects=task_objects,
            finished_at="",
        )
        finished.append((obj, writer.path))
    stats = scan.stats()
    if options.verify != "none":
        rows_written = {
            idx: obj.rows for idx, (obj, _) in zip(sorted(writers), finished, strict=True)
        }
        stats.update(_verify(task, scan, rows_written))
    clock.lap("write", started)
    return finished, stats


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


def _publish(
    task: ExportTask, objects: list[tuple[WrittenObject, Path]], clock: _Clock
) -> list[WrittenObject]:
    """Uploads every object, each followed by its checkpoint entry. Every object is
    complete before the first upload, so each entry lists all objects of its task: a
    task is finished when all of them have entries."""
    output = shared_storage(task.output, task.options.storage)
    published: list[WrittenObject] = []
    for local, path in objects:
        started = time.monotonic()
        crash_point("before-upload")
        uploaded = output.put_file(local.path, path)
        crash_point("after-upload")
        # The ETag lets a resumed run check the object with a listing, without reading it.
        obj = replace(local, finished_at=utc_now(), etag=uploaded["e_tag"])
        published.append(obj)
        started = clock.lap("upload", started)
        if task.checkpoint is not None:
            crash_point("before-entry")
            task.checkpoint.record_object(output, obj)
            crash_point("after-entry")
            clock.lap("checkpoint", started)
    if not objects and task.checkpoint is not None:
        started = time.monotonic()
        crash_point("before-entry")
        default = task.sst.default.name if task.sst.default else None
        task.checkpoint.record_empty_task(output, task.name, default)
        crash_point("after-entry")
        clock.lap("checkpoint", started)
    return published


def _file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return hasher.digest().hex()

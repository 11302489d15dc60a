"""One SST task of an export as a plain, picklable value, and `run_task`, the top-level
function that does it anywhere: in the exporting process, a process pool or a cluster.

A task fetches its write-CF SST (and default-CF SST), decodes them in Rust with the GIL
released, writes one Parquet file per table it holds rows of, uploads each, and records
each in the checkpoint after its upload. It returns its objects, counts and stage times.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ._native import SstScan
from .backupmeta import BackupMeta
from .checkpoint import EntryWriter, utc_now
from .crashpoints import crash_point, task_delay
from .errors import VerificationError
from .fetch import LocalSst, fetch_sst
from .naming import parquet_object_name
from .options import ExportOptions
from .parquet_writer import ParquetFileWriter
from .plan import SstTask, _pair_stem, table_id_of
from .proto import brpb_pb2 as brpb
from .storage import Storage
from .tables import Table
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


_storages: dict[bytes, Storage] = {}
_storages_lock = threading.Lock()


def storage_for(backend: brpb.StorageBackend) -> Storage:
    """The process's `Storage` of `backend`, built once (clients keep their connections)."""
    key = backend.SerializeToString(deterministic=True)
    with _storages_lock:
        storage = _storages.get(key)
        if storage is None:
            storage = _storages[key] = Storage(backend)
        return storage


class _Clock:
    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def lap(self, stage: str, started: float) -> float:
        now = time.monotonic()
        self.seconds[stage] += now - started
        return now


def run_task(task: ExportTask, workdir: str | None = None) -> TaskResult:
    """Does `task`; local files go to a private folder under `workdir` (default: the
    system temp folder) that is removed afterwards.

    >>> from br_parquet.job import prepare
    >>> from br_parquet.storage_url import parse_location
    >>> planned = prepare(parse_location(backup_dir), parse_location(out_dir), ExportOptions())
    >>> done = run_task(pickle.loads(pickle.dumps(planned.tasks[0])))
    >>> [(o.table, o.rows) for o in done.objects]
    [('group_a', 2), ('group_b', 2)]
    """
    tmp = Path(tempfile.mkdtemp(prefix="sst-", dir=workdir))
    try:
        return _run(task, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(task: ExportTask, tmp: Path) -> TaskResult:
    task_delay()
    clock = _Clock()
    source = storage_for(task.input)
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
    return _check_files(files, sums, _tables_of(task))


def _check_files(
    files: list[tuple[str, brpb.File | None]],
    sums: dict[str, tuple[int, int, int]],
    tables: str,
) -> dict[str, int]:
    """Compares each file's recorded checksum with what its contents hash to."""
    verified = unverifiable = 0
    for cf, file in files:
        if file is None:
            continue
        actual = sums.get(cf, (0, 0, 0))
        expected = (file.crc64xor, file.total_kvs, file.total_bytes)
        if expected == actual:
            verified += 1
        elif expected == (0, 0, 0):
            # Not recorded (e.g. an old or partial backupmeta): nothing to compare with.
            unverifiable += 1
        else:
            raise VerificationError(
                file.name,
                tables,
                "TiKV checksum",
                expected=_checksum_text(expected),
                actual=_checksum_text(actual),
            )
    return {"verified_files": verified, "unverifiable_files": unverifiable}


# --- `--verify tables` ------------------------------------------------------------------


def verify_tables(
    meta: BackupMeta,
    tables: Sequence[Table],
    tasks: Sequence[SstTask],
    input: brpb.StorageBackend,
    options: ExportOptions,
    workdir: str | None = None,
) -> dict[str, int]:
    """`--verify tables`: for each selected table whose `Schema` carries a checksum,
    checks that the checksums of all its files (records and indexes of every partition,
    the table's share of a shared file from `table_metas`) add up to it, which catches
    a data file missing from the backupmeta; then downloads the files of those tables
    that no SST task reads (index ranges, unselected partitions) and checks each against
    its own checksum. The task files are checked by their tasks (`--verify files`).
    Raises `VerificationError`; returns `verified_tables`, `unverifiable_tables` and the
    `verified_files` / `unverifiable_files` of the extra files."""
    schemas = {s.table_id: s for s in meta.schemas if s.table_id is not None}
    read_by_tasks = {f.name for t in tasks for f in (t.write, t.default) if f is not None}
    counts: Counter[str] = Counter(verified_tables=0, unverifiable_tables=0)
    extra: dict[str, tuple[brpb.File, str]] = {}
    for table in tables:
        schema = schemas.get(table.table_id)
        if schema is None or schema.table_info is None or not schema.has_checksum:
            counts["unverifiable_tables"] += 1
            continue
        pids = _all_physical_ids(schema.table_info)
        crc = kvs = size = 0
        for f in meta.data_files:
            part = _share_of(f, pids)
            if part is None:
                continue
            crc ^= part[0]
            kvs += part[1]
            size += part[2]
            if f.name not in read_by_tasks:
                extra[f.name] = (f, table.qualified_name)
        expected = (schema.crc64xor, schema.total_kvs, schema.total_bytes)
        if (crc, kvs, size) != expected:
            raise VerificationError(
                "backupmeta",
                table.qualified_name,
                "table checksum (Schema) against the sum of its data files' checksums",
                expected=_checksum_text(expected),
                actual=_checksum_text((crc, kvs, size)),
            )
        counts["verified_tables"] += 1
    pairs: dict[tuple[str, bytes, bytes], dict[str, tuple[brpb.File, str]]] = {}
    for f, owner in extra.values():
        cf = f.cf or ("default" if f.name.endswith("_default.sst") else "write")
        pairs.setdefault((_pair_stem(f.name), f.start_key, f.end_key), {})[cf] = (f, owner)
    with ThreadPoolExecutor(options.sst_concurrency, thread_name_prefix="verify") as pool:
        for done in pool.map(lambda p: _checksum_pair(p, input, options, workdir), pairs.values()):
            counts.update(done)
    return dict(counts)


def _checksum_pair(
    pair: dict[str, tuple[brpb.File, str]],
    input: brpb.StorageBackend,
    options: ExportOptions,
    workdir: str | None,
) -> dict[str, int]:
    """Downloads a write-CF file (+ default-CF file) and checks their checksums; no row
    is decoded (the scan is given no table)."""
    if "write" not in pair:
        lone, owner = pair["default"]
        raise VerificationError(
            lone.name, owner, "pairing", expected="a write-CF file", actual="none"
        )
    write, owner = pair["write"]
    default = pair["default"][0] if "default" in pair else None
    source = storage_for(input)
    tmp = Path(tempfile.mkdtemp(prefix="verify-", dir=workdir))
    fetched: list[LocalSst] = []
    try:
        local_write = fetch_sst(source, write, options.crypter, tmp)
        fetched.append(local_write)
        local_default = fetch_sst(source, default, options.crypter, tmp) if default else None
        if local_default is not None:
            fetched.append(local_default)
        scan = SstScan(
            local_write.path,
            [],
            default_sst=local_default.path if local_default else None,
            name=write.name,
            batch_rows=1,
            checksums=True,
        )
        for _ in scan:
            pass
        sums = scan.checksums() or {}
    finally:
        for f in fetched:
            f.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return _check_files([("write", write), ("default", default)], sums, owner)


def _all_physical_ids(table_info: dict[str, Any]) -> set[int]:
    """The table's ID and every partition's: what its `Schema` checksum covers."""
    ids = {int(table_info.get("id", 0))}
    partition = table_info.get("partition") or {}
    for definition in partition.get("definitions") or ():
        ids.add(int(definition.get("id", 0)))
    return ids


def _share_of(f: brpb.File, pids: set[int]) -> tuple[int, int, int] | None:
    """The part of file `f`'s checksum that belongs to physical tables `pids`: from its
    `table_metas` when it has them, else all of it if its start key is of one of them."""
    if f.table_metas:
        parts = [m for m in f.table_metas if m.physical_id in pids]
        if not parts:
            return None
        crc = 0
        for m in parts:
            crc ^= m.crc64xor
        return crc, sum(m.total_kvs for m in parts), sum(m.total_bytes for m in parts)
    if table_id_of(bytes(f.start_key)) in pids:
        return f.crc64xor, f.total_kvs, f.total_bytes
    return None


def _tables_of(task: ExportTask) -> str:
    return ", ".join(t.qualified_name for t in task.tables) or "(none selected)"


def _checksum_text(checksum: tuple[int, int, int]) -> str:
    crc, kvs, size = checksum
    return f"crc64xor={crc:#018x} total_kvs={kvs} total_bytes={size}"


def _publish(
    task: ExportTask, objects: list[tuple[WrittenObject, Path]], clock: _Clock
) -> list[WrittenObject]:
    """Uploads every object, each followed by its checkpoint entry. Every object is
    complete before the first upload, so each entry lists all objects of its task: a
    task is finished when all of them have entries."""
    output = storage_for(task.output)
    published: list[WrittenObject] = []
    for local, path in objects:
        started = time.monotonic()
        crash_point("before-upload")
        output.put_file(local.path, path)
        crash_point("after-upload")
        obj = replace(local, finished_at=utc_now())
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

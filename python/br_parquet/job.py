"""The export job: backup storage → backupmeta → table selection → per-SST
tasks → decode → Parquet files in the output storage.

Each task downloads its SSTs once (sha256-verified), decodes them in Rust
(GIL released) and writes one Parquet file per table it holds rows of; at
most `sst_concurrency` tasks are in flight, which bounds memory and disk.

With the checkpoint on (the default), tasks whose objects a previous run finished
are skipped, and every object is recorded in the checkpoint right after its upload
(see `checkpoint`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from ._native import SstScan
from .backupmeta import BackupMeta, load_backupmeta
from .checkpoint import VERIFY_MODES, BackupIdentity, Checkpoint, CheckpointConfig, Verify
from .crashpoints import crash_point
from .crypto import Cipher
from .errors import BrParquetError, ExportError
from .iceberg_manifest import ManifestLocation, write_manifest
from .naming import normalize_prefix, parquet_object_name, sanitize
from .parquet_writer import ParquetFileWriter, ParquetOptions
from .plan import Plan, SstTask, plan_tasks
from .proto import brpb_pb2 as brpb
from .storage import Storage
from .tables import TableTarget, select_tables

log = logging.getLogger("br_parquet.job")


@dataclass(frozen=True)
class ExportOptions:
    """Everything an export run needs; the CLI flags map onto these fields."""

    input: brpb.StorageBackend
    output: brpb.StorageBackend
    output_prefix: str = "parquet"
    row_group_size: int = 8192
    sst_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    compression: str = "snappy"
    filters: tuple[str, ...] = ()
    table_ids: tuple[int, ...] = ()
    type_mapping: str = "compat"
    cipher: Cipher | None = None
    use_checkpoint: bool = True
    """Resume from and record into `{output_prefix}/_checkpoint/`; False ignores it."""
    checkpoint_verify: Verify = "sha256"
    """How finished objects are checked on resume: `sha256` (read back) or `size`."""
    iceberg: ManifestLocation | None = None
    """Where to write the run's Iceberg JSON manifest; None writes none."""

    def __post_init__(self) -> None:
        if self.sst_concurrency < 1:
            raise ValueError(f"sst concurrency must be at least 1, got {self.sst_concurrency}")
        if self.type_mapping not in ("compat", "typed"):
            raise ValueError(f"type mapping must be compat or typed, got {self.type_mapping!r}")
        ParquetOptions(self.row_group_size, self.compression)  # validates both
        if self.checkpoint_verify not in VERIFY_MODES:
            raise ValueError(
                f"checkpoint verification must be one of {', '.join(VERIFY_MODES)}, "
                f"got {self.checkpoint_verify!r}"
            )


@dataclass(frozen=True)
class WrittenObject:
    """One Parquet object written to the output storage."""

    path: str
    source_sst: str
    db: str
    table: str
    table_id: int
    rows: int
    size: int
    reused: bool = False
    """Finished by an earlier run and taken from the checkpoint, not written by this one."""
    sha256: str = ""
    """Hex SHA-256 of the Parquet object."""


@dataclass
class ExportSummary:
    tables: list[TableTarget]
    objects: list[WrittenObject] = field(default_factory=list)
    tasks: int = 0
    skipped_files: int = 0
    scan_stats: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    checkpoint: str | None = None
    """The checkpoint directory used, None with `use_checkpoint=False`."""
    manifest: str | None = None
    """The Iceberg JSON manifest written, if one was asked for."""

    @property
    def rows_written(self) -> int:
        return sum(o.rows for o in self.objects)

    @property
    def files_written(self) -> int:
        return len(self.objects)

    @property
    def bytes_written(self) -> int:
        return sum(o.size for o in self.objects)

    @property
    def objects_reused(self) -> int:
        """Objects of the output finished by an earlier run (from the checkpoint)."""
        return sum(o.reused for o in self.objects)

    @property
    def objects_written(self) -> int:
        """Objects of the output uploaded by this run."""
        return sum(not o.reused for o in self.objects)

    def rows_by_table(self) -> dict[str, int]:
        out: dict[str, int] = {t.qualified_name: 0 for t in self.tables}
        for o in self.objects:
            out[f"{o.db}.{o.table}"] += o.rows
        return out

    def renamed(self) -> dict[str, str]:
        """Database/table names that were normalised for object paths."""
        names = {t.db for t in self.tables} | {t.name for t in self.tables}
        return {n: sanitize(n) for n in sorted(names) if sanitize(n) != n}


@dataclass(frozen=True)
class TaskResult:
    objects: list[WrittenObject]
    stats: dict[str, int]


def _bounded(
    executor: ThreadPoolExecutor, tasks: Sequence[SstTask], limit: int, run: _TaskRunner
) -> Iterator[Future[TaskResult]]:
    """Submits tasks keeping at most `limit` in flight; yields finished futures."""
    pending: set[Future[TaskResult]] = set()
    queue = iter(tasks)
    while True:
        while len(pending) < limit:
            task = next(queue, None)
            if task is None:
                break
            pending.add(executor.submit(run, task))
        if not pending:
            return
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from done


class _TaskRunner:
    def __init__(
        self,
        opts: ExportOptions,
        input_storage: Storage,
        output_storage: Storage,
        targets: list[TableTarget],
        workdir: Path,
        checkpoint: Checkpoint | None,
    ) -> None:
        self.opts = opts
        self.input = input_storage
        self.output = output_storage
        self.targets = targets
        self.workdir = workdir
        self.checkpoint = checkpoint
        self.parquet = ParquetOptions(opts.row_group_size, opts.compression)

    def __call__(self, task: SstTask) -> TaskResult:
        tmp = Path(tempfile.mkdtemp(prefix="sst-", dir=self.workdir))
        try:
            return self._run(task, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _fetch(self, f: brpb.File, path: Path) -> Path:
        started = time.monotonic()
        cipher = self.opts.cipher
        # `File.sha256` is of the stored (encrypted) bytes: verify, then decrypt.
        stored = path.with_name(path.name + ".stored") if cipher and f.cipher_iv else path
        self.input.download_to(
            f.name, stored, expected_sha256=bytes(f.sha256) or None, expected_size=f.size or None
        )
        if stored != path:
            assert cipher is not None
            _decrypt_file(cipher, bytes(f.cipher_iv), stored, path)
            stored.unlink()
        log.debug("downloaded %s (%d bytes) in %.3fs", f.name, f.size, time.monotonic() - started)
        return path

    def _run(self, task: SstTask, tmp: Path) -> TaskResult:
        write_path = self._fetch(task.write, tmp / "write.sst")
        default_path = self._fetch(task.default, tmp / "default.sst") if task.default else None
        targets = [self.targets[i] for i in task.tables]
        scan = SstScan(
            str(write_path),
            [t.decoder for t in targets],
            default_sst=str(default_path) if default_path else None,
            name=task.name,
            batch_rows=self.parquet.write_batch_size,
        )
        writers: dict[int, ParquetFileWriter] = {}
        try:
            for idx, batch in scan:
                writer = writers.get(idx)
                if writer is None:
                    schema = targets[idx].decoder.arrow_schema()
                    writer = ParquetFileWriter(tmp / f"{idx}.parquet", schema, self.parquet)
                    writers[idx] = writer
                writer.write(batch)
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
        # Every object is complete before the first upload, so each checkpoint entry can
        # list all objects of its task: a task is finished when all of them have entries.
        finished: list[tuple[WrittenObject, Path]] = []
        for idx, writer in sorted(writers.items()):
            rows = writer.close()
            target = targets[idx]
            name = parquet_object_name(self.opts.output_prefix, target.db, target.name, task.name)
            size = writer.path.stat().st_size
            obj = WrittenObject(
                name,
                task.name,
                target.db,
                target.name,
                target.table_id,
                rows,
                size,
                sha256=_file_sha256(writer.path).hex(),
            )
            finished.append((obj, writer.path))
        task_objects = [obj.path for obj, _ in finished]
        for obj, path in finished:
            crash_point("before-upload")
            self.output.put_file(obj.path, path)
            crash_point("after-upload")
            if self.checkpoint is not None:
                crash_point("before-entry")
                self.checkpoint.record_object(
                    obj=obj.path,
                    source_sst=task.name,
                    source_default_sst=task.default.name if task.default else None,
                    task_objects=task_objects,
                    db=obj.db,
                    table=obj.table,
                    table_id=obj.table_id,
                    rows=obj.rows,
                    size=obj.size,
                    sha256=bytes.fromhex(obj.sha256),
                )
                crash_point("after-entry")
        if not finished and self.checkpoint is not None:
            crash_point("before-entry")
            self.checkpoint.record_empty_task(
                task.name, task.default.name if task.default else None
            )
            crash_point("after-entry")
        return TaskResult([obj for obj, _ in finished], scan.stats())


_DECRYPT_CHUNK = 8 << 20
_WORKDIR_PREFIX = "br-parquet-"


def _remove_stale_workdirs() -> None:
    """Removes the temp work dirs of exports that were killed (their pid is gone):
    a SIGKILL leaves downloaded SSTs behind, up to concurrency times the SST size."""
    for path in Path(tempfile.gettempdir()).glob(f"{_WORKDIR_PREFIX}*-*"):
        pid_text = path.name[len(_WORKDIR_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or not path.is_dir():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            log.info("removing %s, left by an export that was killed", path)
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def _decrypt_file(cipher: Cipher, iv: bytes, src: Path, dst: Path) -> None:
    """AES-CTR-decrypts an SST as TiKV encrypted it (its own IV), in bounded chunks."""
    ctx = cipher.context(iv)
    with src.open("rb") as inp, dst.open("wb") as out:
        while chunk := inp.read(_DECRYPT_CHUNK):
            out.write(ctx.update(chunk))
        out.write(ctx.finalize())


def _file_sha256(path: Path) -> bytes:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return hasher.digest()


def _open_checkpoint(
    opts: ExportOptions, meta: BackupMeta, input_storage: Storage, output_storage: Storage
) -> Checkpoint:
    config = CheckpointConfig.for_export(
        meta,
        filters=opts.filters,
        table_ids=opts.table_ids,
        row_group_size=opts.row_group_size,
        compression=opts.compression,
        type_mapping=opts.type_mapping,
    )
    return Checkpoint.open(
        output_storage,
        opts.output_prefix,
        config,
        BackupIdentity.of(meta, input_storage.location),
        verify=opts.checkpoint_verify,
        workers=max(8, opts.sst_concurrency),
    )


def _reused(
    checkpoint: Checkpoint, tasks: Sequence[SstTask]
) -> tuple[list[WrittenObject], list[SstTask]]:
    """(objects finished by earlier runs, tasks still to do)."""
    reused: list[WrittenObject] = []
    pending: list[SstTask] = []
    for task in tasks:
        entries = checkpoint.reusable(task.name)
        if entries is None:
            pending.append(task)
            continue
        reused.extend(
            WrittenObject(
                e.object,
                e.source_sst,
                e.db,
                e.table,
                e.table_id,
                e.rows,
                e.size,
                reused=True,
                sha256=e.sha256,
            )
            for e in entries
        )
    return reused, pending


def export(opts: ExportOptions) -> ExportSummary:
    """Runs one export; raises `BrParquetError` subclasses on failure."""
    started = time.monotonic()
    input_storage = Storage(opts.input)
    output_storage = Storage(opts.output)
    meta: BackupMeta = load_backupmeta(input_storage, cipher=opts.cipher)
    targets = select_tables(
        meta, filters=opts.filters, table_ids=opts.table_ids, type_mapping=opts.type_mapping
    )
    plan: Plan = plan_tasks(meta.data_files, targets)
    summary = ExportSummary(tables=targets, tasks=len(plan.tasks), skipped_files=plan.skipped_files)
    # Opened (and a mismatch refused) before any work; None ignores checkpoint data.
    checkpoint = (
        _open_checkpoint(opts, meta, input_storage, output_storage) if opts.use_checkpoint else None
    )
    # A killed local upload leaves its staging file behind; no upload of this prefix is
    # in flight now (one export per prefix at a time).
    prefix = normalize_prefix(opts.output_prefix)
    removed = output_storage.discard_partial_uploads(prefix + "/" if prefix else "")
    if removed:
        log.info("removed %d partial uploads left by an interrupted run", len(removed))
    pending = plan.tasks
    if checkpoint is not None:
        summary.checkpoint = checkpoint.directory
        reused, pending = _reused(checkpoint, plan.tasks)
        summary.objects.extend(reused)
        log.info(
            "skipping %d SST tasks finished earlier (%d Parquet objects reused); %d to do",
            len(plan.tasks) - len(pending),
            len(reused),
            len(pending),
        )
    log.info(
        "exporting %d tables from %d SST tasks (%d files skipped)",
        len(targets),
        len(plan.tasks),
        plan.skipped_files,
    )
    _remove_stale_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-"))
    runner = _TaskRunner(opts, input_storage, output_storage, targets, workdir, checkpoint)
    try:
        with ThreadPoolExecutor(max_workers=opts.sst_concurrency, thread_name_prefix="sst") as pool:
            try:
                for fut in _bounded(pool, pending, opts.sst_concurrency, runner):
                    result = fut.result()
                    summary.objects.extend(result.objects)
                    summary.scan_stats.update(result.stats)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    except BrParquetError:
        raise
    except Exception as e:  # native decode errors and the like
        raise ExportError(str(e)) from e
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary.objects.sort(key=lambda o: o.path)
    if opts.iceberg is not None:
        # Written last: a manifest only ever lists a complete export.
        summary.manifest = write_manifest(
            output_storage, opts.iceberg, meta, plan.tasks, summary.objects, prefix
        )
    summary.seconds = time.monotonic() - started
    return summary

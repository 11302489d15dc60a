"""The export job: backup storage → backupmeta → table selection → plan → SST tasks
(`task.run_task`) → result, JSON manifest.

This module only orchestrates: it plans, loads the checkpoint, runs the tasks on an
executor with at most `sst_concurrency` in flight (which bounds memory and disk), and
sums their results. The tasks are SST tasks (`task`), chain tasks for a chain of backups
(`chain_task`), or with `target_file_size` one task per table (`table_task`). With the
checkpoint on (the default), tasks whose objects an earlier run finished are skipped;
each task records its own objects (see `checkpoint`).
Inside `interrupt.stop_on_signals()` (the command line), SIGINT and SIGTERM stop the run
after the tasks in flight; local files live in a private work directory removed however
the run ends.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar, overload

import pyarrow as pa

from . import interrupt
from .backupmeta import BackupMeta, load_backupmeta
from .chain import ChainPlan, ChainUnit, chain_identity, check_chain, plan_chain
from .chain_task import ChainTask, run_chain_task
from .checkpoint import BackupIdentity, Checkpoint, CheckpointConfig, EntryWriter
from .errors import (
    BrParquetError,
    IcebergConfigError,
    InternalError,
    Interrupted,
    NameCollisionError,
    UsageError,
    message_of,
)
from .events import (
    CheckpointLoaded,
    DecodeFinished,
    DownloadFinished,
    DownloadStarted,
    EntryWritten,
    Event,
    EventStream,
    Listener,
    ManifestWritten,
    Planned,
    ResumedFromCheckpoint,
    RunFinished,
    SkippedFromCheckpoint,
    TableCommitted,
    TaskCompleted,
    TaskFailed,
    UploadFinished,
)
from .executor import has_secrets, open_pool
from .iceberg_manifest import ManifestLocation, write_manifest
from .naming import normalize_prefix, parquet_object_name, sst_stem, table_folders
from .options import ExportOptions
from .plan import (
    HashSet,
    Plan,
    PlannedUnit,
    SstTask,
    TablePlan,
    TableUnit,
    Tasks,
    plan_by_table,
    plan_tasks,
)
from .proto import brpb_pb2 as brpb
from .result import ExportResult, PlannedTask
from .storage import Storage, shared_storage
from .table_filter import TableFilter
from .table_task import TableTask, run_table_task
from .tables import DEFAULT_FILTER, Table, select_tables
from .task import ExportTask, TaskResult, run_task
from .verify import verify_tables
from .written import WrittenObject

if TYPE_CHECKING:
    from .iceberg_commit import IcebergPlan

_S = TypeVar("_S")
_T = TypeVar("_T")

log = logging.getLogger("br_parquet.job")

_WORKDIR_PREFIX = interrupt.TEMP_PREFIX


@dataclass
class PreparedExport:
    """An export planned and checked against its checkpoint, its tasks not yet run."""

    options: ExportOptions
    meta: BackupMeta
    output: Storage
    plan: Plan | ChainPlan | TablePlan
    tasks: Sequence[ExportTask] | Sequence[ChainTask] | Sequence[TableTask]
    """The SST tasks (chain tasks for a chain of backups, table tasks with
    `target_file_size`) still to do, in plan order (each made on access: a backup may
    have millions)."""
    result: ExportResult
    """The result so far: the objects reused from the checkpoint."""
    checkpoint: Checkpoint | None = None
    iceberg: IcebergPlan | None = None
    """The catalog and the Iceberg table of each selected table (`catalog` set)."""


Source = brpb.StorageBackend | Sequence[brpb.StorageBackend]
"""One backup, or a chain: a full backup and its incrementals, oldest first."""


def inputs_of(source: Source) -> tuple[brpb.StorageBackend, ...]:
    if isinstance(source, brpb.StorageBackend):
        return (source,)
    inputs = tuple(source)
    if not inputs:
        raise UsageError("no input backup given")
    return inputs


def prepare(
    input: Source,
    output: brpb.StorageBackend,
    options: ExportOptions,
    *,
    meta: BackupMeta | None = None,
    events: EventStream | None = None,
) -> PreparedExport:
    """Loads the backup (unless `meta` is given) or the chain of backups, selects and
    plans, opens the checkpoint (refusing a mismatch before anything is written) and
    builds the tasks; emits `Planned`, `CheckpointLoaded`, `SkippedFromCheckpoint` and
    `ResumedFromCheckpoint` to `events`."""
    events = events or EventStream()
    inputs = inputs_of(input)
    if len(inputs) > 1 and options.target_bytes is not None:
        raise UsageError(
            "--target-file-size works on one backup only for now, not on a chain of "
            f"{len(inputs)} backups (several --input); export the chain without it"
        )
    input_storages = [shared_storage(b, options.storage) for b in inputs]
    output_storage = shared_storage(output, options.storage)
    locations = [s.location for s in input_storages]
    metas: list[BackupMeta] = []
    if len(inputs) == 1:
        metas = [meta or load_backupmeta(input_storages[0], cipher=options.crypter)]
    else:
        metas = [load_backupmeta(s, cipher=options.crypter) for s in input_storages]
        check_chain(metas, locations)
        if options.verify == "tables":
            raise UsageError(
                "--verify tables needs one backup: incremental backups record no table "
                "checksums; a chain is checked file by file (--verify files)"
            )
    meta = metas[-1]  # the newest schemas
    rules = TableFilter.parse(options.filters or DEFAULT_FILTER)
    targets = select_tables(meta, rules, options.table_ids)
    plan: Plan | ChainPlan | TablePlan
    if len(metas) == 1:
        plan = plan_tasks(meta.data_files, targets)
        if options.target_bytes is not None:
            plan = plan_by_table(plan, targets)
    else:
        plan = plan_chain(metas, targets)
        meta = chain_identity(metas)
    _check_names(targets, plan)
    result = ExportResult(tables=targets, tasks=len(plan.tasks), skipped_files=plan.skipped_files)
    # Before the checkpoint and any task: the files carry the tables' field IDs, and a
    # catalog that is unreachable or a table that cannot take the backup fails now.
    iceberg = _plan_iceberg(options, targets, output, meta) if options.catalog else None
    events.emit(
        Planned(
            tables=len(targets),
            tasks=len(plan.tasks),
            input_bytes=sum(t.size for t in plan.tasks),
            skipped_files=plan.skipped_files,
            task_tables=_TaskTables(plan.tasks, targets),
        )
    )
    checkpoint = (
        _open_checkpoint(
            options,
            rules,
            meta,
            " + ".join(locations),
            output_storage,
            iceberg.digest() if iceberg is not None else None,
        )
        if options.use_checkpoint
        else None
    )
    if checkpoint is not None and checkpoint.compactor is not None:
        # Folds the entries of finished tasks into index objects as they complete.
        events.subscribe(checkpoint.compactor)
    # A killed local upload leaves its staging file behind; no upload of this prefix is
    # in flight now (one export per prefix at a time).
    prefix = normalize_prefix(options.output_prefix)
    if not options.dry_run:
        removed = output_storage.discard_partial_uploads(prefix + "/" if prefix else "")
        if removed:
            log.info("removed %d partial uploads left by an interrupted run", len(removed))
    pending: Sequence[PlannedUnit] = plan.tasks
    if checkpoint is not None:
        result.checkpoint = checkpoint.directory
        if isinstance(plan, TablePlan):
            reused, pending = _reused_tables(checkpoint, plan.tasks)
        else:
            reused, pending = _reused(checkpoint, plan.tasks)
        status = checkpoint.status
        events.emit(
            CheckpointLoaded(
                directory=checkpoint.directory,
                fresh=status.fresh,
                reused_tasks=len(plan.tasks) - len(pending),
                reused_objects=len(reused),
                reused_rows=sum(o.rows for o in reused),
                reused_bytes=sum(o.size for o in reused),
                rejected_entries=len(status.rejected_entries),
                redo_objects=len(status.redo_objects),
            )
        )
        if isinstance(plan, TablePlan):
            # Every reused file is in one event: of a finished table, or of one resumed.
            starts = {u.name: u.start for u in pending if isinstance(u, TableUnit)}
            files: dict[int, list[WrittenObject]] = {}
            for obj in reused:
                files.setdefault(obj.table_id, []).append(obj)
            for unit in plan.tasks:
                found = tuple(files.get(unit.table_id, ()))
                start = starts.get(unit.name)
                if start is None:
                    events.emit(SkippedFromCheckpoint(unit.name, unit.size, found))
                elif start:
                    done = sum(s.size for s in unit.ssts[:start])
                    events.emit(ResumedFromCheckpoint(unit.name, done, found))
        elif len(pending) < len(plan.tasks):
            for task in plan.tasks:
                objects = checkpoint.reusable(task.name)
                if objects is not None:
                    events.emit(SkippedFromCheckpoint(task.name, task.size, objects))
        result.objects.extend(reused)
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
    writer = checkpoint.writer if checkpoint is not None else None
    schemas = iceberg.file_schemas() if iceberg is not None else None
    shared = _Shared(targets, inputs, output, options, writer, schemas)
    tasks: Sequence[ExportTask] | Sequence[ChainTask] | Sequence[TableTask]
    if isinstance(plan, ChainPlan):
        tasks = _ChainTasks(pending, shared)  # type: ignore[arg-type]
    elif isinstance(plan, TablePlan):
        tasks = _TableTasks(pending, shared)  # type: ignore[arg-type]
    else:
        tasks = _ExportTasks(pending, shared)  # type: ignore[arg-type]
    result.to_do = _PlannedTasks(tasks)
    result.dry_run = options.dry_run
    return PreparedExport(options, meta, output_storage, plan, tasks, result, checkpoint, iceberg)


def _plan_iceberg(
    options: ExportOptions,
    targets: Sequence[Table],
    output: brpb.StorageBackend,
    meta: BackupMeta,
) -> IcebergPlan:
    try:
        from .iceberg_commit import plan_iceberg
    except ImportError as e:
        raise IcebergConfigError(
            options.catalog or "",
            f"committing to a catalog needs pyiceberg ({e}); "
            "install it with: pip install 'br-parquet[iceberg]'",
        ) from None
    return plan_iceberg(options, targets, output, meta)


def export(
    input: Source,
    output: brpb.StorageBackend,
    options: ExportOptions,
    *,
    meta: BackupMeta | None = None,
    executor: Executor | None = None,
    listeners: Sequence[Listener] = (),
) -> ExportResult:
    """Runs one export; raises `BrParquetError` subclasses on failure. `meta` is the
    backup's metadata when the caller has already loaded it; `executor` runs the tasks
    (default: a thread pool of `sst_concurrency` threads; tasks pickle, so a process
    pool works too). `listeners` receive the run's events (see `events`), the last one
    `RunFinished`, on success and on failure."""
    started = time.monotonic()
    events = EventStream(list(listeners))
    try:
        result = _export(input, output, options, meta, executor, events)
    except BaseException as e:
        events.emit(RunFinished(None, e, time.monotonic() - started))
        raise
    result.seconds = time.monotonic() - started
    events.emit(RunFinished(result, None, result.seconds))
    return result


@dataclass
class _Progress:
    """How far a run got, for the message of an interrupted one."""

    total: int | None = None
    """SST tasks planned (None before the plan is made)."""
    reused: int = 0
    """Tasks an earlier run finished."""
    finished: int = 0
    """Tasks this run finished."""


def _export(
    input: Source,
    output: brpb.StorageBackend,
    options: ExportOptions,
    meta: BackupMeta | None,
    executor: Executor | None,
    events: EventStream,
) -> ExportResult:
    progress = _Progress()
    try:
        return _export_steps(input, output, options, meta, executor, events, progress)
    except (Interrupted, KeyboardInterrupt) as e:
        signal_name = interrupt.as_interrupted(e)
        if signal_name is None:
            raise
        raise interrupt.interrupted(
            signal_name,
            finished=progress.finished,
            total=progress.total,
            reused=progress.reused,
            resumable=options.use_checkpoint and not options.dry_run,
        ) from None


def _export_steps(
    input: Source,
    output: brpb.StorageBackend,
    options: ExportOptions,
    meta: BackupMeta | None,
    executor: Executor | None,
    events: EventStream,
    progress: _Progress,
) -> ExportResult:
    prepared = prepare(input, output, options, meta=meta, events=events)
    result = prepared.result
    progress.total = len(prepared.plan.tasks)
    progress.reused = len(prepared.plan.tasks) - len(prepared.tasks)
    if options.dry_run:
        if prepared.iceberg is not None:
            from .iceberg_commit import dry_run_commits

            result.commits = list(dry_run_commits(prepared.iceberg))
        return result
    _run_tasks(prepared, input, options, executor, events, progress)
    result.objects.sort(key=lambda o: o.path)
    if options.write_iceberg_manifest:
        # Written last: a manifest only ever lists a complete export.
        location = ManifestLocation(
            options.iceberg_warehouse or "",
            options.iceberg_namespace or "",
            options.iceberg_table or "",
            options.iceberg_manifest_prefix,
        )
        prefix = normalize_prefix(options.output_prefix)
        result.manifest = write_manifest(
            prepared.output, location, prepared.meta, prepared.plan.tasks, result.objects, prefix
        )
        events.emit(ManifestWritten(result.manifest, len(result.objects)))
    if prepared.iceberg is not None:
        # After every file is uploaded and verified: one commit per table.
        from .iceberg_commit import commit_tables

        result.commits = commit_tables(
            prepared.iceberg,
            result.tables,
            result.objects,
            prepared.meta,
            prepared.checkpoint,
            on_commit=lambda c: events.emit(TableCommitted(c)),
        )
    return result


def _run_tasks(
    prepared: PreparedExport,
    input: Source,
    options: ExportOptions,
    executor: Executor | None,
    events: EventStream,
    progress: _Progress,
) -> None:
    """Runs the prepared tasks (after `--verify tables`) in a private work directory,
    removed on success, error and interruption; counts them in `progress.finished`."""
    result = prepared.result
    _remove_stale_workdirs()
    workdir = interrupt.make_temp_dir("work")
    try:
        if options.verify == "tables" and isinstance(prepared.plan, Plan | TablePlan):
            # Before any task: a table that does not add up fails the run with nothing written.
            ssts = prepared.plan.ssts if isinstance(prepared.plan, TablePlan) else prepared.plan
            checked = verify_tables(
                prepared.meta,
                result.tables,
                ssts.tasks,
                inputs_of(input)[0],
                options,
                str(workdir),
            )
            result.scan_stats.update(checked)
            log.info("table checksums: %s", checked)
        with ExitStack() as stack:
            limit: int | Callable[[], int] = options.sst_concurrency
            pool = executor
            if pool is None and not len(prepared.tasks):
                pool = stack.enter_context(ThreadPoolExecutor(1))  # no cluster for nothing
            elif pool is None:
                # Checked before the pool starts: a cluster would wait for nothing.
                _check_remote(prepared, inputs_of(input), options)
                tasks_pool = stack.enter_context(open_pool(options))
                pool, limit = tasks_pool.executor, tasks_pool.limit
            runner: Callable[..., TaskResult] | None = None
            if isinstance(prepared.plan, ChainPlan):
                runner = run_chain_task
            elif isinstance(prepared.plan, TablePlan):
                runner = run_table_task
            for done in run_bounded(
                pool,
                prepared.tasks,  # type: ignore[arg-type]
                limit,
                str(workdir),
                run=runner,
                events=events,
            ):
                _add(result, done)
                progress.finished += 1
                events.emit_all(task_events(done, recorded=options.use_checkpoint))
    except (BrParquetError, OSError):
        raise  # native decode errors are BrParquetErrors too, with their SST, key, column
    except Exception as e:  # nothing raised on purpose: a bug
        raise InternalError(message_of(e)) from e
    finally:
        interrupt.remove_temp_dir(workdir)


def _check_remote(
    prepared: PreparedExport, inputs: Sequence[brpb.StorageBackend], options: ExportOptions
) -> None:
    """Refuses what a cluster's workers could not do without secrets this run keeps."""
    if options.executor != "dask" or options.executor_send_keys:
        return
    if options.crypter is not None:
        raise UsageError(
            "the backup is encrypted and its crypter key is not sent to Dask workers "
            "unless --executor-send-keys is given (use TLS between the scheduler and its "
            "workers when it is)"
        )
    outputs = [task.output for task in prepared.tasks[:1]]
    if any(has_secrets(b) for b in [*inputs, *outputs]):
        log.warning(
            "the storage credentials given with --input/--output are not sent to the Dask "
            "workers: they use the credentials of their own environment (AWS_*, "
            "GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*, an instance role); "
            "--executor-send-keys sends them"
        )


def run_bounded(
    executor: Executor,
    tasks: Sequence[ExportTask],
    limit: int | Callable[[], int],
    workdir: str | None = None,
    run: Callable[[ExportTask, str | None], TaskResult] | None = None,
    events: EventStream | None = None,
) -> Iterator[TaskResult]:
    """Runs `tasks` on `executor` with at most `limit` in flight; yields each result as
    its task finishes. On an error the tasks in flight finish, no new one starts, and
    the error is raised. `run` defaults to `run_task` (looked up at call time);
    `events` gets `DownloadStarted` as each task starts and `TaskFailed` if one fails.

    Inside `interrupt.stop_on_signals()`, once a signal asks to stop, no new task starts;
    the tasks in flight finish (their results are yielded) and then `Interrupted` is
    raised, unless no task was left to start. A second signal interrupts at once,
    abandoning the tasks in flight (see `interrupt`)."""
    runner = run or run_task
    events = events or EventStream()
    token = interrupt.active()
    pending: set[Future[TaskResult]] = set()
    names: dict[Future[TaskResult], str] = {}
    queue = iter(tasks)
    with ExitStack() as stack:
        if token is not None:
            stack.enter_context(token.draining())
        try:
            while True:
                while len(pending) < (limit if isinstance(limit, int) else limit()) and not (
                    token and token.stop_requested
                ):
                    task = next(queue, None)
                    if task is None:
                        break
                    future = executor.submit(runner, task, workdir)
                    names[future] = task.name
                    pending.add(future)
                    events.emit(DownloadStarted(task.name, task.size))
                if not pending:
                    if token and token.signal_name and next(queue, None) is not None:
                        raise Interrupted(token.signal_name)
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    error = fut.exception()
                    if error is not None:
                        events.emit(TaskFailed(names[fut], error))
                        raise error
                    yield fut.result()
        finally:
            for fut in pending:
                fut.cancel()
            if token is not None and token.aborted:
                token.abandoned = sum(1 for fut in pending if not fut.cancelled())
            else:
                wait(pending)


def task_events(done: TaskResult, *, recorded: bool) -> list[Event]:
    """The stage events of a finished task, from its result and its own stage timings."""
    stages = done.stage_seconds
    rows = sum(o.rows for o in done.objects)
    output_bytes = sum(o.size for o in done.objects)
    out: list[Event] = [
        DownloadFinished(done.sst, done.input_bytes, stages.get("download", 0.0)),
        DecodeFinished(
            done.sst,
            done.stats.get("rows", rows),
            done.stats,
            stages.get("decode", 0.0) + stages.get("write", 0.0),
        ),
        UploadFinished(done.sst, done.objects, output_bytes, stages.get("upload", 0.0)),
    ]
    if recorded:
        out.append(EntryWritten(done.sst, max(1, len(done.objects)), stages.get("checkpoint", 0.0)))
    out.append(TaskCompleted(done.sst, rows, output_bytes))
    return out


def _add(result: ExportResult, done: TaskResult) -> None:
    result.objects.extend(done.objects)
    result.scan_stats.update(done.stats)
    for stage, seconds in done.stage_seconds.items():
        result.stage_seconds[stage] = result.stage_seconds.get(stage, 0.0) + seconds
    result.input_bytes += done.input_bytes


class _Mapped(Sequence[_T], Generic[_S, _T]):
    """A read-only sequence of `_make(item)` for each item of `source`, each made on
    access (a backup may have millions of tasks)."""

    __slots__ = ("_source",)
    __hash__: ClassVar[None]  # type: ignore[assignment]

    def __init__(self, source: Sequence[_S]) -> None:
        self._source = source

    def _make(self, item: _S) -> _T:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._source)

    @overload
    def __getitem__(self, index: int) -> _T: ...

    @overload
    def __getitem__(self, index: slice) -> list[_T]: ...

    def __getitem__(self, index: int | slice) -> _T | list[_T]:
        if isinstance(index, slice):
            return [self._make(item) for item in self._source[index]]
        return self._make(self._source[index])

    def __iter__(self) -> Iterator[_T]:
        return map(self._make, self._source)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    def __reduce__(self) -> tuple[object, ...]:
        return (list, (list(self),))


@dataclass(frozen=True)
class _Shared:
    """What every task of one export shares: all but its unit of work and its tables."""

    targets: Sequence[Table]
    inputs: tuple[brpb.StorageBackend, ...]
    output: brpb.StorageBackend
    options: ExportOptions
    checkpoint: EntryWriter | None
    schemas: Sequence[pa.Schema] | None
    """The Parquet schema of each selected table's files, when not the decoder's."""

    def schema(self, idx: int) -> pa.Schema | None:
        return self.schemas[idx] if self.schemas is not None else None


class _Tasks(_Mapped[_S, _T]):
    """Tasks made from plan units and what the export's tasks share."""

    __slots__ = ("_shared",)

    def __init__(self, units: Sequence[_S], shared: _Shared) -> None:
        super().__init__(units)
        self._shared = shared


class _ExportTasks(_Tasks[SstTask, ExportTask]):
    """The `ExportTask`s of SST tasks."""

    __slots__ = ()

    def _make(self, item: SstTask) -> ExportTask:
        shared = self._shared
        schemas = shared.schemas
        return ExportTask(
            sst=item,
            tables=tuple(shared.targets[i] for i in item.tables),
            input=shared.inputs[0],
            output=shared.output,
            options=shared.options,
            checkpoint=shared.checkpoint,
            file_schemas=tuple(schemas[i] for i in item.tables) if schemas is not None else None,
        )


class _ChainTasks(_Tasks[ChainUnit, ChainTask]):
    """The `ChainTask`s of a chain's units."""

    __slots__ = ()

    def _make(self, item: ChainUnit) -> ChainTask:
        shared = self._shared
        (idx,) = item.tables
        return ChainTask(
            unit=item,
            table=shared.targets[idx],
            inputs=shared.inputs,
            output=shared.output,
            options=shared.options,
            checkpoint=shared.checkpoint,
            file_schema=shared.schema(idx),
        )


class _TableTasks(_Tasks[TableUnit, TableTask]):
    """The `TableTask`s of a plan by table (`target_file_size`)."""

    __slots__ = ()

    def _make(self, item: TableUnit) -> TableTask:
        shared = self._shared
        (idx,) = item.tables
        return TableTask(
            unit=item,
            table=shared.targets[idx],
            input=shared.inputs[0],
            output=shared.output,
            options=shared.options,
            checkpoint=shared.checkpoint,
            file_schema=shared.schema(idx),
        )


class _PlannedTasks(_Mapped[ExportTask | ChainTask | TableTask, PlannedTask]):
    """`ExportResult.to_do`: a `PlannedTask` for each export task."""

    __slots__ = ()

    def _make(self, item: ExportTask | ChainTask | TableTask) -> PlannedTask:
        prefix, name = item.options.output_prefix, item.name
        if isinstance(item, TableTask):
            # Its files are named by their groups, known only as they close.
            return PlannedTask(sst=name, input_bytes=item.size, objects=())
        tables = item.tables if isinstance(item, ExportTask) else (item.table,)
        return PlannedTask(
            sst=name,
            input_bytes=item.size,
            objects=tuple(
                parquet_object_name(prefix, table.db, table.name, name) for table in tables
            ),
        )

    def __repr__(self) -> str:
        return repr(list(self)) if len(self) <= 10 else f"[{len(self)} planned tasks]"


class _TaskTables(Mapping[str, tuple[str, ...]]):
    """`Planned.task_tables`: SST task name → `db.table` names, looked up in the plan
    (tasks are in name order) instead of held for each task."""

    __slots__ = ("_names", "_tasks")

    def __init__(self, tasks: Sequence[PlannedUnit], targets: Sequence[Table]) -> None:
        self._tasks = tasks
        self._names = [t.qualified_name for t in targets]

    def _tables(self, task: PlannedUnit) -> tuple[str, ...]:
        return tuple(self._names[i] for i in task.tables)

    def __getitem__(self, name: str) -> tuple[str, ...]:
        tasks = self._tasks
        if isinstance(tasks, Tasks):
            at = tasks.position(name)
            if at is not None:
                return self._tables(tasks[at])
        else:
            for task in tasks:
                if task.name == name:
                    return self._tables(task)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (task.name for task in self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def items(self) -> Iterator[tuple[str, tuple[str, ...]]]:  # type: ignore[override]
        """In one pass (no lookup by name)."""
        return ((task.name, self._tables(task)) for task in self._tasks)

    def values(self) -> Iterator[tuple[str, ...]]:  # type: ignore[override]
        return (self._tables(task) for task in self._tasks)


def _check_names(targets: Sequence[Table], plan: Plan | ChainPlan | TablePlan) -> None:
    """Refuses an export where two tables share a folder, or two SSTs a file name:
    deterministic names must also be distinct, or one object would overwrite another.
    The file names are told apart by hash (16 bytes a task at most, not the names);
    only when two hashes meet are the names searched for the pair."""
    try:
        table_folders((t.db, t.name) for t in targets)
    except ValueError as e:
        raise NameCollisionError(str(e)) from None
    # Grouped files are named by their first and last SSTs: those must be distinct too.
    units: Sequence[PlannedUnit] = (plan.ssts if isinstance(plan, TablePlan) else plan).tasks
    seen = HashSet(len(units))
    for i, task in enumerate(units):
        name = task.name
        stem = sst_stem(name)
        if not seen.add(hash(stem)):
            continue
        for j, earlier in enumerate(units):
            if j == i:
                break
            other = earlier.name
            if other != name and sst_stem(other) == stem:
                raise NameCollisionError(
                    f"SSTs {other!r} and {name!r} would both be written as "
                    f"{stem}.parquet; the backupmeta names its files inconsistently"
                )


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


def _open_checkpoint(
    options: ExportOptions,
    rules: TableFilter,
    meta: BackupMeta,
    location: str,
    output_storage: Storage,
    file_schemas: str | None,
) -> Checkpoint:
    config = CheckpointConfig.for_export(
        meta,
        rules=rules.rules,
        table_ids=options.table_ids,
        row_group_size=options.row_group_size,
        compression=options.compression,
        type_mapping=options.type_mapping,
        file_schemas=file_schemas,
        change_columns=change_columns(options),
        target_file_size=options.target_bytes,
    )
    return Checkpoint.open(
        output_storage,
        options.output_prefix,
        config,
        BackupIdentity.of(meta, location),
        verify=options.checkpoint_verify,
        workers=max(8, options.sst_concurrency),
        read_only=options.dry_run,
    )


def change_columns(options: ExportOptions) -> tuple[str, ...]:
    """The change columns the export adds, for the checkpoint's settings."""
    return tuple(
        name
        for name, on in (
            ("_tidb_op", options.emit_deletes),
            ("_tidb_commit_ts", options.with_commit_ts),
        )
        if on
    )


def _reused(
    checkpoint: Checkpoint, tasks: Sequence[PlannedUnit]
) -> tuple[list[WrittenObject], Sequence[PlannedUnit]]:
    """(objects finished by earlier runs, tasks still to do)."""
    reused: list[WrittenObject] = []
    if not checkpoint.status.reusable_tasks:
        return reused, tasks
    pending = array("I")
    for i, task in enumerate(tasks):
        entries = checkpoint.reusable(task.name)
        if entries is None:
            pending.append(i)
        else:
            reused.extend(entries)
    if len(pending) == len(tasks):
        return reused, tasks
    if isinstance(tasks, Tasks):
        return reused, tasks.subset(pending)
    return reused, [tasks[i] for i in pending]


def _reused_tables(
    checkpoint: Checkpoint, units: Sequence[TableUnit]
) -> tuple[list[WrittenObject], list[TableUnit]]:
    """(files finished by earlier runs, table tasks still to do, each from the SST after
    its last finished file). A table's files are followed group by group from its first
    SST; the task is finished when they reach its last SST, or when it recorded that it
    made no file."""
    reused: list[WrittenObject] = []
    pending: list[TableUnit] = []
    for unit in units:
        files = checkpoint.grouped_files(unit.table_id)
        ssts = unit.ssts
        at = 0
        while at < len(ssts):
            found = files.get(ssts[at].name)
            end = at + found.group_ssts if found is not None else 0
            if found is None or end > len(ssts) or ssts[end - 1].name != found.group_last:
                break
            reused.append(found)
            at = end
        if at == len(ssts) or (at == 0 and checkpoint.reusable(unit.name) == ()):
            continue
        pending.append(replace(unit, start=at) if at else unit)
    return reused, pending

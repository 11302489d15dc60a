"""The event stream of an export: one typed event per stage of every SST task.

The job emits them; logs, metrics, the progress bar and the summary subscribe. Per-task
events are derived from the `TaskResult` (its objects, counts and stage timings) when the
task returns, so a task that ran in another process or on another machine feeds the same
stream as one that ran here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .iceberg_tables import IcebergCommit
from .result import ExportResult
from .written import WrittenObject

log = logging.getLogger("br_parquet.events")


@dataclass(frozen=True)
class Planned:
    """The plan: tables selected, SST tasks and their input bytes."""

    tables: int
    tasks: int
    input_bytes: int
    skipped_files: int
    task_tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """SST task → the `db.table` names whose rows it may hold."""


@dataclass(frozen=True)
class CheckpointLoaded:
    """The checkpoint was opened: what an earlier run finished. The reused objects, rows
    and bytes are those of every `SkippedFromCheckpoint` and `ResumedFromCheckpoint`."""

    directory: str
    fresh: bool
    reused_tasks: int
    reused_objects: int
    reused_rows: int
    reused_bytes: int
    rejected_entries: int
    redo_objects: int


@dataclass(frozen=True)
class SkippedFromCheckpoint:
    """An SST task finished by an earlier run; its objects are reused."""

    sst: str
    input_bytes: int
    objects: tuple[WrittenObject, ...]


@dataclass(frozen=True)
class ResumedFromCheckpoint:
    """A task an earlier run partly finished (a table of `--target-file-size` killed in
    the middle): its objects so far are reused and the task runs on from the SST after
    them, so it is not done yet (its `TaskCompleted` comes later). `input_bytes` are the
    bytes of the SSTs those objects hold; the task's own events carry the rest."""

    sst: str
    input_bytes: int
    objects: tuple[WrittenObject, ...]


@dataclass(frozen=True)
class DownloadStarted:
    sst: str
    input_bytes: int


@dataclass(frozen=True)
class DownloadFinished:
    sst: str
    input_bytes: int
    seconds: float


@dataclass(frozen=True)
class DecodeFinished:
    """The SSTs were decoded and written as local Parquet files (the convert stage)."""

    sst: str
    rows: int
    stats: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class UploadFinished:
    sst: str
    objects: tuple[WrittenObject, ...]
    output_bytes: int
    seconds: float


@dataclass(frozen=True)
class EntryWritten:
    """The task's checkpoint entries were written."""

    sst: str
    entries: int
    seconds: float


@dataclass(frozen=True)
class TaskCompleted:
    sst: str
    rows: int
    output_bytes: int


@dataclass(frozen=True)
class TaskFailed:
    sst: str
    error: BaseException


@dataclass(frozen=True)
class ManifestWritten:
    path: str
    files: int


@dataclass(frozen=True)
class TableCommitted:
    """An Iceberg table committed (or found committed by an earlier run)."""

    commit: IcebergCommit


@dataclass(frozen=True)
class RunFinished:
    """The last event of every run: `result` on success, `error` on failure."""

    result: ExportResult | None
    error: BaseException | None
    seconds: float


Event = (
    Planned
    | CheckpointLoaded
    | SkippedFromCheckpoint
    | ResumedFromCheckpoint
    | DownloadStarted
    | DownloadFinished
    | DecodeFinished
    | UploadFinished
    | EntryWritten
    | TaskCompleted
    | TaskFailed
    | ManifestWritten
    | TableCommitted
    | RunFinished
)
Listener = Callable[[Event], None]


@dataclass
class EventStream:
    """Delivers each event to every listener, in order, on the emitting thread."""

    listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                # An observer must never fail the export it observes.
                log.exception("event listener %r failed on %s", listener, type(event).__name__)

    def emit_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.emit(event)

"""The end-of-run summary of an export: what the output held when the run started (from
the checkpoint), what it holds at the end, and the difference — the work of this run —
with the time per stage and the throughput; on failure too, with the error.

`RunSummary` is a listener fed only by the event stream (`events`). After `RunFinished`
its `snapshot()` is the JSON document (`write_json` writes it atomically) and `render`
prints it as tables. The schema is documented in the README ("Progress and the run
summary").
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .errors import Interrupted
from .events import (
    CheckpointLoaded,
    DecodeFinished,
    DownloadFinished,
    DownloadStarted,
    EntryWritten,
    Event,
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
from .written import WrittenObject

FORMAT_VERSION = 1
MIB = 1024 * 1024

COUNTERS = ("ssts_converted", "objects", "rows", "bytes_in", "bytes_out")
"""The counters of `start` and `end` (and `delta`): SST tasks whose output exists,
Parquet objects, rows, SST input bytes and Parquet output bytes."""
RUN_COUNTERS = ("ssts_skipped", "ssts_failed")
"""Counters of this run only, in `delta`: SST tasks reused from the checkpoint, failed."""
STAGES = ("download", "convert", "upload", "checkpoint")

_LABELS = {
    "ssts_converted": "SSTs converted",
    "ssts_skipped": "SSTs skipped (checkpoint)",
    "ssts_failed": "SSTs failed",
    "objects": "Parquet objects",
    "rows": "rows",
    "bytes_in": "bytes in (SST)",
    "bytes_out": "bytes out (Parquet)",
}


def _no_redaction(text: str) -> str:
    return text


class RunSummary:
    """Collects the counters of one export from its events; pass it to
    `job.export(…, listeners=[summary])`. `redact` is applied to the error text (and
    the paths) that the snapshot holds, so that no secret reaches the summary."""

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        self._redact = redact or _no_redaction
        self._lock = threading.RLock()
        self._created_wall = time.time()
        self._created = time.monotonic()
        self._finished_wall: float | None = None
        self._seconds: float | None = None
        self.status = "running"
        """`running` until `RunFinished`, then `succeeded`, `failed` or `interrupted` (by a
        signal; resumable like a failed run)."""
        self.error: str | None = None
        """The error of a failed run, redacted."""
        self.error_type: str | None = None
        self.plan: dict[str, int] = {"tables": 0, "ssts": 0, "input_bytes": 0, "skipped_files": 0}
        self.start = dict.fromkeys(COUNTERS, 0)
        self._now = dict.fromkeys(COUNTERS + RUN_COUNTERS, 0)
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)
        """Seconds per stage, summed over the SST tasks run now (exceeds the wall time
        with concurrency)."""
        self.stage_count = dict.fromkeys(STAGES, 0)
        self.checkpoint: str | None = None
        self.manifest: str | None = None
        self.iceberg_tables: list[dict[str, Any]] = []
        """One entry per Iceberg table committed (`IcebergCommit.to_json()`)."""
        self._tables: dict[str, dict[str, int]] = {}
        self._task_bytes: dict[str, int] = {}
        self._task_objects: dict[str, tuple[WrittenObject, ...]] = {}
        self._result_tables: dict[str, dict[str, int]] | None = None

    # --- the listener -----------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, Planned):
                self.plan = {
                    "tables": event.tables,
                    "ssts": event.tasks,
                    "input_bytes": event.input_bytes,
                    "skipped_files": event.skipped_files,
                }
                for names in event.task_tables.values():
                    for name in names:
                        self._table(name)
            elif isinstance(event, CheckpointLoaded):
                self.checkpoint = self._redact(event.directory)
            elif isinstance(event, SkippedFromCheckpoint):
                self._reused(event, finished=True)
            elif isinstance(event, ResumedFromCheckpoint):
                self._reused(event, finished=False)
            elif isinstance(event, DownloadStarted):
                self._task_bytes[event.sst] = event.input_bytes
            elif isinstance(event, DownloadFinished):
                self._task_bytes[event.sst] = event.input_bytes
                self._stage("download", event.seconds)
            elif isinstance(event, DecodeFinished):
                self._stage("convert", event.seconds)
            elif isinstance(event, UploadFinished):
                self._stage("upload", event.seconds)
                self._task_objects[event.sst] = event.objects
            elif isinstance(event, EntryWritten):
                self._stage("checkpoint", event.seconds)
            elif isinstance(event, TaskCompleted):
                self._completed(event)
            elif isinstance(event, TaskFailed):
                self._now["ssts_failed"] += 1
            elif isinstance(event, ManifestWritten):
                self.manifest = self._redact(event.path)
            elif isinstance(event, TableCommitted):
                entry = event.commit.to_json()
                if isinstance(entry["metadata_location"], str):
                    entry["metadata_location"] = self._redact(entry["metadata_location"])
                self.iceberg_tables.append(entry)
            elif isinstance(event, RunFinished):
                self._finished(event)

    def _reused(
        self, event: SkippedFromCheckpoint | ResumedFromCheckpoint, *, finished: bool
    ) -> None:
        """Objects an earlier run finished: in the output at the start. A resumed task is
        not converted yet; its `TaskCompleted` counts it, with only its new objects."""
        rows = sum(o.rows for o in event.objects)
        size = sum(o.size for o in event.objects)
        for counters in (self.start, self._now):
            counters["ssts_converted"] += finished
            counters["objects"] += len(event.objects)
            counters["rows"] += rows
            counters["bytes_in"] += event.input_bytes
            counters["bytes_out"] += size
        self._now["ssts_skipped"] += finished
        self._add_objects(event.objects)

    def _completed(self, event: TaskCompleted) -> None:
        objects = self._task_objects.pop(event.sst, ())
        self._now["ssts_converted"] += 1
        self._now["objects"] += len(objects)
        self._now["rows"] += event.rows
        self._now["bytes_in"] += self._task_bytes.get(event.sst, 0)
        self._now["bytes_out"] += event.output_bytes
        self._add_objects(objects)

    def _finished(self, event: RunFinished) -> None:
        self._finished_wall = time.time()
        self._seconds = event.seconds
        if event.error is None:
            self.status = "succeeded"
        else:
            interrupted = isinstance(event.error, Interrupted | KeyboardInterrupt)
            self.status = "interrupted" if interrupted else "failed"
            self.error_type = type(event.error).__name__
            self.error = self._redact(str(event.error) or self.error_type)
        if event.result is not None:
            result = event.result
            # Authoritative, and it has the selected tables that had no data file.
            self._result_tables = {
                name: {"rows": t.rows, "bytes": t.bytes, "objects": t.objects}
                for name, t in result.per_table().items()
            }
            if result.checkpoint is not None:
                self.checkpoint = self._redact(result.checkpoint)
            if result.manifest is not None:
                self.manifest = self._redact(result.manifest)

    def _stage(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] += seconds
        self.stage_count[stage] += 1

    def _table(self, name: str) -> dict[str, int]:
        return self._tables.setdefault(name, {"rows": 0, "bytes": 0, "objects": 0})

    def _add_objects(self, objects: tuple[WrittenObject, ...]) -> None:
        for o in objects:
            sums = self._table(o.qualified_table)
            sums["rows"] += o.rows
            sums["bytes"] += o.size
            sums["objects"] += 1

    # --- the outcome ------------------------------------------------------------------

    @property
    def end(self) -> dict[str, int]:
        """The counters now (at the end, once the run has finished)."""
        with self._lock:
            return {k: self._now[k] for k in COUNTERS}

    @property
    def delta(self) -> dict[str, int]:
        """This run's work: `end - start`, plus the SSTs it skipped and that failed."""
        with self._lock:
            out = {k: self._now[k] - self.start[k] for k in COUNTERS}
            out.update({k: self._now[k] for k in RUN_COUNTERS})
            return out

    @property
    def seconds(self) -> float:
        """The run's wall time (so far, while it runs)."""
        with self._lock:
            if self._seconds is not None:
                return self._seconds
            return time.monotonic() - self._created

    def throughput(self) -> dict[str, float]:
        """This run's rows/s and MiB/s (SST in, Parquet out) over its wall time."""
        with self._lock:
            delta = self.delta
            seconds = self.seconds
            return {
                "rows_per_second": _per(delta["rows"], seconds),
                "ssts_per_second": _per(delta["ssts_converted"], seconds),
                "in_mib_per_second": _per(delta["bytes_in"], seconds) / MIB,
                "out_mib_per_second": _per(delta["bytes_out"], seconds) / MIB,
            }

    def snapshot(self) -> dict[str, Any]:
        """The summary as a JSON-ready document (schema: README, "Progress and the run
        summary")."""
        with self._lock:
            seconds = self.seconds
            if self._finished_wall is not None:
                finished: float | None = self._finished_wall
                started = self._finished_wall - seconds
            else:
                finished = None
                started = self._created_wall
            tables = self._result_tables if self._result_tables is not None else self._tables
            return {
                "format_version": FORMAT_VERSION,
                "status": self.status,
                "error": self.error,
                "error_type": self.error_type,
                "started_at": _iso(started),
                "finished_at": _iso(finished) if finished is not None else None,
                "seconds": seconds,
                "plan": dict(self.plan),
                "start": dict(self.start),
                "end": self.end,
                "delta": self.delta,
                "stages": {
                    s: {"seconds": round(self.stage_seconds[s], 6), "count": self.stage_count[s]}
                    for s in STAGES
                },
                "throughput": {k: round(v, 3) for k, v in self.throughput().items()},
                "tables": {name: dict(sums) for name, sums in sorted(tables.items())},
                "checkpoint": self.checkpoint,
                "manifest": self.manifest,
                "iceberg_tables": [dict(t) for t in self.iceberg_tables],
            }

    def write_json(self, path: str) -> None:
        """Writes `snapshot()` to `path` atomically (a temp file beside it, then
        `os.replace`): a reader sees the old document or the new one, never a part."""
        text = json.dumps(self.snapshot(), indent=2, sort_keys=False) + "\n"
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".summary-", suffix=".json.tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def render(self, console: Console) -> None:
        """Prints the summary: start / end / this run per counter, the time per stage and
        the throughput, and the error of a failed run."""
        doc = self.snapshot()
        ok = doc["status"] == "succeeded"
        style = "green" if ok else ("red" if doc["status"] == "failed" else "yellow")
        title = Text.assemble(
            ("export ", "bold"), (doc["status"], f"bold {style}"), f" in {doc['seconds']:.2f}s"
        )
        counters = Table(title=title, title_justify="left")
        counters.add_column("counter")
        for heading in ("start", "end", "this run"):
            counters.add_column(heading, justify="right")
        for key in COUNTERS:
            cells = [_count(key, doc[part][key]) for part in ("start", "end", "delta")]
            counters.add_row(_LABELS[key], *cells)
        for key in RUN_COUNTERS:
            value = doc["delta"][key]
            cell = Text(
                _count(key, value), style="bold red" if key == "ssts_failed" and value else ""
            )
            counters.add_row(_LABELS[key], "", "", cell)
        console.print(counters)

        stages = Table(title="time per stage (summed over SST tasks)", title_justify="left")
        stages.add_column("stage")
        stages.add_column("seconds", justify="right")
        stages.add_column("tasks", justify="right")
        stages.add_column("mean s/task", justify="right")
        for name, stage in doc["stages"].items():
            count = stage["count"]
            mean = f"{stage['seconds'] / count:.3f}" if count else "-"
            stages.add_row(name, f"{stage['seconds']:.3f}", f"{count:,}", mean)
        console.print(stages)

        rate = doc["throughput"]
        console.print(
            f"throughput: {rate['rows_per_second']:,.0f} rows/s, "
            f"{rate['in_mib_per_second']:,.2f} MiB/s in, "
            f"{rate['out_mib_per_second']:,.2f} MiB/s out "
            f"(over {doc['seconds']:.2f}s wall time)",
            highlight=False,
        )
        checkpoint = doc["checkpoint"] or "off"
        console.print(Text(f"checkpoint: {checkpoint}"))
        if doc["manifest"]:
            console.print(Text(f"iceberg manifest: {doc['manifest']}"))
        for t in doc["iceberg_tables"]:
            console.print(Text(iceberg_line(t)))
        if doc["error"] is not None:
            console.print(Text.assemble(("error: ", "bold red"), doc["error"]))


def iceberg_line(commit: dict[str, Any]) -> str:
    """One committed Iceberg table, as the summaries print it."""
    return (
        f"iceberg table {commit['identifier']}: {commit['operation']}, snapshot "
        f"{commit['snapshot_id']}, {commit['files']} files, {commit['rows']} rows, "
        f"metadata {commit['metadata_location']}"
    )


def _count(key: str, value: int) -> str:
    if key.startswith("bytes") and value >= 1024:
        return f"{value:,} ({_binary(value)})"
    return f"{value:,}"


def _binary(size: int) -> str:
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if abs(value) < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _per(amount: int, seconds: float) -> float:
    return amount / seconds if seconds > 0 else 0.0


def _iso(moment: float) -> str:
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")

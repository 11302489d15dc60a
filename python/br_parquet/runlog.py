"""Structured logs of an export: one line per stage of every SST task, carrying the SST,
table, rows, bytes and duration as fields, in a human-readable or a JSON format.

`StageLog` turns events into log records (logger `br_parquet.run`, the fields in
`record.fields`); `configure` installs the handler of the chosen format, level and file,
with secrets masked in every line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

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
    TaskCompleted,
    TaskFailed,
    UploadFinished,
)
from .secrets import Redactor

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")

log = logging.getLogger("br_parquet.run")


def _tables(objects: Any) -> str:
    return ",".join(sorted({o.qualified_table for o in objects}))


class StageLog:
    """Logs every event with its fields: stage starts at debug, the rest at info."""

    def __call__(self, event: Event) -> None:
        match event:
            case Planned():
                self._emit(
                    logging.INFO,
                    "planned",
                    "plan",
                    tables=event.tables,
                    tasks=event.tasks,
                    bytes=event.input_bytes,
                    skipped_files=event.skipped_files,
                )
            case CheckpointLoaded():
                self._emit(
                    logging.INFO,
                    "checkpoint loaded",
                    "checkpoint_load",
                    directory=event.directory,
                    fresh=event.fresh,
                    reused_tasks=event.reused_tasks,
                    reused_objects=event.reused_objects,
                    rows=event.reused_rows,
                    bytes=event.reused_bytes,
                    rejected_entries=event.rejected_entries,
                    redo_objects=event.redo_objects,
                )
            case SkippedFromCheckpoint():
                self._emit(
                    logging.DEBUG,
                    "skipped, finished earlier",
                    "checkpoint_skip",
                    sst=event.sst,
                    table=_tables(event.objects),
                    rows=sum(o.rows for o in event.objects),
                    bytes=sum(o.size for o in event.objects),
                )
            case ResumedFromCheckpoint():
                self._emit(
                    logging.INFO,
                    "resumed, partly finished earlier",
                    "checkpoint_resume",
                    sst=event.sst,
                    table=_tables(event.objects),
                    objects=len(event.objects),
                    rows=sum(o.rows for o in event.objects),
                    bytes=sum(o.size for o in event.objects),
                )
            case DownloadStarted():
                self._emit(
                    logging.DEBUG,
                    "download started",
                    "download",
                    sst=event.sst,
                    bytes=event.input_bytes,
                )
            case DownloadFinished():
                self._emit(
                    logging.INFO,
                    "downloaded",
                    "download",
                    sst=event.sst,
                    bytes=event.input_bytes,
                    seconds=event.seconds,
                )
            case DecodeFinished():
                self._emit(
                    logging.INFO,
                    "converted",
                    "convert",
                    sst=event.sst,
                    rows=event.rows,
                    seconds=event.seconds,
                    index_kvs=event.stats.get("index_kvs", 0),
                    deletes=event.stats.get("deletes", 0),
                )
            case UploadFinished():
                self._emit(
                    logging.INFO,
                    "uploaded",
                    "upload",
                    sst=event.sst,
                    table=_tables(event.objects),
                    objects=len(event.objects),
                    rows=sum(o.rows for o in event.objects),
                    bytes=event.output_bytes,
                    seconds=event.seconds,
                )
            case EntryWritten():
                self._emit(
                    logging.INFO,
                    "checkpoint entries written",
                    "checkpoint",
                    sst=event.sst,
                    entries=event.entries,
                    seconds=event.seconds,
                )
            case TaskCompleted():
                self._emit(
                    logging.DEBUG,
                    "completed",
                    "complete",
                    sst=event.sst,
                    rows=event.rows,
                    bytes=event.output_bytes,
                )
            case TaskFailed():
                self._emit(logging.ERROR, f"failed: {event.error}", "fail", sst=event.sst)
            case ManifestWritten():
                self._emit(
                    logging.INFO, "manifest written", "manifest", path=event.path, files=event.files
                )
            case RunFinished():
                if event.result is not None:
                    r = event.result
                    self._emit(
                        logging.INFO,
                        "export finished",
                        "finish",
                        rows=r.rows_written,
                        objects=r.files_written,
                        bytes=r.bytes_written,
                        seconds=event.seconds,
                    )
                else:
                    # The error itself is reported once, by the caller.
                    self._emit(
                        logging.INFO,
                        "export failed",
                        "finish",
                        error_type=type(event.error).__name__,
                        seconds=event.seconds,
                    )

    @staticmethod
    def _emit(level: int, message: str, stage: str, **fields: Any) -> None:
        log.log(level, message, extra={"fields": {"stage": stage, **fields}})


def _field_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=') else text


class TextFormatter(logging.Formatter):
    """`2026-12-03T07:18:00.123Z INFO converted sst=1/2_write.sst rows=10 seconds=0.012`."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {}
        parts = [_timestamp(record), record.levelname, record.getMessage()]
        parts += [f"{k}={_field_text(v)}" for k, v in fields.items() if k != "stage"]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `ts`, `level`, `logger`, `msg`, and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Lines of other parts (the checkpoint loader, say) are tagged with that part.
        document.update(getattr(record, "fields", None) or {"stage": record.name.split(".")[-1]})
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configure(
    *,
    level: str = "info",
    fmt: LogFormat = "text",
    file: str | None = None,
    redact: Redactor | None = None,
    handler: logging.Handler | None = None,
) -> logging.Handler:
    """Routes the package's logs to `handler` (default: stderr, or `file`), in `fmt`,
    at `level`, masking secrets with `redact`; returns the handler installed."""
    if handler is None:
        handler = (
            logging.FileHandler(file, encoding="utf-8")
            if file
            else logging.StreamHandler(sys.stderr)
        )
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if redact is not None:
        handler.addFilter(redact.filter())
    root = logging.getLogger("br_parquet")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
    return handler

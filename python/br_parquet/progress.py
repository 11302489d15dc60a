"""The progress bar of an export on a terminal, fed only by the event stream (`events`).

`ProgressBar` is a listener: it starts on `Planned` and stops on `RunFinished`, leaving
its final state on the screen. It counts SST tasks, their input bytes and the tables
whose tasks are all done; tasks reused from the checkpoint count as done but not in the
rates (rows/s, MB/s) nor in the ETA, which only measure the work of this run. A task an
earlier run partly finished (`ResumedFromCheckpoint`) counts the bytes and rows of its
reused objects the same way, and is done once this run finishes it.

While the bar is live, log lines must go through its console so that they print above
the bar instead of through it: install `ProgressBar.handler()` in place of the plain
stderr handler for as long as the bar runs.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.filesize import pick_unit_and_suffix
from rich.live import Live
from rich.progress_bar import ProgressBar as Bar
from rich.table import Table
from rich.text import Text

from .errors import Interrupted
from .events import (
    DownloadFinished,
    DownloadStarted,
    Event,
    Planned,
    ResumedFromCheckpoint,
    RunFinished,
    SkippedFromCheckpoint,
    TaskCompleted,
    TaskFailed,
)
from .written import WrittenObject

_BAR_WIDTH = 40


class ConsoleLogHandler(logging.Handler):
    """Prints each formatted record through a rich `Console`: while a live display
    (the progress bar) runs on that console, the line prints above it."""

    def __init__(self, console: Console, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            # Text, not a markup string: log lines are printed as they are, unstyled.
            self.console.print(Text(line), soft_wrap=True, highlight=False)
        except Exception:
            self.handleError(record)


class ProgressBar:
    """A live progress display of one export on `console` (default: stderr).

    Pass it to `job.export(…, listeners=[bar])`. The counters below are read-only for
    callers and always consistent with what the bar shows.
    """

    def __init__(self, console: Console | None = None, *, refresh_per_second: float = 4) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self._lock = threading.RLock()
        self.status = "waiting"
        """`waiting` (before `Planned`), `running`, `succeeded`, `failed` or `interrupted`."""
        self.ssts_total = 0
        self.ssts_done = 0
        """SST tasks finished: by this run or an earlier one (reused)."""
        self.ssts_reused = 0
        """SST tasks skipped because the checkpoint holds their objects."""
        self.ssts_failed = 0
        self.bytes_total = 0
        """Input bytes (SSTs) of the plan."""
        self.bytes_done = 0
        """Input bytes of the finished SST tasks, reused ones included, and of the SSTs
        whose objects a resumed task reuses."""
        self.bytes_reused = 0
        self.rows_done = 0
        """Rows of the finished SST tasks and of every reused object."""
        self.rows_reused = 0
        self.tables_total = 0
        self.tables_done = 0
        """Tables all of whose SST tasks are finished (now or earlier)."""
        self._started: float | None = None
        self._finished: float | None = None
        self._task_bytes: dict[str, int] = {}
        self._table_pending: dict[str, set[str]] = {}
        self._task_tables: Mapping[str, tuple[str, ...]] = {}
        self._busy_tables = 0
        self._done: set[str] = set()
        self._resumed: set[str] = set()
        self._running: set[str] = set()
        self._failed: set[str] = set()
        self._untracked_tables = False
        self._live = Live(
            console=self.console,
            get_renderable=self._renderable,
            refresh_per_second=refresh_per_second,
            transient=False,
            # Standard output may be a pipe (the summary, `> file`): never route it to
            # the terminal. Stray writes to stderr print above the bar.
            redirect_stdout=False,
            redirect_stderr=True,
        )

    @staticmethod
    def enabled(stream: IO[str] | None = None, *, no_progress: bool, log_format: str) -> bool:
        """Whether to show a bar on `stream` (default: the current `sys.stderr`): only
        on a terminal, not with `--no-progress`, and not with `--log-format json`
        (machine-read output gets no terminal animation)."""
        if no_progress or log_format == "json":
            return False
        stream = stream if stream is not None else sys.stderr
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
            return False

    def handler(self, like: logging.Handler | None = None) -> logging.Handler:
        """A logging handler that prints through the bar's console, above the bar, to
        install in place of the plain stderr handler while the bar runs. It takes the
        level, formatter and filters (a secret-masking filter, say) of `like`, by
        default the root logger's first handler, if any."""
        handler = ConsoleLogHandler(self.console)
        if like is None:
            root = logging.getLogger().handlers
            like = root[0] if root else None
        if like is not None:
            handler.setLevel(like.level)
            handler.setFormatter(like.formatter)
            for f in like.filters:
                handler.addFilter(f)
        return handler

    @property
    def ssts_running(self) -> int:
        """SST tasks started and not yet finished."""
        with self._lock:
            return len(self._running)

    @property
    def live(self) -> bool:
        """Whether the bar is on screen (between `Planned` and `RunFinished`)."""
        return self._live.is_started

    # --- rates over this run's own work ---------------------------------------------

    def elapsed(self) -> float:
        """Seconds since `Planned` (until `RunFinished` once the run has ended)."""
        with self._lock:
            if self._started is None:
                return 0.0
            end = self._finished if self._finished is not None else time.monotonic()
            return max(0.0, end - self._started)

    def rows_per_second(self) -> float:
        with self._lock:
            return _rate(self.rows_done - self.rows_reused, self.elapsed())

    def bytes_per_second(self) -> float:
        """Input bytes converted per second by this run (reused SSTs not counted)."""
        with self._lock:
            return _rate(self.bytes_done - self.bytes_reused, self.elapsed())

    def eta_seconds(self) -> float | None:
        """Seconds left at this run's rate; None before there is a rate; 0 when done."""
        with self._lock:
            if self.ssts_done >= self.ssts_total and self.status != "waiting":
                return 0.0
            rate = self.bytes_per_second()
            if rate <= 0:
                return None
            return max(0, self.bytes_total - self.bytes_done) / rate

    # --- the listener -----------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        start = stop = False
        with self._lock:
            if isinstance(event, Planned):
                self._plan(event)
                start = True
            elif isinstance(event, SkippedFromCheckpoint):
                if self._finish_task(event.sst, event.input_bytes):
                    self.ssts_reused += 1
                    self._reuse(0, event.input_bytes, event.objects)
            elif isinstance(event, ResumedFromCheckpoint):
                # Its remaining bytes come with its `TaskCompleted`; the task is not done.
                if event.sst not in self._resumed and event.sst not in self._done:
                    self._resumed.add(event.sst)
                    self._reuse(event.input_bytes, event.input_bytes, event.objects)
            elif isinstance(event, DownloadStarted):
                self._task_bytes[event.sst] = event.input_bytes
                if event.sst not in self._done:
                    self._running.add(event.sst)
            elif isinstance(event, DownloadFinished):
                self._task_bytes[event.sst] = event.input_bytes
            elif isinstance(event, TaskCompleted):
                if self._finish_task(event.sst, self._task_bytes.get(event.sst, 0)):
                    self.rows_done += event.rows
            elif isinstance(event, TaskFailed):
                if event.sst not in self._failed:
                    self._failed.add(event.sst)
                    self.ssts_failed += 1
                self._running.discard(event.sst)
            elif isinstance(event, RunFinished):
                self._finished = time.monotonic()
                if self._started is None:
                    self._started = self._finished - event.seconds
                self.status = (
                    "succeeded"
                    if event.error is None
                    else "interrupted"
                    if isinstance(event.error, Interrupted | KeyboardInterrupt)
                    else "failed"
                )
                self._running.clear()
                stop = True
        # Never call into rich while holding our lock: its refresh thread renders the
        # bar (taking rich's locks, then ours).
        if start:
            self.start()
        if stop:
            self.stop()

    def start(self) -> None:
        """Puts the bar on screen (done on `Planned`)."""
        self._live.start(refresh=True)

    def stop(self) -> None:
        """Renders the final state and leaves it on screen (done on `RunFinished`);
        safe to call more than once, e.g. from the caller's `finally`."""
        self._live.stop()

    def _plan(self, event: Planned) -> None:
        self._started = time.monotonic()
        self._finished = None
        self.status = "running"
        self.ssts_total = event.tasks
        self.bytes_total = event.input_bytes
        pending: dict[str, set[str]] = {}
        for sst, tables in event.task_tables.items():
            for name in tables:
                pending.setdefault(name, set()).add(sst)
        # Selected tables with no SST (empty when backed up) have nothing left to do.
        self.tables_total = max(event.tables, len(pending))
        self._table_pending = pending
        self._task_tables = event.task_tables  # immutable; looked up in the plan
        self._busy_tables = sum(1 for ssts in pending.values() if ssts)
        self._untracked_tables = event.tasks > 0 and not event.task_tables
        self._count_tables()

    def _finish_task(self, sst: str, input_bytes: int) -> bool:
        """Counts `sst` as done once; False if it already was."""
        if sst in self._done:
            return False
        self._done.add(sst)
        self._running.discard(sst)
        self.ssts_done += 1
        self.bytes_done += input_bytes
        for name in self._task_tables.get(sst, ()):
            pending = self._table_pending[name]
            if sst in pending:
                pending.discard(sst)
                self._busy_tables -= not pending
        self._count_tables()
        return True

    def _reuse(self, done: int, reused: int, objects: Sequence[WrittenObject]) -> None:
        """Counts objects an earlier run finished: `done` input bytes more are done (the
        skipped task's are counted by `_finish_task`), `reused` of them not by this run."""
        self.bytes_done += done
        self.bytes_reused += reused
        rows = sum(o.rows for o in objects)
        self.rows_done += rows
        self.rows_reused += rows

    def _count_tables(self) -> None:
        if self._untracked_tables:
            # No task → tables map: a table is only known done when everything is.
            done = self.ssts_total > 0 and self.ssts_done >= self.ssts_total
            self.tables_done = self.tables_total if done else 0
            return
        self.tables_done = self.tables_total - self._busy_tables

    # --- rendering --------------------------------------------------------------------

    def _renderable(self) -> RenderableType:
        with self._lock:
            total = max(self.bytes_total, 1)
            done = total if self.ssts_done >= self.ssts_total > 0 else self.bytes_done
            if self.ssts_total == 0 and self.status != "running":
                done = total
            style = {"succeeded": "green", "failed": "red", "interrupted": "yellow"}.get(
                self.status, "cyan"
            )
            label = {"waiting": "planning", "running": "exporting"}.get(self.status, self.status)
            fraction = min(1.0, done / total)
            head = Table.grid(padding=(0, 1))
            head.add_row(
                Text(label, style=f"bold {style}"),
                Bar(
                    total=total,
                    completed=done,
                    width=_BAR_WIDTH,
                    complete_style=style,
                    finished_style=style,
                ),
                Text(f"{fraction:>4.0%}"),
                Text(f"ETA {_clock(self.eta_seconds())}"),
                Text(f"elapsed {_clock(self.elapsed())}", style="dim"),
            )
            ssts = f"SSTs {self.ssts_done}/{self.ssts_total}"
            extra = [f"{self.ssts_reused} reused"] if self.ssts_reused else []
            if self.ssts_failed:
                extra.append(f"{self.ssts_failed} failed")
            if self.ssts_running and self.status == "running":
                extra.append(f"{self.ssts_running} running")
            if extra:
                ssts += f" ({', '.join(extra)})"
            parts: Sequence[str] = (
                ssts,
                _bytes_of(self.bytes_done, self.bytes_total),
                f"tables {self.tables_done}/{self.tables_total}",
                f"{self.rows_per_second():,.0f} rows/s",
                f"{self.bytes_per_second() / 1e6:.1f} MB/s",
            )
            return Group(head, Text(" · ".join(parts)))


def _bytes_of(done: int, total: int) -> str:
    """`1.2/3.4 MB`: both in the unit of the total, as rich's download column shows."""
    suffixes = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    unit, suffix = pick_unit_and_suffix(total, suffixes, 1000)
    precision = 0 if unit == 1 else 1
    return f"{done / unit:,.{precision}f}/{total / unit:,.{precision}f} {suffix}"


def _rate(amount: int, seconds: float) -> float:
    return amount / seconds if seconds > 0 else 0.0


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"

"""The progress bar: on a real pseudo-terminal an export shows it (with log lines above
it, not through it); on a pipe it stays off; its counts follow the events, tasks reused
from the checkpoint included."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.console import Console

from br_parquet.events import (
    CheckpointLoaded,
    DecodeFinished,
    DownloadFinished,
    DownloadStarted,
    Planned,
    RunFinished,
    SkippedFromCheckpoint,
    TaskCompleted,
    TaskFailed,
    UploadFinished,
)
from br_parquet.progress import ProgressBar
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
from br_parquet.written import WrittenObject

DRIVER = """
import logging
import sys

from br_parquet import ExportOptions, job
from br_parquet.progress import ProgressBar
from br_parquet.storage_url import parse_storage_url

backup, out, *flags = sys.argv[1:]
listeners = []
handler = logging.StreamHandler()  # the plain stderr handler
if ProgressBar.enabled(no_progress="--no-progress" in flags, log_format="text"):
    bar = ProgressBar()
    listeners.append(bar)
    handler = bar.handler()  # log lines print above the bar
handler.setFormatter(logging.Formatter("LOG %(levelname)s %(name)s: %(message)s"))
logging.basicConfig(level=logging.INFO, handlers=[handler])
result = job.export(
    parse_storage_url(backup),
    parse_storage_url(out),
    ExportOptions(sst_concurrency=1),
    listeners=listeners,
)
print(f"bar={bool(listeners)} rows={result.rows_written}", flush=True)
"""

SSTS = 5
_TIMEOUT_SECONDS = 60.0
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>78]")
_TOKENS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>78]|\r|\n|[^\x1b\r\n]+")


def backup(root: Path) -> Path:
    """Two tables in 5 SSTs: db.t (60 rows, 3 SSTs) and db.u (30 rows, 2 SSTs)."""
    t = table(
        "t", [("id", "int primary key"), ("s", "varchar(8)")], [(i, f"v{i}") for i in range(60)]
    )
    t.split_at = [20, 40]
    u = table("u", [("id", "int primary key"), ("n", "bigint")], [(i, i * 7) for i in range(30)])
    u.split_at = [15]
    write_backup(root, BackupSpec([DatabaseSpec("db", [t, u])]))
    return root


def screen_lines(raw: bytes) -> list[str]:
    """What a terminal shows after `raw`: a small emulation of the controls rich uses to
    redraw a live display (carriage return, newline, cursor up, erase line); colours and
    other escape sequences are dropped."""
    text = raw.decode("utf-8", errors="replace")
    screen: list[list[str]] = [[]]
    row = col = 0
    for token in _TOKENS.findall(text):
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            while len(screen) <= row:
                screen.append([])
        elif token.startswith("\x1b"):
            if token.endswith("A"):  # cursor up
                row = max(0, row - int(token[2:-1] or 1))
            elif token.endswith("K"):  # erase line
                screen[row] = []
        else:
            line = screen[row]
            line.extend(" " * (col - len(line)))
            line[col : col + len(token)] = list(token)
            col += len(token)
    return ["".join(line).rstrip() for line in screen]


def stripped(raw: bytes) -> str:
    """Everything written, escape sequences dropped (every frame the bar drew)."""
    return _ANSI.sub("", raw.decode("utf-8", errors="replace"))


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _RICH_ENV}
    env["TERM"] = "xterm-256color"
    return env


_RICH_ENV = {"COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"}


def run_in_pty(args: list[str]) -> tuple[int, bytes]:
    """Runs `args` with stdin, stdout and stderr on a 120x40 pseudo-terminal; returns
    its exit status and everything it wrote there."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=child_env(), close_fds=True
        )
    finally:
        os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + _TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        else:
            pytest.fail(f"driver did not finish in {_TIMEOUT_SECONDS}s: {bytes(output)!r}")
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
        status = process.wait(timeout=_TIMEOUT_SECONDS)
    return status, bytes(output)


@pytest.fixture
def driver(tmp_path: Path) -> list[str]:
    backup(tmp_path / "b")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    return [sys.executable, str(script), str(tmp_path / "b"), str(tmp_path / "out")]


def test_bar_on_a_terminal(driver: list[str]) -> None:
    status, raw = run_in_pty(driver)
    lines = screen_lines(raw)
    assert status == 0, lines
    assert f"SSTs 0/{SSTS} · 0.0/" in stripped(raw)  # drawn at the start
    # The final screen: the log lines, each whole and above the bar; the bar's final
    # state; what the driver printed after the run.
    logs = [line for line in lines if line.startswith("LOG ")]
    assert "LOG INFO br_parquet.job: exporting 2 tables from 5 SST tasks (0 files skipped)" in logs
    assert lines[: len(logs)] == logs
    head, counts, printed = lines[len(logs) : len(logs) + 3]
    assert head.startswith("succeeded ━") and " 100% ETA 0:00:00" in head
    assert counts.startswith(f"SSTs {SSTS}/{SSTS} · ")
    assert "tables 2/2" in counts and "rows/s" in counts and "MB/s" in counts
    assert printed == "bar=True rows=90"
    assert not any(line.strip() for line in lines[len(logs) + 3 :])

    # The rerun reuses everything from the checkpoint: done at once, nothing converted.
    status, raw = run_in_pty(driver)
    lines = screen_lines(raw)
    assert status == 0, lines
    [counts] = [line for line in lines if line.startswith("SSTs ")]
    assert counts.startswith(f"SSTs {SSTS}/{SSTS} ({SSTS} reused) · ")
    assert "tables 2/2 · 0 rows/s · 0.0 MB/s" in counts


def test_no_bar_when_stderr_is_a_pipe(driver: list[str]) -> None:
    done = subprocess.run(driver, capture_output=True, env=child_env(), timeout=_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == "bar=False rows=90\n"
    err = done.stderr.decode()
    assert "LOG INFO br_parquet.job: exporting 2 tables" in err
    assert "SSTs" not in err and "\x1b[" not in err


def test_no_bar_with_no_progress(driver: list[str]) -> None:
    status, raw = run_in_pty([*driver, "--no-progress"])
    lines = screen_lines(raw)
    assert status == 0, lines
    assert "bar=False rows=90" in lines
    assert not any("SSTs" in line for line in lines)


def test_enabled() -> None:
    master, slave = os.openpty()
    try:
        with open(slave, "w", closefd=False) as tty:
            assert ProgressBar.enabled(tty, no_progress=False, log_format="text")
            assert not ProgressBar.enabled(tty, no_progress=True, log_format="text")
            assert not ProgressBar.enabled(tty, no_progress=False, log_format="json")
    finally:
        os.close(master)
        os.close(slave)
    assert not ProgressBar.enabled(io.StringIO(), no_progress=False, log_format="text")
    closed = io.StringIO()
    closed.close()
    assert not ProgressBar.enabled(closed, no_progress=False, log_format="text")


def written(sst: str, db_table: str, rows: int) -> WrittenObject:
    db, name = db_table.split(".")
    path = f"parquet/{db}/{name}/{sst}.parquet"
    return WrittenObject(
        path=path,
        db=db,
        table=name,
        table_id=1,
        rows=rows,
        size=100,
        sha256="0" * 64,
        source_sst=sst,
        source_default_sst=None,
        task_objects=(path,),
        finished_at="2026-01-01T00:00:00.000Z",
    )


def finish(bar: ProgressBar, sst: str, size: int, rows: int) -> None:
    bar(DownloadStarted(sst, size))
    bar(DownloadFinished(sst, size, 0.01))
    bar(DecodeFinished(sst, rows, {"rows": rows}, 0.01))
    bar(UploadFinished(sst, (), 100, 0.01))
    bar(TaskCompleted(sst, rows, 100))


def test_counts_follow_the_events() -> None:
    out = io.StringIO()
    bar = ProgressBar(Console(file=out, force_terminal=True, width=120))
    assert (bar.status, bar.live) == ("waiting", False)
    bar(
        Planned(
            tables=4,  # d.empty has no SST: nothing to wait for
            tasks=4,
            input_bytes=4000,
            skipped_files=0,
            task_tables={"a": ("d.x",), "b": ("d.x", "d.y"), "c": ("d.y",), "d": ("d.z",)},
        )
    )
    assert (bar.status, bar.live) == ("running", True)
    assert (bar.ssts_total, bar.bytes_total, bar.tables_total) == (4, 4000, 4)
    assert bar.tables_done == 1
    bar(CheckpointLoaded("parquet/_checkpoint", False, 1, 1, 10, 100, 0, 0))
    bar(SkippedFromCheckpoint("a", 1000, (written("a", "d.x", 10),)))
    assert (bar.ssts_done, bar.ssts_reused, bar.bytes_done, bar.rows_done) == (1, 1, 1000, 10)
    assert bar.tables_done == 1  # d.x still waits for b
    assert bar.rows_per_second() == 0 and bar.bytes_per_second() == 0  # reuse is no rate
    assert bar.eta_seconds() is None
    time.sleep(0.05)
    finish(bar, "b", 1000, 20)
    assert (bar.ssts_done, bar.bytes_done, bar.rows_done, bar.tables_done) == (2, 2000, 30, 2)
    assert bar.rows_per_second() > 0 and bar.bytes_per_second() > 0
    assert bar.rows_per_second() <= 20 / 0.05  # only this run's 20 rows count
    eta = bar.eta_seconds()
    assert eta is not None and eta > 0
    finish(bar, "b", 1000, 20)  # a duplicate changes nothing
    assert (bar.ssts_done, bar.bytes_done, bar.rows_done) == (2, 2000, 30)
    bar(DownloadStarted("c", 1000))
    assert bar.ssts_running == 1
    bar(TaskFailed("c", RuntimeError("boom")))
    assert (bar.ssts_failed, bar.ssts_running, bar.tables_done) == (1, 0, 2)
    bar(RunFinished(None, RuntimeError("boom"), 0.1))
    assert (bar.status, bar.live) == ("failed", False)
    bar.stop()  # idempotent
    lines = screen_lines(out.getvalue().encode())
    assert "SSTs 2/4 (1 reused, 1 failed) · 2.0/4.0 kB · tables 2/4" in lines[-2]
    assert lines[-3].startswith("failed ━") and "50%" in lines[-3]


def test_finishing_everything() -> None:
    out = io.StringIO()
    bar = ProgressBar(Console(file=out, force_terminal=True, width=120))
    bar(Planned(tables=1, tasks=2, input_bytes=3000, skipped_files=0, task_tables={}))
    finish(bar, "a", 1000, 5)
    assert bar.tables_done == 0  # without a task → tables map, known only at the end
    finish(bar, "b", 2000, 5)
    assert (bar.ssts_done, bar.bytes_done, bar.tables_done, bar.eta_seconds()) == (2, 3000, 1, 0)
    bar(RunFinished(None, None, 0.2))
    assert bar.status == "succeeded"
    lines = screen_lines(out.getvalue().encode())
    assert lines[-2].startswith("SSTs 2/2 · 3.0/3.0 kB · tables 1/1 · ")
    assert lines[-3].startswith("succeeded ━") and "100%" in lines[-3]


def test_log_lines_print_above_the_bar() -> None:
    out = io.StringIO()
    bar = ProgressBar(Console(file=out, force_terminal=True, width=120))
    plain = logging.StreamHandler(io.StringIO())
    plain.setLevel(logging.INFO)
    plain.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    class Mask(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = record.getMessage().replace("s3cr3t", "****")
            record.args = None
            return True

    plain.addFilter(Mask())
    handler = bar.handler(like=plain)
    assert handler.level == logging.INFO and handler.formatter is plain.formatter
    logger = logging.getLogger("test_progress.above")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        bar(
            Planned(tables=1, tasks=1, input_bytes=10, skipped_files=0, task_tables={"a": ("d.x",)})
        )
        logger.warning("a [bold]line[/] with %s and markup-like text", "s3cr3t")
        logger.debug("below the level")
        finish(bar, "a", 10, 1)
        bar(RunFinished(None, None, 0.1))
    finally:
        logger.removeHandler(handler)
    lines = screen_lines(out.getvalue().encode())
    assert lines[0] == "WARNING a [bold]line[/] with **** and markup-like text"
    assert lines[1].startswith("succeeded ━")
    assert lines[2].startswith("SSTs 1/1 · ")
    assert "below the level" not in out.getvalue()


@pytest.fixture
def cli(tmp_path: Path) -> list[str]:
    backup(tmp_path / "b")
    return [sys.executable, "-m", "br_parquet", "export", "--input", str(tmp_path / "b")]


def test_the_cli_shows_the_bar_on_a_terminal_only(cli: list[str], tmp_path: Path) -> None:
    status, raw = run_in_pty([*cli, "--output", str(tmp_path / "tty")])
    lines = screen_lines(raw)
    assert status == 0, lines
    assert any(line.startswith("succeeded ━") for line in lines), lines
    assert any(line.startswith(f"SSTs {SSTS}/{SSTS} · ") for line in lines), lines
    assert any("export succeeded" in line for line in lines)  # the delta table follows
    piped = subprocess.run(
        [*cli, "--output", str(tmp_path / "pipe")],
        capture_output=True,
        env=child_env(),
        timeout=_TIMEOUT_SECONDS,
    )
    assert piped.returncode == 0, piped.stderr
    assert b"SSTs" not in piped.stderr and b"\x1b[" not in piped.stderr
    assert b" INFO converted sst=" in piped.stderr
    status, raw = run_in_pty([*cli, "--output", str(tmp_path / "json"), "--log-format", "json"])
    assert status == 0
    assert "SSTs 5/5" not in stripped(raw) and '"stage": "convert"' in stripped(raw)

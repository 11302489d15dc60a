"""SIGINT and SIGTERM, end to end: `br-parquet-export` runs as a subprocess over a backup
of many SSTs, held at known points by the task gate of `br_parquet.crashpoints`, and gets
real signals. A first signal lets the tasks in flight finish and record their checkpoint
entries, then exits 130 (SIGINT) or 143 (SIGTERM) with one line; a second one aborts at
once. Either way the private work directory is gone, and a rerun resumes to the output
of an uninterrupted run. Also: an error removes the work directory too, and the Python
API installs no handler."""

from __future__ import annotations

import gc
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import br_parquet
from br_parquet.crashpoints import DELAY_ENV, GATE_ENV
from br_parquet.crashpoints import ENV as KILL_ENV
from br_parquet.errors import Interrupted
from br_parquet.events import Event, Planned, TaskCompleted
from br_parquet.interrupt import stop_on_signals
from br_parquet.options import ExportOptions
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

CLI = [sys.executable, "-m", "br_parquet.cli"]
PROG = "br-parquet-export"
TASKS = 12
DEADLINE_SECONDS = 60.0  # only guards against a hang; nothing waits for a time to pass
POLL_SECONDS = 0.01
ENTRIES = Path("parquet/_checkpoint/entries")


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One table in `TASKS` regions: one SST task each."""
    root = tmp_path_factory.mktemp("signals") / "backup"
    info = write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "sig",
                    [
                        table(
                            "t",
                            [("id", "int primary key"), ("v", "varchar(20)")],
                            rows=[(i, f"row {i}") for i in range(1, 10 * TASKS + 1)],
                            split_at=list(range(11, 10 * TASKS + 1, 10)),
                        )
                    ],
                )
            ]
        ),
    )
    assert len(info.data_files) == TASKS
    return root


def snapshot(out: Path) -> dict[str, str]:
    """{object: sha256} of the Parquet output (the checkpoint aside)."""
    root = out / "parquet"
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*.parquet")
        if "_checkpoint" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def reference(backup: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The output of an uninterrupted export."""
    out = tmp_path_factory.mktemp("reference") / "out"
    br_parquet.export(str(backup), str(out))
    found = snapshot(out)
    assert len(found) == TASKS
    return found


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> Path:
    """The TMPDIR of the exporter: its work directory goes there, and must go away."""
    path = tmp_path / "tmpdir"
    path.mkdir()
    return path


class Export:
    """`br-parquet-export` running as a subprocess; its stderr is collected line by line."""

    def __init__(self, backup: Path, out: Path, tmpdir: Path, gate: Path | None) -> None:
        env = {k: v for k, v in os.environ.items() if k not in (KILL_ENV, DELAY_ENV, GATE_ENV)}
        env["TMPDIR"] = str(tmpdir)
        if gate is not None:
            env[GATE_ENV] = str(gate)
        self.process = subprocess.Popen(
            [*CLI, "--input", str(backup), "--output", str(out), "--sst-concurrency", "2"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.stdout: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout_reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        self.stdout.extend(self.process.stdout)

    def wait_for_line(self, fragment: str) -> str:
        """The first stderr line containing `fragment`, once printed."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        with self._changed:
            while True:
                for line in self.lines:
                    if fragment in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    pytest.fail(f"no stderr line with {fragment!r}:\n" + "\n".join(self.lines))
                self._changed.wait(left)

    def finish(self) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) once the process has ended."""
        try:
            self.process.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("the export did not end; its stderr:\n" + "\n".join(self.lines))
        self._reader.join(DEADLINE_SECONDS)
        self._stdout_reader.join(DEADLINE_SECONDS)
        return self.process.returncode, "".join(self.stdout), "\n".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_until(condition: Callable[[], bool], what: str, export: Export) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if export.process.poll() is not None:
            pytest.fail(f"the export ended ({export.process.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(POLL_SECONDS)


def entry_written(out: Path) -> bool:
    """Whether a task has recorded its object in the checkpoint (as an entry document)."""
    entries = out / "parquet/_checkpoint/entries"
    return entries.is_dir() and any(entries.rglob("*.json"))


def finished_in_checkpoint(backup: Path, out: Path) -> set[str]:
    """The SST tasks the checkpoint under `out` records as finished, as a dry run finds
    them after reading back every recorded object (size and SHA-256). Every Parquet object
    in the output must be one of theirs: none is there without a valid record."""
    plan = br_parquet.export(str(backup), str(out), dry_run=True, checkpoint_verify="sha256")
    assert all(o.reused for o in plan.objects)
    assert set(snapshot(out)) == {o.path for o in plan.objects}
    finished = {o.source_sst for o in plan.objects}
    assert len(finished) + len(plan.to_do) == TASKS
    return finished


def private_workdir(tmpdir: Path, pid: int) -> None:
    """The run's only temp entry is its work directory, mode 0700 like every folder inside
    (one per task in flight); no file there has more permissions than the umask allows."""
    (workdir,) = tmpdir.iterdir()
    assert re.fullmatch(rf"br-parquet-{pid}-work-\w+", workdir.name), workdir.name
    umask = os.umask(0o022)
    os.umask(umask)
    folders = [workdir, *(p for p in workdir.rglob("*") if p.is_dir())]
    assert 2 <= len(folders) <= 3  # the held tasks' folders
    for path in [workdir, *workdir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        else:
            assert mode & umask == 0, (path, oct(mode))


def rerun(backup: Path, out: Path, tmpdir: Path) -> str:
    export = Export(backup, out, tmpdir, gate=None)
    code, stdout, stderr = export.finish()
    assert code == 0, stderr
    assert list(tmpdir.iterdir()) == []
    return stdout


def start_gated(backup: Path, tmp_path: Path, tmpdir: Path) -> tuple[Export, Path, Path]:
    """An export whose first task may run and whose others wait at the gate; returns once
    the first task's checkpoint entry is written."""
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "1").touch()
    out = tmp_path / "out"
    export = Export(backup, out, tmpdir, gate)
    wait_until(lambda: entry_written(out), "the first checkpoint entry", export)
    return export, gate, out


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_after_the_tasks_in_flight(
    backup: Path,
    reference: dict[str, str],
    tmp_path: Path,
    tmpdir_env: Path,
    signum: signal.Signals,
    code: int,
) -> None:
    export, gate, out = start_gated(backup, tmp_path, tmpdir_env)
    try:
        private_workdir(tmpdir_env, export.process.pid)
        export.process.send_signal(signum)
        export.wait_for_line(f"received {signum.name}: no new SST task starts")
        for n in range(2, TASKS + 1):
            (gate / str(n)).touch()
        returncode, stdout, stderr = export.finish()
    finally:
        export.kill()

    assert returncode == code, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr
    match = re.fullmatch(
        rf"{PROG}: error: interrupted by {signum.name}: stopped after the SST tasks in "
        rf"flight; (\d+) of {TASKS} SST tasks finished; run the same command again to resume",
        errors[0],
    )
    assert match, errors[0]
    finished = finished_in_checkpoint(backup, out)
    # The first task, and the one or two that were in flight when the signal came.
    assert int(match[1]) == len(finished) in (2, 3)
    assert "export interrupted" in stdout
    assert list(tmpdir_env.iterdir()) == []

    stdout = rerun(backup, out, tmpdir_env)
    assert f"objects: {len(finished)} reused" in stdout
    assert snapshot(out) == reference


def test_second_sigint_aborts_at_once(
    backup: Path, reference: dict[str, str], tmp_path: Path, tmpdir_env: Path
) -> None:
    export, _gate, out = start_gated(backup, tmp_path, tmpdir_env)
    try:
        export.process.send_signal(signal.SIGINT)
        export.wait_for_line("received SIGINT")
        # The tasks in flight stay held at the gate: only an abort ends the run.
        export.process.send_signal(signal.SIGINT)
        returncode, _stdout, stderr = export.finish()
    finally:
        export.kill()

    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr
    assert re.fullmatch(
        rf"{PROG}: error: interrupted by SIGINT: aborted, abandoning the [12] SST tasks in "
        rf"flight; 1 of {TASKS} SST tasks finished; run the same command again to resume",
        errors[0],
    ), errors[0]
    assert len(finished_in_checkpoint(backup, out)) == 1
    assert list(tmpdir_env.iterdir()) == []

    rerun(backup, out, tmpdir_env)
    assert snapshot(out) == reference


def test_an_error_removes_the_work_directory(
    backup: Path, tmp_path: Path, tmpdir_env: Path
) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    sst = sorted(damaged.rglob("*.sst"))[TASKS // 2]
    data = bytearray(sst.read_bytes())
    data[len(data) // 2] ^= 0xFF
    sst.write_bytes(bytes(data))
    export = Export(damaged, tmp_path / "out", tmpdir_env, gate=None)
    returncode, _stdout, stderr = export.finish()
    assert returncode == 3, stderr
    assert "Traceback" not in stderr
    (error,) = [line for line in stderr.splitlines() if "error:" in line]
    assert "sha256 mismatch" in error and sst.relative_to(damaged).as_posix() in error
    assert list(tmpdir_env.iterdir()) == []


def test_python_api_leaves_signals_alone(
    backup: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`br_parquet.export` installs no handler: Ctrl-C raises `KeyboardInterrupt`, after
    the tasks in flight finish; the work directory is removed all the same."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    handlers: list[object] = []
    sent: list[str] = []

    def listener(event: Event) -> None:
        if isinstance(event, Planned):
            handlers.extend(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM))
        elif isinstance(event, TaskCompleted) and not sent:
            sent.append(event.sst)
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        br_parquet.run_export(
            str(backup), str(out), ExportOptions(sst_concurrency=2), listeners=[listener]
        )
    assert handlers == [signal.default_int_handler, signal.SIG_DFL]
    assert 1 <= len(finished_in_checkpoint(backup, out)) < TASKS
    assert list(tmpdir.iterdir()) == []


def test_a_signal_before_the_tasks_interrupts_at_once(
    backup: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing in flight there is nothing to wait for: the signal interrupts where
    the run is (here in an event listener, whose errors the run otherwise survives)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def listener(event: Event) -> None:
        if isinstance(event, Planned):
            os.kill(os.getpid(), signal.SIGTERM)

    out = tmp_path / "out"
    with stop_on_signals(), pytest.raises(Interrupted) as err:
        br_parquet.run_export(str(backup), str(out), ExportOptions(), listeners=[listener])
    assert err.value.exit_code == 143
    assert str(err.value) == "interrupted by SIGTERM: run the same command again to resume"
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_no_handlers_outside_the_main_thread() -> None:
    seen: list[object] = []

    def run() -> None:
        with stop_on_signals() as token:
            seen.append(signal.getsignal(signal.SIGINT))
            seen.append(token.stop_requested)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler, False]
    with stop_on_signals():
        assert signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, None)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_scan_cache_folder_is_private_and_removed(backup: Path, tmp_path: Path) -> None:
    """`Backup.scan`'s SST cache lives in a private folder, removed by `close()`, else
    when the backup is garbage-collected."""
    for closing in (True, False):
        parent = tmp_path / f"cache-{closing}"
        parent.mkdir()
        opened = br_parquet.open_backup(str(backup), cache_dir=str(parent))
        assert opened.scan("sig.t", columns=["id"]).read_all().num_rows == 10 * TASKS
        (folder,) = parent.iterdir()
        assert re.fullmatch(rf"br-parquet-{os.getpid()}-cache-\w+", folder.name)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        if closing:
            opened.close()
        del opened
        gc.collect()
        assert list(parent.iterdir()) == []


def test_an_abort_that_cannot_unwind_still_ends_the_process(tmp_path: Path) -> None:
    """Should the unwinding of an aborted run block (the interrupt landed while a lock it
    needs was held), the process still ends, with the signal's exit code and one line,
    after `ABORT_EXIT_SECONDS`; its temporary dirs go too."""
    code = (
        "import os, signal, threading\n"
        "from br_parquet.interrupt import make_temp_dir, stop_on_signals\n"
        f"os.environ['TMPDIR'] = {str(tmp_path)!r}\n"
        "import tempfile; tempfile.tempdir = None\n"
        "make_temp_dir('stuck')\n"
        "with stop_on_signals():\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGINT)  # nothing in flight: aborts at once\n"
        "    except KeyboardInterrupt:\n"
        "        threading.Event().wait()  # an unwinding that never ends\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_SECONDS
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == [
        "br-parquet: interrupted by SIGINT: aborted; the clean-up did not finish within "
        "10s, exiting now"
    ]
    assert list(tmp_path.iterdir()) == []

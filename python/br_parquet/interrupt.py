"""Stopping an export on SIGINT or SIGTERM with its checkpoint consistent, and private
temporary directories that go away however the run ends.

The command line runs the export inside `stop_on_signals()`. On the first signal no new
SST task starts, the tasks in flight finish (uploading their objects and writing their
checkpoint entries), and the run raises `Interrupted` (exit code 130 for SIGINT, 143 for
SIGTERM): running the same command again resumes. While no SST task is running there is
nothing to finish, so the signal interrupts at once. A second signal aborts at once: the
tasks in flight are abandoned (an object is only marked complete after its upload, so
none is marked half-written), the temporary directories are removed, and
`exit_if_aborted` ends the process without waiting for the abandoned threads.

Interrupting at once raises `KeyboardInterrupt` from the handler, as Python does for
SIGINT: being no `Exception`, it passes through every `except Exception` (an event
listener's, say) to the export, which turns it into `Interrupted` (`as_interrupted`).

Handlers are installed only from the main thread and only by `stop_on_signals()`; the
Python API (`br_parquet.export`) installs none, so there Ctrl-C raises
`KeyboardInterrupt` as usual (after the tasks in flight finish).

Every temporary directory of a run is made by `make_temp_dir` (`tempfile.mkdtemp`: mode
0700, so nothing inside is readable by other users whatever its own mode) and removed by
`remove_temp_dir`; the ones still there when an aborted run exits are removed then.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from .errors import Interrupted

log = logging.getLogger("br_parquet.interrupt")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
ABORT_EXIT_SECONDS = 10.0
"""The longest an aborted run may take to unwind before the process ends anyway."""


class StopToken:
    """The stop state of one run: whether a signal asked it to stop, or interrupted it."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        """The last signal received (`SIGINT`, `SIGTERM`), None before any."""
        self.aborted = False
        """A signal interrupted the run at once (a second one, or one while no SST task
        ran) instead of letting the tasks in flight finish."""
        self.abandoned = 0
        """SST tasks in flight when the run was aborted, left unfinished."""
        self._draining = 0
        self._announce = threading.Event()
        self._closed = False
        self._deadline: threading.Timer | None = None

    @property
    def stop_requested(self) -> bool:
        """Whether a signal arrived: no new SST task may start."""
        return self.signal_name is not None

    @contextmanager
    def draining(self) -> Iterator[None]:
        """While SST tasks run: a first signal lets them finish instead of interrupting."""
        self._draining += 1
        try:
            yield
        finally:
            self._draining -= 1

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler (runs on the main thread, between bytecodes)."""
        first = self.signal_name is None
        self.signal_name = signal.Signals(signum).name
        if first and self._draining:
            # Not logged here: the interrupted code may hold a lock the logging needs.
            self._announce.set()
            return
        self.aborted = True
        self._arm_exit_deadline(signal.Signals(signum))
        raise KeyboardInterrupt

    def _arm_exit_deadline(self, signum: signal.Signals) -> None:
        """An abort must end the run: should its unwinding block (the interrupt can land
        while the main thread holds a lock it needs again), a timer ends the process after
        `ABORT_EXIT_SECONDS`, removing the temporary dirs and saying so on stderr. The
        timer is cancelled when the `stop_on_signals()` block ends."""
        if self._deadline is not None:
            return
        code = Interrupted(signum.name).exit_code

        def force_exit() -> None:
            _remove_all_temp_dirs(timeout=1.0)
            line = (
                f"br-parquet: interrupted by {signum.name}: aborted; the clean-up did not "
                f"finish within {ABORT_EXIT_SECONDS:g}s, exiting now\n"
            )
            with suppress(OSError):
                os.write(2, line.encode())
            os._exit(code)

        self._deadline = threading.Timer(ABORT_EXIT_SECONDS, force_exit)
        self._deadline.daemon = True
        self._deadline.start()

    def _announcer(self) -> None:
        self._announce.wait()
        if not self._closed:
            log.warning(
                "received %s: no new SST task starts; the ones running finish and are "
                "recorded in the checkpoint (send %s again to abort at once)",
                self.signal_name,
                self.signal_name,
            )

    def _close(self) -> None:
        """The `stop_on_signals()` block ended: the run unwound (an abort included)."""
        self._closed = True
        self._announce.set()
        if self._deadline is not None:
            self._deadline.cancel()


_active: StopToken | None = None


def active() -> StopToken | None:
    """The token of the `stop_on_signals()` block running, if any."""
    return _active


@contextmanager
def stop_on_signals() -> Iterator[StopToken]:
    """Handles SIGINT and SIGTERM as described above while the block runs, then restores
    the previous handlers. Outside the main thread (where Python cannot install signal
    handlers) the token is never set and signals keep their handlers."""
    global _active
    token = StopToken()
    if threading.current_thread() is not threading.main_thread():
        yield token
        return
    previous = {sig: signal.signal(sig, token._handle) for sig in SIGNALS}
    outer, _active = _active, token
    announcer = threading.Thread(target=token._announcer, name="stop-announcer", daemon=True)
    announcer.start()
    try:
        yield token
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _active = outer
        token._close()


def as_interrupted(error: BaseException) -> str | None:
    """The signal that `error` stands for: an `Interrupted`, or the `KeyboardInterrupt` a
    handler of `stop_on_signals()` raised; None for anything else (a plain Ctrl-C where
    no handler is installed stays a `KeyboardInterrupt`)."""
    if isinstance(error, Interrupted):
        return error.signal_name
    token = _active
    if isinstance(error, KeyboardInterrupt) and token is not None and token.aborted:
        return token.signal_name
    return None


def interrupted(
    signal_name: str, *, finished: int, total: int | None, reused: int, resumable: bool
) -> Interrupted:
    """`Interrupted` with a message that says what the run got done and how to go on:
    `finished` SST tasks done by this run and `reused` by earlier runs, of `total` (None
    before the plan is made); `resumable` when a checkpoint records them."""
    token = _active
    parts: list[str] = []
    if token is not None and token.abandoned:
        parts.append(f"aborted, abandoning the {token.abandoned} SST tasks in flight")
    elif token is not None and not token.aborted:
        parts.append("stopped after the SST tasks in flight")
    if total is not None:
        done = f"{finished + reused} of {total} SST tasks finished"
        parts.append(done + (f" ({reused} by an earlier run)" if reused else ""))
    parts.append(
        "run the same command again to resume"
        if resumable
        else "the checkpoint is off, so running again exports everything again"
    )
    return Interrupted(signal_name, "; ".join(parts))


def exit_if_aborted(token: StopToken) -> None:
    """Ends the process now, with the signal's exit code, when `token` was aborted while
    other threads of the run still work: Python would wait for them before exiting.
    Call after the run's outcome is printed; removes the remaining temporary dirs."""
    if not token.aborted or token.signal_name is None:
        return
    if not any(t.is_alive() and not t.daemon for t in _other_threads()):
        return
    _remove_all_temp_dirs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # closed or broken: nothing left to save
            stream.flush()
    os._exit(Interrupted(token.signal_name).exit_code)


def _remove_all_temp_dirs(timeout: float = -1) -> None:
    """Removes every temporary dir of the run still there (waiting at most `timeout`
    seconds for the list, when given: the forced exit must not block)."""
    if not _temp_lock.acquire(timeout=timeout):
        return
    try:
        leftovers = sorted(_temp_dirs)
    finally:
        _temp_lock.release()
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)


def _other_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t is not threading.current_thread()]


# --- temporary directories ------------------------------------------------------------

TEMP_PREFIX = "br-parquet-"
"""Temporary directories start with this, the pid and `-`, so that a later run can remove
those of a process that was killed."""

_temp_dirs: set[Path] = set()
_temp_lock = threading.Lock()


def make_temp_dir(purpose: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """A new private directory (mode 0700) `br-parquet-{pid}-{purpose}-…` in `parent`
    (default: the system temp folder)."""
    prefix = f"{TEMP_PREFIX}{os.getpid()}-{purpose}-"
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    with _temp_lock:
        _temp_dirs.add(path)
    return path


def remove_temp_dir(path: Path) -> None:
    """Removes a directory `make_temp_dir` made, with everything in it."""
    shutil.rmtree(path, ignore_errors=True)
    with _temp_lock:
        _temp_dirs.discard(path)

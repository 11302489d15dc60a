"""Crash points: let the resume tests kill the exporter at chosen moments.

The export calls `crash_point(event)` at the moments a real crash matters: before and after
each Parquet upload and each checkpoint entry write. With the environment variable

    BR_PARQUET_TEST_KILL=<kind>-<event>:<n>[:<delay-ms>]

set, the process sends itself SIGKILL (no cleanup, no flushing, like a machine losing
power for everything but the storage) at the n-th (1-based) `<event>` of the run:

- `at-<event>:<n>` kills right there, e.g. `at-after-upload:3` between the third upload
  and its entry;
- `during-<event>:<n>[:<delay-ms>]` kills from another thread `delay-ms` (default 0)
  after the point, while the operation that follows runs (or just after it), e.g.
  `during-before-upload:5` in the middle of the fifth upload.

Events: `before-upload`, `after-upload`, `before-entry`, `after-entry`, and, where the
checkpoint compacts entries, `before-index` and `after-index` around each index object
write (after it come the deletions of what the index replaces), and `before-commit` and
`after-commit` around each Iceberg table commit. Without the variable
(always, outside tests) `crash_point` returns at once.

A second hook slows a run down, so that a test can watch it (scrape its metrics, read its
progress) while it lasts: each SST task calls `task_delay()` when it starts, which, with

    BR_PARQUET_TEST_TASK_DELAY_MS=<ms>

set, sleeps that many milliseconds; without the variable it returns at once.

A third hook holds tasks back until a test lets them go, so that it can act (send a
signal) at a known point: each SST task then calls `task_gate()`, which, with

    BR_PARQUET_TEST_TASK_GATE=<directory>

set, blocks the n-th task to start in this process (1-based) until a file named `n`
exists in that directory, checking every `GATE_POLL_SECONDS`; without the variable it
returns at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time

ENV = "BR_PARQUET_TEST_KILL"
DELAY_ENV = "BR_PARQUET_TEST_TASK_DELAY_MS"
GATE_ENV = "BR_PARQUET_TEST_TASK_GATE"
GATE_POLL_SECONDS = 0.01
EVENTS = (
    "before-upload",
    "after-upload",
    "before-entry",
    "after-entry",
    "before-index",
    "after-index",
    "before-commit",
    "after-commit",
)


class _Plan:
    def __init__(self, spec: str) -> None:
        parts = spec.split(":")
        kind, _, event = parts[0].partition("-")
        if kind not in ("at", "during") or event not in EVENTS or len(parts) not in (2, 3):
            raise ValueError(
                f"{ENV}={spec!r}: expected at-<event>:<n> or during-<event>:<n>[:<delay-ms>] "
                f"with <event> one of {', '.join(EVENTS)}"
            )
        self.event = event
        self.asynchronous = kind == "during"
        self.nth = int(parts[1])
        self.delay = int(parts[2]) / 1000 if len(parts) == 3 else 0.0
        self.seen = 0
        self.lock = threading.Lock()

    def reached(self, event: str) -> None:
        if event != self.event:
            return
        with self.lock:
            self.seen += 1
            if self.seen != self.nth:
                return
        if self.asynchronous:
            threading.Timer(self.delay, _kill).start()
        else:
            _kill()


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


_spec = os.environ.get(ENV)
_plan = _Plan(_spec) if _spec else None


def crash_point(event: str) -> None:
    """Kill the process here if the test plan in `BR_PARQUET_TEST_KILL` says so."""
    if _plan is not None:
        _plan.reached(event)


def _delay_seconds(spec: str | None) -> float:
    if not spec:
        return 0.0
    try:
        ms = int(spec)
    except ValueError:
        raise ValueError(f"{DELAY_ENV}={spec!r}: expected milliseconds, an integer") from None
    if ms < 0:
        raise ValueError(f"{DELAY_ENV}={spec!r}: expected milliseconds, at least 0")
    return ms / 1000


_task_delay = _delay_seconds(os.environ.get(DELAY_ENV))


def task_delay() -> None:
    """Sleep as long as `BR_PARQUET_TEST_TASK_DELAY_MS` says (not at all without it)."""
    if _task_delay:
        time.sleep(_task_delay)


_gate = os.environ.get(GATE_ENV)
_gate_tasks = 0
_gate_lock = threading.Lock()


def task_gate() -> None:
    """Wait until `BR_PARQUET_TEST_TASK_GATE` lets this task go (at once without it)."""
    global _gate_tasks
    if not _gate:
        return
    with _gate_lock:
        _gate_tasks += 1
        ticket = os.path.join(_gate, str(_gate_tasks))
    while not os.path.exists(ticket):
        time.sleep(GATE_POLL_SECONDS)

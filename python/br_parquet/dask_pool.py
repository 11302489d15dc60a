"""The Dask executor: SST tasks on the workers of a Dask cluster (`--executor dask`).

Without `--scheduler` it starts a `LocalCluster` of worker processes on 127.0.0.1 (its
dashboard, where bokeh is installed, on a free loopback port), `--sst-concurrency`
threads in all, `--worker-threads` per process, each limited to `--worker-memory`.
With `--scheduler` it connects to a running scheduler and uses the workers it has, as
they come and go.

Each task is submitted as `executor.call_task(run, task)`: plain top-level functions of
the installed package, which Dask pickles by reference, and a task value of plain data
(no native object), without secrets unless `--executor-send-keys`. A task that raised an
error a retry may cure runs again up to `--task-retries` times (Dask's retries); a task
whose worker died runs again on another worker (Dask reschedules it, up to its
`allowed-failures`). Objects are named by their SSTs and entries are written after their
uploads, so a task run twice writes the same objects.

Dask's futures are adapted to `concurrent.futures` futures that are running from the
start: the export waits for the tasks in flight after an error or a first signal, as it
does with threads.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distributed import Client, Future, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.scheduler import KilledWorker

from . import __version__
from .errors import ExecutorError, UsageError
from .executor import Failed, call_task, for_remote
from .options import ExportOptions

log = logging.getLogger("br_parquet.dask")

CONNECT_SECONDS = 30.0
"""How long to try to reach a scheduler."""
WORKER_WAIT_SECONDS = 300.0
"""How long to wait for a scheduler's first worker."""
LIMIT_REFRESH_SECONDS = 5.0
"""How often the cluster's thread count (the tasks kept in flight) is asked again."""


class IgnoreInterrupts(WorkerPlugin):
    """Lets the workers of the local cluster ignore SIGINT: Ctrl-C reaches the whole
    process group, and the export, not each worker, decides how a run stops."""

    name = "br-parquet-ignore-sigint"

    def setup(self, worker: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_version() -> str:
    """Runs on each worker: the br-parquet version installed there."""
    return __version__


class _ClusterExecutor(cf.Executor):
    """Submits `run(task, workdir)` as `call_task(run, for_remote(task))` with retries."""

    def __init__(self, client: Client, retries: int, send_keys: bool) -> None:
        self._client = client
        self._retries = retries
        self._send_keys = send_keys

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        task = args[0]
        name = str(getattr(task, "name", "task"))
        remote = self._client.submit(
            call_task,
            fn,
            for_remote(task, self._send_keys),
            key=f"br-parquet-sst-{uuid.uuid4().hex}",
            retries=self._retries,
            pure=False,
        )
        local: cf.Future[Any] = cf.Future()
        local.set_running_or_notify_cancel()  # cancelled only by closing the pool
        remote.add_done_callback(lambda f: _settle(f, local, name, self._retries))
        return local


def _settle(remote: Future[Any], local: cf.Future[Any], name: str, retries: int) -> None:
    """Passes the outcome of `remote` (task `name`) to `local`."""
    try:
        status = remote.status
        if status == "finished":
            value = remote.result()
            if isinstance(value, Failed):
                local.set_exception(value.error)
            else:
                local.set_result(value)
            return
        if status == "cancelled":
            local.set_exception(ExecutorError(f"SST task {name} was cancelled by the Dask cluster"))
            return
        error = remote.exception()
        if isinstance(error, KilledWorker):
            error = ExecutorError(
                f"SST task {name}: every Dask worker that ran it died ({error}); check the "
                "workers' memory (--worker-memory, dask worker --memory-limit) and their logs"
            )
        else:
            log.error("SST task %s failed in %d runs on Dask workers: %s", name, retries + 1, error)
        local.set_exception(error or ExecutorError(f"SST task {name} failed"))
    except BaseException as e:  # a lost connection to the scheduler, …
        if not local.done():
            local.set_exception(
                ExecutorError(f"SST task {name}: lost the Dask cluster ({type(e).__name__}: {e})")
            )


@dataclass
class DaskPool:
    """A Dask client (and the local cluster it started) as a `TaskPool`."""

    client: Client
    cluster: LocalCluster | None
    executor: _ClusterExecutor
    _limit: int = 1
    _asked: float = 0.0

    @classmethod
    def start(cls, options: ExportOptions) -> DaskPool:
        cluster: LocalCluster | None = None
        if options.scheduler is None:
            workers = math.ceil(options.sst_concurrency / options.worker_threads)
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=options.worker_threads,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",  # a free port on the loopback host
                memory_limit=options.worker_memory or "auto",
                silence_logs=logging.ERROR,
            )
            client = Client(cluster, set_as_default=False)
            client.register_plugin(IgnoreInterrupts())
            log.info(
                "started a local Dask cluster at %s (dashboard %s): %d worker processes of "
                "%d threads",
                cluster.scheduler_address,
                cluster.dashboard_link,
                workers,
                options.worker_threads,
            )
        else:
            client = _connect(options.scheduler)
        try:
            _check_workers(client, options.scheduler)
        except BaseException:
            client.close()
            if cluster is not None:
                cluster.close()
            raise
        executor = _ClusterExecutor(client, options.task_retries, options.executor_send_keys)
        return cls(client, cluster, executor)

    def limit(self) -> int:
        now = time.monotonic()
        if now - self._asked >= LIMIT_REFRESH_SECONDS:
            self._asked = now
            try:
                threads = sum(self.client.nthreads().values())
            except Exception:  # the scheduler is busy or gone: keep the last count
                threads = 0
            if threads:
                self._limit = threads
        return self._limit

    def close(self, *, abandon: bool) -> None:
        timeout = 5 if abandon else 30
        self.client.close(timeout=timeout)
        if self.cluster is not None:
            self.cluster.close(timeout=timeout)


def _connect(address: str) -> Client:
    target: dict[str, Any] = (
        {"scheduler_file": address} if os.path.isfile(address) else {"address": address}
    )
    try:
        return Client(**target, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    except ValueError as e:
        raise UsageError(f"--scheduler {address!r}: {e}") from None


def _check_workers(client: Client, scheduler: str | None) -> None:
    """Waits for a worker, and checks that every worker runs this br-parquet version."""
    if scheduler is not None:
        log.info("waiting for the workers of the Dask scheduler at %s", scheduler)
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except TimeoutError:
        raise ExecutorError(
            f"the Dask scheduler at {scheduler} has no worker after {WORKER_WAIT_SECONDS:g} s"
        ) from None
    try:
        versions: dict[str, str] = client.run(worker_version)
    except Exception as e:
        raise ExecutorError(
            f"a Dask worker cannot run br-parquet tasks ({type(e).__name__}: {e}); install "
            f"br-parquet=={__version__} on every worker"
        ) from None
    other = {addr: v for addr, v in versions.items() if v != __version__}
    if other:
        shown = ", ".join(f"{a} has {v}" for a, v in sorted(other.items()))
        raise ExecutorError(
            f"Dask workers run another br-parquet version than this one ({__version__}): "
            f"{shown}; install br-parquet=={__version__} on every worker"
        )

"""Where the SST tasks of an export run: `open_pool` gives a `TaskPool`, the threads of
this process (`--executor local`) or the workers of a Dask cluster (`--executor dask`,
in `dask_pool`, imported only then: the local executor never imports Dask).

A pool says how many tasks to keep in flight, where a task keeps its local files, and
what of a task may leave this process: for a cluster, `for_remote` removes every secret
(storage credentials given with the input and output, the crypter key, the catalog's)
unless `--executor-send-keys` says to send them.

`call_task` is what a remote worker runs: the task's own function, with the errors that
running it again cannot cure (bad input, failed verification, bad usage) returned as a
value instead of raised, so that the cluster's retries are spent only on failures that
may pass (storage, a lost connection, memory).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from . import interrupt
from .errors import EXIT_INTERNAL, EXIT_STORAGE, BrParquetError, UsageError
from .options import ExportOptions
from .proto import brpb_pb2 as brpb

_T = TypeVar("_T")
_R = TypeVar("_R")


class TaskPool(Protocol):
    """Runs the tasks of one export."""

    @property
    def executor(self) -> Executor: ...

    def limit(self) -> int:
        """Tasks to keep in flight now (a cluster's workers may come and go)."""
        ...

    def close(self, *, abandon: bool) -> None:
        """Releases the pool; `abandon`: without waiting for the tasks in flight."""
        ...


@dataclass
class LocalPool:
    """`sst_concurrency` threads of this process."""

    executor: Executor
    size: int

    def limit(self) -> int:
        return self.size

    def close(self, *, abandon: bool) -> None:
        self.executor.shutdown(wait=not abandon, cancel_futures=True)


@contextmanager
def open_pool(options: ExportOptions) -> Iterator[TaskPool]:
    """The pool of `options.executor`, closed on exit; on a signal's abort (a second
    Ctrl-C) without waiting for the tasks in flight."""
    pool: TaskPool
    if options.executor == "dask":
        try:
            from .dask_pool import DaskPool
        except ImportError as e:
            raise UsageError(
                f"--executor dask needs Dask ({e}); install it with: pip install 'br-parquet[dask]'"
            ) from None
        pool = DaskPool.start(options)
    else:
        threads = ThreadPoolExecutor(options.sst_concurrency, thread_name_prefix="sst")
        pool = LocalPool(threads, options.sst_concurrency)
    try:
        yield pool
    finally:
        token = interrupt.active()
        pool.close(abandon=token is not None and token.aborted)


def retryable(error: BaseException) -> bool:
    """Whether running a task again may cure `error`: storage failures and unexpected
    errors may pass; bad input, verification and usage errors will not."""
    if isinstance(error, BrParquetError):
        return error.exit_code in (EXIT_STORAGE, EXIT_INTERNAL)
    return isinstance(error, Exception)


@dataclass(frozen=True)
class Failed:
    """A task's error that a retry cannot cure, returned by `call_task` as its value."""

    error: BaseException


def call_task(run: Callable[[_T, str | None], _R], task: _T) -> _R | Failed:
    """Runs `task` on a worker (files in the worker's temp folder)."""
    try:
        return run(task, None)
    except Exception as e:
        if retryable(e):
            raise
        return Failed(e)


# --- secrets ------------------------------------------------------------------------------

_SECRET_FIELDS = {
    "s3": ("access_key", "secret_access_key", "session_token"),
    "gcs": ("credentials_blob",),
    "azure_blob_storage": ("shared_key", "access_sig"),
}


def backend_without_secrets(backend: brpb.StorageBackend) -> brpb.StorageBackend:
    """`backend` without the credentials it carries: a worker finds its own."""
    kind = backend.WhichOneof("backend")
    names = _SECRET_FIELDS.get(kind or "")
    if not names:
        return backend
    out = brpb.StorageBackend()
    out.CopyFrom(backend)
    part = getattr(out, kind or "")
    for name in names:
        part.ClearField(name)
    if kind == "azure_blob_storage" and part.HasField("encryption_key"):
        part.ClearField("encryption_key")
    return out


def has_secrets(backend: brpb.StorageBackend) -> bool:
    return backend_without_secrets(backend) != backend


def options_for_tasks(options: ExportOptions, *, crypter: bool) -> ExportOptions:
    """`options` as a task needs them: without the catalog and its credentials (the driver
    alone commits), and without the crypter key unless `crypter`."""
    return dataclasses.replace(
        options,
        crypter=options.crypter if crypter else None,
        catalog=None,
        catalog_properties=(),
        write_iceberg_manifest=False,
        iceberg_warehouse=None,
        iceberg_namespace=None,
        iceberg_table=None,
    )


def for_remote(task: _T, send_keys: bool) -> _T:
    """`task` as it may leave this process: without the catalog's credentials, and without
    storage credentials and the crypter key unless `send_keys`. Tasks are frozen
    dataclasses with `options`, `output` and `input` or `inputs`."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(task):  # type: ignore[arg-type]
        value = getattr(task, f.name)
        if isinstance(value, ExportOptions):
            changes[f.name] = options_for_tasks(value, crypter=send_keys)
        elif send_keys:
            continue
        elif isinstance(value, brpb.StorageBackend):
            changes[f.name] = backend_without_secrets(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], brpb.StorageBackend):
            changes[f.name] = tuple(backend_without_secrets(b) for b in value)
    return dataclasses.replace(task, **changes)  # type: ignore[type-var]

"""Streaming one table of a backup as Arrow record batches, straight from its SSTs.

Up to `concurrency` SSTs are fetched and decoded at once, on threads (Rust releases the
GIL while it decodes). Each holds at most `_BATCHES_PER_SST` decoded batches waiting, and
batches come out in SST key order, so memory is bounded by `concurrency` and the batch
size, never by the table's size.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import pyarrow as pa

from ._native import SstScan, TableDecoder
from .cache import SstCache
from .plan import SstTask

_BATCHES_PER_SST = 2
_POLL_SECONDS = 0.1
_DONE = object()


@dataclass(frozen=True)
class ScanRequest:
    """What to decode: the table's (projected) decoder, its SSTs in key order, and the
    handle range `lo <= handle < hi` (None: everything)."""

    decoder: TableDecoder
    tasks: Sequence[SstTask]
    batch_rows: int
    concurrency: int
    handle_range: tuple[int | None, int | None] | None


def scan_reader(request: ScanRequest, cache: SstCache) -> pa.RecordBatchReader:
    """A reader of the request's batches; decoding starts when it is first read."""
    schema = request.decoder.arrow_schema()
    return pa.RecordBatchReader.from_batches(schema, _batches(request, cache))


def _batches(request: ScanRequest, cache: SstCache) -> Iterator[pa.RecordBatch]:
    stop = threading.Event()
    tasks = iter(request.tasks)
    active: deque[tuple[queue.Queue[object], Future[None]]] = deque()
    with ThreadPoolExecutor(request.concurrency, thread_name_prefix="scan") as pool:

        def start_next() -> None:
            task = next(tasks, None)
            if task is not None:
                out: queue.Queue[object] = queue.Queue(_BATCHES_PER_SST)
                active.append((out, pool.submit(_produce, request, cache, task, out, stop)))

        try:
            for _ in range(request.concurrency):
                start_next()
            while active:
                out, future = active[0]
                item = out.get()
                if item is _DONE:
                    active.popleft()
                    future.result()  # raises the producer's error
                    start_next()
                    continue
                assert isinstance(item, pa.RecordBatch)
                yield item
        finally:
            # The reader was closed, or a producer failed: stop the others.
            stop.set()


def _produce(
    request: ScanRequest,
    cache: SstCache,
    task: SstTask,
    out: queue.Queue[object],
    stop: threading.Event,
) -> None:
    try:
        with ExitStack() as stack:
            write = stack.enter_context(cache.open(task.write))
            default = stack.enter_context(cache.open(task.default)) if task.default else None
            scan = SstScan(
                write,
                [request.decoder],
                default_sst=default,
                name=task.name,
                default_name=task.default.name if task.default else None,
                key_range=(bytes(task.write.start_key), bytes(task.write.end_key)),
                batch_rows=request.batch_rows,
                handle_range=request.handle_range,
            )
            for _, batch in scan:
                if not _put(out, batch, stop):
                    return
    finally:
        _put(out, _DONE, stop)


def _put(out: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Waits for room in `out`; False when the consumer went away."""
    while not stop.is_set():
        try:
            out.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False

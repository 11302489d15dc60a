"""Decoding an SST on a thread of its own, a few batches ahead of the code that writes them.

`SstScan` releases the GIL while it decodes and pyarrow releases it while it encodes and
compresses Parquet, so with the scan on its own thread the two overlap: a task takes
about as long as the slower of them instead of their sum, where a CPU is free to run the
second thread (`spare_cores`). A bounded queue keeps at most `DEFAULT_AHEAD` decoded
batches waiting, so memory does not depend on the SST's size.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from types import TracebackType

import pyarrow as pa

from ._native import SstScan

DEFAULT_AHEAD = 4
"""Decoded batches that may wait for the writer (each `batch_rows` rows)."""

_POLL_SECONDS = 0.05


class _End:
    """What the decoding thread queues last: nothing more, or the error that stopped it."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def spare_cores(workers: int) -> bool:
    """Whether `workers` tasks at once leave CPUs idle that decoding ahead can use. When
    they do not, a thread more per task only adds hand-overs: the tasks themselves keep
    every CPU busy."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return workers < cpus


class DecodeAhead:
    """Iterates `scan` on a thread of its own; iterating this yields its `(table index,
    batch)` pairs in order and raises the scan's error where the scan raised it. With
    `ahead=0` the scan runs on the iterating thread instead (no overlap, no thread).

    Use it as a context manager: leaving the block stops the thread (after the batch it
    is decoding) and waits for it, so that the scan is no longer in use.
    """

    def __init__(self, scan: SstScan, ahead: int = DEFAULT_AHEAD) -> None:
        self._scan = scan
        self._queue: queue.Queue[tuple[int, pa.RecordBatch] | _End] = queue.Queue(max(1, ahead))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if ahead > 0:
            self._thread = threading.Thread(target=self._run, name="sst-decode", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        end = _End(None)
        try:
            for item in self._scan:
                if not self._put(item):
                    return
        except BaseException as e:
            end = _End(e)
        self._put(end)

    def _put(self, item: tuple[int, pa.RecordBatch] | _End) -> bool:
        """Queues `item` unless asked to stop first; whether it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        if self._thread is None:
            yield from self._scan
            return
        while True:
            item = self._queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def close(self) -> None:
        """Stops the thread and waits for it; the batches still queued are dropped."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        while not self._queue.empty():
            self._queue.get_nowait()

    def __enter__(self) -> DecodeAhead:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

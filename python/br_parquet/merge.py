"""The newest version of every key across a chain of backups, merged as a stream.

A task of a chain export reads one key range of one physical table from every backup of
the chain: one stream of record batches per backup, oldest first, each in handle order
(the SSTs of one backup do not overlap). `merge_newest` merges them by handle and keeps,
for each handle, the row of the newest backup that has one: a Put, or a Delete, which
removes the key (it is dropped, or kept as a tombstone with `keep_deletes`).

It works in windows: the smallest last handle among the streams' current batches is a
watermark below which no stream can hold another row, so everything up to it is merged
and written, and the rest waits for the next window. Memory is one batch per stream plus
the window, whatever the range's size; the output is in handle order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

HANDLE = "_tidb_handle"
OP = "_tidb_op"
PUT = "put"
_RANK = "__br_parquet_rank"
"""The backup of a row (its stream's index: newer backups rank higher), while merging."""


def merge_newest(
    streams: Sequence[Iterator[pa.RecordBatch]], *, keep_deletes: bool = False
) -> Iterator[pa.RecordBatch]:
    """Merges `streams` (oldest backup first; batches with `_tidb_handle` and `_tidb_op`,
    each stream in ascending handle order) into the newest row per handle, in order."""
    current: list[pa.RecordBatch | None] = [_next(s) for s in streams]
    while True:
        active = [i for i, batch in enumerate(current) if batch is not None]
        if not active:
            return
        watermark = min(_last_handle(current[i]) for i in active)
        window: list[pa.RecordBatch] = []
        for i in active:
            batch = current[i]
            assert batch is not None
            handles = batch.column(HANDLE)
            upto = pc.sum(pc.less_equal(handles, pa.scalar(watermark, handles.type))).as_py()
            taken = int(upto or 0)
            if taken:
                head = batch.slice(0, taken)
                rank = pa.array([i] * taken, pa.int32())
                window.append(head.append_column(_RANK, rank))
            rest = batch.slice(taken)
            current[i] = rest if rest.num_rows else _next(streams[i])
        merged = _newest(pa.Table.from_batches(window), keep_deletes)
        if merged.num_rows:
            yield from merged.combine_chunks().to_batches()


def _newest(window: pa.Table, keep_deletes: bool) -> pa.Table:
    """The newest row of each handle in `window`, deletes dropped unless kept."""
    ordered = window.sort_by([(HANDLE, "ascending"), (_RANK, "descending")])
    handles = ordered.column(HANDLE)
    if ordered.num_rows > 1:
        changed = pc.not_equal(handles.slice(1), handles.slice(0, ordered.num_rows - 1))
        first = pa.concat_arrays([pa.array([True]), *changed.chunks])
        ordered = ordered.filter(first)
    if not keep_deletes:
        ordered = ordered.filter(pc.equal(ordered.column(OP), PUT))
    return ordered.drop_columns([_RANK])


def _last_handle(batch: pa.RecordBatch | None) -> Any:
    assert batch is not None
    return batch.column(HANDLE)[batch.num_rows - 1].as_py()


def _next(stream: Iterator[pa.RecordBatch]) -> pa.RecordBatch | None:
    """The stream's next batch with rows, None at its end."""
    for batch in stream:
        if batch.num_rows:
            return batch
    return None

"""`merge.merge_newest` against a dictionary model of a chain: for random backups (keys,
Puts and Deletes), random batch sizes and both handle kinds, the merge gives the newest
row of every key, in handle order, with deletes dropped or kept as tombstones."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from br_parquet.merge import merge_newest

Version = tuple[str, str]  # (op, value)


def stream(
    rows: list[tuple[object, str, str]], size: int, kind: pa.DataType
) -> Iterator[pa.RecordBatch]:
    table = pa.table(
        {
            "_tidb_handle": pa.array([r[0] for r in rows], kind),
            "_tidb_op": [r[1] for r in rows],
            "v": [r[2] for r in rows],
        }
    )
    yield from table.to_batches(max_chunksize=size)


backups = st.lists(
    st.dictionaries(
        st.integers(-50, 50),
        st.sampled_from(["put", "delete"]),
        max_size=40,
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(backups, st.integers(1, 9), st.booleans(), st.booleans())
def test_newest_version_of_every_key(
    chain: list[dict[int, str]], size: int, keep: bool, binary: bool
) -> None:
    kind = pa.binary() if binary else pa.int64()

    def handle(k: int) -> object:
        # Bytes that sort like the numbers (a common handle's memcomparable form).
        return (k + 128).to_bytes(2, "big") if binary else k

    newest: dict[int, Version] = {}
    streams = []
    for b, ops in enumerate(chain):
        rows = [(handle(k), op, f"{b}:{k}") for k, op in sorted(ops.items())]
        for k, op in ops.items():
            newest[k] = (op, f"{b}:{k}")
        streams.append(stream(rows, size, kind))
    out = [r for batch in merge_newest(streams, keep_deletes=keep) for r in batch.to_pylist()]
    handles = [r["_tidb_handle"] for r in out]
    assert handles == sorted(set(handles))
    want = {handle(k): (op, v) for k, (op, v) in newest.items() if keep or op == "put"}
    assert {r["_tidb_handle"]: (r["_tidb_op"], r["v"]) for r in out} == want


def test_columns_and_types_are_kept() -> None:
    older = pa.record_batch(
        {"_tidb_handle": [1, 2], "_tidb_op": ["put", "put"], "x": pa.array([1.5, None])}
    )
    newer = pa.record_batch({"_tidb_handle": [2], "_tidb_op": ["put"], "x": pa.array([2.5])})
    (batch,) = merge_newest([iter([older]), iter([newer])])
    assert batch.schema == older.schema
    assert batch.to_pylist() == [
        {"_tidb_handle": 1, "_tidb_op": "put", "x": 1.5},
        {"_tidb_handle": 2, "_tidb_op": "put", "x": 2.5},
    ]

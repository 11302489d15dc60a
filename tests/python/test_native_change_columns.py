"""Change columns (`_tidb_op`, `_tidb_commit_ts`), Delete tombstones and `clip_range` of
the native `TableDecoder` and `SstScan`, on incremental backups written by `write_backup`
(Delete records included, one commit ts per key where given)."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from br_parquet.testing import (
    BackupInfo,
    BackupSpec,
    DatabaseSpec,
    DataFile,
    RawEntry,
    table,
    write_backup,
)
from br_parquet.testing.keys import record_key
from br_parquet.testing.tablecodec import encode_row
from br_parquet.testing.writecf import WriteType

native = pytest.importorskip("br_parquet._native")

START_VERSION = 445_063_339_000_000_000
COMMIT_TS = 445_063_339_262_394_369
ITEMS_ID = 500
ITEM_IDS = range(1, 40)
DELETED = [5, 17, 40, 41]  # 5 and 17: not among the Puts (a key is written once)
PUT_IDS = [i for i in ITEM_IDS if i not in DELETED]
# A Delete of its own commit ts, as a newer transaction writes it.
LATE_DELETE, LATE_TS = 45, COMMIT_TS + 1000
FRUIT_COLUMNS = [("name", "varchar(64) primary key"), ("n", "int not null")]
FRUITS = ["apple", "kiwi", "pear", "plum"]
DELETED_FRUITS = ["fig", "lime"]
BATCH_ROWS = 5


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> BackupInfo:
    root = tmp_path_factory.mktemp("changes") / "backup"
    items = table(
        "items",
        [("id", "bigint primary key"), ("name", "varchar(400) not null"), ("qty", "int")],
        rows=[(i, "x" * (300 if i % 9 == 0 else i), i * 2) for i in PUT_IDS],
        table_id=ITEMS_ID,
        split_at=[20],
        deleted=DELETED,
        raw_entries=[
            RawEntry(
                record_key(ITEMS_ID, LATE_DELETE),
                write_type=WriteType.DELETE,
                commit_ts=LATE_TS,
                start_ts=LATE_TS - 5,
            )
        ],
    )
    fruit = table(
        "fruit",
        FRUIT_COLUMNS,
        rows=[(f, i) for i, f in enumerate(FRUITS)],
        clustered=True,
        deleted=[fruit_handle(f) for f in DELETED_FRUITS],
    )
    spec = BackupSpec(
        [DatabaseSpec("shop", [items, fruit])],
        start_version=START_VERSION,
        commit_ts=COMMIT_TS,
    )
    return write_backup(root, spec)


def fruit_handle(name: str) -> bytes:
    """The clustered handle of the fruit `name` (the key's datums after `_r`)."""
    info = table("fruit", FRUIT_COLUMNS, clustered=True).info
    handle = encode_row(info, (name, 0)).handle
    assert isinstance(handle, bytes)
    return handle


def decoder(info: BackupInfo, name: str, mapping: str = "typed", **change: bool) -> Any:
    return native.TableDecoder(info.tables[f"shop.{name}"].to_json(), mapping, **change)


def write_files(info: BackupInfo, dec: Any) -> list[DataFile]:
    return [
        f
        for f in info.data_files
        if f.file.cf == "write" and set(f.physical_ids) & set(dec.physical_ids)
    ]


def default_of(f: DataFile) -> Path | None:
    path = f.path.with_name(f.path.name.removesuffix("_write.sst") + "_default.sst")
    return path if path.exists() else None


def scan(
    info: BackupInfo, dec: Any, **options: Any
) -> tuple[pa.Table, Counter[str], list[dict[str, tuple[int, int, int]] | None]]:
    """All rows of `dec`'s table, the summed stats and each write file's checksums."""
    batches, stats, sums = [], Counter[str](), []
    for f in write_files(info, dec):
        s = native.SstScan(
            f.path, [dec], batch_rows=BATCH_ROWS, default_sst=default_of(f), **options
        )
        got = [b for _, b in s]
        assert all(0 < b.num_rows <= BATCH_ROWS for b in got)
        assert s.table_rows() == [sum(b.num_rows for b in got)]
        batches += got
        stats.update(s.stats())
        sums.append(s.checksums())
    return pa.Table.from_batches(batches, schema=dec.arrow_schema()), stats, sums


def test_the_schema_has_the_change_columns_after_the_key(backup: BackupInfo) -> None:
    plain = decoder(backup, "items")
    assert (plain.op_column, plain.commit_ts_column) == (False, False)
    assert [(f.name, f.nullable) for f in plain.arrow_schema()] == [
        ("_tidb_table_id", False),
        ("_tidb_handle", False),
        ("id", False),
        ("name", False),
        ("qty", True),
    ]
    both = decoder(backup, "items", op_column=True, commit_ts_column=True)
    assert (both.op_column, both.commit_ts_column) == (True, True)
    assert [(f.name, str(f.type), f.nullable) for f in both.arrow_schema()] == [
        ("_tidb_table_id", "int64", False),
        ("_tidb_handle", "int64", False),
        ("_tidb_op", "string", False),
        ("_tidb_commit_ts", "int64", False),
        ("id", "int64", True),
        ("name", "string", True),
        ("qty", "int32", True),
    ]
    ts_only = decoder(backup, "items", "compat", commit_ts_column=True)
    assert ts_only.arrow_schema().names == [
        "_tidb_table_id",
        "_tidb_handle",
        "_tidb_commit_ts",
        "id",
        "name",
        "qty",
    ]
    # Only table columns are nullable with op_column; without it nothing changes.
    assert not ts_only.arrow_schema().field("name").nullable
    assert ts_only.column_names == plain.column_names == ["id", "name", "qty"]
    with pytest.raises(TypeError):
        native.TableDecoder(backup.tables["shop.items"].to_json(), "typed", True)


def test_deletes_are_counted_and_skipped_without_op_column(backup: BackupInfo) -> None:
    got, stats, _ = scan(backup, decoder(backup, "items", commit_ts_column=True))
    assert got.column("_tidb_handle").to_pylist() == PUT_IDS
    assert got.column("_tidb_commit_ts").to_pylist() == [COMMIT_TS] * len(PUT_IDS)
    assert stats["rows"] == len(PUT_IDS)
    assert (stats["deletes"], stats["delete_rows"]) == (len(DELETED) + 1, 0)


@pytest.mark.parametrize("mapping", ["compat", "typed"])
def test_deletes_become_tombstones_in_handle_order(backup: BackupInfo, mapping: str) -> None:
    dec = decoder(backup, "items", mapping, op_column=True, commit_ts_column=True)
    got, stats, _ = scan(backup, dec)
    deleted = {*DELETED, LATE_DELETE}
    handles = sorted([*PUT_IDS, *deleted])
    assert got.column("_tidb_handle").to_pylist() == handles
    assert got.column("_tidb_table_id").to_pylist() == [ITEMS_ID] * len(handles)
    ops = got.column("_tidb_op").to_pylist()
    assert ops == ["delete" if h in deleted else "put" for h in handles]
    ts = got.column("_tidb_commit_ts").to_pylist()
    assert ts == [LATE_TS if h == LATE_DELETE else COMMIT_TS for h in handles]
    values = got.select(["id", "name", "qty"]).to_pylist()
    rows = dict(zip(handles, values, strict=True))
    for h in deleted:
        assert rows[h] == {"id": None, "name": None, "qty": None}
    # Puts decode as before, long values from the default CF included.
    plain, _, _ = scan(backup, decoder(backup, "items", mapping))
    puts = got.filter(pc.equal(got.column("_tidb_op"), "put"))
    for name in ["_tidb_handle", "id", "name", "qty"]:
        assert puts.column(name).to_pylist() == plain.column(name).to_pylist(), name
    assert stats["rows"] == len(handles)
    assert stats["deletes"] == stats["delete_rows"] == len(deleted)
    assert stats["default_cf_values"] == sum(1 for i in PUT_IDS if i % 9 == 0)


def test_clustered_tombstones_carry_the_common_handle(backup: BackupInfo) -> None:
    dec = decoder(backup, "fruit", op_column=True)
    got, stats, _ = scan(backup, dec)
    rows = got.to_pylist()
    by_handle = {r["_tidb_handle"]: r for r in rows}
    assert len(by_handle) == len(rows) == len(FRUITS) + len(DELETED_FRUITS)
    assert [r["_tidb_handle"] for r in rows] == sorted(by_handle)  # key order
    for i, f in enumerate(FRUITS):
        row = by_handle[fruit_handle(f)]
        assert (row["_tidb_table_id"], row["_tidb_op"], row["name"], row["n"]) == (
            dec.table_id,
            "put",
            f,
            i,
        )
    for f in DELETED_FRUITS:
        row = by_handle[fruit_handle(f)]
        assert (row["_tidb_table_id"], row["_tidb_op"], row["name"], row["n"]) == (
            dec.table_id,
            "delete",
            None,
            None,
        )
    assert stats["delete_rows"] == len(DELETED_FRUITS)


def test_projections_accept_the_change_columns_and_keep_the_options(
    backup: BackupInfo,
) -> None:
    dec = decoder(backup, "items", op_column=True, commit_ts_column=True)
    full, _, _ = scan(backup, dec)
    for names in (["_tidb_op", "_tidb_handle"], ["qty", "_tidb_commit_ts"], ["name"]):
        projected = dec.project(names)
        assert (projected.op_column, projected.commit_ts_column) == (True, True)
        assert projected.arrow_schema().names == names
        got, stats, _ = scan(backup, projected)
        # Tombstones are rows also when `_tidb_op` is not output.
        assert got.num_rows == full.num_rows == stats["rows"]
        for name in names:
            assert got.column(name).equals(full.column(name)), name
    available = "available: _tidb_table_id, _tidb_handle, _tidb_commit_ts, id, name, qty$"
    with pytest.raises(ValueError, match=f'no column "_tidb_op" to project; {available}'):
        decoder(backup, "items", commit_ts_column=True).project(["_tidb_op"])
    with pytest.raises(ValueError, match="_tidb_commit_ts"):
        decoder(backup, "items", op_column=True).project(["_tidb_commit_ts"])


def test_handle_range_applies_to_tombstones(backup: BackupInfo) -> None:
    dec = decoder(backup, "items", op_column=True).project(["_tidb_handle", "_tidb_op"])
    got, stats, _ = scan(backup, dec, handle_range=(17, 41))
    handles = got.column("_tidb_handle").to_pylist()
    assert handles == sorted({*(i for i in PUT_IDS if 17 <= i < 41), 17, 40})
    assert got.column("_tidb_op").to_pylist().count("delete") == stats["delete_rows"] == 2
    assert stats["rows"] + stats["out_of_range"] == len(PUT_IDS) + len(DELETED) + 1


def test_clip_ranges_partition_the_rows_and_keep_the_checksums(backup: BackupInfo) -> None:
    dec = decoder(backup, "items", op_column=True, commit_ts_column=True)
    full, full_stats, full_sums = scan(backup, dec, checksums=True)
    files = write_files(backup, dec)
    # The scan's checksums are the backup's own, per file.
    for f, file_sums in zip(files, full_sums, strict=True):
        assert file_sums is not None
        assert file_sums["write"] == (f.file.crc64xor, f.file.total_kvs, f.file.total_bytes)
    cuts = [b"", record_key(ITEMS_ID, 10), record_key(ITEMS_ID, 17), record_key(ITEMS_ID, 41)]
    cuts.append(b"")  # the last part is unbounded
    parts, clipped = [], 0
    for start, end in itertools.pairwise(cuts):
        got, stats, sums = scan(backup, dec, clip_range=(start, end), checksums=True)
        assert sums == full_sums, (start, end)
        parts.append(got)
        clipped += stats["clipped"]
        # Independent of the check against the files' ranges, which still passes.
        with_ranges = 0
        for f in files:
            key_range = (f.file.start_key, f.file.end_key)
            s = native.SstScan(
                f.path,
                [dec],
                batch_rows=BATCH_ROWS,
                default_sst=default_of(f),
                key_range=key_range,
                clip_range=(start, end),
            )
            with_ranges += sum(b.num_rows for _, b in s)
        assert with_ranges == got.num_rows
    assert pa.concat_tables(parts).equals(full)
    # Every write-CF entry is clipped by all but one of the four parts.
    assert clipped == 3 * full_stats["write_kvs"]


def test_a_clip_range_skips_without_decoding(backup: BackupInfo) -> None:
    dec = decoder(backup, "items", op_column=True)
    lo, hi = record_key(ITEMS_ID, 30), record_key(ITEMS_ID, 33)
    got, stats, _ = scan(backup, dec, clip_range=(lo, hi))
    assert got.column("_tidb_handle").to_pylist() == [30, 31, 32]
    assert stats["rows"] == 3
    assert stats["rows"] + stats["clipped"] == stats["write_kvs"]
    # A range in no file of the table: every entry is clipped.
    got, stats, _ = scan(backup, dec, clip_range=(record_key(ITEMS_ID + 1, 0), b""))
    assert got.num_rows == 0 and stats["clipped"] == stats["write_kvs"] > 0

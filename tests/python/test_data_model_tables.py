"""Every handle kind and table shape through the whole export: clustered
(VARCHAR and composite PKs), `_tidb_rowid` with secondary indexes, BIGINT
UNSIGNED PKs ≥ 2^63, partitions, row format v1, added and dropped columns."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet.cli import main as cli_main
from br_parquet.testing import (
    BackupSpec,
    DatabaseSpec,
    PartitionDef,
    PartitionInfo,
    RawEntry,
    column,
    encode_row,
    index,
    table,
    table_info,
    write_backup,
)


def export_table(backup: Path, out: Path, name: str, mapping: str = "compat") -> pa.Table:
    br_parquet.export(str(backup), str(out), filters=[f"db.{name}"], type_mapping=mapping)
    files = sorted((out / "parquet/db" / name).glob("*.parquet"))
    assert files, f"no output for {name}"
    return pa.concat_tables([pq.read_table(f) for f in files])


def rows_of(t: pa.Table, *cols: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r[c] for c in cols) for r in t.to_pylist())


def write(tmp_path: Path, *tables: Any, **spec: Any) -> Path:
    root = tmp_path / "backup"
    write_backup(root, BackupSpec([DatabaseSpec("db", list(tables))], **spec))
    return root


def test_clustered_varchar_primary_key(tmp_path: Path) -> None:
    rows = [("apple", 1), ("banana", 2), ("cherry pie", 3), ("", 4)]
    backup = write(
        tmp_path,
        table(
            "fruit",
            [("name", "varchar(64) primary key"), ("n", "int")],
            rows=rows,
            clustered=True,
            index_entries=True,
        ),
    )
    got = export_table(backup, tmp_path / "out", "fruit")
    assert got.schema.field("_tidb_handle").type == pa.binary()
    assert rows_of(got, "name", "n") == sorted(rows)
    handles = sorted(r["_tidb_handle"] for r in got.to_pylist())
    assert all(h[0] == 1 for h in handles)  # comparable-bytes datum flag


def test_clustered_composite_primary_key(tmp_path: Path) -> None:
    rows = [
        (1, "a", dt.date(2024, 1, 1), 10.5),
        (1, "b", dt.date(2024, 1, 2), 11.0),
        (-7, "a", dt.date(1999, 12, 31), None),
    ]
    backup = write(
        tmp_path,
        table(
            "ledger",
            [
                ("k1", "bigint not null"),
                ("k2", "varchar(10) not null"),
                ("d", "date not null"),
                ("amount", "double"),
            ],
            rows=rows,
            primary_key=["k1", "k2", "d"],
            clustered=True,
            index_entries=True,
        ),
    )
    got = export_table(backup, tmp_path / "out", "ledger")
    assert rows_of(got, "k1", "k2", "d", "amount") == sorted(
        (a, b, c.isoformat(), d) for a, b, c, d in rows
    )


@pytest.mark.parametrize("interleaved", [False, True])
def test_rowid_table_with_secondary_indexes_emits_no_index_entry(
    tmp_path: Path, interleaved: bool
) -> None:
    rows = [(i, f"user{i % 3}", i * 2) for i in range(50)]
    backup = write(
        tmp_path,
        table(
            "events",
            [("a", "int"), ("b", "varchar(20)"), ("c", "int")],
            rows=rows,
            indexes=[index("ib", "b"), index("ic", "c", unique=True)],
            index_entries=True,
        ),
        shared_regions=[["db.events"]] if interleaved else [],
    )
    summary = br_parquet.export(str(backup), str(tmp_path / "out"), filters=["db.events"])
    assert summary.rows_written == 50
    if interleaved:  # index entries share the SST with the rows: read and skipped
        assert summary.scan_stats["index_kvs"] == 100
    else:  # index ranges have their own SSTs: never downloaded
        assert summary.skipped_files == 2 and summary.scan_stats["index_kvs"] == 0
    got = export_table(backup, tmp_path / "out2", "events")
    assert rows_of(got, "a", "b", "c") == sorted(rows)
    assert got.column_names[:2] == ["_tidb_table_id", "_tidb_handle"]
    assert len(set(got.column("_tidb_handle").to_pylist())) == 50


def test_bigint_unsigned_primary_key_beyond_int64(tmp_path: Path) -> None:
    keys = [0, 1, 2**63 - 1, 2**63, 2**64 - 1]
    backup = write(
        tmp_path,
        table(
            "u",
            [("id", "bigint unsigned primary key"), ("v", "int")],
            rows=[(k, i) for i, k in enumerate(keys)],
        ),
    )
    compat = export_table(backup, tmp_path / "c", "u")
    got = {r["id"]: r["_tidb_handle"] for r in compat.to_pylist()}
    assert got == {str(k): (k - 2**64 if k >= 2**63 else k) for k in keys}
    typed = export_table(backup, tmp_path / "t", "u", mapping="typed")
    assert sorted(int(r["id"]) for r in typed.to_pylist()) == keys


def test_partitioned_table_rows_carry_the_partition_id(tmp_path: Path) -> None:
    part = PartitionInfo("hash", "`id`", [PartitionDef("p0"), PartitionDef("p1")])
    spec = table(
        "p",
        [("id", "int primary key"), ("v", "varchar(8)")],
        partition=part,
        partition_rows={"p0": [(2, "two"), (4, "four")], "p1": [(1, "one")]},
    )
    backup = write(tmp_path, spec)
    got = export_table(backup, tmp_path / "out", "p")
    by_id = {r["id"]: r for r in got.to_pylist()}
    assert {k: v["v"] for k, v in by_id.items()} == {1: "one", 2: "two", 4: "four"}
    assert by_id[2]["_tidb_table_id"] == by_id[4]["_tidb_table_id"] != by_id[1]["_tidb_table_id"]
    # --table-ids with one partition's physical ID exports only that partition.
    pid = by_id[1]["_tidb_table_id"]
    br_parquet.export(str(backup), str(tmp_path / "one"), table_ids=[pid])
    only = pa.concat_tables(pq.read_table(f) for f in (tmp_path / "one").rglob("*.parquet"))
    assert only.column("id").to_pylist() == [1]


@pytest.mark.parametrize("mapping", ["compat", "typed"])
def test_row_format_v1_decodes_like_v2(tmp_path: Path, mapping: str) -> None:
    cols = [
        ("id", "int primary key"),
        ("s", "varchar(10)"),
        ("d", "decimal(8,3)"),
        ("t", "datetime(3)"),
        ("u", "int unsigned"),
        ("tm", "time(2)"),
    ]
    rows = [
        (
            1,
            "x",
            "1.500",
            dt.datetime(2020, 5, 6, 7, 8, 9, 123000),
            7,
            dt.timedelta(hours=-1, seconds=1, microseconds=500000),
        ),
        (2, None, None, None, None, None),
    ]
    v1 = export_table(
        write(tmp_path / "a", table("r", cols, rows=rows, row_format=1)),
        tmp_path / "o1",
        "r",
        mapping,
    )
    v2 = export_table(
        write(tmp_path / "b", table("r", cols, rows=rows, row_format=2)),
        tmp_path / "o2",
        "r",
        mapping,
    )
    assert v1.sort_by("id").to_pylist() == v2.sort_by("id").to_pylist()
    if mapping == "compat":
        assert v1.sort_by("id").to_pylist()[0]["t"] == "2020-05-06 07:08:09.123"


def test_added_and_dropped_columns(tmp_path: Path) -> None:
    wide = table_info(
        300, "evolve", [("id", "int primary key"), ("gone", "varchar(10)"), ("v", "int")]
    )
    old_row = encode_row(wide, (1, "dropped", 10))  # written before `gone` was dropped
    narrow_cols = [
        column("id", "int primary key", id=1),
        column("v", "int", id=3),
        column("added_int", "int not null", id=4, origin_default="42"),
        column("added_dt", "datetime", id=5, origin_default="2023-09-12 10:01:13"),
        column("added_bit", "bit(8)", id=6, origin_default_bit=b"\x05"),
        column("added_null", "varchar(5)", id=7),
    ]
    spec = table(
        "evolve",
        narrow_cols,
        table_id=300,
        rows=[
            {
                "id": 2,
                "v": 20,
                "added_int": 7,
                "added_dt": dt.datetime(2024, 1, 1),
                "added_bit": 1,
                "added_null": "x",
            }
        ],
        raw_entries=[RawEntry(old_row.raw_key, old_row.value)],
    )
    got = export_table(write(tmp_path, spec), tmp_path / "out", "evolve")
    assert "gone" not in got.column_names
    assert sorted(got.to_pylist(), key=lambda r: r["id"]) == [
        {
            "_tidb_table_id": 300,
            "_tidb_handle": 1,
            "id": 1,
            "v": 10,
            "added_int": 42,
            "added_dt": "2023-09-12 10:01:13",
            "added_bit": b"\x05",
            "added_null": None,
        },
        {
            "_tidb_table_id": 300,
            "_tidb_handle": 2,
            "id": 2,
            "v": 20,
            "added_int": 7,
            "added_dt": "2024-01-01 00:00:00",
            "added_bit": b"\x01",
            "added_null": "x",
        },
    ]


def test_non_public_and_virtual_columns_are_left_out(tmp_path: Path) -> None:
    cols = [
        column("id", "int primary key"),
        column("v", "int"),
        column("doubled", "int", generated_expr_string="`v` * 2"),
        column("stored", "int", generated_expr_string="`v` + 1", generated_stored=True),
        column("adding", "int", state=2),
    ]
    got = export_table(
        write(tmp_path, table("g", cols, rows=[{"id": 1, "v": 5, "stored": 6}])),
        tmp_path / "out",
        "g",
    )
    assert got.column_names == ["_tidb_table_id", "_tidb_handle", "id", "v", "stored"]
    assert got.to_pylist()[0]["stored"] == 6


def test_corrupted_row_value_names_sst_key_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = table_info(400, "bad", [("id", "int primary key"), ("score", "double")])
    good = encode_row(info, (1, 1.5))
    # Same row with its DOUBLE slot cut to 3 bytes: a valid row v2 layout, a bad value.
    bad_value = bytes([0x80, 0, 1, 0, 0, 0, 2, 3, 0]) + b"\x01\x02\x03"
    spec = table(
        "bad",
        [("id", "int primary key"), ("score", "double")],
        table_id=400,
        raw_entries=[RawEntry(good.raw_key, bad_value)],
    )
    backup = write(tmp_path, spec)
    status = cli_main(["--input", str(backup), "--output", str(tmp_path / "out")])
    assert status == 3
    (sst,) = (p.relative_to(backup).as_posix() for p in backup.rglob("*_write.sst"))
    # The SST key: `z`, the memcomparable-encoded record key (8-byte groups, each padded
    # with zeros and followed by 0xff minus the pad length), then the 8-byte commit ts.
    raw = good.raw_key
    encoded = b"".join(
        raw[i : i + 8].ljust(8, b"\0") + bytes([0xFF - max(0, i + 8 - len(raw))])
        for i in range(0, len(raw) + 1, 8)
    )
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1, lines
    assert re.fullmatch(
        rf"br-parquet-export: error: {re.escape(sst)}: key 7a{encoded.hex()}[0-9a-f]{{16}}: "
        r"column score: invalid row v2 float: 3 bytes, expected 8",
        lines[0],
    ), lines[0]
    assert not list((tmp_path / "out").rglob("*.parquet")) if (tmp_path / "out").exists() else True

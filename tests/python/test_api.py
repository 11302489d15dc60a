"""The Python API: `open_backup`, `Backup.tables/schema/scan/export`, `br_parquet.export`,
read by DuckDB and Polars, and the same values as the exported Parquet files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet.errors import TableNotFoundError
from br_parquet.storage import Storage
from br_parquet.storage_url import encode_storage_base64, parse_storage_url
from br_parquet.testing import (
    BackupInfo,
    BackupSpec,
    DatabaseSpec,
    PartitionDef,
    PartitionInfo,
    table,
    write_backup,
)
from br_parquet.testing.smoke import all_types, smoke_backup

MAPPINGS = ("compat", "typed")
PSEUDO = ["_tidb_table_id", "_tidb_handle"]


def shapes_backup(root: Path) -> BackupInfo:
    """The all-types table plus clustered, partitioned and row-v1 tables, several SSTs each."""
    part = PartitionInfo("hash", "`id`", [PartitionDef("p0"), PartitionDef("p1")])
    return write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "shop",
                    [
                        all_types(),
                        table(
                            "fruit",
                            [("name", "varchar(64) primary key"), ("n", "int")],
                            rows=[(f"f{i:03}", i) for i in range(30)],
                            clustered=True,
                            index_entries=True,
                            split_at=[b"f010", b"f020"],
                        ),
                        table(
                            "parts",
                            [("id", "int primary key"), ("v", "varchar(8)")],
                            partition=part,
                            partition_rows={
                                "p0": [(i, f"v{i}") for i in range(0, 40, 2)],
                                "p1": [(i, f"v{i}") for i in range(1, 40, 2)],
                            },
                        ),
                        table(
                            "legacy",
                            [("id", "bigint primary key"), ("d", "datetime"), ("s", "text")],
                            rows=[
                                (i, dt.datetime(2024, 1, 1 + i % 28), f"s{i}") for i in range(50)
                            ],
                            row_format=1,
                            split_at=[10, 25, 40],
                        ),
                    ],
                )
            ]
        ),
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> BackupInfo:
    return shapes_backup(tmp_path_factory.mktemp("api") / "backup")


@pytest.fixture(scope="module")
def shapes(written: BackupInfo) -> Path:
    return written.root


def exported(backup: Path, out: Path, mapping: str) -> dict[str, pa.Table]:
    """Every table's exported files, concatenated in key order."""
    br_parquet.export(str(backup), str(out), type_mapping=mapping)  # type: ignore[arg-type]
    tables = {}
    for folder in sorted((out / "parquet/shop").iterdir()):
        files = sorted(folder.glob("*.parquet"))
        tables[folder.name] = pa.concat_tables(pq.read_table(f) for f in files)
    # A dataset reader sees every file: no output path is hidden from it.
    dataset = ds.dataset(out / "parquet", format="parquet")
    assert len(dataset.files) == len(list((out / "parquet/shop").rglob("*.parquet")))
    assert dataset.count_rows() == sum(t.num_rows for t in tables.values())
    return tables


def by_handle(t: pa.Table) -> list[dict[str, Any]]:
    return sorted(t.to_pylist(), key=lambda r: (r["_tidb_table_id"], r["_tidb_handle"]))


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_scan_gives_exactly_the_exported_values(shapes: Path, tmp_path: Path, mapping: str) -> None:
    files = exported(shapes, tmp_path / "out", mapping)
    backup = br_parquet.open_backup(shapes)
    assert sorted(files) == ["all_types", "fruit", "legacy", "parts"]
    for name, expected in files.items():
        everything = [*PSEUDO, *backup.table(f"shop.{name}").decoder(mapping).column_names]  # type: ignore[arg-type]
        got = backup.scan(f"shop.{name}", columns=everything, type_mapping=mapping).read_all()  # type: ignore[arg-type]
        assert got.schema == expected.schema, name
        assert by_handle(got) == by_handle(expected), name
        plain = backup.scan(f"shop.{name}", type_mapping=mapping).read_all()  # type: ignore[arg-type]
        assert plain.schema.names == everything[2:]
        assert plain.num_rows == expected.num_rows


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_duckdb_and_polars_read_the_reader_as_they_read_the_files(
    shapes: Path, tmp_path: Path, mapping: str
) -> None:
    """Each engine gets from `scan()` exactly what it reads from the exported files."""
    out = tmp_path / "out"
    exported(shapes, out, mapping)
    backup = br_parquet.open_backup(shapes)
    con = duckdb.connect()
    for name in ("all_types", "fruit", "parts", "legacy"):
        table = backup.table(f"shop.{name}")
        columns = [*PSEUDO, *table.decoder(mapping).column_names]  # type: ignore[arg-type]
        files = sorted(str(p) for p in (out / "parquet/shop" / name).glob("*.parquet"))
        con.register("reader", backup.scan(table, columns=columns, type_mapping=mapping))  # type: ignore[arg-type]
        order = "order by _tidb_table_id, _tidb_handle"
        from_scan = con.sql(f"select * from reader {order}").fetchall()
        from_files = con.sql(f"select * from read_parquet({files}) {order}").fetchall()
        assert from_scan == from_files, name
        assert len(from_scan) == sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        frame = pl.from_arrow(backup.scan(table, columns=columns, type_mapping=mapping))  # type: ignore[arg-type]
        assert isinstance(frame, pl.DataFrame)
        keys = ["_tidb_table_id", "_tidb_handle"]
        expected = pl.read_parquet(files).sort(keys)
        assert frame.sort(keys).equals(expected), name


def test_info_tables_and_schema(shapes: Path, written: BackupInfo) -> None:
    backup = br_parquet.open_backup(f"local://{shapes}")
    info = backup.info
    assert info.meta_version == "v2" and info.encryption == "plaintext"
    assert info.start_version == 0 and info.start_time is None and not info.incremental
    assert info.end_time.tzinfo is dt.UTC and info.end_time.year >= 2020
    assert info.location == f"local://{shapes}"
    tables = {t.qualified_name: t for t in backup.tables()}
    assert sorted(tables) == ["shop.all_types", "shop.fruit", "shop.legacy", "shop.parts"]
    parts = tables["shop.parts"]
    assert len(parts.partition_ids) == 2 and parts.physical_ids == parts.partition_ids
    assert tables["shop.fruit"].partition_ids == () and tables["shop.fruit"].clustered
    # SST counts and bytes equal what the writer wrote for each table.
    for t in tables.values():
        files = [f.file for f in written.data_files if set(f.physical_ids) & set(t.physical_ids)]
        assert (t.sst_count, t.sst_bytes) == (len(files), sum(f.size for f in files)), t.name
        assert t.sst_count >= 1
    columns = {c.name: c for c in tables["shop.all_types"].columns}
    assert columns["f_decimal"].tidb_type == "decimal(10,2)"
    assert columns["u_big"].tidb_type == "bigint unsigned"
    assert columns["e_enum"].tidb_type == "enum('a','b')"
    assert columns["t_datetime"].typed == pa.timestamp("us")
    assert columns["f_decimal"].compat == pa.string()
    assert columns["f_decimal"].typed == pa.decimal128(10, 2)
    assert backup.tables(["shop.f*"]) == [tables["shop.fruit"]]
    assert backup.table("SHOP.Fruit") is backup.table(tables["shop.fruit"])
    typed = backup.schema("shop.all_types")
    assert typed.names[:3] == [*PSEUDO, "id"] and typed.field("i_tiny").type == pa.int8()
    assert backup.schema("shop.all_types", "compat").field("i_tiny").type == pa.int64()
    with pytest.raises(TableNotFoundError, match=r"shop\.nope.*shop\.all_types"):
        backup.table("shop.nope")


def test_projection_returns_only_the_columns_asked_for_in_order(shapes: Path) -> None:
    backup = br_parquet.open_backup(shapes)
    full = backup.scan("shop.all_types").read_all()
    got = backup.scan("shop.all_types", columns=["c_varchar", "_tidb_handle", "id"]).read_all()
    assert got.schema.names == ["c_varchar", "_tidb_handle", "id"]
    assert got.column("c_varchar").to_pylist() == full.column("c_varchar").to_pylist()
    assert got.column("_tidb_handle").to_pylist() == got.column("id").to_pylist()
    two = backup.scan("shop.all_types", columns=["id", "c_varchar"]).read_all()
    assert two.schema.names == ["id", "c_varchar"] and two.num_rows == 2
    # A clustered table's PK columns come from the handle even without `_tidb_handle`.
    fruit = backup.scan("shop.fruit", columns=["name"]).read_all()
    assert fruit.column("name").to_pylist() == [f"f{i:03}" for i in range(30)]
    with pytest.raises(ValueError, match="nope"):
        backup.scan("shop.all_types", columns=["id", "nope"])


def test_handle_range_reads_only_the_overlapping_ssts(tmp_path: Path) -> None:
    root = tmp_path / "b"
    write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "db",
                    [
                        table(
                            "t",
                            [("id", "bigint primary key"), ("v", "int")],
                            rows=[(i, i * 10) for i in range(-50, 150)],
                            split_at=[0, 50, 100],
                        )
                    ],
                )
            ]
        ),
    )
    backup = br_parquet.open_backup(root)
    got = backup.scan("db.t", handle_range=(60, 80)).read_all()
    assert got.column("id").to_pylist() == list(range(60, 80))
    assert backup.cache_stats.downloads == 1  # only the SST of [50, 100)
    assert backup.scan("db.t", handle_range=(None, -45)).read_all().column("v").to_pylist() == [
        -500,
        -490,
        -480,
        -470,
        -460,
    ]
    assert backup.cache_stats.downloads == 2
    across = backup.scan("db.t", handle_range=(40, 110), columns=["id"]).read_all()
    assert across.column("id").to_pylist() == list(range(40, 110))
    # [0, 50) and [100, ∞) are new; [50, 100) comes from the cache.
    assert backup.cache_stats.downloads == 4 and backup.cache_stats.hits == 1
    assert backup.scan("db.t", handle_range=(500, None)).read_all().num_rows == 0
    with pytest.raises(ValueError, match="integers or None"):
        backup.scan("db.t", handle_range=("a", None))  # type: ignore[arg-type]


def test_handle_range_on_a_clustered_table_is_refused(shapes: Path) -> None:
    with pytest.raises(ValueError, match="clustered"):
        br_parquet.open_backup(shapes).scan("shop.fruit", handle_range=(0, 1))


def test_reader_closed_early_stops_the_producers(tmp_path: Path) -> None:
    root = tmp_path / "b"
    rows = [(i, "x" * 20) for i in range(5000)]
    spec = table("t", [("id", "int primary key"), ("s", "varchar(32)")], rows=rows)
    spec.split_at = list(range(0, 5000, 500))
    write_backup(root, BackupSpec([DatabaseSpec("db", [spec])]))
    backup = br_parquet.open_backup(root)
    reader = backup.scan("db.t", batch_rows=100, concurrency=2)
    first = reader.read_next_batch()
    assert first.num_rows == 100 and first.column("id").to_pylist() == list(range(100))
    reader.close()
    # Every batch of a full scan arrives, in key order, whatever the concurrency.
    ids = backup.scan("db.t", batch_rows=333, concurrency=3).read_all().column("id").to_pylist()
    assert ids == list(range(5000))


def test_export_api_takes_every_cli_setting(tmp_path: Path) -> None:
    write_backup(tmp_path / "b", smoke_backup())
    backup = br_parquet.open_backup(tmp_path / "b")
    result = backup.export(
        str(tmp_path / "o"),
        filters=["parquet_smoke.group_*"],
        output_prefix="lake",
        compression="zstd",
        row_group_size=1,
        write_iceberg_manifest=True,
        iceberg_warehouse="wh",
        iceberg_namespace="ns",
        iceberg_table="t",
    )
    assert result.per_table()["parquet_smoke.group_a"].rows == 2
    assert result.bytes_by_table()["parquet_smoke.group_b"] == sum(
        o.size for o in result.objects if o.table == "group_b"
    )
    assert result.manifest and (tmp_path / "o" / result.manifest).is_file()
    meta = pq.ParquetFile(tmp_path / "o" / result.objects[0].path).metadata
    assert meta.num_row_groups == 2 and meta.row_group(0).column(0).compression == "ZSTD"
    again = br_parquet.export(
        tmp_path / "b",
        tmp_path / "o",
        output_prefix="lake",
        filters=("parquet_smoke.group_*",),
        compression="zstd",
        row_group_size=1,
    )
    assert again.objects_reused == 2 and again.objects_written == 0
    with pytest.raises(ValueError, match="type mapping"):
        br_parquet.export(tmp_path / "b", tmp_path / "o", type_mapping="bogus")  # type: ignore[arg-type]


@pytest.mark.s3
def test_scan_and_export_from_s3(shapes: Path, tmp_path: Path, s3_url: str) -> None:
    """An S3 backup, named by URL or by base64: each SST is downloaded once."""
    storage = Storage.from_url(s3_url)
    for p in sorted(shapes.rglob("*")):
        if p.is_file():
            storage.put_file(str(p.relative_to(shapes)), p)
    local = br_parquet.open_backup(shapes)
    expected = local.scan("shop.legacy", type_mapping="compat").read_all()
    remote = br_parquet.open_backup(encode_storage_base64(parse_storage_url(s3_url)))
    assert remote.info.location.startswith("s3://")
    got = remote.scan("shop.legacy", type_mapping="compat").read_all()
    assert got.equals(expected)
    legacy = remote.table("shop.legacy")
    assert remote.cache_stats.downloads == legacy.sst_count
    assert remote.cache_stats.downloaded_bytes == legacy.sst_bytes
    remote.scan("shop.legacy", columns=["id"]).read_all()  # served from the cache
    assert remote.cache_stats.downloads == legacy.sst_count
    assert remote.cache_stats.hits == legacy.sst_count
    result = remote.export(tmp_path / "out", filters=["shop.legacy"])
    assert result.rows_by_table() == {"shop.legacy": 50}
    remote.close()


def test_encrypted_backup_scans_with_its_key(tmp_path: Path) -> None:
    from test_pipeline_encrypted import KEY, encrypt_backup

    root = tmp_path / "b"
    rows = [(i, "n" * (400 if i % 3 else 5)) for i in range(30)]  # default-CF values too
    spec = table("t", [("id", "int primary key"), ("note", "text")], rows=rows)
    write_backup(root, BackupSpec([DatabaseSpec("secret", [spec])], meta_version=1))
    encrypt_backup(root)
    with pytest.raises(br_parquet.BrParquetError, match="--crypter"):
        br_parquet.open_backup(root)
    key = br_parquet.cipher_from_options("aes256-ctr", key=KEY.hex())
    with br_parquet.open_backup(root, crypter=key) as backup:
        assert backup.info.encryption == "aes256-ctr" and backup.info.meta_version == "v1"
        got = backup.scan("secret.t").read_all()
        assert [(r["id"], r["note"]) for r in got.to_pylist()] == rows
        result = backup.export(tmp_path / "out")
        assert result.rows_written == 30

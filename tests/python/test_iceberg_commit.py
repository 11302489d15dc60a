"""Iceberg commits end to end: `br-parquet-export --iceberg-catalog` into real pyiceberg
catalogs (SQLite, and REST through a server on 127.0.0.1), read back by pyiceberg and by
DuckDB's iceberg extension, with local and S3 (moto) warehouses; idempotence across reruns
and kills on either side of the commit; a newer backup as an overwrite with its schema
evolved; and the refusals."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyiceberg", reason="the iceberg extra (pyiceberg) is not installed")

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.table import Table as IcebergTable

import br_parquet
from br_parquet.crashpoints import ENV as KILL_ENV
from br_parquet.testing import (
    BackupSpec,
    DatabaseSpec,
    PartitionDef,
    PartitionInfo,
    table,
    write_backup,
)
from br_parquet.testing.smoke import all_types, groups

CLI = [sys.executable, "-m", "br_parquet.cli"]
MAPPINGS = ("compat", "typed")
PSEUDO = ["_tidb_table_id", "_tidb_handle"]
BACKUP_TS = 445063339262394369
"""The writer's default backup TS (a newer backup of the same cluster uses a larger one)."""

WIDE_COLUMNS = [
    ("id", "bigint primary key"),
    ("big", "decimal(50,2)"),
    ("vec", "vector(3)"),
    ("t", "tinyint"),
    ("s", "smallint"),
    ("e", "enum('x','y')"),
    ("u", "bigint unsigned"),
    ("ts", "timestamp"),
]


def wide_rows(n: int) -> list[tuple[Any, ...]]:
    return [
        (
            i,
            Decimal(f"{10**45 + i}.25"),
            [float(i), 0.5, -1.0],
            -(i % 100),
            i * 300 - 20000,
            "x" if i % 2 else "y",
            2**64 - 1 - i,
            dt.datetime(2024, 5, 1, 12, i % 60, tzinfo=dt.UTC),
        )
        for i in range(1, n + 1)
    ]


def tables_spec(*, extra_column: bool = False, rows_shift: int = 0) -> list[DatabaseSpec]:
    part = PartitionInfo("hash", "`id`", [PartitionDef("p0"), PartitionDef("p1")])
    fruit_cols = [("name", "varchar(64) primary key"), ("n", "int")]
    fruit_rows: list[tuple[Any, ...]] = [(f"f{i:03}", i + rows_shift) for i in range(30)]
    if extra_column:
        fruit_cols.append(("origin", "varchar(16)"))
        fruit_rows = [(*r, f"o{i}") for i, r in enumerate(fruit_rows)]
    return [
        DatabaseSpec(
            "shop",
            [
                all_types(),
                table(
                    "fruit",
                    fruit_cols,
                    rows=fruit_rows,
                    clustered=True,
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
                table("wide", WIDE_COLUMNS, rows=wide_rows(40), split_at=[20]),
                table("empty", [("id", "int primary key"), ("v", "int")], rows=[]),
            ],
        ),
        DatabaseSpec("grp", groups()),
    ]


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("iceberg") / "backup"
    write_backup(root, BackupSpec(tables_spec(), shared_regions=[["grp.group_a", "grp.group_b"]]))
    return root


def run(
    backup: Path | str,
    out: Path | str,
    *flags: str,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, "--input", str(backup), "--output", str(out), "--no-progress", *flags],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


def catalog_at(uri: str, **properties: str) -> Catalog:
    return load_catalog("br_parquet", type="sql", uri=uri, **properties)


def expected_rows(backup: Path, name: str, mapping: str) -> pa.Table:
    """The table's rows straight from the backup (`Backup.scan`, no Parquet involved), as
    Iceberg gives them back: dictionary strings plain, 8/16-bit integers as int."""
    with br_parquet.open_backup(str(backup)) as b:
        names = [*PSEUDO, *b.schema(name, mapping).names[2:]]
        data = b.scan(name, columns=names, type_mapping=mapping).read_all()  # type: ignore[arg-type]
    columns = []
    for f, column in zip(data.schema, data.columns, strict=True):
        kind = f.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        elif kind in (pa.int8(), pa.int16()):
            kind = pa.int32()
        columns.append(column.cast(kind))
    return pa.table(columns, names=data.schema.names)


def ordered(t: pa.Table) -> list[dict[str, Any]]:
    return sorted(t.to_pylist(), key=lambda r: (r["_tidb_table_id"], r["_tidb_handle"]))


def duck_rows(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[Any, ...]]:
    return con.execute(f"select * from {source} order by _tidb_table_id, _tidb_handle").fetchall()


SELECTED = [
    "shop.all_types",
    "shop.fruit",
    "shop.parts",
    "shop.wide",
    "shop.empty",
    "grp.group_a",
    "grp.group_b",
]


def ident(name: str, namespace: str = "default") -> str:
    db, t = name.split(".")
    return f"{namespace}.{db}__{t}"


def snapshots(t: IcebergTable) -> list[tuple[str, dict[str, str]]]:
    out = []
    for s in t.snapshots():
        assert s.summary is not None
        out.append((s.summary.operation.value, dict(s.summary.additional_properties)))
    return out


def data_files(t: IcebergTable) -> list[str]:
    return sorted(task.file.file_path for task in t.scan().plan_files())


# --- what a commit holds --------------------------------------------------------------------


@pytest.fixture(scope="module", params=MAPPINGS)
def committed(
    request: pytest.FixtureRequest, backup: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, str, subprocess.CompletedProcess[str]]:
    mapping = str(request.param)
    root = tmp_path_factory.mktemp(f"committed-{mapping}")
    uri = sqlite(root / "catalog" / "catalog.db")
    summary = root / "summary.json"
    result = run(
        backup,
        root / "out",
        "--type-mapping",
        mapping,
        "--iceberg-catalog",
        uri,
        "--summary-json",
        str(summary),
    )
    return mapping, root, uri, result


def test_every_table_reads_back_exactly_the_backup_rows_in_pyiceberg_and_duckdb(
    committed: tuple[str, Path, str, subprocess.CompletedProcess[str]],
    backup: Path,
    duckdb_iceberg_connect: Callable[..., duckdb.DuckDBPyConnection],
) -> None:
    mapping, _, uri, _ = committed
    catalog = catalog_at(uri)
    assert sorted(".".join(i) for i in catalog.list_tables("default")) == sorted(
        ident(n) for n in SELECTED
    )
    con = duckdb_iceberg_connect()
    for name in SELECTED:
        t = catalog.load_table(ident(name))
        got = t.scan().to_arrow()
        want = expected_rows(backup, name, mapping)
        assert got.schema.names == want.schema.names, name
        assert ordered(got) == ordered(want), name
        # A second engine, on the metadata file alone.
        con.register("want", want)
        assert duck_rows(con, f"iceberg_scan('{t.metadata_location}')") == duck_rows(con, "want"), (
            name
        )
        con.unregister("want")
    # The empty table is committed too: a snapshot without files.
    empty = catalog.load_table(ident("shop.empty"))
    assert empty.current_snapshot() is not None and data_files(empty) == []


def test_files_carry_the_table_field_ids_and_nothing_iceberg_cannot_type(
    committed: tuple[str, Path, str, subprocess.CompletedProcess[str]],
) -> None:
    mapping, _, uri, _ = committed
    catalog = catalog_at(uri)
    for name in SELECTED:
        t = catalog.load_table(ident(name))
        table_ids = {f.name: f.field_id for f in t.schema().fields}
        for path in data_files(t):
            local = path.removeprefix("file://")
            arrow = pq.read_schema(local)
            ids = {f.name: int(f.metadata[b"PARQUET:field_id"]) for f in arrow}
            assert ids == table_ids, (name, path)
            for column in pq.ParquetFile(local).schema:
                logical = json.loads(column.logical_type.to_json())
                assert logical.get("isSigned", True), (name, column.name, logical)
            for f in arrow:
                assert not pa.types.is_unsigned_integer(f.type), (name, f)
                assert not pa.types.is_dictionary(f.type), (name, f)
    wide = catalog.load_table(ident("shop.wide")).schema()
    kinds = {f.name: str(f.field_type) for f in wide.fields}
    if mapping == "typed":
        assert kinds["ts"] == "timestamptz"
        assert kinds["t"] == kinds["s"] == "int"
        assert kinds["u"] == "decimal(20, 0)"
        assert kinds["vec"] == "list<float>"
        assert wide.find_field("vec.element").field_id > wide.find_field("ts").field_id
    else:
        assert kinds["u"] == "string" and kinds["ts"] == "string"
    assert kinds["big"] == "string"  # DECIMAL(50,2): above Iceberg's precision 38
    assert kinds["e"] == "string"


def test_sort_order_identifier_fields_and_snapshot_properties(
    committed: tuple[str, Path, str, subprocess.CompletedProcess[str]],
) -> None:
    _, root, uri, result = committed
    catalog = catalog_at(uri)
    keys = {
        "shop.all_types": ["id"],
        "shop.fruit": [],  # a clustered table's key is its common handle
        "shop.parts": ["id"],
        "shop.wide": ["id"],
        "grp.group_a": ["id"],
    }
    for name, key in keys.items():
        t = catalog.load_table(ident(name))
        schema = t.schema()
        assert [schema.find_field(i).name for i in schema.identifier_field_ids] == key, name
        order = t.sort_order()
        assert [schema.find_field(f.source_id).name for f in order.fields] == [
            "_tidb_table_id",
            "_tidb_handle",
        ]
        assert t.location().endswith(f"/out/iceberg/default/{ident(name).split('.')[1]}")
        (operation, props), *rest = snapshots(t)
        assert rest == [] and operation == "append"
        assert props["tidb.backup.start-version"] == "0"
        assert props["tidb.backup.end-version"] == str(BACKUP_TS)
        assert props["tidb.backup.end-time"].startswith("2023-10-20T06:05:03")
        assert props["tidb.cluster-id"] == "7300000000000000001"
        assert int(props["tidb.table-id"]) > 0
        assert props["br-parquet.version"] == br_parquet.__version__
    # The summary and its JSON list each table's snapshot and metadata.
    doc = json.loads((root / "summary.json").read_text())
    listed = {t["identifier"]: t for t in doc["iceberg_tables"]}
    assert sorted(listed) == sorted(ident(n) for n in SELECTED)
    for name in SELECTED:
        t = catalog.load_table(ident(name))
        entry = listed[ident(name)]
        assert entry["snapshot_id"] == t.current_snapshot().snapshot_id  # type: ignore[union-attr]
        assert entry["metadata_location"] == t.metadata_location
        assert f"iceberg table {ident(name)}: append, snapshot {entry['snapshot_id']}" in (
            result.stdout
        )


def test_json_manifest_is_unchanged_beside_the_commit(backup: Path, tmp_path: Path) -> None:
    run(
        backup,
        tmp_path / "out",
        "--iceberg-catalog",
        sqlite(tmp_path / "c.db"),
        "--write-iceberg-manifest",
        "--iceberg-warehouse",
        "wh",
        "--iceberg-namespace",
        "lake",
        "--iceberg-table",
        "orders",
        "--filter",
        "grp.*",
    )
    manifest = tmp_path / "out/wh/lake/orders/metadata" / f"manifest_{BACKUP_TS}_0.json"
    doc = json.loads(manifest.read_text())
    assert doc["format_version"] == 1 and len(doc["files"]) == 2
    # Two tables: --iceberg-table names the manifest's folder, not the tables.
    catalog = catalog_at(sqlite(tmp_path / "c.db"))
    assert sorted(catalog.list_tables("lake")) == [
        ("lake", "grp__group_a"),
        ("lake", "grp__group_b"),
    ]
    t = catalog.load_table("lake.grp__group_a")
    assert t.location() == f"file://{tmp_path}/out/wh/lake/grp__group_a"
    assert t.metadata_location.startswith(f"file://{tmp_path}/out/wh/lake/grp__group_a/metadata/")


def test_one_table_named_and_a_multi_level_namespace(backup: Path, tmp_path: Path) -> None:
    uri = sqlite(tmp_path / "c.db")
    run(
        backup,
        tmp_path / "out",
        "--iceberg-catalog",
        uri,
        "--iceberg-namespace",
        "lake.tidb",
        "--iceberg-table",
        "Orders-2024",
        "--filter",
        "grp.group_b",
    )
    catalog = catalog_at(uri)
    (found,) = catalog.list_tables(("lake", "tidb"))
    assert found[:2] == ("lake", "tidb") and found[2].startswith("Orders_2024_")
    t = catalog.load_table(found)
    assert t.location() == f"file://{tmp_path}/out/iceberg/lake/tidb/{found[2]}"
    assert t.scan().to_arrow().column("v").to_pylist() == [100, 200]


# --- idempotence ------------------------------------------------------------------------


def test_rerun_and_a_second_export_never_add_a_file_twice(backup: Path, tmp_path: Path) -> None:
    uri = sqlite(tmp_path / "c.db")
    out = tmp_path / "out"
    run(backup, out, "--iceberg-catalog", uri, "--filter", "shop.*")
    catalog = catalog_at(uri)
    before = {n: data_files(catalog.load_table(ident(n))) for n in SELECTED[:5]}
    again = run(backup, out, "--iceberg-catalog", uri, "--filter", "shop.*")
    assert "already committed" in again.stdout
    # Without the checkpoint, every file is rewritten in place (same bytes) and the catalog
    # itself shows the files are committed already.
    third = run(
        backup, out, "--iceberg-catalog", uri, "--filter", "shop.*", "--use-checkpoint=false"
    )
    assert "already committed" in third.stdout
    for name, files in before.items():
        t = catalog.load_table(ident(name))
        assert data_files(t) == files and len(files) == len(set(files)), name
        assert len(t.history()) == 1, name


@pytest.mark.parametrize("point", ["before-commit", "after-commit"])
def test_kill_around_the_commit_then_resume(backup: Path, tmp_path: Path, point: str) -> None:
    uri = sqlite(tmp_path / "c.db")
    out = tmp_path / "out"
    flags = ("--iceberg-catalog", uri, "--filter", "shop.*", "--sst-concurrency", "1")
    # The second table's commit: the first one is done by then, the others not.
    killed = run(backup, out, *flags, env={KILL_ENV: f"at-{point}:2"}, check=False)
    assert killed.returncode == -9, killed.stderr
    catalog = catalog_at(uri)
    committed_before = {".".join(i) for i in catalog.list_tables("default")}
    resumed = run(backup, out, *flags)
    assert "0 written" in resumed.stdout  # every Parquet object came from the checkpoint
    for name in SELECTED[:5]:
        t = catalog.load_table(ident(name))
        files = data_files(t)
        assert len(files) == len(set(files))
        assert t.scan().to_arrow().num_rows == sum(
            pq.read_metadata(f.removeprefix("file://")).num_rows for f in files
        )
        assert len(t.history()) == 1, (name, committed_before)
    if point == "after-commit":
        assert "already committed" in resumed.stdout


# --- a newer backup -----------------------------------------------------------------------


def newer_backup(root: Path, *, change: str) -> Path:
    """The same cluster's tables, later: `fruit` gains a column and new values, or
    (`incompatible`) `parts.v` becomes an INT."""
    spec = tables_spec(extra_column=change == "evolve", rows_shift=1000)
    if change == "incompatible":
        part = PartitionInfo("hash", "`id`", [PartitionDef("p0"), PartitionDef("p1")])
        shop = spec[0]
        spec[0] = DatabaseSpec(
            "shop",
            [
                t
                if t.info.name != "parts"
                else table(
                    "parts",
                    [("id", "int primary key"), ("v", "int")],
                    partition=part,
                    partition_rows={"p0": [(0, 1)], "p1": [(1, 2)]},
                )
                for t in shop.tables
            ],
        )
    write_backup(
        root,
        BackupSpec(
            spec,
            shared_regions=[["grp.group_a", "grp.group_b"]],
            backup_ts=BACKUP_TS + (1 << 30),
        ),
    )
    return root


def test_newer_backup_overwrites_in_one_snapshot_and_evolves_the_schema(
    backup: Path, tmp_path: Path, duckdb_iceberg_connect: Callable[..., duckdb.DuckDBPyConnection]
) -> None:
    uri = sqlite(tmp_path / "c.db")
    run(backup, tmp_path / "out1", "--iceberg-catalog", uri, "--type-mapping", "typed")
    catalog = catalog_at(uri)
    fruit = catalog.load_table(ident("shop.fruit"))
    old_ids = {f.name: f.field_id for f in fruit.schema().fields}
    newer = newer_backup(tmp_path / "newer", change="evolve")
    result = run(newer, tmp_path / "out2", "--iceberg-catalog", uri, "--type-mapping", "typed")
    assert f"iceberg table {ident('shop.fruit')}: overwrite" in result.stdout
    fruit = catalog.load_table(ident("shop.fruit"))
    assert [op for op, _ in snapshots(fruit)] == ["append", "overwrite"]
    assert [int(p["tidb.backup.end-version"]) for _, p in snapshots(fruit)] == [
        BACKUP_TS,
        BACKUP_TS + (1 << 30),
    ]
    assert len(fruit.history()) == 2
    ids = {f.name: f.field_id for f in fruit.schema().fields}
    assert {k: ids[k] for k in old_ids} == old_ids and ids["origin"] == max(old_ids.values()) + 1
    got = ordered(fruit.scan().to_arrow())
    assert [(r["name"], r["n"], r["origin"]) for r in got] == [
        (f"f{i:03}", i + 1000, f"o{i}") for i in range(30)
    ]
    assert all("/out2/" in f for f in data_files(fruit))
    # The first snapshot still reads the old rows (history is kept).
    first = fruit.snapshots()[0].snapshot_id
    assert sorted(fruit.scan(snapshot_id=first).to_arrow().column("n").to_pylist()) == list(
        range(30)
    )
    con = duckdb_iceberg_connect()
    rows = con.execute(
        f"select n, origin from iceberg_scan('{fruit.metadata_location}') order by n"
    ).fetchall()
    assert rows == [(i + 1000, f"o{i}") for i in range(30)]

    # The older backup again: refused, nothing committed, nothing written.
    older = run(
        backup, tmp_path / "out3", "--iceberg-catalog", uri, "--type-mapping", "typed", check=False
    )
    assert older.returncode == 2, older.stderr
    assert "newer backup" in older.stderr and ident("shop.all_types") in older.stderr
    assert "Traceback" not in older.stderr
    assert not list((tmp_path / "out3").rglob("*.parquet"))
    assert len(catalog.load_table(ident("shop.fruit")).history()) == 2


def test_incompatible_schema_change_is_refused_before_any_work(
    backup: Path, tmp_path: Path
) -> None:
    uri = sqlite(tmp_path / "c.db")
    run(backup, tmp_path / "out1", "--iceberg-catalog", uri, "--type-mapping", "typed")
    newer = newer_backup(tmp_path / "newer", change="incompatible")
    result = run(
        newer, tmp_path / "out2", "--iceberg-catalog", uri, "--type-mapping", "typed", check=False
    )
    assert result.returncode == 2, result.stderr
    assert ident("shop.parts") in result.stderr and "string -> int" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out2").rglob("*.parquet"))
    catalog = catalog_at(uri)
    assert len(catalog.load_table(ident("shop.parts")).history()) == 1


# --- REST and S3 --------------------------------------------------------------------------


def test_rest_catalog_receives_the_commits(
    backup: Path,
    tmp_path: Path,
    rest_catalog_server: Any,
    duckdb_iceberg_connect: Callable[..., duckdb.DuckDBPyConnection],
) -> None:
    uri = "rest+" + rest_catalog_server.uri
    out = tmp_path / "out"
    run(backup, out, "--iceberg-catalog", uri, "--type-mapping", "typed")
    again = run(backup, out, "--iceberg-catalog", uri, "--type-mapping", "typed")
    assert "already committed" in again.stdout
    client = rest_catalog_server.catalog()
    con = duckdb_iceberg_connect()
    for name in SELECTED:
        t = client.load_table(ident(name))
        want = expected_rows(backup, name, "typed")
        assert ordered(t.scan().to_arrow()) == ordered(want), name
        assert len(t.history()) == 1
        con.register("want", want)
        assert duck_rows(con, f"iceberg_scan('{t.metadata_location}')") == duck_rows(con, "want")
        con.unregister("want")
    calls = rest_catalog_server.calls()
    assert "POST /v1/namespaces/{namespace}/tables/{table}" in calls, calls


def test_warehouse_on_s3(
    backup: Path,
    tmp_path: Path,
    s3_url: str,
    iceberg_s3_properties: dict[str, str],
    duckdb_iceberg_connect: Callable[..., duckdb.DuckDBPyConnection],
) -> None:
    uri = sqlite(tmp_path / "c.db")
    run(backup, s3_url, "--iceberg-catalog", uri, "--filter", "shop.*", "--type-mapping", "typed")
    catalog = catalog_at(uri, **iceberg_s3_properties)
    con = duckdb_iceberg_connect(s3=iceberg_s3_properties)
    bucket = s3_url.split("/")[2]
    for name in ["shop.all_types", "shop.wide", "shop.fruit"]:
        t = catalog.load_table(ident(name))
        assert t.metadata_location.startswith(f"s3://{bucket}/backup/root/iceberg/default/")
        assert all(f.startswith(f"s3://{bucket}/backup/root/parquet/shop/") for f in data_files(t))
        want = expected_rows(backup, name, "typed")
        assert ordered(t.scan().to_arrow()) == ordered(want), name
        con.register("want", want)
        assert duck_rows(con, f"iceberg_scan('{t.metadata_location}')") == duck_rows(con, "want")
        con.unregister("want")


# --- the Python API, dry runs and refusals -------------------------------------------------


def test_python_api_takes_catalog(backup: Path, tmp_path: Path) -> None:
    uri = sqlite(tmp_path / "c.db")
    result = br_parquet.export(
        str(backup), str(tmp_path / "out"), catalog=uri, filters=["grp.*"], type_mapping="typed"
    )
    assert [c.identifier for c in result.commits] == [ident("grp.group_a"), ident("grp.group_b")]
    t = catalog_at(uri).load_table(ident("grp.group_a"))
    assert result.commits[0].snapshot_id == t.current_snapshot().snapshot_id  # type: ignore[union-attr]
    assert result.commits[0].metadata_location == t.metadata_location


def test_dry_run_commits_nothing(backup: Path, tmp_path: Path) -> None:
    uri = sqlite(tmp_path / "c.db")
    result = run(
        backup, tmp_path / "out", "--iceberg-catalog", uri, "--dry-run", "--filter", "grp.*"
    )
    assert f"commit Iceberg table {ident('grp.group_a')}" in result.stdout
    assert not (tmp_path / "c.db").exists()  # a dry run creates no catalog
    # Against an existing catalog it reads, and changes nothing.
    run(backup, tmp_path / "out", "--iceberg-catalog", uri, "--filter", "grp.group_a")
    catalog = catalog_at(uri)
    before = catalog.load_table(ident("grp.group_a")).metadata_location
    result = run(
        backup, tmp_path / "out2", "--iceberg-catalog", uri, "--dry-run", "--filter", "grp.*"
    )
    assert f"commit Iceberg table {ident('grp.group_b')}" in result.stdout
    assert catalog.load_table(ident("grp.group_a")).metadata_location == before
    assert catalog.list_tables("default") == [("default", "grp__group_a")]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--iceberg-catalog", "catalog.db"], "must be a URI"),
        (["--iceberg-catalog", "http://127.0.0.1:1/"], "rest+http://"),
        (["--iceberg-catalog", "nosuchdialect://x"], "cannot open it"),
        (
            ["--iceberg-catalog-property", "token=x"],
            "--iceberg-catalog-property need a --iceberg-catalog",
        ),
        (
            ["--iceberg-catalog", "sqlite:///c.db", "--iceberg-catalog-property", "novalue"],
            "KEY=VALUE",
        ),
        (["--iceberg-namespace", "x"], "need --write-iceberg-manifest or --iceberg-catalog"),
    ],
)
def test_bad_catalog_flags_are_usage_errors(
    backup: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    result = run(backup, tmp_path / "out", *flags, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unreachable_rest_catalog_fails_before_any_work(backup: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed: nothing listens there
    result = run(
        backup, tmp_path / "out", "--iceberg-catalog", f"rest+http://127.0.0.1:{port}", check=False
    )
    assert result.returncode == 4, result.stderr
    assert f"Iceberg catalog rest+http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out").rglob("*.parquet"))


def test_catalog_secrets_never_reach_the_output(backup: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    result = run(
        backup,
        tmp_path / "out",
        "--iceberg-catalog",
        "postgresql+psycopg2://lake:hunter2secret@127.0.0.1:1/iceberg",
        "--iceberg-catalog-property",
        "token=tok-very-secret",
        "--summary-json",
        str(summary),
        check=False,
    )
    assert result.returncode in (2, 4), result.stderr
    assert "Iceberg catalog postgresql+psycopg2://lake:****@127.0.0.1:1/iceberg" in result.stderr
    for secret in ("hunter2secret", "tok-very-secret"):
        assert secret not in result.stderr + result.stdout + summary.read_text()


def test_without_the_extra_the_flag_says_what_to_install(backup: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['pyiceberg'] = None\n"
        "from br_parquet.cli import main\n"
        f"sys.exit(main(['--input', {str(backup)!r}, '--output', {str(tmp_path / 'out')!r}, "
        f"'--no-progress', '--iceberg-catalog', 'sqlite:///{tmp_path}/c.db']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "pip install 'br-parquet[iceberg]'" in result.stderr


def test_the_core_never_imports_pyiceberg(backup: Path, tmp_path: Path) -> None:
    code = (
        "import sys, br_parquet\n"
        f"br_parquet.export({str(backup)!r}, {str(tmp_path / 'out')!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyiceberg', 'dask')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"

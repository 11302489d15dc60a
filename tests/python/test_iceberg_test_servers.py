"""The Iceberg test parts against real clients: the REST catalog server (iceberg_rest.py) with
pyiceberg's RestCatalog, and DuckDB's iceberg_scan (duckdb_iceberg.py) on what it committed,
on local files and on the moto S3 server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from duckdb_iceberg import DuckDBIcebergUnavailable, extension_path
from iceberg_fixtures import DuckDBConnect
from iceberg_rest import (
    ROUTE_CONFIG,
    ROUTE_NAMESPACE,
    ROUTE_NAMESPACES,
    ROUTE_TABLE,
    ROUTE_TABLES,
    RecordedRequest,
    RestCatalogServer,
)
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
    UnauthorizedError,
)
from pyiceberg.io.pyarrow import parquet_files_to_data_files
from pyiceberg.table import Table

SCHEMA = pa.schema(
    [
        pa.field("h", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("price", pa.decimal128(10, 2)),
        pa.field("at", pa.timestamp("us", tz="UTC")),
        pa.field("vec", pa.list_(pa.field("element", pa.float32()))),
    ]
)


def _rows(first: int, count: int) -> pa.Table:
    handles = list(range(first, first + count))
    return pa.table(
        {
            "h": handles,
            "name": [f"row-{h}" if h % 3 else None for h in handles],
            "price": [Decimal(h * 125) / 100 for h in handles],
            "at": [datetime(2026, 1, 1, h % 24, tzinfo=UTC) for h in handles],
            "vec": [[float(h), h / 4] for h in handles],
        },
        schema=SCHEMA,
    )


def _write(table: Table, name: str, rows: pa.Table) -> str:
    """Writes `rows` as a Parquet file in the table's data directory through the table's FileIO,
    with the table's field IDs, and returns its location."""
    location = f"{table.location()}/data/{name}.parquet"
    with table.io.new_output(location).create() as stream:
        pq.write_table(rows.cast(table.schema().as_arrow()), stream)
    return location


def _overwrite(table: Table, locations: list[str], properties: dict[str, str]) -> None:
    """Replaces the table's files with `locations` in one snapshot."""
    with table.transaction() as tx:
        if tx.table_metadata.name_mapping() is None:
            mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
            tx.set_properties({"schema.name-mapping.default": mapping})
        with tx.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
            for task in table.scan().plan_files():
                overwrite.delete_data_file(task.file)
            files = parquet_files_to_data_files(table.io, tx.table_metadata, iter(locations))
            for data_file in files:
                overwrite.append_data_file(data_file)


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda row: row[0])


def _pyiceberg_rows(table: Table) -> list[tuple[Any, ...]]:
    return _sorted([tuple(row.values()) for row in table.scan().to_arrow().to_pylist()])


def _duckdb_rows(con: duckdb.DuckDBPyConnection, table: Table) -> list[tuple[Any, ...]]:
    columns = ", ".join(f'"{name}"' for name in SCHEMA.names)
    query = f"SELECT {columns} FROM iceberg_scan(?)"
    return _sorted(con.execute(query, [table.metadata_location]).fetchall())


def _raw(server: RestCatalogServer, method: str, path: str, body: bytes | None = None) -> Any:
    """(status, JSON body) of a plain HTTP request, for what the client does not show."""
    request = urllib.request.Request(server.uri + path, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def catalog(rest_catalog_server: RestCatalogServer) -> Iterator[RestCatalog]:
    client = rest_catalog_server.catalog()
    yield client
    client.close()


# --- REST catalog server ---------------------------------------------------------------------


def test_rest_catalog_commits_appends_and_a_one_snapshot_overwrite(
    rest_catalog_server: RestCatalogServer, catalog: RestCatalog
) -> None:
    catalog.create_namespace_if_not_exists("shop")
    catalog.create_namespace_if_not_exists("shop")  # answered 409, swallowed by the client
    assert catalog.list_namespaces() == [("shop",)]
    assert catalog.namespace_exists("shop")
    assert not catalog.namespace_exists("nope")

    table = catalog.create_table("shop.orders", schema=SCHEMA)
    assert [f.field_id for f in table.schema().fields] == [1, 2, 3, 4, 5]
    assert catalog.table_exists("shop.orders")
    assert catalog.list_tables("shop") == [("shop", "orders")]

    first = [_write(table, "a", _rows(0, 3)), _write(table, "b", _rows(3, 2))]
    table.add_files(first, snapshot_properties={"tidb.backup.end-version": "100"})
    table = catalog.load_table("shop.orders")
    assert _pyiceberg_rows(table) == _sorted([tuple(r.values()) for r in _rows(0, 5).to_pylist()])

    _overwrite(table, [_write(table, "c", _rows(10, 4))], {"tidb.backup.end-version": "200"})
    table = catalog.load_table("shop.orders")
    assert _pyiceberg_rows(table) == [tuple(r.values()) for r in _rows(10, 4).to_pylist()]
    snapshots = [table.snapshot_by_id(entry.snapshot_id) for entry in table.history()]
    summaries = [s.summary for s in snapshots if s is not None and s.summary is not None]
    assert [(s.operation.value, s["tidb.backup.end-version"]) for s in summaries] == [
        ("append", "100"),
        ("overwrite", "200"),
    ]
    assert summaries[1]["deleted-data-files"] == "2"
    assert summaries[1]["added-data-files"] == "1"

    # The client's view is the backing catalog's.
    backing = rest_catalog_server.backing.load_table("shop.orders")
    assert backing.metadata_location == table.metadata_location

    assert RecordedRequest("POST", ROUTE_NAMESPACES, 409) in rest_catalog_server.requests
    calls = rest_catalog_server.calls()
    assert calls[0] == f"GET {ROUTE_CONFIG}"
    # One commit per add_files and one for the whole overwrite transaction.
    assert calls.count(f"POST {ROUTE_TABLE}") == 2
    for call in (f"HEAD {ROUTE_NAMESPACE}", f"POST {ROUTE_TABLES}", f"HEAD {ROUTE_TABLE}"):
        assert call in calls


def test_create_table_transaction_creates_the_table_with_its_first_snapshot(
    rest_catalog_server: RestCatalogServer, catalog: RestCatalog
) -> None:
    catalog.create_namespace("shop")
    tx = catalog.create_table_transaction("shop.t", schema=SCHEMA)
    assert not catalog.table_exists("shop.t")  # a staged create writes nothing
    tx.add_files([_write(tx._table, "a", _rows(0, 3))])
    tx.commit_transaction()

    table = catalog.load_table("shop.t")
    assert len(table.snapshots()) == 1
    assert _pyiceberg_rows(table) == [tuple(r.values()) for r in _rows(0, 3).to_pylist()]
    assert table.metadata_location.endswith(".metadata.json")
    calls = rest_catalog_server.calls()
    assert calls.count(f"POST {ROUTE_TABLES}") == 1
    assert calls.count(f"POST {ROUTE_TABLE}") == 1  # creation and append in one commit

    # A staged create of an existing table is refused, and so is the commit of a create
    # staged before someone else created the table (its `assert-create` fails).
    with pytest.raises(TableAlreadyExistsError):
        catalog.create_table_transaction("shop.t", schema=SCHEMA)
    late = catalog.create_table_transaction("shop.u", schema=SCHEMA)
    catalog.create_table("shop.u", schema=SCHEMA)
    with pytest.raises(CommitFailedException, match="Table already exists"):
        late.commit_transaction()
    assert RecordedRequest("POST", ROUTE_TABLE, 409) in rest_catalog_server.requests


def test_rest_errors_follow_the_spec(
    rest_catalog_server: RestCatalogServer, catalog: RestCatalog
) -> None:
    catalog.create_namespace("shop")
    with pytest.raises(NoSuchTableError, match="NoSuchTableException"):
        catalog.load_table("shop.missing")
    with pytest.raises(NoSuchNamespaceError, match="NoSuchNamespaceException"):
        catalog.load_namespace_properties("nowhere")
    with pytest.raises(NoSuchNamespaceError):
        catalog.create_table("nowhere.t", schema=SCHEMA)
    catalog.create_table("shop.t", schema=SCHEMA)
    with pytest.raises(TableAlreadyExistsError):
        catalog.create_table("shop.t", schema=SCHEMA)

    # Two writers from the same base: the second commit fails the snapshot requirement (409);
    # the client then refreshes and retries its append on top of the first.
    one, two = catalog.load_table("shop.t"), catalog.load_table("shop.t")
    one.add_files([_write(one, "a", _rows(0, 1))])
    two.add_files([_write(two, "b", _rows(1, 1))])
    assert RecordedRequest("POST", ROUTE_TABLE, 409) in rest_catalog_server.requests
    table = catalog.load_table("shop.t")
    assert len(table.snapshots()) == 2
    assert [row[0] for row in _pyiceberg_rows(table)] == [0, 1]

    status, body = _raw(rest_catalog_server, "GET", "/v1/namespaces/shop/tables/missing")
    assert status == 404
    assert body["error"]["type"] == "NoSuchTableException"
    assert body["error"]["code"] == 404
    assert "missing" in body["error"]["message"]
    status, body = _raw(rest_catalog_server, "POST", "/v1/namespaces", b"{not json")
    assert (status, body["error"]["type"], body["error"]["code"]) == (
        400,
        "BadRequestException",
        400,
    )
    status, body = _raw(rest_catalog_server, "POST", "/v1/namespaces/shop/tables", b"{}")
    assert (status, body["error"]["type"]) == (400, "BadRequestException")
    assert rest_catalog_server.requests[-1] == RecordedRequest("POST", ROUTE_TABLES, 400)


def test_a_token_is_required_when_the_server_has_one(tmp_path: Path) -> None:
    with RestCatalogServer(tmp_path, token="s3cr3t") as server:
        with pytest.raises(UnauthorizedError, match="NotAuthorizedException"):
            server.catalog(token="")  # no Authorization header at all
        with pytest.raises(UnauthorizedError, match="bearer token"):
            server.catalog(token="wrong")
        catalog = server.catalog()  # client_properties() carries the right token
        catalog.create_namespace("shop")
        assert catalog.list_namespaces() == [("shop",)]
        assert [r.status for r in server.requests[:2]] == [401, 401]
        assert server.requests[0].route == ROUTE_CONFIG
        assert not server.errors


# --- DuckDB iceberg_scan ---------------------------------------------------------------------


def test_duckdb_helper_names_a_missing_extension_package() -> None:
    with pytest.raises(DuckDBIcebergUnavailable, match=r"duckdb-extension-nosuch==\d"):
        extension_path("nosuch")


def test_duckdb_loads_iceberg_offline_into_a_private_directory(
    duckdb_iceberg: duckdb.DuckDBPyConnection,
) -> None:
    loaded = duckdb_iceberg.sql(
        "SELECT extension_name, install_mode FROM duckdb_extensions() "
        "WHERE extension_name IN ('avro', 'iceberg', 'httpfs') AND loaded ORDER BY 1"
    ).fetchall()
    assert loaded == [("avro", "NOT_INSTALLED"), ("iceberg", "NOT_INSTALLED")]
    directory, autoinstall, autoload = (
        duckdb_iceberg.sql(
            "SELECT current_setting('extension_directory'), "
            "current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        ).fetchone()
        or ()
    )
    assert not Path(directory).is_relative_to(Path.home())
    assert (autoinstall, autoload) == (False, False)


def test_duckdb_reads_a_table_committed_through_the_rest_catalog(
    catalog: RestCatalog, duckdb_iceberg: duckdb.DuckDBPyConnection
) -> None:
    catalog.create_namespace("shop")
    table = catalog.create_table("shop.orders", schema=SCHEMA)
    table.add_files([_write(table, "a", _rows(0, 5)), _write(table, "b", _rows(5, 3))])
    table = catalog.load_table("shop.orders")
    _overwrite(table, [_write(table, "c", _rows(20, 6))], {})
    table = catalog.load_table("shop.orders")

    expected = _pyiceberg_rows(table)
    assert [row[0] for row in expected] == list(range(20, 26))
    assert _duckdb_rows(duckdb_iceberg, table) == expected


@pytest.mark.s3
def test_duckdb_reads_a_table_committed_to_an_s3_warehouse(
    rest_catalog_server_s3: RestCatalogServer,
    iceberg_s3_properties: dict[str, str],
    duckdb_iceberg_connect: DuckDBConnect,
) -> None:
    catalog = rest_catalog_server_s3.catalog(**iceberg_s3_properties)
    catalog.create_namespace("shop")
    table = catalog.create_table("shop.orders", schema=SCHEMA)
    assert table.location().startswith(rest_catalog_server_s3.warehouse)
    table.add_files([_write(table, "a", _rows(0, 4)), _write(table, "b", _rows(4, 3))])
    table = catalog.load_table("shop.orders")
    assert table.metadata_location.startswith("s3://")

    expected = _pyiceberg_rows(table)
    assert [row[0] for row in expected] == list(range(7))
    con = duckdb_iceberg_connect(iceberg_s3_properties)
    assert _duckdb_rows(con, table) == expected

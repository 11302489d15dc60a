"""Pytest fixtures for Iceberg tests: a REST catalog server and DuckDB connections with iceberg.

Registered by conftest.py; see iceberg_rest.py and duckdb_iceberg.py for the parts themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from duckdb_iceberg import DuckDBIcebergUnavailable, duckdb_with_iceberg

if TYPE_CHECKING:
    from iceberg_rest import RestCatalogServer

DuckDBConnect = Callable[..., duckdb.DuckDBPyConnection]


def _fail_on_server_errors(server: RestCatalogServer) -> None:
    if server.errors:
        pytest.fail(
            "the REST catalog server answered 500:\n" + "\n".join(server.errors), pytrace=False
        )


@pytest.fixture
def rest_catalog_server(tmp_path: Path) -> Iterator[RestCatalogServer]:
    """A REST catalog server with a local warehouse under tmp_path. `server.catalog()` is a
    client; `server.uri` is `http://127.0.0.1:<port>`. Unexpected server errors fail the test."""
    from iceberg_rest import RestCatalogServer  # here: pyiceberg takes a second to import

    with RestCatalogServer(tmp_path / "rest-catalog") as server:
        yield server
        _fail_on_server_errors(server)


@pytest.fixture
def iceberg_s3_properties(s3_endpoint: str, s3_credentials: tuple[str, str]) -> dict[str, str]:
    """pyiceberg FileIO properties reaching the moto S3 test server (catalog properties; also
    accepted by `duckdb_with_iceberg(s3=...)`)."""
    key, secret = s3_credentials
    return {
        "s3.endpoint": s3_endpoint,
        "s3.access-key-id": key,
        "s3.secret-access-key": secret,
        "s3.region": "us-east-1",
        "s3.force-virtual-addressing": "false",
    }


@pytest.fixture
def rest_catalog_server_s3(
    tmp_path: Path, s3_bucket: str, iceberg_s3_properties: dict[str, str]
) -> Iterator[RestCatalogServer]:
    """A REST catalog server whose warehouse is `s3://<fresh bucket>/warehouse` on the moto test
    server. Clients need `iceberg_s3_properties` too: `server.catalog(**iceberg_s3_properties)`."""
    from iceberg_rest import RestCatalogServer

    with RestCatalogServer(
        tmp_path / "rest-catalog",
        warehouse=f"s3://{s3_bucket}/warehouse",
        properties=iceberg_s3_properties,
    ) as server:
        yield server
        _fail_on_server_errors(server)


@pytest.fixture
def duckdb_iceberg_connect() -> Iterator[DuckDBConnect]:
    """Opens DuckDB connections with iceberg loaded offline: `connect()` or `connect(s3_props)`.
    Skips the test when the extension packages are missing; closes the connections after it."""
    connections: list[duckdb.DuckDBPyConnection] = []

    def connect(s3: Mapping[str, str] | None = None) -> duckdb.DuckDBPyConnection:
        try:
            con = duckdb_with_iceberg(s3)
        except DuckDBIcebergUnavailable as exc:
            pytest.skip(str(exc))
        connections.append(con)
        return con

    yield connect
    for con in connections:
        con.close()


@pytest.fixture
def duckdb_iceberg(duckdb_iceberg_connect: DuckDBConnect) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with avro and iceberg loaded offline (local files only)."""
    return duckdb_iceberg_connect()

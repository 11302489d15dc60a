"""DuckDB connections that read Iceberg tables (`iceberg_scan`) offline, for tests.

The iceberg, avro and httpfs extensions are loaded from the files of the PyPI packages
`duckdb-extension-iceberg`, `-avro` and `-httpfs` (same version as `duckdb`) with `LOAD '<path>'`:
nothing is downloaded, autoinstall and autoload are off, and the extension and secret
directories are private, so `~/.duckdb` is never touched.

    con = duckdb_with_iceberg()
    rows = con.sql(f"SELECT * FROM iceberg_scan('{table.metadata_location}')").fetchall()
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

# Loaded in this order: iceberg's initialisation needs avro already loaded (otherwise it tries
# to autoinstall it and fails offline).
_ICEBERG_EXTENSIONS = ("avro", "iceberg")

_private_directory: Path | None = None


class DuckDBIcebergUnavailable(RuntimeError):
    """The DuckDB extension packages are not installed (tests skip with this message)."""


def extension_path(name: str) -> Path:
    """The `<name>.duckdb_extension` file shipped by `duckdb-extension-<name>` for this DuckDB."""
    package = f"duckdb_extension_{name}"
    distribution = f"duckdb-extension-{name}=={duckdb.__version__}"
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise DuckDBIcebergUnavailable(
            f"{distribution} is not installed (pip install '{distribution}'): {exc}"
        ) from exc
    assert module.__file__ is not None
    path = (
        Path(module.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / f"{name}.duckdb_extension"
    )
    if not path.is_file():
        raise DuckDBIcebergUnavailable(
            f"{path} not found: {package} does not match duckdb {duckdb.__version__} "
            f"(pip install '{distribution}')"
        )
    return path


def _directory() -> Path:
    """A private directory for DuckDB's extension and secret directories, removed at exit."""
    global _private_directory
    if _private_directory is None:
        _private_directory = Path(tempfile.mkdtemp(prefix="duckdb-iceberg-"))
        atexit.register(shutil.rmtree, _private_directory, ignore_errors=True)
    return _private_directory


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_with_iceberg(s3: Mapping[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with avro and iceberg loaded (and httpfs with `s3`).

    `s3` takes pyiceberg's FileIO property names, so a test can pass the same settings it
    gives the catalog: `s3.endpoint` (`http://host:port`), `s3.access-key-id`,
    `s3.secret-access-key` and `s3.region`. They become a temporary S3 secret with path-style
    URLs; SSL follows the endpoint's scheme.

    Raises DuckDBIcebergUnavailable when an extension package is missing.
    """
    names = ("httpfs", *_ICEBERG_EXTENSIONS) if s3 is not None else _ICEBERG_EXTENSIONS
    paths = [extension_path(name) for name in names]
    directory = _directory()
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "extension_directory": str(directory / "extensions"),
            "secret_directory": str(directory / "secrets"),
        }
    )
    try:
        for path in paths:
            con.execute(f"LOAD {_sql_literal(str(path))}")
        if s3 is not None:
            con.execute(_s3_secret(s3))
    except BaseException:
        con.close()
        raise
    return con


def _s3_secret(s3: Mapping[str, str]) -> str:
    url = s3["s3.endpoint"]
    endpoint = urlsplit(url)
    if not endpoint.netloc:
        raise ValueError(f"s3.endpoint must be a URL like http://127.0.0.1:9000, not {url!r}")
    options = {
        "KEY_ID": _sql_literal(s3["s3.access-key-id"]),
        "SECRET": _sql_literal(s3["s3.secret-access-key"]),
        "REGION": _sql_literal(s3.get("s3.region", "us-east-1")),
        "ENDPOINT": _sql_literal(endpoint.netloc),
        "URL_STYLE": "'path'",
        "USE_SSL": "true" if endpoint.scheme == "https" else "false",
    }
    settings = ", ".join(f"{key} {value}" for key, value in options.items())
    return f"CREATE TEMPORARY SECRET iceberg_s3 (TYPE s3, {settings})"

"""Where each exported table goes in an Iceberg catalog, and the Parquet schema of its files.

Identifiers: `{namespace}.{table}` when one table is exported and `--iceberg-table` names
it, else `{namespace}.{db}__{table}`; every part is sanitised like an object path
(`naming.sanitize`), and dots in the namespace make levels. A table lives at
`{warehouse}/{namespace levels}/{table}`: its Iceberg metadata in `metadata/` there,
beside the JSON manifest's place; its data files stay where the export wrote them.

The files of a committed table carry Iceberg field IDs (`PARQUET:field_id`), the IDs of
the table's schema, so that every engine maps columns without a name mapping; and an
ENUM is a plain string in them (pyiceberg cannot scan a table whose files mix dictionary
and plain strings). Everything else of the typed and compat mappings maps to Iceberg as
it is: no unsigned integer is ever written, a timezone-aware timestamp is UTC
(`timestamptz`), a DECIMAL above precision 38 is a string, and TINYINT/SMALLINT files
are read as Iceberg `int` (there is no narrower integer).

Pure pyarrow: nothing here imports pyiceberg; `iceberg_commit` talks to the catalog.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pyarrow as pa

from .naming import sanitize
from .options import DEFAULT_NAMESPACE, DEFAULT_WAREHOUSE
from .proto import brpb_pb2 as brpb
from .tables import Table

FIELD_ID = b"PARQUET:field_id"
_PRIMARY_KEY_FLAG = 2
"""`mysql.PriKeyFlag` in a column's `flag`."""


@dataclass(frozen=True)
class IcebergTable:
    """The Iceberg table one exported table is committed to."""

    namespace: tuple[str, ...]
    name: str
    location: str
    """Its URL: `{warehouse}/{namespace levels}/{name}`."""
    file_schema: pa.Schema
    """The Arrow schema of its Parquet files: the table's field IDs, plain strings."""
    identifier_columns: tuple[str, ...] = ()
    """The primary key of an integer-handle table (Iceberg identifier fields)."""

    @property
    def identifier(self) -> str:
        return ".".join((*self.namespace, self.name))


@dataclass(frozen=True)
class IcebergCommit:
    """One table's commit: what the summary, the summary JSON and the checkpoint record."""

    identifier: str
    snapshot_id: int | None
    """The snapshot holding the export's files (None for a dry run)."""
    metadata_location: str | None
    files: int
    rows: int
    operation: str
    """`append` (a new table), `overwrite` (a table that held rows), `already committed`
    (an earlier run committed the same files), or `planned` (dry run)."""

    def to_json(self) -> dict[str, object]:
        return {
            "identifier": self.identifier,
            "snapshot_id": self.snapshot_id,
            "metadata_location": self.metadata_location,
            "files": self.files,
            "rows": self.rows,
            "operation": self.operation,
        }


def namespace_levels(namespace: str | None) -> tuple[str, ...]:
    """`a.b` → `("a", "b")`, each level sanitised; the default namespace when empty."""
    levels = tuple(sanitize(p) for p in (namespace or DEFAULT_NAMESPACE).split(".") if p)
    return levels or (DEFAULT_NAMESPACE,)


def table_name(table: Table, *, named: str | None, single: bool) -> str:
    """The Iceberg table name of `table`: `named` when it is the only table exported,
    else `{db}__{table}`."""
    if named and single:
        return sanitize(named)
    return f"{sanitize(table.db)}__{sanitize(table.name)}"


def output_root_url(output: brpb.StorageBackend) -> str:
    """The URL of the output storage's root, as Iceberg FileIO spells it, or ValueError for
    a storage that Iceberg commits do not support."""
    kind = output.WhichOneof("backend")
    if kind == "local":
        return "file://" + os.path.abspath(output.local.path).rstrip("/")
    if kind == "s3":
        prefix = output.s3.prefix.strip("/")
        return f"s3://{output.s3.bucket}" + (f"/{prefix}" if prefix else "")
    raise ValueError(
        f"Iceberg commits need the output on local disk or S3, not {kind or 'no storage'}"
    )


def warehouse_url(warehouse: str | None, output: brpb.StorageBackend) -> str:
    """`--iceberg-warehouse` as a URL: a folder in the output storage, or a full URL on the
    same kind of storage (the table must reach the files where the export wrote them)."""
    root = output_root_url(output)
    text = (warehouse or DEFAULT_WAREHOUSE).strip()
    if "://" in text:
        scheme, want = text.split("://", 1)[0], root.split("://", 1)[0]
        if scheme.lower() in ("s3a", "s3n"):
            scheme = "s3"
        if scheme.lower() != want:
            raise ValueError(
                f"the Iceberg warehouse {text!r} is not on the output storage ({want}://): "
                "the table's metadata and its data files must share one storage"
            )
        return text.rstrip("/")
    folder = "/".join(p for p in text.strip("/").split("/") if p)
    return f"{root}/{folder}" if folder else root


def object_url(root: str, path: str) -> str:
    """The URL of output object `path` under root URL `root`."""
    return f"{root}/{path}"


def table_location(warehouse: str, namespace: tuple[str, ...], name: str) -> str:
    return "/".join((warehouse, *namespace, name))


def iceberg_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with dictionary columns (ENUM) as plain strings, metadata dropped."""
    return pa.schema([_plain(f) for f in schema], metadata=None)


def _plain(field: pa.Field) -> pa.Field:
    kind = field.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        element = _plain(kind.value_field).with_name("element")
        kind = pa.large_list(element) if pa.types.is_large_list(kind) else pa.list_(element)
    return pa.field(field.name, kind, field.nullable)


def field_paths(schema: pa.Schema) -> Iterator[tuple[str, pa.Field]]:
    """(dotted path, field) of every field, nested ones as `column.element`."""
    for f in schema:
        yield from _paths(f.name, f)


def _paths(path: str, field: pa.Field) -> Iterator[tuple[str, pa.Field]]:
    yield path, field
    kind = field.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        yield from _paths(f"{path}.element", kind.value_field)


def with_field_ids(schema: pa.Schema, ids: Mapping[str, int]) -> pa.Schema:
    """`schema` (plain, see `iceberg_arrow_schema`) with the field ID of each field path
    from `ids`; KeyError names a path without one."""
    return pa.schema([_with_id(f.name, f, ids) for f in schema])


def _with_id(path: str, field: pa.Field, ids: Mapping[str, int]) -> pa.Field:
    kind = field.type
    if pa.types.is_list(kind):
        kind = pa.list_(_with_id(f"{path}.element", kind.value_field, ids))
    elif pa.types.is_large_list(kind):
        kind = pa.large_list(_with_id(f"{path}.element", kind.value_field, ids))
    return pa.field(field.name, kind, field.nullable, {FIELD_ID: str(ids[path]).encode()})


def field_ids(schema: pa.Schema) -> dict[str, int]:
    """The field IDs of a schema made by `with_field_ids`, by field path."""
    return {
        path: int(f.metadata[FIELD_ID])
        for path, f in field_paths(schema)
        if f.metadata and FIELD_ID in f.metadata
    }


def identifier_columns(table: Table) -> tuple[str, ...]:
    """The primary key column of an integer-handle table with a primary key (TiDB's
    `pk_is_handle`), else nothing: a `_tidb_rowid` table has no key, and a clustered
    table's key is its common handle."""
    info = json.loads(table.table_info_json)
    if not info.get("pk_is_handle"):
        return ()
    for col in info.get("cols") or []:
        if int(col.get("type", {}).get("Flag", 0)) & _PRIMARY_KEY_FLAG:
            name = col.get("name", {})
            return (str(name.get("O") or name.get("L")),)
    return ()

"""Commits an export's Parquet files as Iceberg tables through a catalog (pyiceberg).

Imported only with `--iceberg-catalog` (the `iceberg` extra). Two steps:

1. `plan_iceberg`, before any SST task runs: the catalog is opened and each selected
   table's Iceberg table looked up. A new table gets the field IDs pyiceberg will give it
   (top-level columns 1…n, then nested fields); an existing one the IDs of its schema
   evolved by name with the backup's (added columns get new IDs, dropped ones become
   optional). An incompatible change, or a table that already holds a newer backup of the
   same cluster, fails here, before hours of work. The tasks write these IDs into the files.
2. `commit_tables`, after every task: per table, one atomic commit made after all of its
   files are uploaded and verified. The table is created if missing (sorted by the handle,
   the primary key of an integer-handle table as identifier fields), its schema evolved,
   and one overwrite snapshot replaces its data files with the export's, registered where
   they are (no rewrite). The snapshot summary carries the backup's versions, end time,
   cluster and table IDs and the br-parquet version.

Idempotent: the commit is recorded in the checkpoint (`commits/`), and a table whose
current snapshot already holds exactly the export's files is not committed again, so a
rerun, a resume after a kill on either side of the commit, or a second export of the same
backup never adds a file twice. A newer backup replaces the table's contents and keeps its
history: one snapshot per backup.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchNamespaceError,
    NoSuchTableError,
    ValidationError,
)
from pyiceberg.io.pyarrow import parquet_file_to_data_file, pyarrow_to_schema
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table as IcebergTableHandle
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.table.update.schema import UpdateSchema
from pyiceberg.transforms import IdentityTransform

from .backupmeta import BackupMeta, tso_time
from .checkpoint import Checkpoint, utc_now
from .crashpoints import crash_point
from .errors import (
    BrParquetError,
    IcebergConfigError,
    IcebergError,
    IcebergTableConflictError,
    NameCollisionError,
)
from .iceberg_tables import (
    IcebergCommit,
    IcebergTable,
    field_ids,
    field_paths,
    iceberg_arrow_schema,
    identifier_columns,
    namespace_levels,
    object_url,
    output_root_url,
    table_location,
    table_name,
    warehouse_url,
    with_field_ids,
)
from .options import ExportOptions
from .parquet_writer import SORTED_BY
from .proto import brpb_pb2 as brpb
from .storage_url import redact_url
from .tables import Table
from .written import WrittenObject

log = logging.getLogger("br_parquet.iceberg")

CATALOG_NAME = "br_parquet"
"""The catalog's name: a SQL catalog keys its rows by it (Spark's JDBC catalog of the
same name sees the same tables)."""
_FOOTER_READERS = 16
"""Footers read at once when files are registered (each is a small ranged read)."""
END_VERSION = "tidb.backup.end-version"
CLUSTER_ID = "tidb.cluster-id"

_T = TypeVar("_T")


@dataclass
class IcebergPlan:
    """The catalog and the Iceberg table of each selected table, in selection order."""

    catalog: Catalog | None
    """None in a dry run against a SQLite catalog file that does not exist yet."""
    label: str
    """The catalog URI without credentials, for messages and records."""
    tables: list[IcebergTable]
    output_root: str
    """The output storage's root URL: data file URLs are `{output_root}/{object}`."""
    planned: dict[str, str] = field(default_factory=dict)
    """What each new or evolved table will be, for the log."""

    def file_schemas(self) -> list[pa.Schema]:
        return [t.file_schema for t in self.tables]

    def digest(self) -> str:
        """The field IDs of every table's files, hashed: the checkpoint's `file_schemas`."""
        h = hashlib.sha256()
        for t in self.tables:
            h.update(f"{t.identifier}\0".encode())
            for path, number in sorted(field_ids(t.file_schema).items()):
                h.update(f"{path}={number}\0".encode())
        return h.hexdigest()[:32]


def message_of(error: BaseException) -> str:
    """A catalog's or pyiceberg's error as one line: its type (which says a lot, e.g.
    `NoSuchModuleError`, `ConnectionError`) and its message."""
    text = " ".join(p.strip() for p in str(error).splitlines() if p.strip())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def catalog_label(uri: str) -> str:
    """`uri` without credentials: no password, no secret query parameter."""
    try:
        parts = urlsplit(uri)
        password = parts.password
    except ValueError:
        return redact_url(uri)
    if password:
        netloc = parts.netloc.replace(f":{password}@", ":****@", 1)
        uri = urlunsplit(parts._replace(netloc=netloc))
    return redact_url(uri)


def open_catalog(
    uri: str,
    properties: Mapping[str, str],
    output: brpb.StorageBackend,
    *,
    read_only: bool = False,
) -> Catalog | None:
    """The catalog `uri` names, with the output's S3 settings for its FileIO and the
    user's `properties` over them. `read_only` (a dry run) creates nothing: no SQL catalog
    tables, and None for a SQLite file that does not exist."""
    label = catalog_label(uri)
    settings: dict[str, str] = {
        "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
        **file_io_properties(output),
    }
    if uri.startswith(("rest+http://", "rest+https://")):
        settings.update(type="rest", uri=uri[len("rest+") :])
    elif uri.startswith(("http://", "https://")):
        raise IcebergConfigError(
            label, "a REST catalog URI starts with rest+http:// or rest+https://"
        )
    else:
        settings.update(type="sql", uri=uri)
        database = _sqlite_file(uri)
        if read_only:
            if database is not None and not database.exists():
                return None
            settings["init_catalog_tables"] = "false"
        elif database is not None:
            # SQLite creates a missing database file, not its folder.
            database.parent.mkdir(parents=True, exist_ok=True)
    settings.update(properties)
    try:
        return load_catalog(CATALOG_NAME, **settings)
    except BrParquetError:
        raise
    except (ImportError, ValueError, TypeError) as e:
        raise IcebergConfigError(label, f"cannot open it: {message_of(e)}") from e
    except Exception as e:
        if _is_bad_sql_url(e):
            raise IcebergConfigError(label, f"cannot open it: {message_of(e)}") from e
        raise IcebergError(label, f"cannot open it: {message_of(e)}") from e


def _is_bad_sql_url(error: Exception) -> bool:
    """SQLAlchemy's refusal of the URL itself (unknown dialect, malformed), a usage error."""
    try:
        from sqlalchemy.exc import ArgumentError
    except ImportError:
        return False
    return isinstance(error, ArgumentError)


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a SQLite URL, None for other URLs and in-memory databases."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if uri.startswith(prefix):
            path = uri[len(prefix) :].split("?", 1)[0]
            if path and path != ":memory:":
                return Path(path)
    return None


def file_io_properties(output: brpb.StorageBackend) -> dict[str, str]:
    """pyiceberg FileIO properties that reach the output storage like the export does."""
    if output.WhichOneof("backend") != "s3":
        return {}
    s3 = output.s3
    props: dict[str, str] = {}
    if s3.endpoint:
        endpoint = s3.endpoint if "://" in s3.endpoint else f"https://{s3.endpoint}"
        props["s3.endpoint"] = endpoint
        props["s3.force-virtual-addressing"] = "false" if s3.force_path_style else "true"
    if s3.region:
        props["s3.region"] = s3.region
    if s3.access_key:
        props["s3.access-key-id"] = s3.access_key
        props["s3.secret-access-key"] = s3.secret_access_key
        if s3.session_token:
            props["s3.session-token"] = s3.session_token
    return props


# --- step 1: before the tasks --------------------------------------------------------------


def plan_iceberg(
    options: ExportOptions,
    tables: Sequence[Table],
    output: brpb.StorageBackend,
    meta: BackupMeta,
) -> IcebergPlan:
    """Opens the catalog and works out each table's identifier, location and file schema
    (see the module doc); raises `IcebergError`s, `NameCollisionError` for two tables
    with one identifier."""
    assert options.catalog is not None
    label = catalog_label(options.catalog)
    try:
        root = output_root_url(output)
        warehouse = warehouse_url(options.iceberg_warehouse, output)
    except ValueError as e:
        raise IcebergConfigError(label, str(e)) from None
    catalog = open_catalog(
        options.catalog, dict(options.catalog_properties), output, read_only=options.dry_run
    )
    namespace = namespace_levels(options.iceberg_namespace)
    single = len(tables) == 1
    plan = IcebergPlan(catalog, label, [], root)
    owners: dict[str, Table] = {}
    for table in tables:
        name = table_name(table, named=options.iceberg_table, single=single)
        ident = ".".join((*namespace, name))
        other = owners.setdefault(ident, table)
        if other is not table:
            raise NameCollisionError(
                f"tables {other.qualified_name!r} and {table.qualified_name!r} would both be "
                f"committed as the Iceberg table {ident}; export them separately"
            )
        base = iceberg_arrow_schema(table.output_decoder(options).arrow_schema())
        existing = _load(catalog, label, (*namespace, name)) if catalog is not None else None
        if existing is None:
            ids = fresh_field_ids(base)
            plan.planned[ident] = "new table"
        else:
            _refuse_newer(existing, meta, label, ident)
            ids = _evolved_ids(existing, base, label, ident)
        plan.tables.append(
            IcebergTable(
                namespace=namespace,
                name=name,
                location=table_location(warehouse, namespace, name),
                file_schema=with_field_ids(base, ids),
                identifier_columns=identifier_columns(table),
            )
        )
    return plan


def fresh_field_ids(schema: pa.Schema) -> dict[str, int]:
    """The IDs a new table of `schema` gets: each level's fields numbered in order before
    the next level (top-level columns 1…n first), as pyiceberg assigns them."""
    ids: dict[str, int] = {}
    level = [(f.name, f) for f in schema]
    while level:
        children: list[tuple[str, pa.Field]] = []
        for path, f in level:
            ids[path] = len(ids) + 1
            kind = f.type
            if pa.types.is_list(kind) or pa.types.is_large_list(kind):
                children.append((f"{path}.element", kind.value_field))
        level = children
    return ids


def _load(catalog: Catalog, label: str, ident: tuple[str, ...]) -> IcebergTableHandle | None:
    try:
        return _call(label, ".".join(ident), lambda: catalog.load_table(ident))
    except IcebergError as e:
        if isinstance(e.__cause__, NoSuchTableError | NoSuchNamespaceError):
            return None
        raise


def _evolve(update: UpdateSchema, base: pa.Schema, current: Schema) -> None:
    """Adds the backup's new columns and widens types (an incompatible change raises);
    columns the backup no longer has become optional, so the new files may lack them."""
    update.union_by_name(base)
    names = set(base.names)
    for f in current.fields:
        if f.name not in names and f.required:
            update.make_column_optional(f.name)


def _evolved_ids(
    table: IcebergTableHandle, base: pa.Schema, label: str, ident: str
) -> dict[str, int]:
    """The field IDs of `table`'s schema once evolved with `base` (a transaction that is
    never committed)."""
    tx = table.transaction()
    try:
        with tx.update_schema() as update:
            _evolve(update, base, table.schema())
    except (ValidationError, ValueError) as e:
        raise IcebergTableConflictError(
            label,
            f"its schema cannot take this backup's: {message_of(e)}; export into another "
            "table (--iceberg-namespace, --iceberg-table) or drop the table first",
            table=ident,
        ) from e
    schema = tx.table_metadata.schema()
    return {path: schema.find_field(path).field_id for path, _ in field_paths(base)}


def _refuse_newer(table: IcebergTableHandle, meta: BackupMeta, label: str, ident: str) -> None:
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return
    props = snapshot.summary.additional_properties
    try:
        version = int(props.get(END_VERSION, "0"))
        cluster = int(props.get(CLUSTER_ID, "0"))
    except ValueError:
        return
    if cluster == meta.cluster_id and version > meta.end_version:
        raise IcebergTableConflictError(
            label,
            f"it holds a newer backup of cluster {cluster} (end-version {version}) than this "
            f"one (end-version {meta.end_version}); an older backup would replace newer "
            "rows, so nothing was committed",
            table=ident,
        )


# --- step 2: after the tasks ---------------------------------------------------------------


def commit_tables(
    plan: IcebergPlan,
    tables: Sequence[Table],
    objects: Sequence[WrittenObject],
    meta: BackupMeta,
    checkpoint: Checkpoint | None,
    on_commit: Callable[[IcebergCommit], None] = lambda _: None,
) -> list[IcebergCommit]:
    """Commits each table's objects (see the module doc); `on_commit` hears of each."""
    by_table: dict[str, list[WrittenObject]] = {t.qualified_name: [] for t in tables}
    for obj in objects:
        by_table[obj.qualified_table].append(obj)
    done: list[IcebergCommit] = []
    for table, target in zip(tables, plan.tables, strict=True):
        commit = _commit_table(
            plan, target, table, by_table[table.qualified_name], meta, checkpoint
        )
        log.info(
            "Iceberg table %s: %s, snapshot %s (%d files, %d rows), metadata %s",
            commit.identifier,
            commit.operation,
            commit.snapshot_id,
            commit.files,
            commit.rows,
            commit.metadata_location,
        )
        on_commit(commit)
        done.append(commit)
    return done


def _files_digest(urls: Sequence[tuple[str, int]]) -> str:
    h = hashlib.sha256()
    for url, size in sorted(urls):
        h.update(f"{url}\0{size}\0".encode())
    return h.hexdigest()


def _record_key(label: str, ident: str) -> str:
    return hashlib.sha256(f"{label}\0{ident}".encode()).hexdigest()[:32]


def _commit_table(
    plan: IcebergPlan,
    target: IcebergTable,
    table: Table,
    objects: Sequence[WrittenObject],
    meta: BackupMeta,
    checkpoint: Checkpoint | None,
) -> IcebergCommit:
    label, ident = plan.label, target.identifier
    files = sorted((object_url(plan.output_root, o.path), o.size) for o in objects)
    rows = sum(o.rows for o in objects)
    digest = _files_digest(files)
    key = _record_key(label, ident)
    recorded = checkpoint.commit_record(key) if checkpoint is not None else None
    if recorded is not None and recorded.get("files_digest") == digest:
        return IcebergCommit(
            ident,
            _int_or_none(recorded.get("snapshot_id")),
            _str_or_none(recorded.get("metadata_location")),
            len(files),
            rows,
            "already committed",
        )
    iceberg = _table_for_commit(plan, target)
    current = _call(label, ident, lambda: _current_files(iceberg))
    if {(f.file_path, f.file_size_in_bytes) for f in current} == set(files) and (
        iceberg.current_snapshot() is not None
    ):
        # Committed by a run that stopped before recording it.
        commit = _made(iceberg, ident, len(files), rows, "already committed")
    else:
        _refuse_newer(iceberg, meta, label, ident)
        operation = "overwrite" if current else "append"
        crash_point("before-commit")
        iceberg = _call(
            label,
            ident,
            lambda: _overwrite(label, iceberg, target, [u for u, _ in files], current, meta, table),
        )
        crash_point("after-commit")
        commit = _made(iceberg, ident, len(files), rows, operation)
    if checkpoint is not None:
        checkpoint.record_commit(
            key,
            {
                "catalog": label,
                "table": ident,
                "files_digest": digest,
                "files": len(files),
                "rows": rows,
                "snapshot_id": commit.snapshot_id,
                "metadata_location": commit.metadata_location,
                "end_version": meta.end_version,
                "committed_at": utc_now(),
            },
        )
    return commit


def _made(table: IcebergTableHandle, ident: str, files: int, rows: int, op: str) -> IcebergCommit:
    snapshot = table.current_snapshot()
    return IcebergCommit(
        ident,
        snapshot.snapshot_id if snapshot is not None else None,
        table.metadata_location,
        files,
        rows,
        op,
    )


def _table_for_commit(plan: IcebergPlan, target: IcebergTable) -> IcebergTableHandle:
    """The table, created (with its namespace levels) if missing."""
    label, ident = plan.label, target.identifier
    catalog = plan.catalog
    assert catalog is not None  # only a dry run has none, and it commits nothing
    for depth in range(1, len(target.namespace) + 1):
        _create_namespace(catalog, label, ident, target.namespace[:depth])
    existing = _load(catalog, label, (*target.namespace, target.name))
    if existing is not None:
        return existing
    schema = pyarrow_to_schema(target.file_schema)
    keys = [schema.find_field(c).field_id for c in target.identifier_columns]
    schema = Schema(*schema.fields, identifier_field_ids=keys)
    order = SortOrder(
        *(
            SortField(source_id=schema.find_field(name).field_id, transform=IdentityTransform())
            for name in SORTED_BY
        )
    )
    created = _call(
        label,
        ident,
        lambda: catalog.create_table_if_not_exists(
            (*target.namespace, target.name),
            schema=schema,
            location=target.location,
            sort_order=order,
            properties={"format-version": "2"},
        ),
    )
    log.info("created Iceberg table %s at %s", ident, target.location)
    return created


def _create_namespace(catalog: Catalog, label: str, ident: str, level: tuple[str, ...]) -> None:
    _call(label, ident, lambda: catalog.create_namespace_if_not_exists(level))


def _current_files(table: IcebergTableHandle) -> list[DataFile]:
    if table.current_snapshot() is None:
        return []
    return [task.file for task in table.scan().plan_files()]


def _overwrite(
    label: str,
    table: IcebergTableHandle,
    target: IcebergTable,
    urls: Sequence[str],
    current: Sequence[DataFile],
    meta: BackupMeta,
    source: Table,
) -> IcebergTableHandle:
    """One transaction: schema evolution, name mapping, and one snapshot replacing the
    table's data files with `urls`."""
    tx = table.transaction()
    with tx.update_schema() as update:
        _evolve(update, iceberg_plain(target.file_schema), table.schema())
    _check_ids(tx.table_metadata.schema(), target, label)
    if tx.table_metadata.name_mapping() is None:
        mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
        tx.set_properties({"schema.name-mapping.default": mapping})
    added = _parallel(lambda url: parquet_file_to_data_file(table.io, tx.table_metadata, url), urls)
    properties = snapshot_properties(meta, source)
    with tx.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
        for data_file in current:
            overwrite.delete_data_file(data_file)
        for data_file in added:
            overwrite.append_data_file(data_file)
    return tx.commit_transaction()


def iceberg_plain(schema: pa.Schema) -> pa.Schema:
    """`schema` without its field IDs (union by name must not match by ID)."""
    return iceberg_arrow_schema(schema)


def _check_ids(schema: Schema, target: IcebergTable, label: str) -> None:
    for path, number in field_ids(target.file_schema).items():
        found = schema.find_field(path).field_id
        if found != number:
            raise IcebergTableConflictError(
                label,
                f"column {path} has field ID {found} in the table but {number} in the "
                "files written: the table changed while the export ran; run the export "
                "again without its checkpoint (--use-checkpoint=false)",
                table=target.identifier,
            )


def snapshot_properties(meta: BackupMeta, table: Table) -> dict[str, str]:
    from . import __version__

    return {
        "tidb.backup.start-version": str(meta.start_version),
        END_VERSION: str(meta.end_version),
        "tidb.backup.end-time": tso_time(meta.end_version).isoformat(),
        CLUSTER_ID: str(meta.cluster_id),
        "tidb.table-id": str(table.table_id),
        "br-parquet.version": __version__,
    }


def _parallel(function: Callable[[str], _T], items: Sequence[str]) -> list[_T]:
    if len(items) <= 1:
        return [function(i) for i in items]
    with ThreadPoolExecutor(min(_FOOTER_READERS, len(items))) as pool:
        return list(pool.map(function, items))


def _call(label: str, ident: str, action: Callable[[], _T]) -> _T:
    """Runs a catalog or FileIO action, its failures as `IcebergError`s (the cause kept)."""
    try:
        return action()
    except BrParquetError:
        raise
    except (NoSuchTableError, NoSuchNamespaceError) as e:
        raise IcebergError(label, f"not found: {message_of(e)}", table=ident) from e
    except (ValidationError, CommitFailedException) as e:
        raise IcebergTableConflictError(label, message_of(e), table=ident) from e
    except ValueError as e:
        # pyiceberg's schema compatibility checks of the files against the table.
        raise IcebergTableConflictError(label, message_of(e), table=ident) from e
    except Exception as e:
        raise IcebergError(label, message_of(e), table=ident) from e


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def dry_run_commits(plan: IcebergPlan) -> Iterator[IcebergCommit]:
    """What a run would commit: one `planned` entry per table."""
    for target in plan.tables:
        yield IcebergCommit(target.identifier, None, None, 0, 0, "planned")

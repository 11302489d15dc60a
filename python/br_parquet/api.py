"""The Python API: open a backup, list its tables, stream a table as Arrow, export.

The examples run against the `parquet_smoke` sample backup (`make demo` writes one; the
test suite writes one into `backup_dir`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeAlias

import pyarrow as pa

from . import job
from .backupmeta import BackupMeta, load_backupmeta, tso_time
from .cache import DEFAULT_CACHE_BYTES, CacheStats, SstCache
from .crypto import Cipher, method_name
from .events import Listener
from .metrics import ExportMetrics
from .options import (
    DEFAULT_ROW_GROUP_SIZE,
    ExportOptions,
    TypeMapping,
    default_concurrency,
    with_options,
)
from .plan import overlaps_handles, plan_tasks
from .proto import brpb_pb2 as brpb
from .result import ExportResult
from .scan import ScanRequest, scan_reader
from .secrets import Redactor, backend_secrets, catalog_secrets, cipher_secrets
from .storage import Storage
from .storage_url import describe_backend, parse_location
from .summary import RunSummary
from .table_filter import TableFilter
from .tables import DEFAULT_FILTER, Table, backup_tables, find_table

Location: TypeAlias = str | os.PathLike[str] | brpb.StorageBackend
"""A storage URL (`s3://bucket/prefix?…`, `local:///path`, `gcs://…`, `azure://…`), a
local path, a `StorageBackend` message, or its base64 (`br operator base64ify`)."""

_META_VERSIONS = {0: "v1", 1: "v2"}


@dataclass(frozen=True)
class BackupInfo:
    """What a backup is: where from, when, and how it is stored."""

    location: str
    """The backup's storage, without credentials."""
    cluster_id: int
    cluster_version: str
    br_version: str
    start_version: int
    """0 for a full backup; the previous backup's `end_version` for an incremental one."""
    end_version: int
    """The snapshot TSO: the backup holds the data as of this version."""
    start_time: datetime | None
    end_time: datetime
    meta_version: str
    """`v1` (one `backupmeta`) or `v2` (with child meta files)."""
    encryption: str
    """`plaintext` or the `--crypter.method` it was read with."""
    api_version: int
    incremental: bool


def _plain_version(text: str) -> str:
    """TiDB stores the cluster version JSON-quoted with a newline: `"7.5.0"\\n`."""
    try:
        value = json.loads(text)
    except ValueError:
        return text.strip()
    return value if isinstance(value, str) else text.strip()


class Backup:
    """An open BR backup. Build it with `open_backup`.

    >>> backup = open_backup(backup_dir)
    >>> backup.info.end_version > 0, backup.info.meta_version
    (True, 'v2')
    """

    def __init__(
        self,
        backend: brpb.StorageBackend,
        *,
        crypter: Cipher | None = None,
        storage_options: dict[str, str] | None = None,
        cache_dir: str | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.backend = backend
        self.crypter = crypter
        self._storage = Storage(backend, client_options=storage_options or None)  # type: ignore[arg-type]
        self.meta: BackupMeta = load_backupmeta(self._storage, cipher=crypter)
        self._cache = SstCache(self._storage, crypter, directory=cache_dir, max_bytes=cache_bytes)
        self._tables: list[Table] | None = None

    def __enter__(self) -> Backup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Removes the SSTs cached locally."""
        self._cache.close()

    def __repr__(self) -> str:
        return f"Backup({self.info.location!r}, end_version={self.meta.end_version})"

    @property
    def info(self) -> BackupInfo:
        meta = self.meta
        return BackupInfo(
            location=describe_backend(self.backend),
            cluster_id=meta.cluster_id,
            cluster_version=_plain_version(meta.cluster_version),
            br_version=meta.br_version,
            start_version=meta.start_version,
            end_version=meta.end_version,
            start_time=tso_time(meta.start_version) if meta.start_version else None,
            end_time=tso_time(meta.end_version),
            meta_version=_META_VERSIONS.get(meta.meta_version, str(meta.meta_version)),
            encryption=method_name(self.crypter.method) if self.crypter else "plaintext",
            api_version=meta.api_version,
            incremental=meta.is_incremental,
        )

    @property
    def cache_stats(self) -> CacheStats:
        """SSTs downloaded and served from the local cache so far."""
        return self._cache.stats

    def tables(self, filters: list[str] | tuple[str, ...] | None = None) -> list[Table]:
        """The tables that pass BR filter rules `filters` (default: all but the system
        schemas), with their SST counts and bytes.

        >>> [t.qualified_name for t in open_backup(backup_dir).tables(["*.group_*"])]
        ['parquet_smoke.group_a', 'parquet_smoke.group_b']
        """
        rules = TableFilter.parse(filters or DEFAULT_FILTER)
        return [t for t in self._all_tables() if rules.match_table(t.db, t.name)]

    def table(self, name: str | Table) -> Table:
        """The table called `name` (`db.table`, case-insensitive as in filter rules).

        >>> t = open_backup(backup_dir).table("PARQUET_SMOKE.group_a")
        >>> t.name, [(c.name, c.tidb_type, str(c.typed)) for c in t.columns]
        ('group_a', [('id', 'int', 'int32'), ('v', 'int', 'int32')])
        """
        return find_table(self._all_tables(), name)

    def schema(self, table: str | Table, type_mapping: TypeMapping = "typed") -> pa.Schema:
        """The Arrow schema of the table's exported files in `type_mapping`.

        >>> open_backup(backup_dir).schema("parquet_smoke.group_a").names
        ['_tidb_table_id', '_tidb_handle', 'id', 'v']
        """
        return self.table(table).schema(type_mapping)

    def scan(
        self,
        table: str | Table,
        *,
        columns: list[str] | tuple[str, ...] | None = None,
        type_mapping: TypeMapping = "typed",
        handle_range: tuple[int | None, int | None] | None = None,
        batch_rows: int = DEFAULT_ROW_GROUP_SIZE,
        concurrency: int | None = None,
    ) -> pa.RecordBatchReader:
        """Streams the table's rows from its SSTs as Arrow record batches, in key order.

        `columns` are decoded and returned in the order given (default: every column);
        `_tidb_table_id` and `_tidb_handle` only when named. `handle_range=(lo, hi)`
        returns the rows with `lo <= handle < hi` of a table with an integer handle
        (either bound may be None) and downloads only the SSTs that can hold them. Up to
        `concurrency` SSTs (default: the CPU count) are decoded at once; memory stays
        bounded whatever the table's size.

        The reader speaks the Arrow C stream protocol: DuckDB, Polars, `pyarrow.dataset`
        and `pa.Table.from_batches` take it directly.

        >>> reader = open_backup(backup_dir).scan("parquet_smoke.group_b", columns=["v", "id"])
        >>> reader.read_all().to_pylist()
        [{'v': 100, 'id': 1}, {'v': 200, 'id': 2}]
        """
        t = self.table(table)
        decoder = t.decoder(type_mapping)
        decoder = decoder.project(list(decoder.column_names if columns is None else columns))
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
        workers = default_concurrency() if concurrency is None else concurrency
        if workers < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        tasks = list(plan_tasks(self.meta.data_files, [t]).tasks)
        if handle_range is not None:
            lo, hi = _handle_range(t, handle_range)
            tasks = [
                task
                for task in tasks
                if any(overlaps_handles(task.write, pid, lo, hi) for pid in t.physical_ids)
            ]
        tasks.sort(key=lambda task: bytes(task.write.start_key))
        request = ScanRequest(decoder, tasks, batch_rows, workers, handle_range)
        return scan_reader(request, self._cache)

    def _export(self, output: Location, options: ExportOptions) -> ExportResult:
        """Exports the backup into Parquet files under `output`; takes every setting of
        `ExportOptions` (the command line's flags) as a keyword argument.

        >>> result = open_backup(backup_dir).export(out_dir, filters=["parquet_smoke.group_*"])
        >>> result.rows_by_table(), result.objects_written
        ({'parquet_smoke.group_a': 2, 'parquet_smoke.group_b': 2}, 2)
        """
        if options.crypter is None and self.crypter is not None:
            options = replace(options, crypter=self.crypter)
        return _observed(self.backend, parse_location(output), options, (), meta=self.meta)

    export = with_options(_export)(ExportOptions)

    def _all_tables(self) -> list[Table]:
        if self._tables is None:
            tables = backup_tables(self.meta)
            counts = [[0, 0] for _ in tables]
            for task in plan_tasks(self.meta.data_files, tables).tasks:
                files = [task.write, *([task.default] if task.default else [])]
                for i in task.tables:
                    counts[i][0] += len(files)
                    counts[i][1] += sum(f.size for f in files)
            self._tables = [
                replace(t, sst_count=n, sst_bytes=size)
                for t, (n, size) in zip(tables, counts, strict=True)
            ]
        return self._tables


def _handle_range(
    table: Table, bounds: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    if table.clustered:
        raise ValueError(
            f"handle_range needs an integer handle, but {table.qualified_name} has a "
            "clustered primary key (its handle is the key's bytes)"
        )
    lo, hi = bounds
    for bound in bounds:
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise ValueError(f"handle_range bounds must be integers or None, got {bounds!r}")
    return lo, hi


def open_backup(
    location: Location,
    *,
    crypter: Cipher | None = None,
    storage_options: dict[str, str] | None = None,
    cache_dir: str | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> Backup:
    """Opens the BR backup at `location` and reads its metadata.

    `crypter` is the backup's `--crypter.*` method and key, for an encrypted backup.
    `storage_options` are obstore client settings (timeouts, proxy) for cloud storage.
    SSTs are cached under `cache_dir` (default: the temp folder), at most `cache_bytes`
    of SSTs not being read; `Backup.close()` removes them.

    >>> open_backup(backup_dir).info.cluster_version
    '7.5.0'
    """
    return Backup(
        parse_location(location),
        crypter=crypter,
        storage_options=storage_options,
        cache_dir=cache_dir,
        cache_bytes=cache_bytes,
    )


def run_export(
    input: Location | Sequence[Location],
    output: Location,
    options: ExportOptions,
    *,
    listeners: Sequence[Listener] = (),
) -> ExportResult:
    """Exports the BR backup at `input` into Parquet files under `output`; a list of
    backups is a chain (a full backup, then its incrementals, oldest first), exported as
    of the last one. `listeners` receive the run's events; the metrics and the summary
    JSON the options ask for are served and written here (on failure too).

    >>> run_export(backup_dir, out_dir, ExportOptions(type_mapping="typed")).files_written
    3
    """
    source = parse_source(input)
    return _observed(source, parse_location(output), options, listeners, meta=None)


def parse_source(input: Location | Sequence[Location]) -> job.Source:
    """One backup location, or several (a chain: the full backup, then its incrementals,
    oldest first)."""
    if isinstance(input, str | os.PathLike | brpb.StorageBackend):
        return parse_location(input)
    sources = tuple(parse_location(i) for i in input)
    return sources[0] if len(sources) == 1 else sources


def _observed(
    source: job.Source,
    target: brpb.StorageBackend,
    options: ExportOptions,
    listeners: Sequence[Listener],
    *,
    meta: BackupMeta | None,
) -> ExportResult:
    """`job.export` with the observers that the options ask for around it."""
    observers = list(listeners)
    with ExitStack() as stack:
        metrics = ExportMetrics.from_options(options)
        if metrics is not None:
            stack.enter_context(metrics)  # a port that cannot be bound stops the run here
            observers.append(metrics)
        if options.summary_json:
            summary = next((o for o in observers if isinstance(o, RunSummary)), None)
            if summary is None:
                summary = RunSummary(redact=run_redactor(source, target, options))
                observers.append(summary)
            stack.callback(summary.write_json, options.summary_json)
        return job.export(source, target, options, meta=meta, listeners=observers)


def run_redactor(
    source: job.Source, target: brpb.StorageBackend, options: ExportOptions
) -> Redactor:
    """Masks every secret of a run: the storages' credentials, the crypter key and the
    Iceberg catalog's password and secret properties."""
    sources: set[str] = set()
    for backend in job.inputs_of(source):
        sources |= backend_secrets(backend)
    return Redactor(
        sources
        | backend_secrets(target)
        | cipher_secrets(options.crypter)
        | catalog_secrets(options.catalog, options.catalog_properties)
    )


export = with_options(run_export, name="export")(ExportOptions)
"""`br_parquet.export(input, output, **settings)`: `run_export` with the settings of
`ExportOptions` (the command line's flags) as keyword arguments."""

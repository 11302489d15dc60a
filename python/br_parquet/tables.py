"""The tables of a backup: `Table`, one per TiDB table, and which of them are selected.

A table is selected when its real `db.table` name passes the BR table filter and, if
table IDs are given, one of its physical IDs (the table's, or a partition's) is listed;
listing only some partitions selects only those.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from ._native import TableDecoder
from .backupmeta import BackupMeta, SchemaEntry
from .errors import (
    NoTablesSelectedError,
    TableInfoError,
    TableNotFoundError,
    UnknownTableIdsError,
)
from .options import TYPE_MAPPINGS, ExportOptions, TypeMapping
from .table_filter import TableFilter
from .tidb_types import render_type

# What TiDB's tools leave out unless asked: system and memory schemas.
DEFAULT_FILTER: tuple[str, ...] = (
    "*.*",
    "!mysql.*",
    "!sys.*",
    "!INFORMATION_SCHEMA.*",
    "!PERFORMANCE_SCHEMA.*",
    "!METRICS_SCHEMA.*",
    "!INSPECTION_SCHEMA.*",
)


@dataclass(frozen=True)
class Column:
    """One output column of a table: its TiDB type and its Arrow type in each mapping."""

    name: str
    tidb_type: str
    """The column type as `SHOW CREATE TABLE` spells it, e.g. `decimal(10,2)`."""
    compat: pa.DataType
    typed: pa.DataType
    nullable: bool

    def arrow_type(self, type_mapping: TypeMapping) -> pa.DataType:
        return self.compat if type_mapping == "compat" else self.typed


@dataclass(frozen=True)
class Table:
    """A table of the backup. A plain, picklable value: its decoder is built from
    `table_info_json` where it is needed."""

    db: str
    name: str
    table_id: int
    """The logical table ID (`TableInfo.id`)."""
    physical_ids: tuple[int, ...]
    """The IDs its rows are stored under: the table's, or its selected partitions'."""
    partitioned: bool
    table_info_json: bytes = field(repr=False)
    sst_count: int = 0
    """Data SST files of the backup that hold its rows (write and default CF)."""
    sst_bytes: int = 0
    problem: TableInfoError | None = field(default=None, repr=False, compare=False)
    """Why its TableInfo cannot be decoded; raised only when the table is used, so one
    unsupported table does not stop the export of the others."""

    @property
    def qualified_name(self) -> str:
        return f"{self.db}.{self.name}"

    @property
    def partition_ids(self) -> tuple[int, ...]:
        """The selected partitions' IDs; empty for a table without partitions."""
        return self.physical_ids if self.partitioned else ()

    def decoder(
        self,
        type_mapping: TypeMapping,
        *,
        op_column: bool = False,
        commit_ts_column: bool = False,
    ) -> TableDecoder:
        """The native decoder of its rows in `type_mapping` (built once per process);
        `op_column` adds `_tidb_op` and tombstone rows for Delete records,
        `commit_ts_column` adds `_tidb_commit_ts`."""
        if self.problem is not None:
            raise self.problem
        return decoder_for(self.table_info_json, type_mapping, op_column, commit_ts_column)

    def output_decoder(self, options: ExportOptions) -> TableDecoder:
        """The decoder of the rows an export with `options` writes."""
        return self.decoder(
            options.type_mapping,
            op_column=options.emit_deletes,
            commit_ts_column=options.with_commit_ts,
        )

    @property
    def clustered(self) -> bool:
        """Whether rows are keyed by a clustered (common) handle, not an integer."""
        return self.decoder("compat").clustered

    @property
    def columns(self) -> tuple[Column, ...]:
        """The output columns (public, not virtual), in definition order."""
        if self.problem is not None:
            raise self.problem
        return _columns(self.table_info_json)

    def schema(self, type_mapping: TypeMapping) -> pa.Schema:
        """The Arrow schema of its exported files: `_tidb_table_id`, `_tidb_handle`,
        then the columns."""
        return self.decoder(type_mapping).arrow_schema()


@functools.lru_cache(maxsize=4096)
def decoder_for(
    table_info_json: bytes,
    type_mapping: TypeMapping,
    op_column: bool = False,
    commit_ts_column: bool = False,
) -> TableDecoder:
    if not (op_column or commit_ts_column):
        return TableDecoder(table_info_json, type_mapping=type_mapping)
    return TableDecoder(
        table_info_json,
        type_mapping=type_mapping,
        op_column=op_column,
        commit_ts_column=commit_ts_column,
    )


@functools.lru_cache(maxsize=1024)
def _columns(table_info_json: bytes) -> tuple[Column, ...]:
    info = json.loads(table_info_json)
    by_name = {c["name"]["L"]: c for c in info.get("cols") or []}
    schemas = {m: decoder_for(table_info_json, m).arrow_schema() for m in TYPE_MAPPINGS}
    out = []
    for name in decoder_for(table_info_json, "compat").column_names:
        compat = schemas["compat"].field(name)
        out.append(
            Column(
                name=name,
                tidb_type=render_type(by_name[name.lower()]["type"]),
                compat=compat.type,
                typed=schemas["typed"].field(name).type,
                nullable=compat.nullable,
            )
        )
    return tuple(out)


def _has_rows(info: dict[str, Any]) -> bool:
    return info.get("view") is None and info.get("sequence") is None


def table_json(entry: SchemaEntry) -> bytes:
    """The TableInfo JSON handed to the native decoder."""
    assert entry.table_info is not None
    return json.dumps(entry.table_info).encode()


def backup_tables(meta: BackupMeta) -> list[Table]:
    """Every table of the backup that holds rows (views and sequences have none)."""
    tables = []
    for entry in meta.schemas:
        info = entry.table_info
        if info is None or entry.table_name is None or not _has_rows(info):
            continue
        raw = table_json(entry)
        try:
            decoder = decoder_for(raw, "compat")
        except TableInfoError as e:
            tables.append(_undecodable(entry.db_name, entry.table_name, info, raw, e))
            continue
        physical = tuple(decoder.physical_ids)
        tables.append(
            Table(
                db=entry.db_name,
                name=entry.table_name,
                table_id=decoder.table_id,
                physical_ids=physical,
                partitioned=physical != (decoder.table_id,),
                table_info_json=raw,
            )
        )
    return tables


def _undecodable(
    db: str, name: str, info: dict[str, Any], raw: bytes, error: TableInfoError
) -> Table:
    """A table whose TableInfo the decoder refuses, with the IDs its JSON names (so that
    `--table-ids` still knows them); selecting it raises `error`."""
    table_id = info.get("id")
    table_id = table_id if isinstance(table_id, int) else -1
    partition = info.get("partition")
    definitions = partition.get("definitions") if isinstance(partition, dict) else None
    parts = tuple(
        d["id"] for d in definitions or () if isinstance(d, dict) and isinstance(d.get("id"), int)
    )
    return Table(
        db=db,
        name=name,
        table_id=table_id,
        physical_ids=parts or (table_id,),
        partitioned=bool(parts),
        table_info_json=raw,
        problem=error.in_db(db),
    )


def select_tables(
    meta: BackupMeta, rules: TableFilter, table_ids: Sequence[int] = ()
) -> list[Table]:
    """The tables to export, in backup order; raises when nothing matches."""
    wanted_ids = set(table_ids)
    tables = backup_tables(meta)
    known = {i for t in tables for i in (t.table_id, *t.physical_ids)}
    if wanted_ids - known:
        raise UnknownTableIdsError(sorted(wanted_ids - known))
    selected: list[Table] = []
    available: list[str] = []
    for table in tables:
        available.append(table.qualified_name)
        if not rules.match_table(table.db, table.name):
            continue
        if wanted_ids and table.table_id not in wanted_ids:
            physical = tuple(p for p in table.physical_ids if p in wanted_ids)
            if not physical:
                continue
            table = replace(table, physical_ids=physical)
        if table.problem is not None:
            raise table.problem
        selected.append(table)
    if not selected:
        raise NoTablesSelectedError(list(rules.sources), sorted(table_ids), available)
    return selected


def find_table(tables: Sequence[Table], name: str | Table) -> Table:
    """The table called `name` (`db.table`, case-insensitive as in filter rules)."""
    if isinstance(name, Table):
        return name
    wanted = name.lower()
    found = [t for t in tables if t.qualified_name.lower() == wanted]
    if len(found) != 1:
        raise TableNotFoundError(name, [t.qualified_name for t in tables])
    return found[0]

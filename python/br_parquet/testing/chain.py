"""`write_chain`: a full backup and its incremental backups, and the table state they hold.

A chain is a list of `ChainStep`s: step 0 is the full backup (tables created, rows put),
each later step what happened between the previous backup and this one. Within a step
the operations apply in this order: create tables, add columns, truncate, delete, put,
drop. `chain_state` and `step_changes` compute the expected contents from these logical
operations alone; `write_chain` writes `root/0`, `root/1`, … the way BR and TiKV do:

- one cluster; backup `i` has `start_version` = backup `i-1`'s `end_version` (backup TS);
  table and database IDs stay the same across the chain, and come, with the DDL job IDs,
  from one allocator, as TiDB's global IDs do;
- an incremental backup holds the newest version of every key changed in its window:
  Puts (long values in the default CF) and Deletes, commit TS inside the window; a
  truncated table's rows go under its new ID, its old ID is in no later backup;
- `schemas` lists the tables that exist at the backup TS (what BR's
  `BuildBackupRangeAndSchema` lists for a full and an incremental backup alike), with
  zero table checksums in incremental backups (BR skips them there); file checksums
  are real;
- the DDL jobs of the window are recorded (`ddls` array in v1, `backupmeta.ddl.*` in v2).

    steps = [
        ChainStep(create=[("shop", table("items", [("id", "int primary key"),
                                                   ("name", "varchar(20)")]))],
                  puts={"shop.items": [(1, "pen"), (2, "ink")]}),
        ChainStep(deletes={"shop.items": [1]}, puts={"shop.items": [(2, "red ink")]}),
    ]
    infos = write_chain(root, steps)     # root/0 (full), root/1 (incremental)
    assert chain_state(steps) == {"shop.items": [(2, "red ink")]}

Rows are sequences in column order or mappings by column name (a name left out is
NULL). Keys are the primary key: an int for an integer PK handle, a tuple of the PK
values for a clustered PK. Tables need one of the two (no `_tidb_rowid` tables) and
cannot be partitioned.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

from . import ddl
from .backup import (
    DEFAULT_BACKUP_TS,
    DEFAULT_CLUSTER_ID,
    BackupInfo,
    BackupSpec,
    DatabaseSpec,
    Layout,
    TableSpec,
    table,
    write_backup,
)
from .schema import ColumnInfo, DBInfo, TableInfo, column, go_json
from .sst import Compression
from .tablecodec import Row, row_handle

__all__ = [
    "ChainStep",
    "Key",
    "StepChanges",
    "chain_state",
    "sample_chain",
    "step_changes",
    "write_chain",
]

Key = int | tuple[object, ...]
"""A row's primary key: the integer handle, or the clustered PK's values in order."""

_TSO_PHYSICAL_SHIFT = 18
_ONE_MS_TS = 1 << _TSO_PHYSICAL_SHIFT
_FIRST_ID = 100
_FIRST_SCHEMA_VERSION = 50
# Schema versions a job takes (one per schema state it passes through).
_VERSIONS_PER_ACTION = {
    ddl.ACTION_CREATE_SCHEMA: 1,
    ddl.ACTION_CREATE_TABLE: 1,
    ddl.ACTION_TRUNCATE_TABLE: 1,
    ddl.ACTION_DROP_TABLE: 3,
    ddl.ACTION_ADD_COLUMN: 4,
}
_JOB_MAKERS: dict[int, Callable[..., dict[str, Any]]] = {
    ddl.ACTION_CREATE_SCHEMA: ddl.create_schema_job,
    ddl.ACTION_CREATE_TABLE: ddl.create_table_job,
    ddl.ACTION_DROP_TABLE: ddl.drop_table_job,
    ddl.ACTION_TRUNCATE_TABLE: ddl.truncate_table_job,
    ddl.ACTION_ADD_COLUMN: ddl.add_column_job,
}


@dataclass
class ChainStep:
    """What one backup of a chain adds: for step 0 (the full backup) the tables and rows
    it holds, for a later step what happened since the previous backup.

    `create` pairs a database name with a table (its rows, if any, are put in this
    step; `table_id=0` takes the next ID); the other fields are keyed by `db.table`.
    `add_columns` adds nullable columns without default (older rows read NULL there);
    `truncate` gives the table a new ID and empties it; `deletes` lists keys of live
    rows; `puts` inserts rows or replaces the row of the same key. `meta_version`
    overrides `write_chain`'s for this backup.
    """

    create: Sequence[tuple[str, TableSpec]] = ()
    add_columns: Mapping[str, Sequence[ColumnInfo | tuple[str, str]]] = field(default_factory=dict)
    truncate: Sequence[str] = ()
    deletes: Mapping[str, Sequence[Key]] = field(default_factory=dict)
    puts: Mapping[str, Sequence[Row]] = field(default_factory=dict)
    drop: Sequence[str] = ()
    splits: Mapping[str, Sequence[int | bytes]] = field(default_factory=dict)
    """Region boundaries (handles) of a table in this backup, when not those it was
    created with: regions move between backups."""
    meta_version: Literal[1, 2] | None = None


class StepChanges(NamedTuple):
    """What one backup holds of a table: the rows put (newest value, in key order) and
    the keys deleted (sorted), in its window alone."""

    puts: list[tuple[object, ...]]
    deletes: list[Key]


@dataclass
class _Table:
    db: str
    info: TableInfo
    spec: TableSpec
    rows: dict[Key, tuple[object, ...]] = field(default_factory=dict)


@dataclass
class _Change:
    puts: dict[Key, tuple[object, ...]] = field(default_factory=dict)
    deletes: set[Key] = field(default_factory=set)


@dataclass
class _Step:
    """The simulated state after one step."""

    backup_ts: int
    dbs: dict[str, DBInfo]
    tables: dict[str, _Table]
    changes: dict[str, _Change]
    jobs: list[dict[str, Any]]


class _Simulation:
    """Applies the steps in order, allocating IDs, schema versions and timestamps."""

    def __init__(self, base_ts: int, interval_ts: int) -> None:
        self.base_ts = base_ts
        self.interval_ts = interval_ts
        self.ids = itertools.count(_FIRST_ID)
        self.used_ids: set[int] = set()
        self.schema_version = _FIRST_SCHEMA_VERSION
        self.dbs: dict[str, DBInfo] = {}
        self.tables: dict[str, _Table] = {}

    def next_id(self) -> int:
        while True:
            candidate = next(self.ids)
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate

    def run(self, steps: Sequence[ChainStep]) -> list[_Step]:
        if not steps:
            raise ValueError("a chain needs at least the full backup (one step)")
        return [
            self._apply(number, step, number == len(steps) - 1) for number, step in enumerate(steps)
        ]

    def _apply(self, number: int, step: ChainStep, last: bool) -> _Step:
        backup_ts = self.base_ts + number * self.interval_ts
        window_start = backup_ts - self.interval_ts
        if number == 0 and (step.add_columns or step.truncate or step.deletes or step.drop):
            raise ValueError("the full backup (step 0) only creates tables and puts rows")
        changes: dict[str, _Change] = {}
        jobs: list[dict[str, Any]] = []
        # DDLs of the window run early in it, drops last (after the data commits).
        ddl_ts = itertools.count(window_start + 10 * _ONE_MS_TS, 10 * _ONE_MS_TS)
        drop_ts = itertools.count(backup_ts - 500 * _ONE_MS_TS, 10 * _ONE_MS_TS)

        def job(action: int, ts_source: itertools.count[int], **kwargs: Any) -> int:
            """Record a job (not for the full backup) and return its finished TS."""
            start = next(ts_source)
            finished = start + _ONE_MS_TS
            self.schema_version += _VERSIONS_PER_ACTION[action]
            if number > 0:
                jobs.append(
                    _JOB_MAKERS[action](
                        self.next_id(),
                        schema_version=self.schema_version,
                        start_ts=start,
                        finished_ts=finished,
                        **kwargs,
                    )
                )
            return finished

        full_ddl_ts = itertools.count(backup_ts - 60_000 * _ONE_MS_TS, 10 * _ONE_MS_TS)
        for db_name, tspec in step.create:
            self._create(db_name, tspec, changes, job, full_ddl_ts if number == 0 else ddl_ts)
        for name, columns in step.add_columns.items():
            self._add_columns(name, columns, job, ddl_ts)
        for name in step.truncate:
            table = self._table(name, "truncate")
            old_id = table.info.id
            new_id = self.next_id()
            table.info = replace(table.info, id=new_id)
            finished = job(
                ddl.ACTION_TRUNCATE_TABLE,
                ddl_ts,
                db=self.dbs[table.db],
                old_id=old_id,
                new_info=table.info,
            )
            table.info = replace(table.info, update_timestamp=finished)
            table.rows.clear()
            changes[name] = _Change()
        for name, keys in step.deletes.items():
            table = self._table(name, "delete from")
            change = changes.setdefault(name, _Change())
            for raw_key in keys:
                key = _key_of(table.info, raw_key)
                if key not in table.rows:
                    raise ValueError(f"{name}: delete of key {key!r}, which has no row")
                del table.rows[key]
                change.puts.pop(key, None)
                change.deletes.add(key)
        for name, rows in step.puts.items():
            table = self._table(name, "put into")
            change = changes.setdefault(name, _Change())
            for row in rows:
                values = _normalize(table.info, row)
                key = _row_key(table.info, values)
                table.rows[key] = values
                change.puts[key] = values
                change.deletes.discard(key)
        for name in step.drop:
            table = self._table(name, "drop")
            job(ddl.ACTION_DROP_TABLE, drop_ts, db=self.dbs[table.db], info=table.info)
            del self.tables[name]
            changes.pop(name, None)
        return _Step(
            backup_ts=backup_ts,
            dbs=dict(self.dbs),
            # Rows are kept for the last step only: a long chain stays cheap.
            tables={
                name: replace(t, rows=dict(t.rows) if last else {})
                for name, t in self.tables.items()
            },
            changes=changes,
            jobs=jobs,
        )

    def _table(self, name: str, what: str) -> _Table:
        table = self.tables.get(name)
        if table is None:
            raise ValueError(f"cannot {what} {name}: no such table at this step")
        return table

    def _create(
        self,
        db_name: str,
        tspec: TableSpec,
        changes: dict[str, _Change],
        job: Callable[..., int],
        ts_source: itertools.count[int],
    ) -> None:
        info = tspec.info
        name = f"{db_name}.{info.name}"
        if name in self.tables:
            raise ValueError(f"table {name} exists already")
        if info.partition is not None or tspec.partition_rows:
            raise ValueError(f"{name}: partitioned tables are not supported in a chain")
        if not info.pk_is_handle and not info.is_common_handle:
            raise ValueError(f"{name}: a chain table needs an int PK or a clustered PK")
        if tspec.index_entries or tspec.raw_entries or tspec.deleted:
            raise ValueError(f"{name}: give a chain table's contents as puts and deletes")
        if db_name not in self.dbs:
            self.dbs[db_name] = DBInfo(len(self.dbs) + 1, db_name)
            job(ddl.ACTION_CREATE_SCHEMA, ts_source, db=self.dbs[db_name])
        if info.id:
            if info.id in self.used_ids:
                raise ValueError(f"{name}: table ID {info.id} is taken")
            self.used_ids.add(info.id)
        else:
            info = replace(info, id=self.next_id())
        table = _Table(db_name, info, replace(tspec, rows=()))
        self.tables[name] = table
        finished = job(ddl.ACTION_CREATE_TABLE, ts_source, db=self.dbs[db_name], info=info)
        table.info = replace(info, update_timestamp=finished)
        change = changes.setdefault(name, _Change())
        for row in tspec.rows:
            values = _normalize(table.info, row)
            key = _row_key(table.info, values)
            table.rows[key] = values
            change.puts[key] = values

    def _add_columns(
        self,
        name: str,
        columns: Sequence[ColumnInfo | tuple[str, str]],
        job: Callable[..., int],
        ts_source: itertools.count[int],
    ) -> None:
        table = self._table(name, "add columns to")
        for spec in columns:
            col = replace(spec) if isinstance(spec, ColumnInfo) else column(spec[0], spec[1])
            if col.ft.not_null or col.default is not None or col.origin_default is not None:
                raise ValueError(f"{name}: add column {col.name} nullable and without default")
            if any(c.name.lower() == col.name.lower() for c in table.info.columns):
                raise ValueError(f"{name} has a column {col.name} already")
            col.id = max(c.id for c in table.info.columns) + 1
            col.offset = len(table.info.columns)
            table.info = replace(table.info, columns=[*table.info.columns, col])
            finished = job(
                ddl.ACTION_ADD_COLUMN,
                ts_source,
                db=self.dbs[table.db],
                info=table.info,
                added=col,
            )
            table.info = replace(table.info, update_timestamp=finished)
            table.rows = {key: (*row, None) for key, row in table.rows.items()}


def _normalize(info: TableInfo, row: Row) -> tuple[object, ...]:
    """The row as a tuple in column order (a name left out of a mapping is NULL)."""
    if isinstance(row, Mapping):
        by_name = {str(name).lower(): value for name, value in row.items()}
        unknown = set(by_name) - {c.name.lower() for c in info.columns}
        if unknown:
            raise ValueError(f"table {info.name} has no column(s) {sorted(unknown)}")
        return tuple(by_name.get(c.name.lower()) for c in info.columns)
    if len(row) != len(info.columns):
        raise ValueError(
            f"row of {len(row)} values for table {info.name} of {len(info.columns)} columns"
        )
    return tuple(row)


def _pk_names(info: TableInfo) -> list[str]:
    if info.pk_is_handle and info.handle_column is not None:
        return [info.handle_column.name]
    assert info.primary_index is not None
    return [name for name, _ in info.primary_index.column_names()]


def _row_key(info: TableInfo, values: tuple[object, ...]) -> Key:
    by_name = {c.name.lower(): v for c, v in zip(info.columns, values, strict=True)}
    parts = tuple(by_name[name.lower()] for name in _pk_names(info))
    if info.pk_is_handle:
        number = parts[0]
        if not isinstance(number, int):
            raise ValueError(f"table {info.name}: PK value {number!r} is not an int")
        return number
    return parts


def _key_of(info: TableInfo, key: Key) -> Key:
    """A key as given to `deletes`: an int for an int handle, else a tuple (a single
    value is taken as a one-column key)."""
    if info.pk_is_handle:
        if not isinstance(key, int):
            raise ValueError(f"table {info.name}: key {key!r} is not an int")
        return key
    return key if isinstance(key, tuple) else (key,)


def _handle(info: TableInfo, key: Key) -> int | bytes:
    """The record key's handle for a key (as TiDB encodes it)."""
    parts = (key,) if isinstance(key, int) else key
    return row_handle(info, dict(zip((n.lower() for n in _pk_names(info)), parts, strict=True)))


def _sort_key(key: Key) -> tuple[object, ...]:
    return (key,) if isinstance(key, int) else key


def _simulate(
    steps: Sequence[ChainStep], base_ts: int = DEFAULT_BACKUP_TS, interval_s: int = 60
) -> list[_Step]:
    return _Simulation(base_ts, interval_s * 1000 * _ONE_MS_TS).run(steps)


def chain_state(
    steps: Sequence[ChainStep], upto: int | None = None
) -> dict[str, list[tuple[object, ...]]]:
    """Each table that exists after step `upto` (default: the last), as `db.table`, with
    its rows in key order: what a restore of the chain up to that backup holds."""
    result = _simulate(steps if upto is None else steps[: upto + 1])[-1]
    return {
        name: [table.rows[key] for key in sorted(table.rows, key=_sort_key)]
        for name, table in sorted(result.tables.items())
    }


def step_changes(steps: Sequence[ChainStep], index: int) -> dict[str, StepChanges]:
    """What backup `index` holds per table (`db.table`, tables with any change): its puts
    and deleted keys in `(start_version, end_version]`. A truncated table's puts are those
    under its new ID."""
    result = _simulate(steps[: index + 1])[-1]
    out = {}
    for name, change in sorted(result.changes.items()):
        if change.puts or change.deletes:
            out[name] = StepChanges(
                [change.puts[key] for key in sorted(change.puts, key=_sort_key)],
                sorted(change.deletes, key=_sort_key),
            )
    return out


def write_chain(
    root: Path,
    steps: Sequence[ChainStep],
    *,
    cluster_id: int = DEFAULT_CLUSTER_ID,
    base_ts: int = DEFAULT_BACKUP_TS,
    interval_s: int = 60,
    meta_version: Literal[1, 2] = 2,
    layout: Layout = "store_dir",
    compression: Compression = "zstd",
    seed: int | None = None,
) -> list[BackupInfo]:
    """Write the chain's backups to `root/0` (full), `root/1`, … and return what each
    holds. Backup `i` is taken at `base_ts + i * interval_s` seconds (as TSOs); its
    writes commit one second before its backup TS."""
    infos = []
    previous_ts = 0
    for number, (step, state) in enumerate(
        zip(steps, _simulate(steps, base_ts, interval_s), strict=True)
    ):
        databases = []
        for db_name, db in state.dbs.items():
            tables = []
            for name, live in state.tables.items():
                if live.db != db_name:
                    continue
                change = state.changes.get(name, _Change())
                tables.append(
                    replace(
                        live.spec,
                        split_at=step.splits.get(name, live.spec.split_at),
                        info=live.info,
                        rows=[change.puts[key] for key in sorted(change.puts, key=_sort_key)],
                        deleted=[
                            _handle(live.info, key) for key in sorted(change.deletes, key=_sort_key)
                        ],
                    )
                )
            databases.append(DatabaseSpec(db_name, tables, id=db.id))
        commit_ts = state.backup_ts - 1000 * _ONE_MS_TS
        spec = BackupSpec(
            databases,
            meta_version=step.meta_version or meta_version,
            layout=layout,
            compression=compression,
            backup_ts=state.backup_ts,
            start_version=previous_ts,
            commit_ts=commit_ts,
            start_ts=commit_ts - 10,
            cluster_id=cluster_id,
            seed=None if seed is None else seed + number,
            ddl_jobs=[go_json(job) for job in state.jobs],
        )
        infos.append(write_backup(root / str(number), spec))
        previous_ts = state.backup_ts
    return infos


def sample_chain() -> list[ChainStep]:
    """A full backup and two incrementals with every kind of change a chain reader meets:
    inserts, updates across backups, deletes, a delete then a re-insert, long values
    (default CF), a clustered PK, an added column, a created, a truncated and a dropped
    table, and a database created in an increment."""
    long_a, long_b, long_c = "a" * 300, "b" * 400, "c" * 500
    items = table(
        "items",
        [("id", "int primary key"), ("name", "varchar(20)"), ("note", "text")],
        rows=[(i, f"item{i}", long_a if i == 5 else None) for i in range(1, 11)],
    )
    orders = table(
        "orders",
        [("region", "varchar(8)"), ("id", "int"), ("amount", "int")],
        rows=[("eu", 1, 10), ("eu", 2, 20), ("us", 1, 30), ("us", 2, 40)],
        primary_key=["region", "id"],
        clustered=True,
    )
    logs = table(
        "logs",
        [("id", "bigint primary key"), ("msg", "varchar(50)")],
        rows=[
            (1, "boot"),
            (2, "ready"),
            (3, "tick"),
        ],
    )
    old = table("old", [("id", "int primary key"), ("v", "int")], rows=[(1, 1), (2, 2)])
    fresh = table(
        "fresh",
        [("id", "int primary key"), ("body", "varchar(600)")],
        rows=[(1, "short"), (2, long_b)],
    )
    events = table(
        "events", [("id", "int primary key"), ("what", "varchar(20)")], rows=[(1, "login")]
    )
    return [
        ChainStep(create=[("shop", items), ("shop", orders), ("shop", logs), ("shop", old)]),
        ChainStep(
            create=[("shop", fresh)],
            add_columns={"shop.items": [("color", "varchar(10)")]},
            truncate=["shop.logs"],
            deletes={"shop.items": [4, 5], "shop.orders": [("eu", 1)]},
            puts={
                "shop.items": [
                    (2, "item2 v2", None, "red"),
                    (3, "item3 v2", long_c, None),
                    (11, "item11", None, "blue"),
                    (12, "item12", long_a, None),
                ],
                "shop.orders": [("us", 2, 41)],
                "shop.logs": [(1, "reboot"), (100, "new")],
            },
        ),
        ChainStep(
            create=[("audit", events)],
            deletes={"shop.items": [11], "shop.fresh": [1]},
            puts={
                "shop.items": [
                    (2, "item2 v3", None, "green"),
                    (4, "item4 again", None, None),
                    (6, "item6 v2", long_b, "grey"),
                ],
                "shop.orders": [("eu", 1, 11)],
                "shop.logs": [(101, "more")],
            },
            drop=["shop.old"],
        ),
    ]

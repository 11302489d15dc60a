"""DDL jobs as BR records them in an incremental backup: `json.Marshal(model.Job)`.

BR keeps the history jobs whose schema version lies in the backup's window, sorted by job
ID (tidb `br/pkg/backup/client.go` `WriteBackupDDLJobs`). Job states and schema states
are numbers in the JSON (`JobState` int32: done 4, synced 6; `SchemaState` byte: none 0,
public 5); `binlog` is the untagged `HistoryInfo` (`SchemaVersion`, `DBInfo`,
`TableInfo`, `FinishedTS`, `MultipleTableInfos`). The fields are those of TiDB 7.5.
"""

from __future__ import annotations

import base64
from typing import Any

from .fieldtype import _TYPES, FieldType
from .keys import table_prefix
from .schema import STATE_PUBLIC, ColumnInfo, DBInfo, JsonStyle, TableInfo

__all__ = [
    "ACTION_ADD_COLUMN",
    "ACTION_CREATE_SCHEMA",
    "ACTION_CREATE_TABLE",
    "ACTION_DROP_TABLE",
    "ACTION_TRUNCATE_TABLE",
    "JOB_STATE_DONE",
    "JOB_STATE_SYNCED",
    "add_column_job",
    "create_schema_job",
    "create_table_job",
    "drop_table_job",
    "truncate_table_job",
]

ACTION_CREATE_SCHEMA = 1
ACTION_CREATE_TABLE = 3
ACTION_DROP_TABLE = 4
ACTION_ADD_COLUMN = 5
ACTION_TRUNCATE_TABLE = 11
JOB_STATE_DONE = 4
JOB_STATE_SYNCED = 6
_STATE_NONE = 0
_JOB_VERSION_1 = 1


def _job(
    *,
    job_id: int,
    action: int,
    db: DBInfo,
    table_id: int,
    table_name: str,
    query: str,
    raw_args: Any,
    schema_state: int,
    schema_version: int,
    start_ts: int,
    finished_ts: int,
    table: dict[str, Any] | None,
    db_json: dict[str, Any] | None = None,
    state: int = JOB_STATE_SYNCED,
) -> dict[str, Any]:
    return {
        "id": job_id,
        "type": action,
        "schema_id": db.id,
        "table_id": table_id,
        "schema_name": db.name,
        "table_name": table_name,
        "state": state,
        "warning": None,
        "err": None,
        "err_count": 0,
        "row_count": 0,
        "raw_args": raw_args,
        "schema_state": schema_state,
        "snapshot_ver": 0,
        "real_start_ts": start_ts,
        "start_ts": start_ts,
        "dependency_id": 0,
        "query": query,
        "binlog": {
            "SchemaVersion": schema_version,
            "DBInfo": db_json,
            "TableInfo": table,
            "FinishedTS": finished_ts,
            "MultipleTableInfos": None,
        },
        "version": _JOB_VERSION_1,
        "reorg_meta": None,
        "multi_schema_info": None,
        "priority": 0,
        "seq_num": job_id,
        "charset": "utf8mb4",
        "collate": "utf8mb4_bin",
        "admin_operator": 0,
        "trace_info": {"connection_id": 0, "session_alias": ""},
        "bdr_role": "",
        "cdc_write_source": 0,
    }


def _type_sql(ft: FieldType) -> str:
    """A readable SQL type for the job's query text (not parsed back by any reader)."""
    binary = ft.is_binary_string
    name = next(
        (
            n
            for n, t in _TYPES.items()
            if t.tp == ft.tp and (t.kind == "binary") == binary and t.kind != "bool"
        ),
        "blob",
    )
    if _TYPES[name].args == "len" and (ft.is_string and ft.flen > 0):
        return f"{name}({ft.flen})"
    return name


def _column_sql(col: ColumnInfo) -> str:
    return f"`{col.name}` {_type_sql(col.ft)}" + (" NOT NULL" if col.ft.not_null else "")


def _create_table_sql(info: TableInfo) -> str:
    parts = [_column_sql(c) for c in info.columns]
    if info.pk_is_handle and info.handle_column is not None:
        parts.append(f"PRIMARY KEY (`{info.handle_column.name}`)")
    elif info.primary_index is not None:
        cols = ",".join(f"`{name}`" for name, _ in info.primary_index.column_names())
        kind = " /*T![clustered_index] CLUSTERED */" if info.is_common_handle else ""
        parts.append(f"PRIMARY KEY ({cols}){kind}")
    return f"CREATE TABLE `{info.name}` ({', '.join(parts)})"


def create_schema_job(
    job_id: int, db: DBInfo, *, schema_version: int, start_ts: int, finished_ts: int
) -> dict[str, Any]:
    """`CREATE DATABASE`: `binlog.DBInfo` holds the new database."""
    db_json = db.to_dict()
    return _job(
        job_id=job_id,
        action=ACTION_CREATE_SCHEMA,
        db=db,
        table_id=0,
        table_name="",
        query=f"CREATE DATABASE `{db.name}`",
        raw_args=[db_json],
        schema_state=STATE_PUBLIC,
        schema_version=schema_version,
        start_ts=start_ts,
        finished_ts=finished_ts,
        table=None,
        db_json=db_json,
    )


def create_table_job(
    job_id: int,
    db: DBInfo,
    info: TableInfo,
    *,
    schema_version: int,
    start_ts: int,
    finished_ts: int,
    style: JsonStyle = "v7",
) -> dict[str, Any]:
    """`CREATE TABLE`: `binlog.TableInfo` is the new table (BR's restore creates it from
    there)."""
    table = info.to_dict(style)
    return _job(
        job_id=job_id,
        action=ACTION_CREATE_TABLE,
        db=db,
        table_id=info.id,
        table_name=info.name,
        query=_create_table_sql(info),
        raw_args=[table, False],
        schema_state=STATE_PUBLIC,
        schema_version=schema_version,
        start_ts=start_ts,
        finished_ts=finished_ts,
        table=table,
    )


def drop_table_job(
    job_id: int,
    db: DBInfo,
    info: TableInfo,
    *,
    schema_version: int,
    start_ts: int,
    finished_ts: int,
    style: JsonStyle = "v7",
) -> dict[str, Any]:
    """`DROP TABLE`: finished in schema state none; the args hold the start key of the
    range left for the delete-range worker."""
    table = info.to_dict(style) | {"state": _STATE_NONE}
    start_key = base64.b64encode(table_prefix(info.id)).decode()
    return _job(
        job_id=job_id,
        action=ACTION_DROP_TABLE,
        db=db,
        table_id=info.id,
        table_name=info.name,
        query=f"DROP TABLE `{info.name}`",
        raw_args=[start_key, [], []],
        schema_state=_STATE_NONE,
        schema_version=schema_version,
        start_ts=start_ts,
        finished_ts=finished_ts,
        table=table,
    )


def truncate_table_job(
    job_id: int,
    db: DBInfo,
    old_id: int,
    new_info: TableInfo,
    *,
    schema_version: int,
    start_ts: int,
    finished_ts: int,
    style: JsonStyle = "v7",
) -> dict[str, Any]:
    """`TRUNCATE TABLE`: `table_id` is the old ID, `binlog.TableInfo` the table under its
    new ID, which the args name too."""
    return _job(
        job_id=job_id,
        action=ACTION_TRUNCATE_TABLE,
        db=db,
        table_id=old_id,
        table_name=new_info.name,
        query=f"TRUNCATE TABLE `{new_info.name}`",
        raw_args=[new_info.id, False, []],
        schema_state=STATE_PUBLIC,
        schema_version=schema_version,
        start_ts=start_ts,
        finished_ts=finished_ts,
        table=new_info.to_dict(style),
    )


def add_column_job(
    job_id: int,
    db: DBInfo,
    info: TableInfo,
    added: ColumnInfo,
    *,
    schema_version: int,
    start_ts: int,
    finished_ts: int,
    style: JsonStyle = "v7",
) -> dict[str, Any]:
    """`ALTER TABLE … ADD COLUMN` of one column: `binlog.TableInfo` is the table with
    the new column public."""
    return _job(
        job_id=job_id,
        action=ACTION_ADD_COLUMN,
        db=db,
        table_id=info.id,
        table_name=info.name,
        query=f"ALTER TABLE `{info.name}` ADD COLUMN {_column_sql(added)}",
        raw_args=[added.to_dict(style), {"Tp": 0, "RelativeColumn": None}, 0, False],
        schema_state=STATE_PUBLIC,
        schema_version=schema_version,
        start_ts=start_ts,
        finished_ts=finished_ts,
        table=info.to_dict(style),
    )

"""A writer of real-format TiDB BR backups, for tests, the demo and benchmarks.

An independent pure-Python implementation of the encodings (the product decodes them in
Rust); only the SST container is written through `br_parquet._native`.

    from pathlib import Path
    from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

    info = write_backup(Path("backup"), BackupSpec([
        DatabaseSpec("parquet_smoke", [
            table("group_a", [("id", "int primary key"), ("v", "int")], [(1, 10), (2, 20)]),
            table("group_b", [("id", "int primary key"), ("v", "int")], [(1, 100), (2, 200)]),
        ]),
    ], shared_regions=[["parquet_smoke.group_a", "parquet_smoke.group_b"]]))

Modules, one concept each: `codec` (varints, comparable numbers, memcomparable bytes),
`mydecimal`, `mytime`, `jsoncodec`, `datum`, `rowcodec` (row v1/v2), `fieldtype` and
`column_codec` (per-type value conventions), `keys`, `writecf`, `checksum`, `schema`
(TableInfo/DBInfo JSON), `tablecodec` (rows → KVs), `sst`, `backup`, `ddl` (DDL job
JSON), `chain` (a full backup and its incrementals, with the expected table state).
"""

from __future__ import annotations

from .backup import (
    BACKUP_LOCK_TEXT,
    BackupInfo,
    BackupSpec,
    DatabaseSpec,
    DataFile,
    RawEntry,
    TableSpec,
    table,
    write_backup,
)
from .chain import (
    ChainStep,
    Key,
    StepChanges,
    chain_state,
    sample_chain,
    step_changes,
    write_chain,
)
from .checksum import KvChecksum, crc64_xz
from .fieldtype import ColumnFlag, FieldType, MysqlType, parse_field_type
from .jsoncodec import (
    JSON_NULL,
    JsonDate,
    JsonDatetime,
    JsonOpaque,
    JsonTime,
    JsonTimestamp,
    JsonUint64,
    encode_json,
)
from .mytime import MysqlTime
from .schema import (
    ColumnInfo,
    DBInfo,
    IndexInfo,
    PartitionDef,
    PartitionInfo,
    TableInfo,
    column,
    db_info,
    index,
    table_info,
    table_info_from_json,
)
from .sst import native_available
from .tablecodec import encode_row
from .writecf import WriteType, encode_write

__all__ = [
    "BACKUP_LOCK_TEXT",
    "JSON_NULL",
    "BackupInfo",
    "BackupSpec",
    "ChainStep",
    "ColumnFlag",
    "ColumnInfo",
    "DBInfo",
    "DataFile",
    "DatabaseSpec",
    "FieldType",
    "IndexInfo",
    "JsonDate",
    "JsonDatetime",
    "JsonOpaque",
    "JsonTime",
    "JsonTimestamp",
    "JsonUint64",
    "Key",
    "KvChecksum",
    "MysqlTime",
    "MysqlType",
    "PartitionDef",
    "PartitionInfo",
    "RawEntry",
    "StepChanges",
    "TableInfo",
    "TableSpec",
    "WriteType",
    "chain_state",
    "column",
    "crc64_xz",
    "db_info",
    "encode_json",
    "encode_row",
    "encode_write",
    "index",
    "native_available",
    "parse_field_type",
    "sample_chain",
    "step_changes",
    "table",
    "table_info",
    "table_info_from_json",
    "write_backup",
    "write_chain",
]

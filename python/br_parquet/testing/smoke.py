"""The original design's smoke-test tables: `parquet_smoke.all_types` (28 columns,
its two rows) and `parquet_smoke.group_a` / `group_b` (both in one region SST)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .backup import BackupSpec, DatabaseSpec, TableSpec, table

ALL_TYPES_COLUMNS: list[tuple[str, str]] = [
    ("id", "int not null primary key"),
    ("i_tiny", "tinyint"),
    ("i_small", "smallint not null"),
    ("i_medium", "mediumint"),
    ("i_int", "int not null"),
    ("i_big", "bigint"),
    ("u_tiny", "tinyint unsigned not null"),
    ("u_small", "smallint unsigned"),
    ("u_int", "int unsigned not null"),
    ("u_big", "bigint unsigned"),
    ("f_float", "float"),
    ("f_double", "double not null"),
    ("f_decimal", "decimal(10,2)"),
    ("c_char", "char(4) not null"),
    ("c_varchar", "varchar(20)"),
    ("c_text", "text"),
    ("b_binary", "binary(4) not null"),
    ("b_varbinary", "varbinary(8)"),
    ("b_blob", "blob"),
    ("t_date", "date"),
    ("t_datetime", "datetime not null"),
    ("t_timestamp", "timestamp"),
    ("t_time", "time"),
    ("t_year", "year"),
    ("j_json", "json not null"),
    ("e_enum", "enum('a','b') not null"),
    ("s_set", "set('x','y')"),
    ("b_bit", "bit(4)"),
]

# The INSERT of the design, with the session time zone at UTC.
ALL_TYPES_ROWS: list[tuple[Any, ...]] = [
    (
        1,
        -8,
        -16,
        -32,
        -64,
        -128,
        8,
        16,
        64,
        128,
        1.25,
        2.5,
        Decimal("1234.56"),
        "abcd",
        "hello",
        "text",
        b"abcd",
        b"\x01\x02\x03\x04",
        b"\xbe\xef",
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, 5),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        dt.timedelta(hours=12, minutes=34, seconds=56),
        2024,
        {"k": "v"},
        "a",
        "x,y",
        0b1010,
    ),
    (
        2,
        None,
        1,
        None,
        2,
        None,
        1,
        None,
        2,
        None,
        None,
        3.5,
        None,
        "wxyz",
        None,
        None,
        b"\x00\x00\x00\x00",
        None,
        None,
        None,
        dt.datetime(2024, 2, 3, 4, 5, 6),
        None,
        None,
        None,
        {"k": "v2"},
        "b",
        None,
        None,
    ),
]


def all_types(rows: list[tuple[Any, ...]] | None = None) -> TableSpec:
    return table("all_types", ALL_TYPES_COLUMNS, rows=ALL_TYPES_ROWS if rows is None else rows)


def groups() -> list[TableSpec]:
    return [
        table("group_a", [("id", "int primary key"), ("v", "int")], rows=[(1, 10), (2, 20)]),
        table("group_b", [("id", "int primary key"), ("v", "int")], rows=[(1, 100), (2, 200)]),
    ]


def smoke_backup() -> BackupSpec:
    """All three tables of `parquet_smoke`; the two group tables share one region SST."""
    return BackupSpec(
        [DatabaseSpec("parquet_smoke", [*groups(), all_types()])],
        shared_regions=[["parquet_smoke.group_a", "parquet_smoke.group_b"]],
    )

"""The original design's `parquet_smoke.all_types` table (28 columns), its two
rows plus edge rows, exported in both type mappings and compared value for
value with the output contract."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet.testing import BackupSpec, DatabaseSpec, MysqlTime, table, write_backup
from br_parquet.testing.smoke import ALL_TYPES_COLUMNS, ALL_TYPES_ROWS

UTC = dt.UTC
COLUMNS = ALL_TYPES_COLUMNS
NAMES = [c[0] for c in COLUMNS]
ROWS: list[tuple[Any, ...]] = [
    *ALL_TYPES_ROWS,
    (  # extremes
        3,
        -128,
        -32768,
        -8388608,
        -(2**31),
        -(2**63),
        255,
        65535,
        2**32 - 1,
        2**64 - 1,
        -3.5,
        -1e300,
        Decimal("-0.50"),
        "ab",
        "  sp ",
        "",
        b"ab",
        b"",
        b"",
        dt.date(9999, 12, 31),
        dt.datetime(1000, 1, 1),
        dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
        -dt.timedelta(hours=838, minutes=59, seconds=59),
        1901,
        [1, "two", None, True, 2.5],
        "",
        "",
        0b1111,
    ),
    (  # every nullable column NULL; the NOT NULL ones at their zero values
        4,
        None,
        0,
        None,
        0,
        None,
        0,
        None,
        0,
        None,
        None,
        0.0,
        None,
        "",
        None,
        None,
        b"",
        None,
        None,
        None,
        MysqlTime(0, 0, 0),  # the zero DATETIME: a NOT NULL column can hold it
        None,
        None,
        None,
        [],
        "a",
        None,
        None,
    ),
]
NOT_NULL = {name for name, sql in COLUMNS if "not null" in sql}

COMPAT: list[dict[str, Any]] = [
    dict(
        zip(
            NAMES,
            [
                1,
                -8,
                -16,
                -32,
                -64,
                -128,
                "8",
                "16",
                "64",
                "128",
                1.25,
                2.5,
                "1234.56",
                "abcd",
                "hello",
                "text",
                b"abcd",
                b"\x01\x02\x03\x04",
                b"\xbe\xef",
                "2024-01-02",
                "2024-01-02 03:04:05",
                "2024-01-02 03:04:05",
                "12:34:56",
                2024,
                '{"k": "v"}',
                "a",
                "x,y",
                b"\x0a",
            ],
            strict=True,
        )
    ),
    dict(
        zip(
            NAMES,
            [
                2,
                None,
                1,
                None,
                2,
                None,
                "1",
                None,
                "2",
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
                "2024-02-03 04:05:06",
                None,
                None,
                None,
                '{"k": "v2"}',
                "b",
                None,
                None,
            ],
            strict=True,
        )
    ),
    dict(
        zip(
            NAMES,
            [
                3,
                -128,
                -32768,
                -8388608,
                -(2**31),
                -(2**63),
                "255",
                "65535",
                "4294967295",
                "18446744073709551615",
                -3.5,
                -1e300,
                "-0.50",
                "ab",
                "  sp ",
                "",
                b"ab\x00\x00",
                b"",
                b"",
                "9999-12-31",
                "1000-01-01 00:00:00",
                "1970-01-01 00:00:01",
                "-838:59:59",
                1901,
                '[1, "two", null, true, 2.5]',
                "",
                "",
                b"\x0f",
            ],
            strict=True,
        )
    ),
    dict(
        zip(
            NAMES,
            [
                4,
                None,
                0,
                None,
                0,
                None,
                "0",
                None,
                "0",
                None,
                None,
                0.0,
                None,
                "",
                None,
                None,
                b"\x00\x00\x00\x00",  # BINARY(4) is zero-padded
                None,
                None,
                None,
                "0000-00-00 00:00:00",
                None,
                None,
                None,
                "[]",
                "a",
                None,
                None,
            ],
            strict=True,
        )
    ),
]

# The same rows in the `typed` mapping (README "Output schema"): signed integers as
# they are, unsigned ones widened (BIGINT UNSIGNED as decimal128(20,0)), DECIMAL as
# Decimal, temporal types as date/datetime (TIMESTAMP in UTC; zero dates NULL), ENUM as
# its element name (dictionary-encoded), TIME/JSON/SET/BIT as in `compat`.
_TYPED_VALUES: list[list[Any]] = [
    [
        1,
        -8,
        -16,
        -32,
        -64,
        -128,
        8,
        16,
        64,
        Decimal(128),
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
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "12:34:56",
        2024,
        '{"k": "v"}',
        "a",
        "x,y",
        b"\x0a",
    ],
    [
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
        '{"k": "v2"}',
        "b",
        None,
        None,
    ],
    [
        3,
        -128,
        -32768,
        -8388608,
        -(2**31),
        -(2**63),
        255,
        65535,
        2**32 - 1,
        Decimal(2**64 - 1),
        -3.5,
        -1e300,
        Decimal("-0.50"),
        "ab",
        "  sp ",
        "",
        b"ab\x00\x00",
        b"",
        b"",
        dt.date(9999, 12, 31),
        dt.datetime(1000, 1, 1),
        dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
        "-838:59:59",
        1901,
        '[1, "two", null, true, 2.5]',
        "",
        "",
        b"\x0f",
    ],
    [
        4,
        None,
        0,
        None,
        0,
        None,
        0,
        None,
        0,
        None,
        None,
        0.0,
        None,
        "",
        None,
        None,
        b"\x00\x00\x00\x00",
        None,
        None,
        None,
        None,  # the zero DATETIME becomes NULL
        None,
        None,
        None,
        "[]",
        "a",
        None,
        None,
    ],
]
TYPED: list[dict[str, Any]] = [dict(zip(NAMES, v, strict=True)) for v in _TYPED_VALUES]


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The backup's root and the table's ID."""
    root = tmp_path_factory.mktemp("all_types") / "backup"
    info = write_backup(
        root,
        BackupSpec([DatabaseSpec("parquet_smoke", [table("all_types", COLUMNS, rows=ROWS)])]),
    )
    return root, info.tables["parquet_smoke.all_types"].id


def export_rows(
    backup: tuple[Path, int], out: Path, mapping: Literal["compat", "typed"]
) -> pa.Table:
    summary = br_parquet.export(str(backup[0]), str(out), type_mapping=mapping)
    assert summary.rows_by_table() == {"parquet_smoke.all_types": len(ROWS)}
    files = sorted((out / "parquet/parquet_smoke/all_types").glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("id")


def check_rows(got: pa.Table, table_id: int, expected_rows: list[dict[str, Any]]) -> None:
    assert got.column_names == ["_tidb_table_id", "_tidb_handle", *NAMES]
    rows = got.to_pylist()
    assert len(rows) == len(expected_rows) == len(ROWS)
    for row, expected in zip(rows, expected_rows, strict=True):
        assert row["_tidb_table_id"] == table_id
        assert row["_tidb_handle"] == row["id"]
        for name in NAMES:
            value = row[name]
            # Exact equality, and the exact Python type (1 == 1.0 == True == Decimal(1)).
            assert value == expected[name], (row["id"], name, value)
            assert type(value) is type(expected[name]), (row["id"], name, value)
            if isinstance(value, dt.datetime):
                # Naive stays naive; an aware value is at offset 0 (pyarrow's "UTC" zone).
                want = expected[name].utcoffset()
                assert value.utcoffset() == want, (row["id"], name)
            if isinstance(value, Decimal):
                assert str(value) == str(expected[name]), (row["id"], name)  # the scale too


def test_all_null_row_is_all_null_where_the_schema_allows() -> None:
    (row,) = [r for r in ROWS if r[0] == 4]
    assert {name for name, value in zip(NAMES, row, strict=True) if value is not None} == NOT_NULL


def test_compat_mapping_matches_the_contract(backup: tuple[Path, int], tmp_path: Path) -> None:
    got = export_rows(backup, tmp_path, "compat")
    check_rows(got, backup[1], COMPAT)
    types = {f.name: f.type for f in got.schema}
    int64, utf8, binary = pa.int64(), pa.string(), pa.binary()
    assert types == {
        "_tidb_table_id": int64,
        "_tidb_handle": int64,
        **{n: int64 for n in ("id", "i_tiny", "i_small", "i_medium", "i_int", "i_big")},
        **{n: utf8 for n in ("u_tiny", "u_small", "u_int", "u_big")},
        "f_float": pa.float64(),
        "f_double": pa.float64(),
        "f_decimal": utf8,
        **{n: utf8 for n in ("c_char", "c_varchar", "c_text")},
        **{n: binary for n in ("b_binary", "b_varbinary", "b_blob")},
        **{n: utf8 for n in ("t_date", "t_datetime", "t_timestamp", "t_time")},
        "t_year": int64,
        "j_json": utf8,
        "e_enum": utf8,
        "s_set": utf8,
        "b_bit": binary,
    }
    nullable = {f.name: f.nullable for f in got.schema}
    assert {n for n, v in nullable.items() if not v} == {"_tidb_table_id", "_tidb_handle"} | (
        NOT_NULL
    )


def test_typed_mapping_matches_the_contract(backup: tuple[Path, int], tmp_path: Path) -> None:
    got = export_rows(backup, tmp_path, "typed")
    types = {f.name: f.type for f in got.schema}
    assert types == {
        "_tidb_table_id": pa.int64(),
        "_tidb_handle": pa.int64(),
        "id": pa.int32(),
        "i_tiny": pa.int8(),
        "i_small": pa.int16(),
        "i_medium": pa.int32(),
        "i_int": pa.int32(),
        "i_big": pa.int64(),
        "u_tiny": pa.int16(),
        "u_small": pa.int32(),
        "u_int": pa.int64(),
        "u_big": pa.decimal128(20, 0),
        "f_float": pa.float32(),
        "f_double": pa.float64(),
        "f_decimal": pa.decimal128(10, 2),
        "c_char": pa.string(),
        "c_varchar": pa.string(),
        "c_text": pa.string(),
        "b_binary": pa.binary(),
        "b_varbinary": pa.binary(),
        "b_blob": pa.binary(),
        "t_date": pa.date32(),
        "t_datetime": pa.timestamp("us"),
        "t_timestamp": pa.timestamp("us", tz="UTC"),
        "t_time": pa.string(),
        "t_year": pa.int16(),
        "j_json": pa.string(),
        "e_enum": pa.dictionary(pa.int32(), pa.string()),
        "s_set": pa.string(),
        "b_bit": pa.binary(),
    }
    # Typed temporal columns are nullable even when NOT NULL: zero dates become NULL.
    nullable = {f.name: f.nullable for f in got.schema}
    assert {n for n, v in nullable.items() if not v} == {"_tidb_table_id", "_tidb_handle"} | (
        NOT_NULL - {"t_datetime"}
    )
    check_rows(got, backup[1], TYPED)

"""The original design's `parquet_smoke.all_types` table (28 columns), its two
rows plus edge rows, exported in both type mappings and compared value for
value with the output contract."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
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
]

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
]


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("all_types") / "backup"
    write_backup(
        root,
        BackupSpec([DatabaseSpec("parquet_smoke", [table("all_types", COLUMNS, rows=ROWS)])]),
    )
    return root


def export_rows(backup: Path, out: Path, mapping: str) -> pa.Table:
    summary = br_parquet.export(str(backup), str(out), type_mapping=mapping)
    assert summary.rows_by_table() == {"parquet_smoke.all_types": len(ROWS)}
    files = sorted((out / "parquet/parquet_smoke/all_types").glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("id")


def test_compat_mapping_matches_the_contract(backup: Path, tmp_path: Path) -> None:
    got = export_rows(backup, tmp_path, "compat")
    assert got.column_names == ["_tidb_table_id", "_tidb_handle", *NAMES]
    rows = got.to_pylist()
    for row, expected in zip(rows, COMPAT, strict=True):
        assert row["_tidb_handle"] == row["id"]
        assert {k: row[k] for k in NAMES} == expected
    types = {f.name: f.type for f in got.schema}
    assert types["u_big"] == pa.string() and types["f_float"] == pa.float64()
    assert types["t_year"] == pa.int64() and types["b_bit"] == pa.binary()
    nullable = {f.name: f.nullable for f in got.schema}
    assert not nullable["i_small"] and nullable["i_tiny"] and not nullable["t_datetime"]


def test_typed_mapping_matches_the_contract(backup: Path, tmp_path: Path) -> None:
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
    assert {f.name: f.nullable for f in got.schema}["t_datetime"]  # typed temporal: nullable
    rows = got.to_pylist()
    first = rows[0]
    assert first["u_big"] == Decimal(128) and first["f_decimal"] == Decimal("1234.56")
    assert first["f_float"] == pytest.approx(1.25) and first["t_date"] == dt.date(2024, 1, 2)
    assert first["t_datetime"] == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert first["t_timestamp"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first["e_enum"] == "a" and first["t_year"] == 2024 and first["b_bit"] == b"\x0a"
    last = rows[2]
    assert last["u_big"] == Decimal(2**64 - 1) and last["f_decimal"] == Decimal("-0.50")
    assert last["t_timestamp"] == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert last["t_time"] == "-838:59:59" and last["e_enum"] == ""

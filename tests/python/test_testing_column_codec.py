"""Per-type value conventions (`tidb-codec.md` §4, §5, §6, §11) and which columns a row stores."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from br_parquet.testing import MysqlTime, column, table_info
from br_parquet.testing.column_codec import (
    ColumnValueError,
    key_datum,
    normalize,
    row_v1_datum,
    row_v2_slot,
)
from br_parquet.testing.datum import datum_bytes, datum_int, datum_uint
from br_parquet.testing.fieldtype import FieldType, parse_field_type
from br_parquet.testing.keys import record_key_common
from br_parquet.testing.mytime import encode_packed_time
from br_parquet.testing.rowcodec import encode_row_v2
from br_parquet.testing.tablecodec import encode_row


def ft(spec: str) -> FieldType:
    return parse_field_type(spec)


def test_char_drops_trailing_spaces_varchar_keeps_them() -> None:
    assert row_v2_slot(ft("char(5)"), "ab  ") == b"ab"
    assert row_v2_slot(ft("varchar(5)"), "ab  ") == b"ab  "
    assert row_v2_slot(ft("text"), "ab  ") == b"ab  "


def test_binary_is_zero_padded() -> None:
    assert row_v2_slot(ft("binary(4)"), b"ab") == b"ab\x00\x00"
    assert row_v1_datum(ft("binary(4)"), b"ab") == b"\x02\x08ab\x00\x00"
    assert row_v2_slot(ft("varbinary(4)"), b"ab") == b"ab"
    with pytest.raises(ColumnValueError):
        row_v2_slot(ft("binary(2)"), b"abc")


def test_v2_ints_use_the_smallest_width() -> None:
    assert row_v2_slot(ft("bigint"), 127) == b"\x7f"
    assert row_v2_slot(ft("bigint"), 128) == b"\x80\x00"
    assert row_v2_slot(ft("bigint"), -129) == (-129).to_bytes(2, "little", signed=True)
    assert row_v2_slot(ft("bigint"), 1 << 31) == (1 << 31).to_bytes(8, "little")
    assert row_v2_slot(ft("int unsigned"), 255) == b"\xff"
    assert row_v2_slot(ft("int unsigned"), 65536) == (65536).to_bytes(4, "little")


def test_integer_ranges_follow_the_type() -> None:
    with pytest.raises(ColumnValueError):
        row_v2_slot(ft("tinyint"), 128)
    with pytest.raises(ColumnValueError):
        row_v2_slot(ft("int unsigned"), -1)
    with pytest.raises(ColumnValueError):
        row_v2_slot(ft("int"), True)


def test_float_is_stored_as_float32_widened() -> None:
    assert normalize(ft("float"), 0.1) == float.fromhex("0x1.99999a0000000p-4")
    assert row_v2_slot(ft("float"), 0.1).hex() == "bfb99999a0000000"


def test_timestamp_is_stored_in_utc() -> None:
    zone = dt.timezone(dt.timedelta(hours=8))
    local = dt.datetime(2024, 1, 1, 8, 0, tzinfo=zone)
    utc = MysqlTime(2024, 1, 1, 0, 0)
    assert normalize(ft("timestamp"), local) == encode_packed_time(utc)
    assert normalize(ft("timestamp"), dt.datetime(2024, 1, 1)) == encode_packed_time(utc)
    with pytest.raises(ValueError):
        normalize(ft("datetime"), local)


def test_zero_and_partial_dates() -> None:
    assert row_v2_slot(ft("datetime"), MysqlTime.zero()) == b"\x00"
    assert normalize(ft("date"), MysqlTime(2020, 0, 0)) == 0x19A5000000000000


def test_fsp_must_fit() -> None:
    assert normalize(ft("datetime(3)"), dt.datetime(2024, 1, 1, microsecond=123000))
    with pytest.raises(ValueError):
        normalize(ft("datetime(3)"), dt.datetime(2024, 1, 1, microsecond=123400))
    with pytest.raises(ValueError):
        normalize(ft("time(0)"), dt.timedelta(microseconds=5))


def test_decimal_uses_the_column_precision_and_rounds_half_up() -> None:
    assert row_v2_slot(ft("decimal(10,2)"), Decimal("1234.555")).hex() == "0a02800004d238"
    assert row_v2_slot(ft("decimal(10,2)"), "1234.56") == row_v2_slot(
        ft("decimal(10,2)"), Decimal("1234.56")
    )
    with pytest.raises(ColumnValueError):
        row_v2_slot(ft("decimal(3,2)"), Decimal("10"))


def test_enum_set_bit() -> None:
    enum = ft("enum('a','b','c')")
    assert row_v2_slot(enum, "b") == b"\x02" and row_v2_slot(enum, 0) == b"\x00"
    assert row_v1_datum(enum, "c") == b"\x09\x03"
    assert key_datum(enum, "a") == datum_uint(1)
    with pytest.raises(ColumnValueError):
        row_v2_slot(enum, "d")
    set_ = ft("set('a','b','c')")
    assert row_v2_slot(set_, "a,c") == row_v2_slot(set_, ["c", "a"]) == b"\x05"
    assert row_v2_slot(set_, "") == b"\x00"
    bit = ft("bit(10)")
    assert row_v2_slot(bit, b"\x02\x01") == row_v2_slot(bit, 513) == b"\x01\x02"
    with pytest.raises(ColumnValueError):
        row_v2_slot(bit, 1 << 10)


def test_v1_datum_flags_per_type() -> None:
    assert row_v1_datum(ft("int"), -1)[0] == 8
    assert row_v1_datum(ft("int unsigned"), 1)[0] == 9
    assert row_v1_datum(ft("datetime"), dt.datetime(2024, 1, 1))[0] == 9
    assert row_v1_datum(ft("time"), dt.timedelta(seconds=1)) == b"\x08\x80\xa8\xd6\xb9\x07"
    assert row_v1_datum(ft("varchar(3)"), "a") == b"\x02\x02a"
    assert row_v1_datum(ft("double"), 1.5).hex() == "05bff8000000000000"
    assert row_v1_datum(ft("vector(2)"), [1.0, -2.5]).hex() == "14020000000000803f000020c0"
    assert row_v1_datum(ft("int"), None) == b"\x00"


def test_key_datums_and_collations() -> None:
    assert key_datum(ft("int"), 5) == datum_int(5)
    assert key_datum(ft("varchar(5)"), "ab  ") == datum_bytes(b"ab")
    assert key_datum(ft("varchar(5)"), "ab  ", new_collation=False) == datum_bytes(b"ab  ")
    assert key_datum(ft("varbinary(5)"), b"ab  ") == datum_bytes(b"ab  ")
    assert key_datum(ft("varchar(5) collate utf8mb4_0900_bin"), "ab ") == datum_bytes(b"ab ")
    with pytest.raises(NotImplementedError):
        key_datum(ft("varchar(5) collate utf8mb4_general_ci"), "ab")
    with pytest.raises(ColumnValueError):
        key_datum(ft("json"), {"a": 1})


def test_null_columns_without_default_are_left_out() -> None:
    info = table_info(
        10,
        "t",
        [
            column("id", "int primary key"),
            column("a", "int"),
            column("b", "int", default="5"),
            column("c", "int", origin_default="7"),
        ],
    )
    row = encode_row(info, {"id": 1, "a": None, "b": None, "c": None})
    assert row.value == encode_row_v2({}, [3, 4])
    explicit = encode_row(info, {"id": 1, "a": None, "b": None, "c": None}, explicit_nulls=True)
    assert explicit.value == encode_row_v2({}, [2, 3, 4])
    # Columns absent from the mapping are not stored at all (readers use origin_default).
    assert encode_row(info, {"id": 1}).value == encode_row_v2({})
    with pytest.raises(ValueError):
        encode_row(table_info(10, "t", [("id", "int not null")]), {"id": None}, rowid=1)


def test_virtual_generated_and_non_public_columns_are_not_stored() -> None:
    info = table_info(
        10,
        "t",
        [
            column("a", "int"),
            column("g", "int", generated_expr_string="`a` + 1"),
            column("s", "int", generated_expr_string="`a` + 2", generated_stored=True),
            column("w", "int", state=2),  # write-only: written
            column("d", "int", state=1),  # delete-only: not written
        ],
    )
    row = encode_row(info, {"a": 1, "g": 2, "s": 3, "w": 4, "d": 5}, rowid=9)
    assert row.raw_key.endswith(datum_int(9)[1:])
    assert row.value == encode_row_v2({1: b"\x01", 3: b"\x03", 4: b"\x04"})


def test_clustered_handles() -> None:
    info = table_info(
        10,
        "t",
        [("code", "char(4)"), ("name", "varchar(8)"), ("n", "int"), ("v", "int")],
        primary_key=["code", "name(2)", "n"],
        clustered=True,
    )
    assert info.is_common_handle and not info.pk_is_handle
    row = encode_row(info, {"code": "ab ", "name": "xyz", "n": 3, "v": 4})
    handle = datum_bytes(b"ab") + datum_bytes(b"xy") + datum_int(3)
    assert row.raw_key == record_key_common(10, handle)
    # CHAR utf8mb4_bin and INT are restorable from the key; the VARCHAR prefix column is not.
    assert row.value == encode_row_v2({2: b"xyz", 4: b"\x04"})


def test_unsigned_int_handle_is_reinterpreted() -> None:
    info = table_info(10, "t", [("id", "bigint unsigned primary key")])
    assert encode_row(info, {"id": (1 << 64) - 1}).handle == -1

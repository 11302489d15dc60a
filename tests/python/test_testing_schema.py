"""`br_parquet.testing` column types and schema JSON, checked against real TiDB output.

Real TableInfo/DBInfo JSON comes from BR backupmetas in `shared/fixtures/real`
(TiDB 7.1 TPC-C and `test1…500` schemas, a TiDB 5.0 clustered table).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from br_parquet.proto import brpb_pb2
from br_parquet.testing import (
    ColumnFlag,
    MysqlType,
    column,
    db_info,
    index,
    parse_field_type,
    table_info,
    table_info_from_json,
)
from br_parquet.testing.schema import go_json

REAL = Path(__file__).resolve().parents[2].parent / "shared/fixtures/real"
FULL_SCHEMA = REAL / "tidb-br-show-testdata/full-schema.meta"
V2_DIR = REAL / "tidb-br-show-testdata/v2"
CLUSTERED_JSON = REAL / "tidb-br-json-test/testMetaJSONs_0_v5.0.0_clustered_write_sst.json"

NN, PK, NO_DEFAULT = ColumnFlag.NOT_NULL, ColumnFlag.PRI_KEY, ColumnFlag.NO_DEFAULT_VALUE


@pytest.mark.parametrize(
    ("spec", "tp", "flag", "flen", "decimal", "charset", "collate"),
    [
        ("int", MysqlType.LONG, 0, 11, 0, "binary", "binary"),
        ("INT NOT NULL", MysqlType.LONG, NN | NO_DEFAULT, 11, 0, "binary", "binary"),
        ("int primary key", MysqlType.LONG, NN | PK | NO_DEFAULT, 11, 0, "binary", "binary"),
        ("int unsigned", MysqlType.LONG, 32, 10, 0, "binary", "binary"),
        ("tinyint unsigned not null", MysqlType.TINY, 4129, 3, 0, "binary", "binary"),
        ("bigint unsigned", MysqlType.LONGLONG, 32, 20, 0, "binary", "binary"),
        ("double", MysqlType.DOUBLE, 0, 22, -1, "binary", "binary"),
        ("float", MysqlType.FLOAT, 0, 12, -1, "binary", "binary"),
        ("decimal(10,2)", MysqlType.NEWDECIMAL, 0, 10, 2, "binary", "binary"),
        ("decimal", MysqlType.NEWDECIMAL, 0, 10, 0, "binary", "binary"),
        ("date", MysqlType.DATE, 128, 10, 0, "binary", "binary"),
        ("datetime", MysqlType.DATETIME, 128, 19, 0, "binary", "binary"),
        ("datetime(6)", MysqlType.DATETIME, 128, 26, 6, "binary", "binary"),
        ("datetime not null", MysqlType.DATETIME, 128 | NN | NO_DEFAULT, 19, 0, "binary", "binary"),
        ("timestamp(3)", MysqlType.TIMESTAMP, 128, 23, 3, "binary", "binary"),
        ("time(1)", MysqlType.DURATION, 128, 12, 1, "binary", "binary"),
        ("year", MysqlType.YEAR, 128 | 96, 4, 0, "binary", "binary"),
        ("varchar(20)", MysqlType.VARCHAR, 0, 20, 0, "utf8mb4", "utf8mb4_bin"),
        ("char(2)", MysqlType.STRING, 0, 2, 0, "utf8mb4", "utf8mb4_bin"),
        (
            "varchar(8) collate utf8mb4_general_ci",
            MysqlType.VARCHAR,
            0,
            8,
            0,
            "utf8mb4",
            "utf8mb4_general_ci",
        ),
        ("varchar(8) charset latin1", MysqlType.VARCHAR, 0, 8, 0, "latin1", "latin1_bin"),
        ("binary(4)", MysqlType.STRING, 128, 4, 0, "binary", "binary"),
        (
            "varbinary(343) not null",
            MysqlType.VARCHAR,
            128 | NN | NO_DEFAULT,
            343,
            0,
            "binary",
            "binary",
        ),
        ("blob", MysqlType.BLOB, 128, 65535, 0, "binary", "binary"),
        ("text", MysqlType.BLOB, 0, 65535, 0, "utf8mb4", "utf8mb4_bin"),
        ("longtext", MysqlType.LONG_BLOB, 0, 4294967295, 0, "utf8mb4", "utf8mb4_bin"),
        ("json", MysqlType.JSON, 128, 4294967295, 0, "binary", "binary"),
        ("bit(4)", MysqlType.BIT, 32, 4, 0, "binary", "binary"),
        ("vector(3)", MysqlType.TIDB_VECTOR_FLOAT32, 0, 3, 0, "binary", "binary"),
        ("vector", MysqlType.TIDB_VECTOR_FLOAT32, 0, -1, 0, "binary", "binary"),
    ],
)
def test_parse_field_type(
    spec: str, tp: int, flag: int, flen: int, decimal: int, charset: str, collate: str
) -> None:
    ft = parse_field_type(spec)
    assert (ft.tp, ft.flag, ft.flen, ft.decimal, ft.charset, ft.collate) == (
        tp,
        flag,
        flen,
        decimal,
        charset,
        collate,
    )


def test_parse_enum_and_set() -> None:
    enum = parse_field_type("enum('N','Y') not null")
    assert (enum.tp, enum.elems, enum.flen, enum.flag) == (
        MysqlType.ENUM,
        ("N", "Y"),
        1,
        NN | NO_DEFAULT,
    )
    assert (enum.charset, enum.collate) == ("utf8mb4", "utf8mb4_bin")
    quoted = parse_field_type("set('a,b','it''s')")
    assert quoted.elems == ("a,b", "it's") and quoted.flen == len("a,b,it's")


@pytest.mark.parametrize(
    "spec", ["", "integer(", "varchar", "datetime(7)", "int charset utf8", "bogus", "int foo"]
)
def test_parse_field_type_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_field_type(spec)


def test_go_json_escapes_like_go() -> None:
    assert go_json({"s": "<a & b>\u2028é"}) == b'{"s":"\\u003ca \\u0026 b\\u003e\\u2028\xc3\xa9"}'


def full_schema_tables() -> dict[str, bytes]:
    if not FULL_SCHEMA.exists():
        pytest.skip(f"{FULL_SCHEMA} not found")
    meta = brpb_pb2.BackupMeta()
    meta.ParseFromString(FULL_SCHEMA.read_bytes())
    out = {json.loads(s.table)["name"]["O"]: s.table for s in meta.schemas}
    out["__db__"] = meta.schemas[0].db
    return out


def test_tpcc_warehouse_matches_real_bytes() -> None:
    """A single INT PK (pk_is_handle) table, built from column specs, byte for byte."""
    real = full_schema_tables()
    t = table_info(
        139,
        "warehouse",
        [
            ("w_id", "int primary key"),
            ("w_name", "varchar(10)"),
            ("w_street_1", "varchar(20)"),
            ("w_street_2", "varchar(20)"),
            ("w_city", "varchar(20)"),
            ("w_state", "char(2)"),
            ("w_zip", "char(9)"),
            ("w_tax", "decimal(4,4)"),
            ("w_ytd", "decimal(12,2)"),
        ],
        update_timestamp=440129226253008905,
    )
    t.auto_inc_id, t.version = 1, 4
    assert t.pk_is_handle and not t.indexes
    assert t.to_json() == real["warehouse"]
    assert db_info(82, "tpcc").to_json() == real["__db__"]


def test_tpcc_customer_matches_real_bytes() -> None:
    """A NONCLUSTERED composite PK plus a secondary index (column flags, idx_cols)."""
    real = full_schema_tables()
    columns = [
        column("c_id", "int not null"),
        column("c_d_id", "int not null"),
        column("c_w_id", "int not null"),
        column("c_first", "varchar(16)"),
        column("c_middle", "char(2)"),
        column("c_last", "varchar(16)"),
        column("c_street_1", "varchar(20)"),
        column("c_street_2", "varchar(20)"),
        column("c_city", "varchar(20)"),
        column("c_state", "char(2)"),
        column("c_zip", "char(9)"),
        column("c_phone", "char(16)"),
        column("c_since", "datetime"),
        column("c_credit", "char(2)"),
        column("c_credit_lim", "decimal(12,2)"),
        column("c_discount", "decimal(4,4)"),
        column("c_balance", "decimal(12,2)"),
        column("c_ytd_payment", "decimal(12,2)"),
        column("c_payment_cnt", "int"),
        column("c_delivery_cnt", "int"),
        column("c_data", "varchar(500)"),
    ]
    t = table_info(
        123,
        "customer",
        columns,
        primary_key=["c_w_id", "c_d_id", "c_id"],
        indexes=[index("idx_customer", "c_w_id", "c_d_id", "c_last", "c_first")],
        update_timestamp=440129226253008905,
    )
    t.auto_inc_id, t.version = 1, 4
    assert not t.pk_is_handle and not t.is_common_handle
    assert t.to_json() == real["customer"]


def test_real_tpcc_schemas_load_and_dump_identically() -> None:
    real = full_schema_tables()
    for name, raw in real.items():
        if name != "__db__":
            assert table_info_from_json(raw).to_json() == raw, name


def test_v2_fixture_table_matches_real_bytes() -> None:
    """`test341` of the real v2 backupmeta: `index_info`/`fk_info` are null there."""
    if not V2_DIR.exists():
        pytest.skip(f"{V2_DIR} not found")
    child = brpb_pb2.MetaFile()
    child.ParseFromString((V2_DIR / "backupmeta.schema.000000001").read_bytes())
    real = {json.loads(s.table)["name"]["O"]: s for s in child.schemas}["test341"]
    t = table_info(
        821, "test341", [("key", "int primary key")], update_timestamp=440690816001769483
    )
    t.auto_inc_id, t.nil_slices = 1, True
    assert t.to_json() == real.table
    assert db_info(2, "test").to_json() == real.db


def test_v5_style_matches_tidb_5_clustered_table() -> None:
    """TiDB 5.0 JSON (lowercase FieldType keys) of a clustered VARCHAR(256) PK table."""
    if not CLUSTERED_JSON.exists():
        pytest.skip(f"{CLUSTERED_JSON} not found")
    real = json.loads(CLUSTERED_JSON.read_text())["schemas"][0]
    t = table_info(54, "test", [("pk", "varchar(256) primary key")], clustered=True)
    t.nil_slices = True
    mine: dict[str, Any] = t.to_dict("v5")
    # The real JSON went through float64 (update_timestamp is rounded): compare the rest.
    mine.pop("update_timestamp")
    expected = dict(real["table"])
    expected.pop("update_timestamp")
    assert mine == expected
    assert db_info(1, "test").to_dict("v5") == real["db"]

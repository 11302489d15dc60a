"""Real TiKV keys/values (TiFlash test dumps) with their real TableInfo JSON,
decoded through the product's SST scan."""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from br_parquet._native import SstScan, TableDecoder, write_sst
from br_parquet.options import DEFAULT_ROW_GROUP_SIZE


def load(shared: Path) -> dict[str, Any]:
    path = shared / "real/tiflash-kv-hex-dumps/region_block_reader_kv_dumps.json"
    return dict(json.loads(path.read_text()))


def kvs(case: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    entries = case["kvs"]
    if isinstance(entries, str):  # some dumps keep the source's list literal as text
        entries = ast.literal_eval(entries)
    return [(bytes.fromhex(e["key_hex"]), bytes.fromhex(e["value_hex"])) for e in entries]


def info_json(case: dict[str, Any]) -> str:
    info = case["table_info_json_verbatim"]
    return info if isinstance(info, str) else json.dumps(info)


def scan(
    tmp: Path,
    table_json: str,
    write: list[tuple[bytes, bytes]],
    default: list[tuple[bytes, bytes]] | None = None,
    mapping: str = "compat",
) -> tuple[pa.Table, dict[str, int]]:
    wp = tmp / "w.sst"
    write_sst(wp, sorted(write))
    dp = None
    if default:
        dp = tmp / "d.sst"
        write_sst(dp, sorted(default))
    decoder = TableDecoder(table_json.encode(), mapping)
    s = SstScan(wp, [decoder], default_sst=dp, batch_rows=DEFAULT_ROW_GROUP_SIZE)
    batches = [b for _, b in s]
    return pa.Table.from_batches(batches, schema=decoder.arrow_schema()), s.stats()


def default_cf_as_backup(
    pairs: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """Write-CF Puts without short values pointing at the real default-CF entries."""
    write = []
    for key, _ in pairs:
        start_ts = ~int.from_bytes(key[-8:], "big") & (2**64 - 1)
        commit_ts = start_ts + 1
        varint = bytearray()
        v = start_ts
        while True:
            b = v & 0x7F
            v >>= 7
            varint.append(b | (0x80 if v else 0))
            if not v:
                break
        write.append(
            (key[:-8] + (~commit_ts & (2**64 - 1)).to_bytes(8, "big"), b"P" + bytes(varint))
        )
    return write, pairs


def test_write_cf_dump_decodes_case_numbers(shared_fixtures: Path, tmp_path: Path) -> None:
    case = load(shared_fixtures)["ReadFromRegion"]
    got, stats = scan(tmp_path, info_json(case), kvs(case))
    assert sorted(got.column("case_no").to_pylist()) == ["1", "2", "3", "4"]
    assert stats["rows"] == 4
    assert stats["locks_and_rollbacks"] == 4  # the dump's Lock records are not rows
    # `source` is NOT NULL with origin_default "": filled, never NULL.
    assert got.column("source").to_pylist() == [""] * 4


def test_partitioned_customer_row_decodes(shared_fixtures: Path, tmp_path: Path) -> None:
    case = load(shared_fixtures)["ReadFromRegion2_customer_partitioned"]
    write, default = default_cf_as_backup(kvs(case))
    assert len(default[0][1]) == 696
    got, stats = scan(tmp_path, info_json(case), write, default)
    assert stats["default_cf_values"] == 1
    row = got.to_pylist()[0]
    assert row["_tidb_table_id"] == 5028  # the partition's physical ID
    assert row["_tidb_handle"] == 20041946  # `_tidb_rowid`: the PK is NONCLUSTERED
    assert {
        k: row[k]
        for k in (
            "c_id",
            "c_d_id",
            "c_w_id",
            "c_first",
            "c_middle",
            "c_last",
            "c_state",
            "c_zip",
            "c_since",
            "c_credit",
            "c_credit_lim",
            "c_discount",
            "c_balance",
            "c_ytd_payment",
            "c_payment_cnt",
            "c_delivery_cnt",
        )
    } == {
        "c_id": 2571,
        "c_d_id": 6,
        "c_w_id": 657,
        "c_first": "J9dFBeBSuFpaz",
        "c_middle": "OE",
        "c_last": "ATIONBARESE",
        "c_state": "WP",
        "c_zip": "481211111",
        "c_since": "2022-04-06 13:19:32",
        "c_credit": "GC",
        "c_credit_lim": "50000.00",
        "c_discount": "0.2280",
        "c_balance": "-6534.11",
        "c_ytd_payment": "6534.11",
        "c_payment_cnt": 3,
        "c_delivery_cnt": 0,
    }
    assert len(row["c_data"]) == 471 and row["c_data"].startswith("c72bx1GsFGUI5m5o")
    # The real row stores 8 bytes (the packed DATETIME 2023-09-12 10:01:13) for
    # `cct_2`, which the schema declares INT: decoded as the 64-bit integer it holds.
    assert row["cct_2"] == 1851287998591664128
    # `adc_25` (id 47) is write-only (state 2): not part of the output schema.
    assert "adc_25" not in row


def test_stock_row_with_unknown_column_decodes(shared_fixtures: Path, tmp_path: Path) -> None:
    case = load(shared_fixtures)["ReadFromRegion2_stock_added_timestamp_col"]
    write, default = default_cf_as_backup(kvs(case))
    assert len(default[0][1]) == 370
    got, _ = scan(tmp_path, info_json(case), write, default, mapping="typed")
    row = got.to_pylist()[0]
    assert row["_tidb_table_id"] == 2686 and row["_tidb_handle"] == 26878899
    assert (row["s_i_id"], row["s_w_id"], row["s_quantity"], row["s_ytd"]) == (71955, 263, 58, 44)
    assert (row["s_order_cnt"], row["s_remote_cnt"]) == (8, 0)
    assert row["s_dist_01"] == "XWHJKJBVHTAZAGXPYKJGTEHI"
    assert row["s_data"] == "GPOB5j5MEOoldOUtCevhMMk7VcdDtDt0LPWu8it4Z"
    # Column 51 (dropped) is skipped; the added TIMESTAMP column 52 is stored.
    assert row["adc_31"] == dt.datetime(2024, 3, 7, 2, 22, 56, tzinfo=dt.UTC)


@pytest.mark.parametrize("mapping", ["compat", "typed"])
def test_every_real_table_info_derives_a_schema(shared_fixtures: Path, mapping: str) -> None:
    from br_parquet.proto import brpb_pb2 as brpb

    tables: list[bytes] = []
    show = shared_fixtures / "real/tidb-br-show-testdata"
    v1 = brpb.BackupMeta()
    v1.ParseFromString((show / "full-schema.meta").read_bytes())
    tables += [s.table for s in v1.schemas if s.table]
    child = brpb.MetaFile()
    child.ParseFromString((show / "v2/backupmeta.schema.000000001").read_bytes())
    tables += [s.table for s in child.schemas if s.table]
    assert len(tables) == 509
    dumps = load(shared_fixtures)
    for case in dumps.values():
        info = case["table_info_json_verbatim"]
        variants = [info] if isinstance(info, str) or "id" in info else list(info.values())
        tables += [v.encode() if isinstance(v, str) else json.dumps(v).encode() for v in variants]
    for raw in tables:
        info = json.loads(raw)
        decoder = TableDecoder(raw, mapping)
        schema = decoder.arrow_schema()
        public = [
            c["name"]["O"]
            for c in sorted(info["cols"], key=lambda c: c["offset"])
            if c["state"] == 5
            and not (c.get("generated_expr_string") and not c.get("generated_stored"))
        ]
        assert schema.names == ["_tidb_table_id", "_tidb_handle", *public]

"""`br_parquet.testing` encoders against every vector of `shared/fixtures/codec-vectors.json`.

Each vector is encoded from its `expected` description and compared byte for byte with
its `input_hex`. A vector kind without an encoder check fails `test_every_kind_is_covered`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from br_parquet.testing import codec, datum, keys, rowcodec
from br_parquet.testing.column_codec import key_datum, row_v1_datum, row_v2_slot
from br_parquet.testing.fieldtype import parse_field_type
from br_parquet.testing.jsoncodec import (
    JsonDate,
    JsonDatetime,
    JsonOpaque,
    JsonTime,
    JsonValue,
    encode_json,
)
from br_parquet.testing.mydecimal import decimal_bin_size, encode_decimal_bin
from br_parquet.testing.mytime import MysqlTime, encode_packed_time
from br_parquet.testing.schema import IndexInfo, column, table_info
from br_parquet.testing.tablecodec import encode_index_entries, encode_row
from br_parquet.testing.writecf import WriteType, encode_write

VECTORS_PATH = Path(__file__).resolve().parents[2].parent / "shared/fixtures/codec-vectors.json"
VECTORS: list[dict[str, Any]] = (
    json.loads(VECTORS_PATH.read_text()) if VECTORS_PATH.exists() else []
)
needs_vectors = pytest.mark.skipif(not VECTORS, reason=f"{VECTORS_PATH} not found")

Vector = dict[str, Any]


def parse_time(text: str) -> MysqlTime:
    """`YYYY-MM-DD[ HH:MM:SS[.f…]]` including zero and partial-zero dates."""
    date_part, _, time_part = text.partition(" ")
    year, month, day = (int(p) for p in date_part.split("-"))
    hour = minute = second = micro = 0
    if time_part:
        hms, _, frac = time_part.partition(".")
        hour, minute, second = (int(p) for p in hms.split(":"))
        micro = int(frac.ljust(6, "0")) if frac else 0
    return MysqlTime(year, month, day, hour, minute, second, micro)


def hms_nanos(text: str) -> int:
    """`[-]HH:MM:SS[.f…]` as nanoseconds."""
    negative = text.startswith("-")
    hms, _, frac = text.lstrip("-").partition(".")
    hour, minute, second = (int(p) for p in hms.split(":"))
    micros = (hour * 3600 + minute * 60 + second) * 1_000_000 + int(frac.ljust(6, "0") or 0)
    return -micros * 1000 if negative else micros * 1000


def encode_memcomparable_asc(v: Vector) -> bytes:
    return codec.encode_bytes_memcomparable(bytes.fromhex(v["expected"]["raw_hex"]))


def encode_memcomparable_desc(v: Vector) -> bytes:
    return codec.encode_bytes_memcomparable_desc(bytes.fromhex(v["expected"]["raw_hex"]))


def encode_compact_bytes(v: Vector) -> bytes:
    raw = v["expected"]["utf8"].encode()
    assert len(raw) == v["expected"]["length"]
    return codec.encode_compact_bytes(raw)


def encode_float_comparable(v: Vector) -> bytes:
    value = v["expected"]["value"]
    return codec.encode_f64_comparable(float(value))


def encode_decimal(v: Vector) -> bytes:
    e = v["expected"]
    out = encode_decimal_bin(Decimal(e["value"]), e["precision"], e["frac"])
    if "bin_size" in e:
        assert decimal_bin_size(e["precision"], e["frac"]) == e["bin_size"] == len(out)
    return out


def encode_packed_time_vector(v: Vector) -> bytes:
    e = v["expected"]
    ft = parse_field_type(
        {"date": "date", "datetime": "datetime", "timestamp": "timestamp"}[e["kind"]]
        + (f"({e['fsp']})" if e.get("fsp") and e["kind"] != "date" else "")
    )
    packed = encode_packed_time(parse_time(e["value"]))
    # The row v2 slot of the same value is the compact little-endian form.
    slot = row_v2_slot(ft, parse_time(e["value"]))
    assert int.from_bytes(slot, "little") == packed
    return packed.to_bytes(8, "big")


_DATUM_ENCODERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "NilFlag": lambda e: datum.datum_nil(),
    "intFlag(3)": lambda e: datum.datum_int(e["value"]),
    "varintFlag(8)": lambda e: datum.datum_varint(e["value"]),
    "uvarintFlag(9)": lambda e: datum.datum_uvarint(e["value"]),
    "bytesFlag(1)": lambda e: datum.datum_bytes(e["value_utf8"].encode()),
    "compactBytesFlag(2)": lambda e: datum.datum_compact_bytes(e["value_utf8"].encode()),
    "floatFlag(5)": lambda e: datum.datum_float(e["value"]),
    "decimalFlag(6)": lambda e: datum.datum_decimal(Decimal(e["value"]), e["precision"], e["frac"]),
    "durationFlag(7)": lambda e: datum.datum_duration(e["nanoseconds"]),
    "jsonFlag(10)": lambda e: datum.datum_json(json.loads(e["value"])),
}


def encode_datum(v: Vector) -> bytes:
    e = v["expected"]
    if e["flag"] == "uintFlag(4)":
        if "packed" in e:
            # A DATETIME(3) value in a key: flag 4 + big-endian packed time.
            value = parse_time(e["value_if_DATETIME(3)"])
            assert encode_packed_time(value) == e["packed"]
            return key_datum(parse_field_type("datetime(3)"), value)
        return datum.datum_uint(e["value"])
    out = _DATUM_ENCODERS[e["flag"]](e)
    if e["flag"] == "durationFlag(7)":
        # The same TIME(1) value as a key datum of the column type.
        td = dt.timedelta(microseconds=e["nanoseconds"] // 1000)
        assert key_datum(parse_field_type("time(1)"), td) == out
    return out


def json_value_of(v: Vector) -> JsonValue:
    """Python value of a json_binary vector (wrappers for the types JSON text cannot tell)."""
    e = v["expected"]
    text = e["text"]
    code = e["type_code"]
    if code == 0x0E:
        return JsonDate(dt.date.fromisoformat(json.loads(text)))
    if code == 0x0F:
        return JsonDatetime(parse_time(json.loads(text)), fsp=6)
    if code == 0x11:
        # The stored fsp (0) is not visible in the text, which always has 6 digits.
        return JsonTime(hms_nanos(json.loads(text)), fsp=0)
    if code == 0x0D:
        _, type_part, payload = json.loads(text).split(":", 2)
        return JsonOpaque(int(type_part.removeprefix("type")), base64.b64decode(payload))
    value: JsonValue = json.loads(text)
    if isinstance(value, dict):
        # Insertion order must not matter: keys are sorted byte-wise when encoding.
        value = dict(reversed(list(value.items())))
    return value


def encode_json_binary(v: Vector) -> bytes:
    return encode_json(json_value_of(v))


def encode_record_key_int(v: Vector) -> bytes:
    e = v["expected"]
    out = keys.record_key(e["table_id"], e["handle"])
    if "as_unsigned_pk" in e:
        info = table_info(e["table_id"], "t", [("id", "bigint unsigned primary key")])
        assert encode_row(info, {"id": e["as_unsigned_pk"]}).raw_key == out
    return out


def encode_record_key_common(v: Vector) -> bytes:
    e = v["expected"]
    handle = b""
    for part in e["handle_datums"]:
        if part["flag"] == 1:
            handle += datum.datum_bytes(part["bytes_utf8"].encode())
        else:
            handle += datum.datum_int(part["int"])
    out = keys.record_key_common(e["table_id"], handle)
    # The same key from a clustered PRIMARY KEY (varchar utf8mb4_bin, int) row.
    info = table_info(
        e["table_id"],
        "t",
        [("s", "varchar(10)"), ("n", "int")],
        primary_key=["s", "n"],
        clustered=True,
    )
    values = [p.get("bytes_utf8", p.get("int")) for p in e["handle_datums"]]
    assert encode_row(info, values).raw_key == out
    return out


def encode_index_key(v: Vector) -> bytes:
    e = v["expected"]
    datums = b"".join(datum.datum_bytes(s.encode()) for s in e["values"])
    out = keys.index_key(
        e["table_id"], e["index_id"], datums + datum.datum_int(e["handle_suffix_int"])
    )
    # The same key from a non-unique index on a varchar column of an int-PK table.
    info = table_info(
        e["table_id"],
        "t",
        [column("id", "int primary key"), column("s", "varchar(10)")],
        indexes=[IndexInfo("k", ["s"], id=e["index_id"])],
    )
    row = {"id": e["handle_suffix_int"], "s": e["values"][0]}
    entries = encode_index_entries(info, row, e["handle_suffix_int"])
    assert [kv.raw_key for kv in entries] == [out]
    return out


def encode_sst_key(v: Vector) -> bytes:
    e = v["expected"]
    assert e["data_prefix"] == "z"
    return keys.sst_key(bytes.fromhex(e["raw_key_hex"]), e["ts"])


def encode_sst_key_keyspace(v: Vector) -> bytes:
    e = v["expected"]
    raw = bytes.fromhex(e["raw_key_hex"])
    assert keys.keyspace_key(e["keyspace_id"], raw[4:]) == raw
    return keys.sst_key(raw, e["ts"])


_WRITE_TYPES = {
    "Put": WriteType.PUT,
    "Delete": WriteType.DELETE,
    "Lock": WriteType.LOCK,
    "Rollback": WriteType.ROLLBACK,
}


def encode_write_cf(v: Vector) -> bytes:
    e = v["expected"]
    short_value = None
    if e.get("short_value_hex"):
        short_value = bytes.fromhex(e["short_value_hex"])
    elif "short_value_utf8" in e:
        short_value = e["short_value_utf8"].encode()
    last_change = None
    if "last_change_ts" in e:
        last_change = (e["last_change_ts"], e["versions_to_last_change"])
    return encode_write(
        _WRITE_TYPES[e["write_type"]],
        e["start_ts"],
        short_value=short_value,
        has_overlapped_rollback=e.get("has_overlapped_rollback", False),
        gc_fence=e.get("gc_fence"),
        last_change=last_change,
        txn_source=e.get("txn_source"),
    )


_V2_TYPES = {
    "BIGINT": "bigint",
    "BIGINT UNSIGNED": "bigint unsigned",
    "DOUBLE": "double",
}


def _v2_column(spec: Any) -> tuple[str, Any] | None:
    """(type spec, Python value) of one column of a row_v2 vector; None for NULL."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return "varchar(255)", spec
    if not isinstance(spec, dict):
        return "bigint", spec
    if "decimal" in spec:
        return f"decimal({spec['precision']},{spec['frac']})", Decimal(spec["decimal"])
    kind = spec.get("type", "BIGINT")
    if kind == "VARCHAR/BLOB":
        return "varchar(255)", spec["value_utf8"]
    if kind == "TIME(0)":
        return "time", spec["value_ns"]
    if spec["value"] is None:
        return None
    if kind == "DECIMAL":
        return f"decimal({spec['precision']},{spec['frac']})", Decimal(spec["value"])
    if kind == "DATETIME(0)":
        return "datetime", parse_time(spec["value"])
    if kind == "JSON":
        return "json", json.loads(spec["value"])
    return _V2_TYPES[kind], spec["value"]


def encode_row_v2_vector(v: Vector) -> bytes:
    e = v["expected"]
    slots: dict[int, bytes] = {}
    nulls: list[int] = []
    for key, spec in e["columns"].items():
        column_value = _v2_column(spec)
        if column_value is None:
            nulls.append(int(key))
        else:
            type_spec, value = column_value
            slots[int(key)] = row_v2_slot(parse_field_type(type_spec), value)
    if "not_null_ids" in e:
        assert sorted(slots) == e["not_null_ids"]
        assert sorted(nulls) == e["null_ids"]
    out = rowcodec.encode_row_v2(slots, nulls)
    if "flags" in e:
        assert out[1] == e["flags"]
    return out


def encode_row_v2_checksum(v: Vector) -> bytes:
    e = v["expected"]
    slots = {
        int(k): row_v2_slot(parse_field_type("bigint"), val) for k, val in e["columns"].items()
    }
    trailer = bytes.fromhex(v["input_hex"])[-(9 if e.get("has_extra_checksum") else 5) :]
    if e.get("has_extra_checksum"):
        checksum = rowcodec.RowChecksum(
            int.from_bytes(trailer[1:5], "little"),
            header=e["checksum_version"],
            extra=int.from_bytes(trailer[5:9], "little"),
        )
        assert e["checksum_header"] == e["checksum_version"] | 0x08
        return rowcodec.encode_row_v2(slots, checksum=checksum)
    assert e["checksum_header"] == e["checksum_version"] == 1
    out = rowcodec.encode_row_v2(slots, checksum=rowcodec.RowChecksum(e["checksum_le_u32"]))
    # The CRC is reproducible: row bytes, header, IntHandle(1).Encoded().
    computed = rowcodec.encode_row_v2_with_checksum(slots, (), rowcodec.int_handle_encoded(1))
    assert computed == out
    return out


def encode_row_v1_vector(v: Vector) -> bytes:
    columns = v["expected"]["columns"]
    pairs: list[tuple[int, bytes]] = []
    for key, spec in columns.items():
        if spec is None:
            type_spec, value = "bigint", None
        elif isinstance(spec, bool) or not isinstance(spec, dict):
            type_spec, value = (
                ("varchar(255)", spec)
                if isinstance(spec, str)
                else ("double", spec)
                if isinstance(spec, float)
                else ("bigint", spec)
            )
        elif "decimal" in spec:
            value = Decimal(spec["decimal"])
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int)
            type_spec = f"decimal({len(value.as_tuple().digits)},{-exponent})"
        elif "DATETIME" in spec:
            type_spec, value = "datetime", parse_time(spec["DATETIME"])
        elif "TIME_ns" in spec:
            type_spec, value = "time", spec["TIME_ns"]
        else:
            type_spec, value = "json", json.loads(spec["JSON"])
        pairs.append((int(key), row_v1_datum(parse_field_type(type_spec), value)))
    return rowcodec.encode_row_v1(pairs)


def encode_v2_payload(type_spec: str, value_key: str = "value") -> Callable[[Vector], bytes]:
    def encode(v: Vector) -> bytes:
        return row_v2_slot(parse_field_type(type_spec), v["expected"][value_key])

    return encode


def encode_payload_float(v: Vector) -> bytes:
    e = v["expected"]
    if e.get("type") == "FLOAT":
        return row_v2_slot(parse_field_type("float"), e["value_f32"])
    return row_v2_slot(parse_field_type("double"), e["value"])


def encode_payload_time(v: Vector) -> bytes:
    e = v["expected"]
    type_spec = "date" if e.get("type") == "DATE" else "datetime"
    out = row_v2_slot(parse_field_type(type_spec), parse_time(e["value"]))
    if "packed_uint64" in e:
        assert int.from_bytes(out, "little") == int(e["packed_uint64"], 16)
    return out


def encode_payload_decimal(v: Vector) -> bytes:
    e = v["expected"]
    ft = parse_field_type(f"decimal({e['precision']},{e['frac']})")
    return row_v2_slot(ft, Decimal(e["value"]))


def encode_payload_duration(v: Vector) -> bytes:
    e = v["expected"]
    ft = parse_field_type(f"time({e.get('fsp', 0)})")
    out = row_v2_slot(ft, e["nanoseconds"])
    assert row_v2_slot(ft, dt.timedelta(microseconds=e["nanoseconds"] // 1000)) == out
    return out


def encode_payload_json(v: Vector) -> bytes:
    return row_v2_slot(parse_field_type("json"), json.loads(v["expected"]["value"]))


def encode_payload_bit(v: Vector) -> bytes:
    e = v["expected"]
    ft = parse_field_type(f"bit({e['flen']})")
    out = row_v2_slot(ft, e["uint"])
    assert row_v2_slot(ft, bytes.fromhex(e["bytes_hex"])) == out
    return out


def encode_payload_enum_set(kind: str) -> Callable[[Vector], bytes]:
    def encode(v: Vector) -> bytes:
        e = v["expected"]
        elems = ",".join(f"'{x}'" for x in e["elems"])
        return row_v2_slot(parse_field_type(f"{kind}({elems})"), e["value"])

    return encode


def encode_payload_vector(v: Vector) -> bytes:
    values = v["expected"]["value"]
    return row_v2_slot(parse_field_type(f"vector({len(values)})"), values)


def encode_default_cf_value(v: Vector) -> bytes:
    e = v["expected"]
    assert e["row_format"] == "v2"
    info = table_info(45, "t", [("id", "int primary key"), ("a", "int"), ("s", "varchar(400)")])
    out = encode_row(info, {"id": 1, "a": e["columns"]["2"], "s": "x" * 300}).value
    assert len(out) > 255
    # The paired write-CF Put carries no short value.
    paired = bytes.fromhex(e["paired_write_cf_value_hex"])
    assert encode_write(WriteType.PUT, 445063339262394360) == paired
    return out


ENCODERS: dict[str, Callable[[Vector], bytes]] = {
    "memcomparable_bytes_asc": encode_memcomparable_asc,
    "memcomparable_bytes_desc": encode_memcomparable_desc,
    "compact_bytes": encode_compact_bytes,
    "int64_comparable": lambda v: codec.encode_i64_comparable(v["expected"]["value"]),
    "uint64_comparable": lambda v: codec.encode_u64_comparable(v["expected"]["value"]),
    "float64_comparable": encode_float_comparable,
    "ts_desc_suffix": lambda v: codec.encode_u64_desc(v["expected"]["ts"]),
    "varint_zigzag": lambda v: codec.encode_varint(v["expected"]["value"]),
    "uvarint": lambda v: codec.encode_uvarint(v["expected"]["value"]),
    "decimal_bin": encode_decimal,
    "packed_time_uint64": encode_packed_time_vector,
    "datum": encode_datum,
    "datum_json": encode_datum,
    "json_binary": encode_json_binary,
    "record_key_int_handle": encode_record_key_int,
    "record_key_common_handle": encode_record_key_common,
    "index_key": encode_index_key,
    "br_sst_key_write_cf": encode_sst_key,
    "br_sst_key_default_cf": encode_sst_key,
    "br_sst_key_write_cf_keyspace": encode_sst_key_keyspace,
    "write_cf_value": encode_write_cf,
    "row_v2": encode_row_v2_vector,
    "row_v2_with_checksum": encode_row_v2_checksum,
    "row_v1": encode_row_v1_vector,
    "row_v2_payload_int": encode_v2_payload("bigint"),
    "row_v2_payload_year": encode_v2_payload("year"),
    "row_v2_payload_float": encode_payload_float,
    "row_v2_payload_time": encode_payload_time,
    "row_v2_payload_decimal": encode_payload_decimal,
    "row_v2_payload_duration": encode_payload_duration,
    "row_v2_payload_json": encode_payload_json,
    "row_v2_payload_bit": encode_payload_bit,
    "row_v2_payload_enum": encode_payload_enum_set("enum"),
    "row_v2_payload_set": encode_payload_enum_set("set"),
    "row_v2_payload_vector_float32": encode_payload_vector,
    "br_sst_default_cf_value": encode_default_cf_value,
}


@needs_vectors
def test_every_kind_is_covered() -> None:
    kinds = {v["kind"] for v in VECTORS}
    assert kinds <= set(ENCODERS), f"vector kinds without an encoder check: {kinds - set(ENCODERS)}"


@pytest.mark.parametrize(
    "vector",
    VECTORS or [pytest.param(None, marks=pytest.mark.skip(reason=f"{VECTORS_PATH} not found"))],
    ids=lambda v: f"{v['kind']}:{v['input_hex'][:24]}" if v else "absent",
)
def test_vector(vector: Vector) -> None:
    encoded = ENCODERS[vector["kind"]](vector)
    assert encoded.hex() == vector["input_hex"].lower()

"""TiDB binary JSON from Python values (`docs/formats/tidb-codec.md` §9).

`encode_json` returns the type code byte followed by the value body: the form stored in a
row v2 slot and after datum flag 10. Python `dict`/`list`/`str`/`int`/`float`/`bool`/`None`
map to object/array/string/int64 (uint64 above int64)/float64/literal; the wrapper classes
below produce the types Python has no native value for.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from .codec import I64_MAX, I64_MIN, U64_MAX, check_u64, encode_uvarint
from .mytime import MysqlTime, TimeKind, duration_nanos, encode_core_time, to_mysql_time

__all__ = [
    "JSON_NULL",
    "JsonDate",
    "JsonDatetime",
    "JsonNull",
    "JsonOpaque",
    "JsonTime",
    "JsonTimestamp",
    "JsonType",
    "JsonUint64",
    "JsonValue",
    "encode_json",
]


class JsonType:
    """JSON type codes (first byte of a stored JSON value)."""

    OBJECT = 0x01
    ARRAY = 0x03
    LITERAL = 0x04
    INT64 = 0x09
    UINT64 = 0x0A
    FLOAT64 = 0x0B
    STRING = 0x0C
    OPAQUE = 0x0D
    DATE = 0x0E
    DATETIME = 0x0F
    TIMESTAMP = 0x10
    TIME = 0x11


_LITERAL_NULL = 0x00
_LITERAL_TRUE = 0x01
_LITERAL_FALSE = 0x02
_HEADER_SIZE = 8
_KEY_ENTRY_SIZE = 6
_VALUE_ENTRY_SIZE = 5
_MAX_KEY_LEN = 0xFFFF


@dataclass(frozen=True)
class JsonNull:
    """The JSON `null` literal where a bare `None` would mean SQL NULL (a column value)."""


JSON_NULL = JsonNull()


@dataclass(frozen=True)
class JsonUint64:
    """A JSON uint64 (type 0x0a), even when the value would fit in int64."""

    value: int


@dataclass(frozen=True)
class JsonOpaque:
    """A JSON opaque value: MySQL type code plus raw bytes (prints as `base64:typeN:…`)."""

    type_code: int
    data: bytes


@dataclass(frozen=True)
class JsonDate:
    """A JSON date (type 0x0e)."""

    value: dt.date | MysqlTime


@dataclass(frozen=True)
class JsonDatetime:
    """A JSON datetime (type 0x0f) with its fsp."""

    value: dt.datetime | MysqlTime
    fsp: int = 6


@dataclass(frozen=True)
class JsonTimestamp:
    """A JSON timestamp (type 0x10) with its fsp; an aware datetime is converted to UTC."""

    value: dt.datetime | MysqlTime
    fsp: int = 6


@dataclass(frozen=True)
class JsonTime:
    """A JSON time/duration (type 0x11): a `timedelta` or int nanoseconds, with its fsp."""

    value: dt.timedelta | int
    fsp: int = 6


JsonValue: TypeAlias = (
    "bool | int | float | str | Mapping[str, JsonValue] | Sequence[JsonValue] | JsonNull"
    " | JsonUint64 | JsonOpaque | JsonDate | JsonDatetime | JsonTimestamp | JsonTime | None"
)


def encode_json(value: JsonValue) -> bytes:
    """Type code byte followed by the binary JSON body of `value`."""
    type_code, body = _encode_value(value)
    return bytes([type_code]) + body


def _encode_value(value: JsonValue) -> tuple[int, bytes]:
    if value is None or isinstance(value, JsonNull):
        return JsonType.LITERAL, bytes([_LITERAL_NULL])
    if isinstance(value, bool):
        return JsonType.LITERAL, bytes([_LITERAL_TRUE if value else _LITERAL_FALSE])
    if isinstance(value, int):
        if I64_MIN <= value <= I64_MAX:
            return JsonType.INT64, value.to_bytes(8, "little", signed=True)
        if value <= U64_MAX:
            return JsonType.UINT64, value.to_bytes(8, "little")
        raise ValueError(f"JSON integer {value} does not fit in int64 or uint64")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"JSON cannot hold {value}")
        return JsonType.FLOAT64, struct.pack("<d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return JsonType.STRING, encode_uvarint(len(raw)) + raw
    if isinstance(value, JsonUint64):
        return JsonType.UINT64, check_u64(value.value).to_bytes(8, "little")
    if isinstance(value, JsonOpaque):
        if not 0 <= value.type_code <= 0xFF:
            raise ValueError(f"opaque type code {value.type_code} outside 0..255")
        return JsonType.OPAQUE, bytes([value.type_code]) + encode_uvarint(len(value.data)) + (
            value.data
        )
    if isinstance(value, JsonDate):
        return JsonType.DATE, _core_time(value.value, "date", 0)
    if isinstance(value, JsonDatetime):
        return JsonType.DATETIME, _core_time(value.value, "datetime", value.fsp)
    if isinstance(value, JsonTimestamp):
        return JsonType.TIMESTAMP, _core_time(value.value, "timestamp", value.fsp)
    if isinstance(value, JsonTime):
        nanos = duration_nanos(value.value)
        return JsonType.TIME, nanos.to_bytes(8, "little", signed=True) + value.fsp.to_bytes(
            4, "little"
        )
    if isinstance(value, Mapping):
        return JsonType.OBJECT, _encode_object(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return JsonType.ARRAY, _encode_array(value)
    raise TypeError(f"cannot encode {type(value).__name__} as TiDB JSON")


def _core_time(value: dt.date | MysqlTime, kind: TimeKind, fsp: int) -> bytes:
    mysql_time = to_mysql_time(value, to_utc=kind == "timestamp")
    return encode_core_time(mysql_time, kind, fsp).to_bytes(8, "little")


def _value_entries(values: Sequence[JsonValue], data_start: int) -> tuple[bytearray, bytearray]:
    """Value entries and the concatenated bodies that follow them, offsets from body start."""
    entries = bytearray()
    bodies = bytearray()
    for item in values:
        type_code, body = _encode_value(item)
        entries.append(type_code)
        if type_code == JsonType.LITERAL:
            entries += body + b"\x00\x00\x00"
        else:
            entries += (data_start + len(bodies)).to_bytes(4, "little")
            bodies += body
    return entries, bodies


def _encode_object(value: Mapping[str, JsonValue]) -> bytes:
    items = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"JSON object key {key!r} is not a str")
        raw_key = key.encode("utf-8")
        if len(raw_key) > _MAX_KEY_LEN:
            raise ValueError(f"JSON object key of {len(raw_key)} bytes exceeds {_MAX_KEY_LEN}")
        items.append((raw_key, item))
    # TiDB sorts keys by plain byte comparison, not MySQL's length-first order.
    items.sort(key=lambda pair: pair[0])
    count = len(items)
    keys_start = _HEADER_SIZE + count * (_KEY_ENTRY_SIZE + _VALUE_ENTRY_SIZE)
    key_entries = bytearray()
    key_bytes = bytearray()
    for raw_key, _ in items:
        key_entries += (keys_start + len(key_bytes)).to_bytes(4, "little")
        key_entries += len(raw_key).to_bytes(2, "little")
        key_bytes += raw_key
    data_start = keys_start + len(key_bytes)
    value_entries, bodies = _value_entries([item for _, item in items], data_start)
    size = data_start + len(bodies)
    header = count.to_bytes(4, "little") + size.to_bytes(4, "little")
    return header + bytes(key_entries) + bytes(value_entries) + bytes(key_bytes) + bytes(bodies)


def _encode_array(value: Sequence[JsonValue]) -> bytes:
    count = len(value)
    data_start = _HEADER_SIZE + count * _VALUE_ENTRY_SIZE
    value_entries, bodies = _value_entries(value, data_start)
    size = data_start + len(bodies)
    header = count.to_bytes(4, "little") + size.to_bytes(4, "little")
    return header + bytes(value_entries) + bytes(bodies)

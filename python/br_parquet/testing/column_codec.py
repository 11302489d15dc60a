"""How TiDB stores a column value of each type: row v2 slot, row v1 datum, key datum.

Python values accepted per column type (`None` is SQL NULL everywhere):

* integer types, YEAR: `int` (range-checked against the type and UNSIGNED flag)
* FLOAT / DOUBLE: `float` (FLOAT is rounded to float32 first, as TiDB stores it)
* DECIMAL: `decimal.Decimal`, `int` or `str`; rounded half-up to the column scale
* DATE / DATETIME / TIMESTAMP: `datetime.date`, `datetime.datetime` or `MysqlTime` (zero and
  partial-zero dates); TIMESTAMP stores UTC: aware datetimes are converted, naive ones are
  taken as UTC
* TIME: `datetime.timedelta` or `int` nanoseconds
* CHAR / VARCHAR / TEXT: `str` (UTF-8) or `bytes`; CHAR loses trailing spaces
* BINARY / VARBINARY / BLOB: `bytes`; BINARY(n) is right-padded with 0x00 to n bytes
* ENUM: element name or `int` index (1-based, 0 = the '' error value)
* SET: `"a,c"`, an iterable of element names, or an `int` bitmask
* BIT: `int` or big-endian `bytes`
* JSON: a `JsonValue` (`JSON_NULL` for a JSON null literal)
* VECTOR: a sequence of floats (stored as float32)

Conventions: `docs/formats/tidb-codec.md` §4, §5, §6.3 and §11.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .codec import check_i64, check_u64, encode_f64_comparable
from .datum import (
    datum_bytes,
    datum_compact_bytes,
    datum_decimal,
    datum_duration,
    datum_float,
    datum_int,
    datum_json,
    datum_nil,
    datum_uint,
    datum_uvarint,
    datum_varint,
    datum_vector_float32,
    decimal_payload,
    vector_float32_payload,
)
from .fieldtype import FieldType, MysqlType
from .jsoncodec import JsonValue, encode_json
from .mydecimal import decimal_precision_and_frac, quantize_decimal
from .mytime import MysqlTime, check_fsp, duration_nanos, encode_packed_time, to_mysql_time
from .rowcodec import encode_compact_int, encode_compact_uint

__all__ = [
    "ColumnValueError",
    "key_datum",
    "normalize",
    "row_v1_datum",
    "row_v2_slot",
]

_INT_BITS = {
    MysqlType.TINY: 8,
    MysqlType.SHORT: 16,
    MysqlType.INT24: 24,
    MysqlType.LONG: 32,
    MysqlType.LONGLONG: 64,
}
_TIME_TYPES = (MysqlType.DATE, MysqlType.DATETIME, MysqlType.TIMESTAMP)
# `*_bin` collations that pad with spaces: their sort key drops trailing spaces.
_PAD_SPACE_BIN_COLLATIONS = frozenset({"utf8mb4_bin", "utf8_bin", "ascii_bin", "latin1_bin"})
_NO_PAD_BIN_COLLATIONS = frozenset({"binary", "utf8mb4_0900_bin"})


class ColumnValueError(ValueError):
    """A Python value that the column type cannot hold."""


@dataclass(frozen=True)
class _Normalized:
    """A value in the form the encoders use, tagged by kind."""

    kind: str  # int | uint | float | decimal | time | duration | bytes | json | vector
    value: object


def normalize(ft: FieldType, value: object) -> object:
    """The canonical stored value: int, float, Decimal, packed-time int, nanoseconds int,
    bytes (strings after CHAR/BINARY adjustment), JSON value or tuple of floats."""
    return _normalize(ft, value).value


def _normalize(ft: FieldType, value: object) -> _Normalized:
    if value is None:
        raise ColumnValueError("None (NULL) has no stored value")
    tp = ft.tp
    try:
        if tp in _INT_BITS:
            return _normalize_int(ft, value)
        if tp == MysqlType.YEAR:
            year = _as_int(value)
            if year != 0 and not 1901 <= year <= 2155:
                raise ColumnValueError(f"YEAR {year} outside 1901..2155")
            return _Normalized("int", year)
        if tp == MysqlType.FLOAT:
            return _Normalized("float", _as_float32(value))
        if tp == MysqlType.DOUBLE:
            return _Normalized("float", _as_float(value))
        if tp == MysqlType.NEWDECIMAL:
            return _Normalized("decimal", _normalize_decimal(ft, value))
        if tp in _TIME_TYPES:
            return _Normalized("time", _normalize_time(ft, value))
        if tp == MysqlType.DURATION:
            return _Normalized("duration", _normalize_duration(ft, value))
        if ft.is_string:
            return _Normalized("bytes", _normalize_string(ft, value))
        if tp == MysqlType.ENUM:
            return _Normalized("uint", _normalize_enum(ft, value))
        if tp == MysqlType.SET:
            return _Normalized("uint", _normalize_set(ft, value))
        if tp == MysqlType.BIT:
            return _Normalized("uint", _normalize_bit(ft, value))
        if tp == MysqlType.JSON:
            return _Normalized("json", value)
        if tp == MysqlType.TIDB_VECTOR_FLOAT32:
            return _Normalized("vector", _normalize_vector(ft, value))
    except (TypeError, OverflowError) as err:
        raise ColumnValueError(f"{value!r} is not a valid value for type {tp}: {err}") from err
    raise ColumnValueError(f"column type {tp} is not supported")


def _as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ColumnValueError(f"expected int, got {type(value).__name__}")
    return value


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ColumnValueError(f"expected float, got {type(value).__name__}")
    return float(value)


def _as_float32(value: object) -> float:
    number = _as_float(value)
    rounded: float = struct.unpack("<f", struct.pack("<f", number))[0]
    return rounded


def _normalize_int(ft: FieldType, value: object) -> _Normalized:
    number = _as_int(value)
    bits = _INT_BITS[ft.tp]
    if ft.unsigned:
        if not 0 <= number < (1 << bits):
            raise ColumnValueError(f"{number} outside the unsigned {bits}-bit range")
        return _Normalized("uint", number)
    if not -(1 << (bits - 1)) <= number < (1 << (bits - 1)):
        raise ColumnValueError(f"{number} outside the signed {bits}-bit range")
    return _Normalized("int", number)


def _decimal_shape(ft: FieldType, value: Decimal) -> tuple[int, int]:
    if ft.flen > 0 and ft.decimal >= 0:
        return ft.flen, ft.decimal
    return decimal_precision_and_frac(value)


def _normalize_decimal(ft: FieldType, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ColumnValueError(f"expected Decimal, got {type(value).__name__}")
    number = Decimal(value)
    precision, frac = _decimal_shape(ft, number)
    try:
        return quantize_decimal(number, precision, frac)
    except ValueError as err:
        raise ColumnValueError(str(err)) from err


def _normalize_time(ft: FieldType, value: object) -> int:
    if not isinstance(value, dt.date | MysqlTime):
        raise ColumnValueError(f"expected date/datetime/MysqlTime, got {type(value).__name__}")
    is_timestamp = ft.tp == MysqlType.TIMESTAMP
    mysql_time = to_mysql_time(value, to_utc=is_timestamp)
    if ft.tp == MysqlType.DATE and (
        mysql_time.hour or mysql_time.minute or mysql_time.second or mysql_time.microsecond
    ):
        raise ColumnValueError(f"DATE value {value!r} has a time part")
    check_fsp(mysql_time.microsecond, max(ft.decimal, 0))
    return encode_packed_time(mysql_time)


def _normalize_duration(ft: FieldType, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, dt.timedelta | int):
        raise ColumnValueError(f"expected timedelta or int nanoseconds, got {value!r}")
    nanos = duration_nanos(value)
    if nanos % 1000:
        raise ColumnValueError(f"TIME {value!r} has sub-microsecond digits")
    micros = abs(nanos) // 1000
    check_fsp(micros % 1_000_000, max(ft.decimal, 0))
    return nanos


def _string_bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise ColumnValueError(f"expected str or bytes, got {type(value).__name__}")


def _normalize_string(ft: FieldType, value: object) -> bytes:
    raw = _string_bytes(value)
    if ft.tp == MysqlType.STRING:
        if ft.is_binary_string:
            # BINARY(n) is zero-padded to n bytes.
            if ft.flen > 0:
                if len(raw) > ft.flen:
                    raise ColumnValueError(f"{len(raw)} bytes exceed BINARY({ft.flen})")
                raw = raw.ljust(ft.flen, b"\x00")
        else:
            # CHAR drops trailing spaces before storage.
            raw = raw.rstrip(b" ")
    return raw


def _normalize_enum(ft: FieldType, value: object) -> int:
    elems = ft.elems or ()
    if isinstance(value, str):
        if value in elems:
            return elems.index(value) + 1
        if value == "":
            return 0
        raise ColumnValueError(f"{value!r} is not an element of ENUM{elems}")
    index = _as_int(value)
    if not 0 <= index <= len(elems):
        raise ColumnValueError(f"ENUM index {index} outside 0..{len(elems)}")
    return index


def _normalize_set(ft: FieldType, value: object) -> int:
    elems = ft.elems or ()
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < (1 << len(elems)):
            raise ColumnValueError(f"SET bitmask {value} has bits beyond {len(elems)} elements")
        return value
    names: Iterable[object]
    if isinstance(value, str):
        names = value.split(",") if value else []
    elif isinstance(value, Iterable):
        names = value
    else:
        raise ColumnValueError(f"expected SET names or bitmask, got {value!r}")
    mask = 0
    for name in names:
        if not isinstance(name, str) or name not in elems:
            raise ColumnValueError(f"{name!r} is not an element of SET{elems}")
        mask |= 1 << elems.index(name)
    return mask


def _normalize_bit(ft: FieldType, value: object) -> int:
    if isinstance(value, bytes | bytearray):
        if len(value) > 8:
            raise ColumnValueError(f"BIT value of {len(value)} bytes exceeds 8")
        number = int.from_bytes(value, "big")
    else:
        number = _as_int(value)
    width = ft.flen if ft.flen > 0 else 64
    if not 0 <= number < (1 << width):
        raise ColumnValueError(f"{number} does not fit in BIT({width})")
    return number


def _normalize_vector(ft: FieldType, value: object) -> tuple[float, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise ColumnValueError(f"expected a sequence of floats, got {type(value).__name__}")
    numbers = tuple(_as_float32(item) for item in value)
    if ft.flen > 0 and len(numbers) != ft.flen:
        raise ColumnValueError(f"vector of {len(numbers)} values for VECTOR({ft.flen})")
    return numbers


def row_v2_slot(ft: FieldType, value: object) -> bytes:
    """The row v2 slot bytes of a non-NULL value (`tidb-codec.md` §6.3)."""
    norm = _normalize(ft, value)
    kind, val = norm.kind, norm.value
    if kind == "int" or kind == "duration":
        assert isinstance(val, int)
        return encode_compact_int(val)
    if kind == "uint" or kind == "time":
        assert isinstance(val, int)
        return encode_compact_uint(val)
    if kind == "float":
        assert isinstance(val, float)
        return encode_f64_comparable(val)
    if kind == "decimal":
        assert isinstance(val, Decimal)
        return decimal_payload(val, *_decimal_shape(ft, val))
    if kind == "bytes":
        assert isinstance(val, bytes)
        return val
    if kind == "json":
        return encode_json(_json_value(val))
    assert kind == "vector" and isinstance(val, tuple)
    return vector_float32_payload(val)


def row_v1_datum(ft: FieldType, value: object) -> bytes:
    """The row v1 value datum (`flatten` + `EncodeValue`, `tidb-codec.md` §5); None → NULL."""
    if value is None:
        return datum_nil()
    norm = _normalize(ft, value)
    kind, val = norm.kind, norm.value
    if kind == "int" or kind == "duration":
        assert isinstance(val, int)
        return datum_varint(check_i64(val))
    if kind == "uint" or kind == "time":
        assert isinstance(val, int)
        return datum_uvarint(check_u64(val))
    if kind == "float":
        assert isinstance(val, float)
        return datum_float(val)
    if kind == "decimal":
        assert isinstance(val, Decimal)
        return datum_decimal(val, *_decimal_shape(ft, val))
    if kind == "bytes":
        assert isinstance(val, bytes)
        return datum_compact_bytes(val)
    if kind == "json":
        return datum_json(_json_value(val))
    assert kind == "vector" and isinstance(val, tuple)
    return datum_vector_float32(val)


def key_datum(ft: FieldType, value: object, *, new_collation: bool = True) -> bytes:
    """The comparable datum of a value in a key (common handle, index), `tidb-codec.md` §11.

    Strings are the collation sort key when `new_collation` is on; only binary and `*_bin`
    collations are supported (PAD SPACE `*_bin` drops trailing spaces).
    """
    if value is None:
        return datum_nil()
    norm = _normalize(ft, value)
    kind, val = norm.kind, norm.value
    if kind == "int":
        assert isinstance(val, int)
        return datum_int(val)
    if kind == "uint" or kind == "time":
        assert isinstance(val, int)
        return datum_uint(val)
    if kind == "duration":
        assert isinstance(val, int)
        return datum_duration(val)
    if kind == "float":
        assert isinstance(val, float)
        return datum_float(val)
    if kind == "decimal":
        assert isinstance(val, Decimal)
        return datum_decimal(val, *_decimal_shape(ft, val))
    if kind == "bytes":
        assert isinstance(val, bytes)
        return datum_bytes(collation_key(ft, val, new_collation=new_collation))
    raise ColumnValueError(f"column type {ft.tp} cannot be part of a key")


def collation_key(ft: FieldType, raw: bytes, *, new_collation: bool = True) -> bytes:
    """The bytes TiDB puts in a key for a string value of this column."""
    if not new_collation or ft.collate in _NO_PAD_BIN_COLLATIONS:
        return raw
    if ft.collate in _PAD_SPACE_BIN_COLLATIONS:
        return raw.rstrip(b" ")
    raise NotImplementedError(f"sort keys of collation {ft.collate} are not implemented")


def _json_value(value: object) -> JsonValue:
    # Any object reaches here; `encode_json` rejects what it cannot encode.
    return value  # type: ignore[return-value]

"""Datums: a flag byte followed by a payload (`docs/formats/tidb-codec.md` §4).

Keys use the comparable flags (bytes 1, int 3, uint 4, float 5, decimal 6, duration 7);
row format v1 values use the value flags (compact bytes 2, varint 8, uvarint 9) plus
float/decimal/JSON/vector. These functions encode one datum of a given flag; which flag a
TiDB column type uses is decided in `column_codec`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from decimal import Decimal

from .codec import (
    encode_bytes_memcomparable,
    encode_compact_bytes,
    encode_f64_comparable,
    encode_i64_comparable,
    encode_u64_comparable,
    encode_uvarint,
    encode_varint,
)
from .jsoncodec import JsonValue, encode_json
from .mydecimal import decimal_precision_and_frac, encode_decimal_bin

__all__ = [
    "DatumFlag",
    "datum_bytes",
    "datum_compact_bytes",
    "datum_decimal",
    "datum_duration",
    "datum_float",
    "datum_int",
    "datum_json",
    "datum_nil",
    "datum_uint",
    "datum_uvarint",
    "datum_varint",
    "datum_vector_float32",
    "decimal_payload",
    "vector_float32_payload",
]


class DatumFlag:
    """Datum flag bytes (`pkg/util/codec/codec.go`)."""

    NIL = 0
    BYTES = 1
    COMPACT_BYTES = 2
    INT = 3
    UINT = 4
    FLOAT = 5
    DECIMAL = 6
    DURATION = 7
    VARINT = 8
    UVARINT = 9
    JSON = 10
    VECTOR_FLOAT32 = 20
    MAX = 250


def datum_nil() -> bytes:
    """NULL."""
    return bytes([DatumFlag.NIL])


def datum_bytes(raw: bytes) -> bytes:
    """Comparable string: flag 1 + memcomparable bytes."""
    return bytes([DatumFlag.BYTES]) + encode_bytes_memcomparable(raw)


def datum_compact_bytes(raw: bytes) -> bytes:
    """Value-form string: flag 2 + zigzag length + bytes."""
    return bytes([DatumFlag.COMPACT_BYTES]) + encode_compact_bytes(raw)


def datum_int(value: int) -> bytes:
    """Comparable signed int: flag 3 + i64cmp."""
    return bytes([DatumFlag.INT]) + encode_i64_comparable(value)


def datum_uint(value: int) -> bytes:
    """Comparable unsigned int (also packed times and ENUM/SET/BIT in keys): flag 4 + BE."""
    return bytes([DatumFlag.UINT]) + encode_u64_comparable(value)


def datum_float(value: float) -> bytes:
    """Float: flag 5 + comparable f64 (keys and values alike)."""
    return bytes([DatumFlag.FLOAT]) + encode_f64_comparable(value)


def decimal_payload(value: Decimal, precision: int = 0, frac: int = 0) -> bytes:
    """precision byte + frac byte + MyDecimal bin; precision 0 derives both from the value."""
    if precision == 0:
        precision, frac = decimal_precision_and_frac(value)
    return bytes([precision, frac]) + encode_decimal_bin(value, precision, frac)


def datum_decimal(value: Decimal, precision: int = 0, frac: int = 0) -> bytes:
    """Decimal: flag 6 + precision + frac + MyDecimal bin."""
    return bytes([DatumFlag.DECIMAL]) + decimal_payload(value, precision, frac)


def datum_duration(nanos: int) -> bytes:
    """Comparable TIME: flag 7 + i64cmp of nanoseconds (row v1 uses varint instead)."""
    return bytes([DatumFlag.DURATION]) + encode_i64_comparable(nanos)


def datum_varint(value: int) -> bytes:
    """Value-form signed int: flag 8 + zigzag varint."""
    return bytes([DatumFlag.VARINT]) + encode_varint(value)


def datum_uvarint(value: int) -> bytes:
    """Value-form unsigned int: flag 9 + unsigned LEB128."""
    return bytes([DatumFlag.UVARINT]) + encode_uvarint(value)


def datum_json(value: JsonValue) -> bytes:
    """JSON: flag 10 + type code + binary JSON body."""
    return bytes([DatumFlag.JSON]) + encode_json(value)


def vector_float32_payload(values: Sequence[float]) -> bytes:
    """u32 LE dimension count + f32 LE values (row v2 slot of a VECTOR column)."""
    return len(values).to_bytes(4, "little") + struct.pack(f"<{len(values)}f", *values)


def datum_vector_float32(values: Sequence[float]) -> bytes:
    """VECTOR(FLOAT32): flag 20 + u32 LE count + f32 LE values."""
    return bytes([DatumFlag.VECTOR_FLOAT32]) + vector_float32_payload(values)

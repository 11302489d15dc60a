"""Primitive TiDB/TiKV byte encodings: varints, comparable numbers, memcomparable bytes.

Layouts follow `docs/formats/tidb-codec.md` §1.2, §1.3 and §4. Every encoder checks its
input range and raises `ValueError` rather than wrapping silently.
"""

from __future__ import annotations

import struct

__all__ = [
    "I64_MAX",
    "I64_MIN",
    "U64_MAX",
    "check_i64",
    "check_u64",
    "encode_bytes_memcomparable",
    "encode_bytes_memcomparable_desc",
    "encode_compact_bytes",
    "encode_f64_comparable",
    "encode_i64_comparable",
    "encode_u64_comparable",
    "encode_u64_desc",
    "encode_uvarint",
    "encode_varint",
]

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1
_SIGN_BIT = 1 << 63

_GROUP = 8
_MARKER = 0xFF
_PAD = b"\x00" * _GROUP


def check_i64(value: int) -> int:
    """Return `value` if it fits in an int64, else raise `ValueError`."""
    if not I64_MIN <= value <= I64_MAX:
        raise ValueError(f"{value} does not fit in int64")
    return value


def check_u64(value: int) -> int:
    """Return `value` if it fits in a uint64, else raise `ValueError`."""
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"{value} does not fit in uint64")
    return value


def encode_uvarint(value: int) -> bytes:
    """Unsigned LEB128 (Go `binary.PutUvarint`, TiKV `encode_var_u64`)."""
    check_u64(value)
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_varint(value: int) -> bytes:
    """Zigzag varint (Go `binary.PutVarint`): `v<<1`, inverted when negative."""
    check_i64(value)
    zigzag = (value << 1) ^ (value >> 63)
    return encode_uvarint(zigzag & U64_MAX)


def encode_i64_comparable(value: int) -> bytes:
    """8-byte big-endian int64 with the sign bit flipped (sorts like the integer)."""
    check_i64(value)
    return ((value & U64_MAX) ^ _SIGN_BIT).to_bytes(8, "big")


def encode_u64_comparable(value: int) -> bytes:
    """8-byte big-endian uint64."""
    check_u64(value)
    return value.to_bytes(8, "big")


def encode_u64_desc(value: int) -> bytes:
    """8-byte big-endian of `!value`: the MVCC timestamp suffix (newer sorts first)."""
    check_u64(value)
    return (U64_MAX ^ value).to_bytes(8, "big")


def encode_f64_comparable(value: float) -> bytes:
    """8-byte comparable float: set the sign bit of non-negatives, invert negatives.

    -0.0 has its sign bit set and is inverted, as current TiDB does.
    """
    bits: int = struct.unpack(">Q", struct.pack(">d", value))[0]
    bits = bits ^ U64_MAX if bits & _SIGN_BIT else bits | _SIGN_BIT
    return bits.to_bytes(8, "big")


def encode_bytes_memcomparable(raw: bytes) -> bytes:
    """Ascending memcomparable bytes: 8-byte groups, each followed by a marker byte.

    A full group (more bytes follow) has marker 0xFF; the last group is zero-padded and
    its marker is `0xFF - pad`. There is always a final group.
    """
    full_groups = len(raw) // _GROUP
    out = bytearray()
    for index in range(full_groups):
        out += raw[index * _GROUP : (index + 1) * _GROUP]
        out.append(_MARKER)
    tail = raw[full_groups * _GROUP :]
    pad = _GROUP - len(tail)
    out += tail + _PAD[:pad]
    out.append(_MARKER - pad)
    return bytes(out)


def encode_bytes_memcomparable_desc(raw: bytes) -> bytes:
    """Descending memcomparable bytes: the ascending form with every byte inverted."""
    return bytes(b ^ 0xFF for b in encode_bytes_memcomparable(raw))


def encode_compact_bytes(raw: bytes) -> bytes:
    """Zigzag varint length followed by the raw bytes (datum value form of a string)."""
    return encode_varint(len(raw)) + raw

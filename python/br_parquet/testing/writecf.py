"""Write-CF values: the MVCC write record (`tidb-codec.md` §3).

`[type][uvarint start_ts]` then tagged fields in TiKV's order: short value `v`,
overlapped rollback `R`, gc fence `F`, last change `l`, txn source `S`.
"""

from __future__ import annotations

from enum import Enum

from .codec import check_u64, encode_uvarint

__all__ = [
    "SHORT_VALUE_MAX_LEN",
    "WriteType",
    "encode_write",
]

SHORT_VALUE_MAX_LEN = 255
_SHORT_VALUE_PREFIX = b"v"
_OVERLAPPED_ROLLBACK = b"R"
_GC_FENCE_PREFIX = b"F"
_LAST_CHANGE_PREFIX = b"l"
_TXN_SOURCE_PREFIX = b"S"


class WriteType(Enum):
    """Write record type byte."""

    PUT = b"P"
    DELETE = b"D"
    LOCK = b"L"
    ROLLBACK = b"R"


def encode_write(
    write_type: WriteType,
    start_ts: int,
    *,
    short_value: bytes | None = None,
    has_overlapped_rollback: bool = False,
    gc_fence: int | None = None,
    last_change: tuple[int, int] | None = None,
    txn_source: int | None = None,
) -> bytes:
    """Serialize a write record.

    `short_value` is the whole row value when it is at most 255 bytes (a Put without one
    points at the default CF). `last_change` is `(last_change_ts, versions_to_last_change)`.
    """
    out = bytearray(write_type.value)
    out += encode_uvarint(start_ts)
    if short_value is not None:
        if len(short_value) > SHORT_VALUE_MAX_LEN:
            raise ValueError(f"short value of {len(short_value)} bytes exceeds 255")
        out += _SHORT_VALUE_PREFIX + bytes([len(short_value)]) + short_value
    if has_overlapped_rollback:
        out += _OVERLAPPED_ROLLBACK
    if gc_fence is not None:
        out += _GC_FENCE_PREFIX + check_u64(gc_fence).to_bytes(8, "big")
    if last_change is not None:
        last_change_ts, versions = last_change
        out += _LAST_CHANGE_PREFIX + check_u64(last_change_ts).to_bytes(8, "big")
        out += encode_uvarint(versions)
    if txn_source is not None:
        out += _TXN_SOURCE_PREFIX + encode_uvarint(txn_source)
    return bytes(out)

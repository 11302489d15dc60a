"""Row values: format v1 (datum pairs) and format v2 (rowcodec), `tidb-codec.md` §5 and §6.

Both take already-encoded column payloads (see `column_codec`): v1 wants value datums,
v2 wants raw slot bytes. Neither decides which columns are stored; the caller does.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .codec import encode_i64_comparable, encode_varint

__all__ = [
    "ROW_V2_VERSION",
    "RowChecksum",
    "encode_compact_int",
    "encode_compact_uint",
    "encode_row_v1",
    "encode_row_v2",
    "encode_row_v2_with_checksum",
    "int_handle_encoded",
    "row_checksum_crc",
]

ROW_V2_VERSION = 128
_FLAG_LARGE = 0x01
_FLAG_CHECKSUM = 0x02
_CHECKSUM_EXTRA = 0x08
_SMALL_MAX_ID = 0xFF
_SMALL_MAX_OFFSET = 0xFFFF
_COLUMN_ID_FLAG = 8  # varint datum flag used for v1 column ids
_EMPTY_V1_ROW = b"\x00"


def encode_compact_int(value: int) -> bytes:
    """Signed little-endian in the smallest of 1, 2, 4 or 8 bytes (row v2 ints)."""
    for width in (1, 2, 4, 8):
        if -(1 << (width * 8 - 1)) <= value < (1 << (width * 8 - 1)):
            return value.to_bytes(width, "little", signed=True)
    raise ValueError(f"{value} does not fit in int64")


def encode_compact_uint(value: int) -> bytes:
    """Unsigned little-endian in the smallest of 1, 2, 4 or 8 bytes (row v2 uints)."""
    for width in (1, 2, 4, 8):
        if 0 <= value < (1 << (width * 8)):
            return value.to_bytes(width, "little")
    raise ValueError(f"{value} does not fit in uint64")


def encode_row_v1(columns: Iterable[tuple[int, bytes]]) -> bytes:
    """Row format v1: `(varint column id datum, value datum)` pairs in the given order.

    A row with no stored columns is the single byte `00`.
    """
    out = bytearray()
    for column_id, datum in columns:
        out.append(_COLUMN_ID_FLAG)
        out += encode_varint(column_id)
        out += datum
    return bytes(out) if out else _EMPTY_V1_ROW


@dataclass(frozen=True)
class RowChecksum:
    """The optional row v2 checksum trailer: header byte, u32 LE, optional extra u32 LE.

    `header` holds the version in bits 0 to 2; bit 3 (0x08) is set automatically when
    `extra` is given.
    """

    checksum: int
    header: int = 1
    extra: int | None = None


def row_checksum_crc(row_without_trailer: bytes, header: int, handle_encoded: bytes) -> int:
    """CRC32-IEEE over row bytes, header byte and the encoded handle (version 1, one TiDB
    commit's rule; decoders ignore the value)."""
    return zlib.crc32(row_without_trailer + bytes([header]) + handle_encoded)


def int_handle_encoded(handle: int) -> bytes:
    """`IntHandle.Encoded()`: the 8-byte comparable int64."""
    return encode_i64_comparable(handle)


def encode_row_v2(
    values: Mapping[int, bytes],
    null_ids: Iterable[int] = (),
    *,
    large: bool | None = None,
    checksum: RowChecksum | None = None,
) -> bytes:
    """Row format v2 from `{column id: slot bytes}` of not-null columns and NULL column ids.

    Ids are sorted ascending in each list. `large=None` picks the large layout (u32 ids and
    offsets) when an id exceeds 255 or the data exceeds 65535 bytes, as TiDB does.
    """
    not_null = sorted(values.items())
    nulls = sorted(set(null_ids))
    if set(nulls) & set(values):
        raise ValueError("a column id is listed both as NULL and with a value")
    all_ids = [column_id for column_id, _ in not_null] + nulls
    if any(column_id < 0 for column_id in all_ids):
        raise ValueError("row v2 column ids must be non-negative")
    data = bytearray()
    offsets: list[int] = []
    for _, slot in not_null:
        data += slot
        offsets.append(len(data))
    needs_large = any(column_id > _SMALL_MAX_ID for column_id in all_ids) or (
        len(data) > _SMALL_MAX_OFFSET
    )
    if large is None:
        large = needs_large
    elif not large and needs_large:
        raise ValueError("row needs the large layout (id > 255 or data > 65535 bytes)")
    id_width, offset_width = (4, 4) if large else (1, 2)
    flags = (_FLAG_LARGE if large else 0) | (_FLAG_CHECKSUM if checksum else 0)
    out = bytearray([ROW_V2_VERSION, flags])
    out += len(not_null).to_bytes(2, "little")
    out += len(nulls).to_bytes(2, "little")
    for column_id in all_ids:
        out += column_id.to_bytes(id_width, "little")
    for offset in offsets:
        out += offset.to_bytes(offset_width, "little")
    out += data
    if checksum is not None:
        header = checksum.header | (_CHECKSUM_EXTRA if checksum.extra is not None else 0)
        out.append(header)
        out += checksum.checksum.to_bytes(4, "little")
        if checksum.extra is not None:
            out += checksum.extra.to_bytes(4, "little")
    return bytes(out)


def encode_row_v2_with_checksum(
    values: Mapping[int, bytes],
    null_ids: Iterable[int],
    handle_encoded: bytes,
    *,
    large: bool | None = None,
) -> bytes:
    """Row v2 with a version-1 checksum trailer computed by `row_checksum_crc`."""
    placeholder = encode_row_v2(values, null_ids, large=large, checksum=RowChecksum(0))
    body = placeholder[:-5]
    crc = row_checksum_crc(body, 1, handle_encoded)
    return body + bytes([1]) + crc.to_bytes(4, "little")

"""Table rows → raw TiDB KVs (record keys and row values, optional index entries).

Decides what TiDB decides when it writes a row (`tidb-codec.md` §6.5, §11): the handle
(int PK, `_tidb_rowid` or the clustered PK's key datums) and which columns are stored
(`CanSkip`: the int PK handle column, clustered PK columns that need no restored data,
virtual generated columns, and NULLs of columns with no default are left out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .codec import U64_MAX, encode_i64_comparable
from .column_codec import key_datum, normalize, row_v1_datum, row_v2_slot
from .datum import datum_int
from .fieldtype import FieldType, MysqlType
from .keys import index_key, record_key, record_key_common
from .rowcodec import RowChecksum, encode_row_v1, encode_row_v2, row_checksum_crc
from .schema import ColumnInfo, IndexInfo, TableInfo

__all__ = [
    "ROWID_KEY",
    "Row",
    "RowFormat",
    "TableKv",
    "encode_index_entries",
    "encode_row",
    "need_restored_data",
    "row_handle",
]

Row = Mapping[str, object] | Sequence[object]
RowFormat = Literal[1, 2]
ROWID_KEY = "_tidb_rowid"
_WRITABLE_STATES = frozenset({2, 3, 5})  # WriteOnly, WriteReorganization, Public
_BIN_COLLATIONS = frozenset({"ascii_bin", "latin1_bin", "utf8_bin", "utf8mb4_bin", "binary"})
_UNIQUE_INDEX_VALUE_LEN = 8
_NON_UNIQUE_INDEX_VALUE = b"0"


@dataclass(frozen=True)
class TableKv:
    """One raw KV of a table: record or index entry, with the physical table id."""

    physical_id: int
    raw_key: bytes
    value: bytes
    handle: int | bytes


def need_restored_data(ft: FieldType, *, new_collation: bool = True) -> bool:
    """TiDB `NeedRestoredData`: the key holds a lossy sort key of this string column."""
    return (
        new_collation
        and ft.is_string
        and not ft.is_binary_string
        and (
            ft.collate not in _BIN_COLLATIONS or ft.tp in {MysqlType.VARCHAR, MysqlType.VAR_STRING}
        )
        and ft.collate != "utf8mb4_0900_bin"
    )


def _row_values(info: TableInfo, row: Row) -> dict[str, object]:
    """Row as `{lower-case column name: value}`; absent names are columns not stored."""
    if isinstance(row, Mapping):
        out = {str(name).lower(): value for name, value in row.items()}
        known = {c.name.lower() for c in info.columns} | {ROWID_KEY}
        unknown = set(out) - known
        if unknown:
            raise ValueError(f"table {info.name} has no column(s) {sorted(unknown)}")
        return out
    if len(row) != len(info.columns):
        raise ValueError(
            f"row of {len(row)} values for table {info.name} of {len(info.columns)} columns"
        )
    return {c.name.lower(): value for c, value in zip(info.columns, row, strict=True)}


def _prefix_truncate(ft: FieldType, value: object, length: int) -> object:
    """Prefix-index truncation: characters for text, bytes for binary strings."""
    if length < 0 or value is None:
        return value
    if isinstance(value, str) and not ft.is_binary_string:
        return value[:length]
    raw = normalize(ft, value)
    assert isinstance(raw, bytes)
    if ft.is_binary_string:
        return raw[:length]
    return raw.decode("utf-8")[:length].encode("utf-8")


def _index_datums(
    info: TableInfo, idx: IndexInfo, values: Mapping[str, object], *, new_collation: bool
) -> bytes:
    out = bytearray()
    for name, length in idx.column_names():
        col = info.column(name)
        value = _prefix_truncate(col.ft, values.get(col.name.lower()), length)
        out += key_datum(col.ft, value, new_collation=new_collation)
    return bytes(out)


def row_handle(
    info: TableInfo,
    values: Mapping[str, object],
    *,
    rowid: int | None = None,
    new_collation: bool = True,
) -> int | bytes:
    """The row's handle: int PK (unsigned reinterpreted as int64), the common handle bytes,
    or `_tidb_rowid` (from the row, else `rowid`)."""
    handle_col = info.handle_column
    if handle_col is not None:
        value = values.get(handle_col.name.lower())
        if value is None:
            raise ValueError(f"row of {info.name} has no value for PK {handle_col.name}")
        number = normalize(handle_col.ft, value)
        assert isinstance(number, int)
        return number - (U64_MAX + 1) if number > U64_MAX >> 1 else number
    if info.is_common_handle:
        primary = info.primary_index
        assert primary is not None
        return _index_datums(info, primary, values, new_collation=new_collation)
    explicit = values.get(ROWID_KEY)
    if explicit is not None:
        assert isinstance(explicit, int)
        return explicit
    if rowid is None:
        raise ValueError(f"row of {info.name} needs a {ROWID_KEY}")
    return rowid


def _stored_columns(
    info: TableInfo, values: Mapping[str, object], *, explicit_nulls: bool, new_collation: bool
) -> list[tuple[ColumnInfo, object]]:
    skip_pk: set[str] = set()
    handle_col = info.handle_column
    if handle_col is not None:
        skip_pk.add(handle_col.name.lower())
    if info.is_common_handle and info.primary_index is not None:
        for name, length in info.primary_index.column_names():
            col = info.column(name)
            if length == -1 and not need_restored_data(col.ft, new_collation=new_collation):
                skip_pk.add(col.name.lower())
    out = []
    for col in info.columns:
        key = col.name.lower()
        if key not in values or key in skip_pk or col.state not in _WRITABLE_STATES:
            continue
        if col.is_virtual_generated:
            continue
        value = values[key]
        if value is None:
            if col.ft.not_null:
                raise ValueError(f"NULL for NOT NULL column {info.name}.{col.name}")
            if not explicit_nulls and col.default is None and col.origin_default is None:
                continue
        out.append((col, value))
    return out


def _handle_encoded(handle: int | bytes) -> bytes:
    return encode_i64_comparable(handle) if isinstance(handle, int) else handle


def encode_row(
    info: TableInfo,
    row: Row,
    *,
    physical_id: int | None = None,
    rowid: int | None = None,
    row_format: RowFormat = 2,
    explicit_nulls: bool = False,
    row_checksum: bool = False,
    new_collation: bool = True,
) -> TableKv:
    """Encode one row as TiDB writes it: record key and row value (v1 or v2).

    `row` is a mapping by column name (names left out are not stored, so readers must fill
    them from `origin_default`; `_tidb_rowid` may be given) or a sequence in column order.
    `explicit_nulls` lists NULLs in the row even when TiDB would leave them out.
    `row_checksum` adds a v2 checksum trailer.
    """
    values = _row_values(info, row)
    handle = row_handle(info, values, rowid=rowid, new_collation=new_collation)
    pid = info.id if physical_id is None else physical_id
    raw_key = record_key(pid, handle) if isinstance(handle, int) else record_key_common(pid, handle)
    stored = _stored_columns(
        info, values, explicit_nulls=explicit_nulls, new_collation=new_collation
    )
    if row_format == 1:
        if row_checksum:
            raise ValueError("row checksums exist only in row format v2")
        value = encode_row_v1((col.id, row_v1_datum(col.ft, val)) for col, val in stored)
    else:
        slots = {col.id: row_v2_slot(col.ft, val) for col, val in stored if val is not None}
        nulls = [col.id for col, val in stored if val is None]
        value = encode_row_v2(slots, nulls)
        if row_checksum:
            body = encode_row_v2(slots, nulls, checksum=RowChecksum(0))[:-5]
            crc = row_checksum_crc(body, 1, _handle_encoded(handle))
            value = encode_row_v2(slots, nulls, checksum=RowChecksum(crc, header=1))
    return TableKv(pid, raw_key, value, handle)


def encode_index_entries(
    info: TableInfo,
    row: Row,
    handle: int | bytes,
    *,
    physical_id: int | None = None,
    new_collation: bool = True,
) -> list[TableKv]:
    """Index KVs of one row for every public index that is not the clustered PK.

    Keys are exact; values use TiDB's legacy layout (`b"0"` for non-unique entries, the
    8-byte big-endian handle, or the common handle, for unique ones), which row exporters
    skip anyway.
    """
    values = _row_values(info, row)
    pid = info.id if physical_id is None else physical_id
    out = []
    for idx in info.indexes:
        if idx.state != 5 or (idx.primary and info.is_common_handle):
            continue
        datums = _index_datums(info, idx, values, new_collation=new_collation)
        has_null = any(values.get(name.lower()) is None for name, _ in idx.column_names())
        distinct = idx.unique and not has_null
        if distinct:
            key = index_key(pid, idx.id, datums)
            value = (
                (handle & U64_MAX).to_bytes(_UNIQUE_INDEX_VALUE_LEN, "big")
                if isinstance(handle, int)
                else handle
            )
        else:
            suffix = datum_int(handle) if isinstance(handle, int) else handle
            key = index_key(pid, idx.id, datums + suffix)
            value = _NON_UNIQUE_INDEX_VALUE
        out.append(TableKv(pid, key, value, handle))
    return out

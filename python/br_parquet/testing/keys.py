"""TiDB raw keys (tablecodec) and the TiKV data keys stored in BR SSTs.

Raw keys: `t{i64cmp(table)}_r{handle}` records and `t{…}_i{i64cmp(index)}{datums}` index
entries (`tidb-codec.md` §2). SST user keys: `b"z" + memcomparable(raw) + BE64(~ts)` (§1).
"""

from __future__ import annotations

from .codec import encode_bytes_memcomparable, encode_i64_comparable, encode_u64_desc

__all__ = [
    "DATA_PREFIX",
    "INDEX_SEPARATOR",
    "RECORD_SEPARATOR",
    "TABLE_PREFIX",
    "index_key",
    "keyspace_key",
    "record_key",
    "record_key_common",
    "record_prefix",
    "record_range",
    "sst_key",
    "table_prefix",
]

TABLE_PREFIX = b"t"
RECORD_SEPARATOR = b"_r"
INDEX_SEPARATOR = b"_i"
DATA_PREFIX = b"z"
KEYSPACE_TXN_PREFIX = b"x"


def table_prefix(table_id: int) -> bytes:
    """`t` + i64cmp(table id)."""
    return TABLE_PREFIX + encode_i64_comparable(table_id)


def record_prefix(table_id: int) -> bytes:
    """`t{table}_r`: the prefix of every row key of a physical table."""
    return table_prefix(table_id) + RECORD_SEPARATOR


def record_key(table_id: int, handle: int) -> bytes:
    """Row key with an int handle (`_tidb_rowid` or an integer PK)."""
    return record_prefix(table_id) + encode_i64_comparable(handle)


def record_key_common(table_id: int, handle: bytes) -> bytes:
    """Row key with a common (clustered) handle: the concatenated key datums of the PK."""
    if len(handle) == 8:
        raise ValueError("an 8-byte common handle would read as an int handle")
    return record_prefix(table_id) + handle


def record_range(table_id: int) -> tuple[bytes, bytes]:
    """The raw key range BR asks for a table's rows: `[_r + i64cmp(MinInt64),
    _r + i64cmp(MaxInt64) + 0x00)`, as seen in real backupmeta files."""
    prefix = record_prefix(table_id)
    return prefix + b"\x00" * 8, prefix + b"\xff" * 8 + b"\x00"


def index_key(table_id: int, index_id: int, datums: bytes) -> bytes:
    """Index entry key: `t{table}_i{i64cmp(index)}` + key datums (plus handle if non-unique)."""
    return table_prefix(table_id) + INDEX_SEPARATOR + encode_i64_comparable(index_id) + datums


def keyspace_key(keyspace_id: int, raw_key: bytes) -> bytes:
    """API V2 raw key: `x` + 3-byte big-endian keyspace id + the TiDB key."""
    if not 0 <= keyspace_id < (1 << 24):
        raise ValueError(f"keyspace id {keyspace_id} outside 0..2^24-1")
    return KEYSPACE_TXN_PREFIX + keyspace_id.to_bytes(3, "big") + raw_key


def sst_key(raw_key: bytes, ts: int) -> bytes:
    """The user key TiKV writes into a BR SST: `z` + memcomparable(raw) + BE64(~ts).

    Write-CF keys carry the commit ts; default-CF keys carry the start ts.
    """
    return DATA_PREFIX + encode_bytes_memcomparable(raw_key) + encode_u64_desc(ts)

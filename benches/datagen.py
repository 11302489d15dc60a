"""A fast, cached generator of realistic BR backups of one 12-column table, `bench.t12`.

    python benches/datagen.py [--sst-gib 2 | --rows N] [--region-mib 96]
                              [--compression zstd|lz4] [--seed 1] [--jobs N]
                              [--cache-dir DIR] [--force]

prints the backup directory (reused when a complete one with the same parameters exists
under `~/.cache/br-parquet/bench-data/<params-hash>/`) and how fast it was generated.

The table (`id` is the int handle):

    id BIGINT PRIMARY KEY, c_int INT, c_ubigint BIGINT UNSIGNED, c_decimal DECIMAL(12,2),
    c_varchar32 VARCHAR(32), c_varchar255 VARCHAR(255), c_datetime DATETIME,
    c_timestamp TIMESTAMP, c_json JSON, c_enum ENUM(...), c_double DOUBLE, c_tinyint TINYINT

Every row's values are a pure function of its handle (`row_values`): a BLAKE2b digest of
the handle feeds ints, words from a small vocabulary, slices of a Zipf-distributed word
corpus (VARCHAR(255): NULL in 1/16 of the rows, long enough in 1/4 that the row value
exceeds 255 bytes and goes to the default CF, as TiKV decides), nearly monotonic
timestamps, a ~100-byte JSON object, a skewed ENUM, a sometimes NULL TINYINT. Rows are
encoded straight into row format v2 for this fixed schema (`encode_kv`), byte for byte
what the reference writer `br_parquet.testing` encodes (the test
`tests/python/test_bench_datagen.py` checks it), and written per TiKV-sized region (~96 MiB
of KV data: one write-CF SST plus a default-CF SST) by worker processes. File names,
`File` entries, the schema and the backupmeta come from the reference writer's code.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import shutil
import struct
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, cast

from br_parquet._native import crc64_xz, write_sst
from br_parquet.proto import brpb_pb2
from br_parquet.testing import backup as ref_backup
from br_parquet.testing.checksum import KvChecksum
from br_parquet.testing.keys import record_key, record_range
from br_parquet.testing.schema import TableInfo, table_info
from br_parquet.testing.sst import Compression
from br_parquet.testing.writecf import SHORT_VALUE_MAX_LEN, WriteType, encode_write

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "DATABASE",
    "DEFAULT_SEED",
    "QUALIFIED",
    "TABLE",
    "Generated",
    "Params",
    "bench_table_info",
    "cache_root",
    "encode_kv",
    "ensure_backup",
    "generate",
    "row_values",
]

DATAGEN_VERSION = 1  # bump when the data or layout changes: it keys the cache
DATABASE = "bench"
TABLE = "t12"
QUALIFIED = f"{DATABASE}.{TABLE}"
ENUM_ELEMS = ("new", "paid", "shipped", "delivered", "cancelled", "returned")
COLUMNS: list[tuple[str, str]] = [
    ("id", "bigint primary key"),
    ("c_int", "int"),
    ("c_ubigint", "bigint unsigned"),
    ("c_decimal", "decimal(12,2)"),
    ("c_varchar32", "varchar(32)"),
    ("c_varchar255", "varchar(255)"),
    ("c_datetime", "datetime"),
    ("c_timestamp", "timestamp"),
    ("c_json", "json"),
    ("c_enum", "enum(" + ",".join(f"'{e}'" for e in ENUM_ELEMS) + ")"),
    ("c_double", "double"),
    ("c_tinyint", "tinyint"),
]
COLUMN_NAMES = [name for name, _ in COLUMNS]
DEFAULT_SEED = 1
DEFAULT_REGION_MIB = 96
MIB = 1 << 20
GIB = 1 << 30
MARKER = "datagen.json"  # written last: its presence marks a complete backup

# What the reference writer uses (`br_parquet.testing.backup`).
BACKUP_TS = ref_backup.DEFAULT_BACKUP_TS
COMMIT_TS = BACKUP_TS - ref_backup._ONE_SECOND_TS
START_TS = COMMIT_TS - 10

# ---------------------------------------------------------------------------------------
# Row values: a pure function of (handle, seed).


def _split(words: str) -> list[str]:
    return words.split()


_WORDS = _split(
    "order customer account payment invoice shipment product item price total amount "
    "status review update change request return refund delivery address street city "
    "region country market store warehouse stock supplier partner contract service "
    "support ticket issue report summary detail note comment message email phone "
    "number code level group team member user admin owner manager agent batch job task "
    "event record entry value data table index key field column query result error "
    "warning info debug trace metric sample test check plan stage phase step cycle "
    "period week month year morning evening night day time date hour minute second the "
    "a an of to in on for with by from at as is was are be has had not but or and new "
    "old big small fast slow good bad high low first last next open closed pending "
    "active ready done late early quick final main extra red blue green black white "
    "gold silver north south east west central local global remote internal external"
)
_ADJECTIVES = _split(
    "able bold brave bright calm clever cool crisp eager fair fancy fine fresh glad "
    "grand happy honest jolly keen kind lively lucky merry neat nice noble proud quick "
    "quiet rapid rare rich royal safe sharp shiny silent simple sleek smart smooth "
    "snappy solid sonic spicy steady stellar sunny super swift tender tidy tiny tough "
    "true urban vast vivid warm wise witty young zesty agile amber azure"
)[:64]
_NOUNS = _split(
    "falcon tiger otter panda eagle whale shark raven fox wolf bear lynx heron koala "
    "moose bison camel llama zebra gecko cobra viper mantis beetle hornet spider crab "
    "lobster oyster squid salmon trout pike perch carp maple cedar birch aspen willow "
    "oak pine elm fern moss ivy lotus tulip daisy rose lily iris orchid violet comet "
    "nova pulsar quasar meteor nebula galaxy planet orbit rocket"
)[:64]
_CITIES = _split(
    "Amsterdam Athens Bangkok Barcelona Beijing Berlin Bogota Boston Cairo Chicago "
    "Delhi Dubai Dublin Hanoi Helsinki Istanbul Jakarta Lagos Lima Lisbon London Madrid "
    "Manila Mumbai Nairobi Oslo Paris Prague Seoul Shanghai Sydney Tokyo"
)
_TAGS = _split(
    "alpha beta gamma delta red green blue black white gold vip new returning mobile "
    "web api retail wholesale promo sale clearance gift express standard priority bulk "
    "eu us apac latam internal test"
)
# Skewed: most orders are delivered, few are returned.
_ENUM_TABLE = (1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 6)
_CORPUS_WORDS = 200_000
_CORPUS_SEED = 20231020

assert len(_ADJECTIVES) == 64 and len(_NOUNS) == 64
assert len(_CITIES) == 32 and len(_TAGS) == 32


def _build_corpus() -> tuple[bytes, list[int]]:
    """A Zipf-ish word stream and the offset of every word in it (plus the end + 1)."""
    rng = random.Random(_CORPUS_SEED)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(_WORDS))]
    order = _WORDS[:]
    rng.shuffle(order)
    words = rng.choices(order, weights, k=_CORPUS_WORDS)
    corpus = " ".join(words).encode("ascii")
    starts = [0, *itertools.accumulate(len(w) + 1 for w in words)]
    return corpus, starts


_CORPUS, _STARTS = _build_corpus()
_N_STARTS = len(_STARTS) - 40  # room for the longest slice (34 words)

_BASE_DATETIME = dt.datetime(2015, 1, 1)
_WRAP_DAYS = 8000  # 2015-01-01 + 8000 days < 2038: every value is a valid TIMESTAMP
_WRAP_SECONDS = _WRAP_DAYS * 86_400
_SECONDS_PER_HANDLE = 2
_TS_LAG_SECONDS = 7_776_000  # c_timestamp is up to 90 days after c_datetime


# One 64-byte BLAKE2b digest (keyed by the seed) per row, cut into fields.
_FIELDS = struct.Struct("<QQ8I8H")
_ADJ_B = [w.encode() for w in _ADJECTIVES]
_NOUN_B = [w.encode() for w in _NOUNS]
_PACK_HANDLE = struct.Struct("<q").pack


class _Parts(NamedTuple):
    """A row's values in the raw forms both `row_values` and `encode_kv` start from."""

    c_int: int
    c_ubigint: int
    cents: int
    varchar32: bytes
    varchar255: bytes | None
    datetime_s: int  # seconds after 2015-01-01 00:00:00
    timestamp_s: int
    json_city: int
    json_tag: int
    json_ok: bool
    json_id: int
    json_score: float
    enum_index: int
    double: float
    tinyint: int | None


def _hasher(seed: int) -> Any:
    """The keyed BLAKE2b state every row's digest starts from (copied, then fed the handle)."""
    key = hashlib.sha256(f"br-parquet-datagen:{seed}".encode()).digest()
    return hashlib.blake2b(key=key)


def _parts(handle: int, hasher: Any) -> _Parts:
    h = hasher.copy()
    h.update(_PACK_HANDLE(handle))
    (q0, q1, i0, i1, i2, i3, i4, i5, i6, i7, h0, h1, h2, _h3, _h4, _h5, _h6, _h7) = _FIELDS.unpack(
        h.digest()
    )
    cents = i6 % 10_000_000
    mode = i4 & 15
    if mode == 0:
        varchar255 = None
    else:
        # A quarter of the rows carry a long text: their value goes to the default CF.
        words = 12 + (i4 >> 4) % 23 if mode <= 4 else 1 + (i4 >> 4) % 5
        start = i3 % _N_STARTS
        varchar255 = _CORPUS[_STARTS[start] : _STARTS[start + words] - 1][:255]
    datetime_s = (handle * _SECONDS_PER_HANDLE + ((i4 >> 9) & 63)) % _WRAP_SECONDS
    return _Parts(
        (i0 & 0xFFFFFF) - 0x100000,
        q0 if i0 >> 30 == 0 else i1,
        -cents if i6 >> 28 == 0 else cents,
        b"%s_%s%d" % (_ADJ_B[i2 & 63], _NOUN_B[(i2 >> 6) & 63], (i2 >> 12) % 10_000),
        varchar255,
        datetime_s,
        (datetime_s + i5 % _TS_LAG_SECONDS) % _WRAP_SECONDS,
        (h1 >> 5) & 31,
        (h1 >> 10) & 31,
        bool((h1 >> 4) & 1),
        i7 % 1_000_000_000,
        (h2 % 10_000) / 100,
        _ENUM_TABLE[h1 & 15],
        ((q1 % 2_000_001) - 1_000_000) / 1000,
        None if (h0 >> 8) & 31 == 0 else (h0 & 0xFF) - 128,
    )


_HASHERS: dict[int, Any] = {}


def _seed_hasher(seed: int) -> Any:
    hasher = _HASHERS.get(seed)
    if hasher is None:
        hasher = _HASHERS[seed] = _hasher(seed)
    return hasher


def row_values(handle: int, seed: int = DEFAULT_SEED) -> tuple[Any, ...]:
    """The row with this handle, in `COLUMNS` order, as Python values the reference writer
    takes and the typed export reads back: int, int, int, `Decimal`, str, str | None,
    naive `datetime`, UTC `datetime`, dict (JSON), enum name, float, int | None."""
    p = _parts(handle, _seed_hasher(seed))
    return (
        handle,
        p.c_int,
        p.c_ubigint,
        Decimal(p.cents).scaleb(-2),
        p.varchar32.decode(),
        None if p.varchar255 is None else p.varchar255.decode(),
        _BASE_DATETIME + dt.timedelta(seconds=p.datetime_s),
        (_BASE_DATETIME + dt.timedelta(seconds=p.timestamp_s)).replace(tzinfo=dt.UTC),
        {
            "city": _CITIES[p.json_city],
            "id": p.json_id,
            "ok": p.json_ok,
            "score": p.json_score,
            "tag": _TAGS[p.json_tag],
        },
        ENUM_ELEMS[p.enum_index - 1],
        p.double,
        p.tinyint,
    )


# ---------------------------------------------------------------------------------------
# Row format v2 for this fixed schema (`br_parquet.testing.rowcodec`, `column_codec`).

_SIGN = 1 << 63
_M64 = (1 << 64) - 1
# Compact int widths by bit length (of v, or of ~v for negative v): 1, 2, 4 or 8 bytes.
_SIGNED_WIDTH = [1 if b <= 7 else 2 if b <= 15 else 4 if b <= 31 else 8 for b in range(65)]
_UNSIGNED_WIDTH = [1 if b <= 8 else 2 if b <= 16 else 4 if b <= 32 else 8 for b in range(65)]
_PACK_U64_LE = struct.Struct("<Q").pack
_PACK_U64_BE = struct.Struct(">Q").pack
_PACK_F64_BE = struct.Struct(">d").pack
_UNPACK_U64_BE = struct.Struct(">Q").unpack
_PACK_DECIMAL = struct.Struct(">BBBIB").pack  # precision, frac, lead digit, 9 digits, frac
_PACK_JSON_NUMBERS = struct.Struct("<qd").pack
_ENUM_SLOTS = [bytes([i]) for i in range(len(ENUM_ELEMS) + 1)]
_TINY_SLOTS = [(v & 0xFF).to_bytes(1, "little") for v in range(-128, 128)]
_LEN_BYTE = [bytes([n]) for n in range(256)]


def _packed_days() -> list[int]:
    """The date part of the packed u64 time (`mytime.encode_packed_time`) per day."""
    out = []
    for day in range(_WRAP_DAYS):
        d = _BASE_DATETIME.date() + dt.timedelta(days=day)
        out.append((((d.year * 13 + d.month) << 5) | d.day) << 41)
    return out


_DAY_PACKED = _packed_days()
_HMS_PACKED = [((s // 3600) << 12 | (s // 60 % 60) << 6 | s % 60) << 24 for s in range(86_400)]


def _json_prefixes() -> tuple[list[bytes], list[bytes]]:
    """Binary JSON of `{"city": s, "id": i, "ok": b, "score": f, "tag": t}` (keys sorted as
    TiDB sorts them) up to the id: per (city, tag, ok); the tag bodies."""
    keys = [b"city", b"id", b"ok", b"score", b"tag"]
    keys_start = 8 + len(keys) * (6 + 5)
    key_entries = bytearray()
    offset = keys_start
    for k in keys:
        key_entries += offset.to_bytes(4, "little") + len(k).to_bytes(2, "little")
        offset += len(k)
    data_start = offset
    key_bytes = b"".join(keys)
    tag_bodies = [bytes([len(t)]) + t.encode() for t in _TAGS]
    prefixes = []
    for city in _CITIES:
        city_body = bytes([len(city)]) + city.encode()
        for tag_body in tag_bodies:
            for ok in (False, True):
                id_at = data_start + len(city_body)
                entries = (
                    b"\x0c" + data_start.to_bytes(4, "little")
                    + b"\x09" + id_at.to_bytes(4, "little")
                    + b"\x04" + (b"\x01" if ok else b"\x02") + b"\x00\x00\x00"
                    + b"\x0b" + (id_at + 8).to_bytes(4, "little")
                    + b"\x0c" + (id_at + 16).to_bytes(4, "little")
                )  # fmt: skip
                size = id_at + 16 + len(tag_body)
                header = len(keys).to_bytes(4, "little") + size.to_bytes(4, "little")
                prefixes.append(
                    b"\x01" + header + bytes(key_entries) + entries + key_bytes + city_body
                )
    return prefixes, tag_bodies


_JSON_PREFIX, _JSON_TAG = _json_prefixes()

# Stored column ids (the handle column `id`, 1, is not stored): NULLs of columns without
# a default are left out of the row, so the header depends on which are NULL.
_V255_ID, _TINY_ID = 6, 12
_HEADERS: dict[tuple[bool, bool], tuple[bytes, struct.Struct]] = {}
for _has_v255 in (False, True):
    for _has_tiny in (False, True):
        _ids = [
            i for i in range(2, 13) if (i != _V255_ID or _has_v255) and (i != _TINY_ID or _has_tiny)
        ]
        _HEADERS[(_has_v255, _has_tiny)] = (
            bytes([128, 0]) + len(_ids).to_bytes(2, "little") + b"\x00\x00" + bytes(_ids),
            struct.Struct(f"<{len(_ids)}H"),
        )


def _row_value(p: _Parts) -> bytes:
    """Row format v2 bytes of a row (what `tablecodec.encode_row` writes)."""
    (
        c_int,
        ubig,
        cents,
        varchar32,
        varchar255,
        datetime_s,
        timestamp_s,
        city,
        tag,
        ok,
        json_id,
        score,
        enum_index,
        double,
        tinyint,
    ) = p
    if cents >= 0:
        whole, frac = divmod(cents, 100)
        lead, word = divmod(whole, 1_000_000_000)
        s_dec = _PACK_DECIMAL(12, 2, lead ^ 0x80, word, frac)
    else:
        whole, frac = divmod(-cents, 100)
        lead, word = divmod(whole, 1_000_000_000)
        s_dec = _PACK_DECIMAL(12, 2, (0xFF - lead) ^ 0x80, 0xFFFFFFFF - word, 0xFF - frac)
    (bits,) = _UNPACK_U64_BE(_PACK_F64_BE(double))
    slots = [
        c_int.to_bytes(
            _SIGNED_WIDTH[(c_int if c_int >= 0 else ~c_int).bit_length()], "little", signed=True
        ),
        ubig.to_bytes(_UNSIGNED_WIDTH[ubig.bit_length()], "little"),
        s_dec,
        varchar32,
    ]
    if varchar255 is not None:
        slots.append(varchar255)
    slots += (
        _PACK_U64_LE(_DAY_PACKED[datetime_s // 86_400] | _HMS_PACKED[datetime_s % 86_400]),
        _PACK_U64_LE(_DAY_PACKED[timestamp_s // 86_400] | _HMS_PACKED[timestamp_s % 86_400]),
        _JSON_PREFIX[(city * 32 + tag) * 2 + ok]
        + _PACK_JSON_NUMBERS(json_id, score)
        + _JSON_TAG[tag],
        _ENUM_SLOTS[enum_index],
        _PACK_U64_BE(bits ^ _M64 if bits & _SIGN else bits | _SIGN),
    )
    if tinyint is not None:
        slots.append(_TINY_SLOTS[tinyint + 128])
    header, offsets = _HEADERS[(varchar255 is not None, tinyint is not None)]
    return header + offsets.pack(*itertools.accumulate(map(len, slots))) + b"".join(slots)


def _record_prefix(table_id: int) -> bytes:
    return record_key(table_id, 0)[:-8]


def encode_kv(table_id: int, handle: int, seed: int = DEFAULT_SEED) -> tuple[bytes, bytes]:
    """The raw record key and row value of one row (as `tablecodec.encode_row` encodes
    `row_values(handle, seed)`)."""
    raw_key = _record_prefix(table_id) + ((handle & _M64) ^ _SIGN).to_bytes(8, "big")
    return raw_key, _row_value(_parts(handle, _seed_hasher(seed)))


# ---------------------------------------------------------------------------------------
# Regions and SSTs.


@dataclass(frozen=True)
class _RegionTask:
    root: Path
    table_id: int
    region_id: int
    ordinal: int
    first: int  # handles [first, last]
    last: int
    start_key: bytes
    end_key: bytes
    seed: int
    compression: str


@dataclass(frozen=True)
class _SstResult:
    name: str
    cf: str
    size: int
    sha256: bytes
    crc64xor: int
    total_kvs: int
    total_bytes: int


@dataclass(frozen=True)
class _RegionResult:
    ordinal: int
    region_id: int
    start_key: bytes
    end_key: bytes
    rows: int
    default_rows: int
    files: tuple[_SstResult, ...]  # default CF first, as the reference writer writes them


def _sst_key_parts(table_id: int) -> tuple[bytes, bytes, bytes]:
    """`z` + memcomparable(raw key) + ~ts of a 19-byte record key is prefix + 9 bytes
    derived from the handle + suffix: (prefix, write-CF suffix, default-CF suffix)."""
    raw = _record_prefix(table_id)  # 11 bytes: `t`, 8-byte table id, `_r`
    prefix = b"z" + raw[:8] + b"\xff" + raw[8:]
    pad = b"\x00" * 5 + bytes([0xFF - 5])
    return (
        prefix,
        pad + (COMMIT_TS ^ _M64).to_bytes(8, "big"),
        pad + (START_TS ^ _M64).to_bytes(8, "big"),
    )


def _region_entries(
    task: _RegionTask,
) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]], KvChecksum, KvChecksum]:
    hasher = _seed_hasher(task.seed)
    raw_prefix = _record_prefix(task.table_id)
    key_prefix, write_suffix, default_suffix = _sst_key_parts(task.table_id)
    put = encode_write(WriteType.PUT, START_TS)  # the value is in the default CF
    put_short = encode_write(WriteType.PUT, START_TS, short_value=b"")[:-1]  # + len + value
    write_entries: list[tuple[bytes, bytes]] = []
    default_entries: list[tuple[bytes, bytes]] = []
    append_write = write_entries.append
    append_default = default_entries.append
    len_byte = _LEN_BYTE
    row_value = _row_value
    parts = _parts
    crc = crc64_xz
    w_crc = w_kvs = w_bytes = 0
    d_crc = d_kvs = d_bytes = 0
    for handle in range(task.first, task.last + 1):
        u = (handle & _M64) ^ _SIGN
        raw_key = raw_prefix + u.to_bytes(8, "big")
        middle = (((u >> 24) << 32) | 0xFF000000 | (u & 0xFFFFFF)).to_bytes(9, "big")
        value = row_value(parts(handle, hasher))
        size = len(value)
        kv_crc = crc(raw_key + value)
        if size <= SHORT_VALUE_MAX_LEN:
            append_write((key_prefix + middle + write_suffix, put_short + len_byte[size] + value))
            w_crc ^= kv_crc
            w_kvs += 1
            w_bytes += 19 + size
        else:
            append_default((key_prefix + middle + default_suffix, value))
            append_write((key_prefix + middle + write_suffix, put))
            d_crc ^= kv_crc
            d_kvs += 1
            d_bytes += 19 + size
    return (
        write_entries,
        default_entries,
        KvChecksum(w_crc, w_kvs, w_bytes),
        KvChecksum(d_crc, d_kvs, d_bytes),
    )


def _file_name(region_id: int, start_key: bytes, cf: str) -> str:
    spec = ref_backup.BackupSpec([], backup_ts=BACKUP_TS)
    return ref_backup._file_name(spec, region_id, start_key, cf)


def _build_region(task: _RegionTask) -> _RegionResult:
    write_entries, default_entries, write_sum, default_sum = _region_entries(task)
    files = []
    for cf, entries, checksum in (
        ("default", default_entries, default_sum),
        ("write", write_entries, write_sum),
    ):
        if not entries:
            continue
        name = _file_name(task.region_id, task.start_key, cf)
        path = task.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        size = write_sst(
            path, entries, compression=task.compression, whole_key_filtering=cf == "default"
        )
        entries.clear()
        files.append(
            _SstResult(
                name=name,
                cf=cf,
                size=size,
                sha256=_sha256_file(path),
                crc64xor=checksum.crc64xor,
                total_kvs=checksum.total_kvs,
                total_bytes=checksum.total_bytes,
            )
        )
    return _RegionResult(
        ordinal=task.ordinal,
        region_id=task.region_id,
        start_key=task.start_key,
        end_key=task.end_key,
        rows=task.last - task.first + 1,
        default_rows=default_sum.total_kvs,
        files=tuple(files),
    )


def _sha256_file(path: Path) -> bytes:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * MIB):
            hasher.update(chunk)
    return hasher.digest()


# ---------------------------------------------------------------------------------------
# Parameters, generation and the cache.


@dataclass(frozen=True)
class Params:
    """What to generate: `rows` rows, or (when 0) enough rows for ~`sst_bytes` of SSTs."""

    sst_bytes: int = 0
    rows: int = 0
    region_kv_bytes: int = DEFAULT_REGION_MIB * MIB
    compression: str = "zstd"
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if (self.rows > 0) == (self.sst_bytes > 0):
            raise ValueError("give exactly one of rows and sst_bytes")
        if self.region_kv_bytes <= 0:
            raise ValueError("region_kv_bytes must be positive")
        if self.compression not in {"zstd", "lz4", "snappy"}:
            raise ValueError(f"unknown compression {self.compression!r}")

    @classmethod
    def for_gib(cls, sst_gib: float, **options: Any) -> Params:
        return cls(sst_bytes=round(sst_gib * GIB), **options)

    def digest(self) -> str:
        """The cache directory name of these parameters."""
        data = {"version": DATAGEN_VERSION, **dataclasses.asdict(self)}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Generated:
    """A complete generated backup (what its marker file says)."""

    root: Path
    params: Params
    table_id: int
    table_info_json: bytes
    rows: int
    default_rows: int
    sst_bytes: int
    regions: list[tuple[str, str | None, int]]  # (write SST, default SST or None, rows)
    seconds: float

    @property
    def region_paths(self) -> list[tuple[Path, Path | None]]:
        """Per region the write-CF SST and the default-CF SST (if any)."""
        return [
            (self.root / write, None if default is None else self.root / default)
            for write, default, _ in self.regions
        ]

    def to_json(self) -> str:
        return json.dumps(
            {
                "params": dataclasses.asdict(self.params),
                "version": DATAGEN_VERSION,
                "table_id": self.table_id,
                "table_info_json": self.table_info_json.decode(),
                "rows": self.rows,
                "default_rows": self.default_rows,
                "sst_bytes": self.sst_bytes,
                "regions": self.regions,
                "seconds": self.seconds,
            },
            indent=1,
        )

    @classmethod
    def load(cls, root: Path) -> Generated:
        data = json.loads((root / MARKER).read_text())
        return cls(
            root=root,
            params=Params(**data["params"]),
            table_id=data["table_id"],
            table_info_json=data["table_info_json"].encode(),
            rows=data["rows"],
            default_rows=data["default_rows"],
            sst_bytes=data["sst_bytes"],
            regions=[(w, d, n) for w, d, n in data["regions"]],
            seconds=data["seconds"],
        )


def bench_table_info() -> tuple[ref_backup.BackupSpec, Any, TableInfo]:
    """The reference writer's view of the backup: spec, databases with ids, `bench.t12`."""
    info = table_info(0, TABLE, COLUMNS)
    spec = ref_backup.BackupSpec(
        [ref_backup.DatabaseSpec(DATABASE, [ref_backup.TableSpec(info=info)])],
        backup_ts=BACKUP_TS,
    )
    databases = ref_backup._assign_ids(
        spec.databases, update_timestamp=START_TS - ref_backup._ONE_SECOND_TS
    )
    return spec, databases, databases[0][1][0].info


def _average_kv_bytes(table_id: int, seed: int, sample: int = 20_000) -> float:
    total = sum(
        len(k) + len(v) for k, v in (encode_kv(table_id, h, seed) for h in range(1, sample + 1))
    )
    return total / sample


def _plan(params: Params, table_id: int, scratch: Path) -> tuple[int, int]:
    """(rows, rows per region). With a size target, a sample region is written to learn
    the SST bytes per row."""
    rows_per_region = max(
        1, round(params.region_kv_bytes / _average_kv_bytes(table_id, params.seed))
    )
    if params.rows:
        return params.rows, rows_per_region
    sample_rows = min(rows_per_region, 50_000)
    start, end = record_range(table_id)
    task = _RegionTask(
        scratch, table_id, 1, 0, 1, sample_rows, start, end, params.seed, params.compression
    )
    result = _build_region(task)
    per_row = sum(f.size for f in result.files) / sample_rows
    for f in result.files:
        (scratch / f.name).unlink()
    return max(1, round(params.sst_bytes / per_row)), rows_per_region


def generate(
    root: Path, params: Params, *, jobs: int | None = None, progress: bool = False
) -> Generated:
    """Write the backup described by `params` into the empty or missing directory `root`."""
    began = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    spec, databases, info = bench_table_info()
    spec = dataclasses.replace(spec, compression=cast(Compression, params.compression))
    table_id = info.id
    rows, rows_per_region = _plan(params, table_id, root)
    regions = -(-rows // rows_per_region)
    start, end = record_range(table_id)
    firsts = [1 + i * rows_per_region for i in range(regions)]
    bounds = [start, *(record_key(table_id, h) for h in firsts[1:]), end]
    tasks = [
        _RegionTask(
            root=root,
            table_id=table_id,
            region_id=ref_backup._FIRST_REGION_ID + i,
            ordinal=i,
            first=firsts[i],
            last=min(rows, firsts[i] + rows_per_region - 1),
            start_key=bounds[i],
            end_key=bounds[i + 1],
            seed=params.seed,
            compression=params.compression,
        )
        for i in range(regions)
    ]
    jobs = max(1, min(jobs or os.cpu_count() or 1, regions))
    results = []
    for result in _run(tasks, jobs):
        results.append(result)
        if progress:
            done = sum(r.rows for r in results)
            print(
                f"  region {len(results)}/{regions}: {done:,}/{rows:,} rows, "
                f"{time.perf_counter() - began:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    # The metadata, as `write_backup` writes it.
    (root / "backup.lock").write_bytes(ref_backup.BACKUP_LOCK_TEXT)
    rng = random.Random(params.seed)
    files: list[brpb_pb2.File] = []
    table_sum = KvChecksum()
    for result in results:
        for f in result.files:
            files.append(
                brpb_pb2.File(
                    name=f.name,
                    sha256=f.sha256,
                    start_key=result.start_key,
                    end_key=result.end_key,
                    start_version=spec.start_version,
                    end_version=spec.backup_ts,
                    crc64xor=f.crc64xor,
                    total_kvs=f.total_kvs,
                    total_bytes=f.total_bytes,
                    cf=f.cf,
                    size=f.size,
                    cipher_iv=ref_backup._cipher_iv(rng),
                )
            )
            table_sum.merge(KvChecksum(f.crc64xor, f.total_kvs, f.total_bytes))
    schemas = ref_backup._schemas(databases, {QUALIFIED: info}, {QUALIFIED: table_sum}, spec)
    meta, _ = ref_backup._backupmeta(root, spec, files, schemas)
    (root / "backupmeta").write_bytes(meta.SerializeToString())

    generated = Generated(
        root=root,
        params=params,
        table_id=table_id,
        table_info_json=info.to_json(spec.json_style),
        rows=rows,
        default_rows=sum(r.default_rows for r in results),
        sst_bytes=sum(f.size for r in results for f in r.files),
        regions=[
            (
                next(f.name for f in r.files if f.cf == "write"),
                next((f.name for f in r.files if f.cf == "default"), None),
                r.rows,
            )
            for r in results
        ],
        seconds=time.perf_counter() - began,
    )
    (root / MARKER).write_text(generated.to_json())
    return generated


def _run(tasks: Sequence[_RegionTask], jobs: int) -> Iterable[_RegionResult]:
    if jobs == 1:
        yield from map(_build_region, tasks)
        return
    # `spawn`: the caller may hold threads (pyarrow) that `fork` would not survive. A
    # worker that dies fails the run (`BrokenProcessPool`) instead of being replaced.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = [pool.submit(_build_region, task) for task in tasks]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def cache_root() -> Path:
    """`$BR_PARQUET_BENCH_DATA`, else `~/.cache/br-parquet/bench-data`."""
    env = os.environ.get("BR_PARQUET_BENCH_DATA")
    return Path(env) if env else Path.home() / ".cache" / "br-parquet" / "bench-data"


def _remove_abandoned(root: Path) -> None:
    """Remove the scratch directories of generators of `root` that no longer run."""
    for scratch in root.parent.glob(f"{root.name}.tmp-*"):
        pid = scratch.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_backup(
    params: Params,
    *,
    cache_dir: Path | None = None,
    jobs: int | None = None,
    force: bool = False,
    progress: bool = False,
) -> Generated:
    """The cached backup of `params`, generated first unless a complete one exists."""
    root = (cache_dir or cache_root()) / params.digest()
    if not force and (root / MARKER).is_file():
        return Generated.load(root)
    shutil.rmtree(root, ignore_errors=True)
    _remove_abandoned(root)
    scratch = root.with_name(f"{root.name}.tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    generate(scratch, params, jobs=jobs, progress=progress)
    try:
        scratch.rename(root)
    except OSError:  # another process finished the same backup first
        shutil.rmtree(scratch, ignore_errors=True)
    return Generated.load(root)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--sst-gib", type=float, default=None, help="SST bytes (default 2 GiB)")
    size.add_argument("--rows", type=int, default=None, help="number of rows instead")
    parser.add_argument("--region-mib", type=float, default=DEFAULT_REGION_MIB)
    parser.add_argument("--compression", choices=["zstd", "lz4"], default="zstd")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"default {cache_root()}")
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = parser.parse_args(argv)
    options: dict[str, Any] = {
        "region_kv_bytes": round(args.region_mib * MIB),
        "compression": args.compression,
        "seed": args.seed,
    }
    if args.rows:
        params = Params(rows=args.rows, **options)
    else:
        params = Params.for_gib(args.sst_gib if args.sst_gib is not None else 2.0, **options)
    began = time.perf_counter()
    gen = ensure_backup(
        params, cache_dir=args.cache_dir, jobs=args.jobs, force=args.force, progress=True
    )
    cached = time.perf_counter() - began < gen.seconds
    print(gen.root)
    print(
        f"{gen.sst_bytes / GIB:.2f} GiB ({gen.sst_bytes / MIB:,.1f} MiB) of SST in "
        f"{len(gen.regions)} regions, {gen.rows:,} rows "
        f"({gen.default_rows / gen.rows:.0%} with the value in the default CF)"
    )
    print(
        f"{'cached; generated' if cached else 'generated'} in {gen.seconds:.1f} s: "
        f"{gen.sst_bytes / GIB / (gen.seconds / 60):.2f} GiB/min, "
        f"{gen.rows / gen.seconds:,.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`write_backup` writes a BR backup directory whose metadata, names and checksums hold up.

Every check recomputes from what is on disk: the SSTs are read back through
`br_parquet._native.SstReader`, keys and write records are decoded here, and the File
and Schema checksums are recomputed with both the pure-Python and the native CRC-64.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from br_parquet.proto import brpb_pb2
from br_parquet.testing import (
    BACKUP_LOCK_TEXT,
    BackupInfo,
    BackupSpec,
    DatabaseSpec,
    KvChecksum,
    PartitionDef,
    PartitionInfo,
    RawEntry,
    crc64_xz,
    index,
    table,
    write_backup,
)
from br_parquet.testing.datum import datum_bytes, datum_int
from br_parquet.testing.keys import record_key, record_range

native = pytest.importorskip("br_parquet._native")

U64 = (1 << 64) - 1
STORE_DIR_NAME = re.compile(r"^1/(\d+)_(\d+)_([0-9a-f]{64})_(\d+)_(write|default)\.sst$")
FLAT_NAME = re.compile(r"^1_(\d+)_(\d+)_([0-9a-f]{64})_(\d+)_(write|default)\.sst$")
LEGACY_NAME = re.compile(r"^1_(\d+)_(\d+)_([0-9a-f]{64})_(write|default)\.sst$")


# --- decoding what was written -----------------------------------------------------------


def decode_memcomparable(data: bytes) -> tuple[bytes, int]:
    out = bytearray()
    pos = 0
    while True:
        group, pad = data[pos : pos + 8], 0xFF - data[pos + 8]
        pos += 9
        if pad == 0:
            out += group
            continue
        return bytes(out + group[: 8 - pad]), pos


def split_key(key: bytes) -> tuple[bytes, int]:
    assert key[:1] == b"z"
    raw, end = decode_memcomparable(key[1:-8])
    assert end == len(key) - 9
    return raw, U64 ^ int.from_bytes(key[-8:], "big")


def decode_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def parse_write(value: bytes) -> tuple[bytes, int, bytes | None]:
    """(type byte, start_ts, short value or None); the writer adds no other tags."""
    start_ts, pos = decode_uvarint(value, 1)
    if pos == len(value):
        return value[:1], start_ts, None
    assert value[pos : pos + 1] == b"v" and len(value) == pos + 2 + value[pos + 1]
    return value[:1], start_ts, value[pos + 2 :]


def sst_entries(path: Path) -> list[tuple[bytes, bytes]]:
    entries: list[tuple[bytes, bytes]] = native.SstReader(str(path)).entries()
    return entries


def read_meta(root: Path) -> tuple[brpb_pb2.BackupMeta, list[brpb_pb2.File], list[Any]]:
    """backupmeta plus its data files and schemas, from inline lists and v2 indexes."""
    meta = brpb_pb2.BackupMeta()
    meta.ParseFromString((root / "backupmeta").read_bytes())
    files = list(meta.files)
    schemas = list(meta.schemas)
    for index_file, kind in ((meta.file_index, "data_files"), (meta.schema_index, "schemas")):
        for pointer in index_file.meta_files:
            body = (root / pointer.name).read_bytes()
            assert hashlib.sha256(body).digest() == pointer.sha256
            assert len(body) == pointer.size
            assert not pointer.cipher_iv and not pointer.start_key and not pointer.crc64xor
            child = brpb_pb2.MetaFile()
            child.ParseFromString(body)
            assert not child.meta_files
            (files if kind == "data_files" else schemas).extend(getattr(child, kind))
    return meta, files, schemas


def recompute(root: Path, files: list[brpb_pb2.File]) -> dict[str, KvChecksum]:
    """Per-file checksum from SST contents: a KV counts where its value lives."""
    by_range: dict[tuple[bytes, bytes], dict[str, brpb_pb2.File]] = {}
    for f in files:
        by_range.setdefault((f.start_key, f.end_key), {})[f.cf] = f
    out: dict[str, KvChecksum] = {}
    for pair in by_range.values():
        write = pair["write"]
        defaults = {}
        if "default" in pair:
            for key, value in sst_entries(root / pair["default"].name):
                defaults[split_key(key)] = value
            out[pair["default"].name] = KvChecksum()
        out[write.name] = KvChecksum()
        for key, value in sst_entries(root / write.name):
            raw, commit_ts = split_key(key)
            assert write.start_key <= raw and (not write.end_key or raw < write.end_key)
            write_type, start_ts, short = parse_write(value)
            assert start_ts < commit_ts <= write.end_version
            if write_type == b"P" and short is None:
                long_value = defaults.pop((raw, start_ts))
                assert len(long_value) > 255
                out[pair["default"].name].update(raw, long_value)
            else:
                out[write.name].update(raw, short or b"")
        assert not defaults, "default-CF entries without a write record"
    return out


def rows_of(root: Path, files: list[brpb_pb2.File]) -> dict[bytes, bytes]:
    """`{raw key: row value}` of every Put in the backup."""
    out: dict[bytes, bytes] = {}
    defaults = {
        split_key(k): v for f in files if f.cf == "default" for k, v in sst_entries(root / f.name)
    }
    for f in files:
        if f.cf != "write":
            continue
        for key, value in sst_entries(root / f.name):
            raw, _ = split_key(key)
            write_type, start_ts, short = parse_write(value)
            if write_type == b"P":
                out[raw] = short if short is not None else defaults[(raw, start_ts)]
    return out


def check_backup(info: BackupInfo) -> tuple[brpb_pb2.BackupMeta, list[brpb_pb2.File], list[Any]]:
    """Structural checks every backup must pass; returns what `read_meta` found."""
    root = info.root
    assert (root / "backup.lock").read_bytes() == BACKUP_LOCK_TEXT
    meta, files, schemas = read_meta(root)
    assert meta == info.backupmeta
    assert meta.ddls == b"[]"
    assert meta.cluster_id and meta.end_version and meta.br_version.startswith("BR\n")
    assert [f.name for f in files] == [d.file.name for d in info.data_files]
    for f in files:
        stored = (root / f.name).read_bytes()
        assert hashlib.sha256(stored).digest() == f.sha256
        assert len(stored) == f.size
        assert len(f.cipher_iv) == 16
        assert f.end_version == meta.end_version and f.start_version == meta.start_version
        name = Path(f.name).name
        assert f.name.endswith(f"_{f.cf}.sst")
        assert hashlib.sha256(f.start_key).hexdigest() in name
        assert f.start_key < f.end_key
    recomputed = recompute(root, files)
    for f in files:
        got = recomputed[f.name]
        assert (f.crc64xor, f.total_kvs, f.total_bytes) == (
            got.crc64xor,
            got.total_kvs,
            got.total_bytes,
        ), f.name
    return meta, files, schemas


# --- tests ---------------------------------------------------------------------------------


def smoke_spec(**options: Any) -> BackupSpec:
    """The demo's `parquet_smoke` backup: group_a and group_b in one region SST."""
    columns = [("id", "int primary key"), ("v", "int")]
    return BackupSpec(
        [
            DatabaseSpec(
                "parquet_smoke",
                [
                    table("group_a", columns, [(1, 10), (2, 20)]),
                    table("group_b", columns, [(1, 100), (2, 200)]),
                ],
            )
        ],
        shared_regions=[["parquet_smoke.group_a", "parquet_smoke.group_b"]],
        **options,
    )


def test_smoke_backup_puts_both_tables_in_one_sst(tmp_path: Path) -> None:
    info = write_backup(tmp_path, smoke_spec(seed=7))
    meta, files, schemas = check_backup(info)
    assert meta.version == 1 and not meta.files and not meta.schemas
    assert [p.name for p in info.meta_files] == [
        "backupmeta.datafile.000000001",
        "backupmeta.schema.000000002",
    ]
    (data_file,) = files
    assert data_file.cf == "write" and data_file.total_kvs == 4
    assert STORE_DIR_NAME.match(data_file.name)
    assert (tmp_path / data_file.name).parent.name == "1"
    group_a, group_b = (info.tables[f"parquet_smoke.{n}"] for n in ("group_a", "group_b"))
    # Ids nobody gave: databases count from 1, tables (and partitions) from 100.
    assert (group_a.id, group_b.id) == (100, 101)
    assert data_file.start_key == record_range(group_a.id)[0]
    assert data_file.end_key == record_range(group_b.id)[1]
    assert [m.physical_id for m in data_file.table_metas] == [group_a.id, group_b.id]
    assert sum(m.total_kvs for m in data_file.table_metas) == data_file.total_kvs
    metas_xor = data_file.table_metas[0].crc64xor ^ data_file.table_metas[1].crc64xor
    assert metas_xor == data_file.crc64xor
    rows = rows_of(tmp_path, files)
    assert sorted(rows) == sorted([record_key(t.id, h) for t in (group_a, group_b) for h in (1, 2)])
    # pk_is_handle: the INT PK is the handle and is not stored; `v` is column 2.
    assert rows[record_key(group_a.id, 2)] == bytes.fromhex("800001000000020100") + bytes([20])
    assert rows[record_key(group_b.id, 2)] == bytes.fromhex("800001000000020200c800")
    assert {s.table for s in schemas} == {group_a.to_json(), group_b.to_json()}
    for schema in schemas:
        table_id = int(re.search(rb'"id":(\d+),"name"', schema.table).group(1))  # type: ignore[union-attr]
        (meta_entry,) = [m for m in data_file.table_metas if m.physical_id == table_id]
        assert (schema.crc64xor, schema.total_kvs, schema.total_bytes) == (
            meta_entry.crc64xor,
            meta_entry.total_kvs,
            meta_entry.total_bytes,
        )
        assert schema.db.startswith(b'{"id":1,"db_name":{"O":"parquet_smoke","L":"parquet_smoke"}')


def test_meta_v1_is_inline(tmp_path: Path) -> None:
    info = write_backup(tmp_path, smoke_spec(meta_version=1))
    meta, _, _ = check_backup(info)
    assert meta.version == 0 and len(meta.files) == 1 and len(meta.schemas) == 2
    assert not meta.HasField("file_index") and not meta.HasField("schema_index")
    assert not list(tmp_path.glob("backupmeta.*"))


@pytest.mark.parametrize(
    ("layout", "pattern"),
    [("store_dir", STORE_DIR_NAME), ("flat", FLAT_NAME), ("legacy", LEGACY_NAME)],
)
def test_file_name_layouts(tmp_path: Path, layout: Any, pattern: re.Pattern[str]) -> None:
    info = write_backup(tmp_path, smoke_spec(layout=layout))
    _, files, _ = check_backup(info)
    for f in files:
        match = pattern.match(f.name)
        assert match, f.name
        assert match.group(3) == hashlib.sha256(f.start_key).hexdigest()
        if layout != "legacy":
            assert int(match.group(4)) == info.backupmeta.end_version >> 18


def test_real_file_name_is_reproduced(tmp_path: Path) -> None:
    """BR 5.0's `1_2_29_<sha256(start key)>_1617351201040_write.sst` for table 54."""
    start, end = record_range(54)
    assert start.hex() == "7480000000000000365f720000000000000000"
    assert end.hex() == "7480000000000000365f72ffffffffffffffff00"
    expected = "6e97c3b17c657c4413724f614a619f5b665b990187b159e7d2b92552076144b6"
    assert hashlib.sha256(start).hexdigest() == expected
    spec = BackupSpec(
        [DatabaseSpec("test", [table("test", [("pk", "int primary key")], [(1,)], table_id=54)])],
        layout="flat",
        backup_ts=1617351201040 << 18,
    )
    info = write_backup(tmp_path, spec)
    (data_file,) = info.data_files
    assert data_file.file.name == f"1_2_5_{expected}_1617351201040_write.sst"


@pytest.mark.parametrize(
    ("compression", "property_value"),
    [
        ("zstd", b"ZSTD"),
        ("lz4", b"LZ4"),
        ("snappy", b"Snappy"),
    ],
)
def test_compressions(tmp_path: Path, compression: Any, property_value: bytes) -> None:
    info = write_backup(tmp_path, smoke_spec(compression=compression))
    _, files, _ = check_backup(info)
    for f in files:
        props = native.SstReader(str(tmp_path / f.name)).properties()
        assert props["rocksdb.compression"] == property_value
        assert props["rocksdb.format.version"] == b"2"


def test_long_values_go_to_default_cf(tmp_path: Path) -> None:
    rows = [(1, "x" * 300), (2, "short"), (3, "y" * 255)]
    spec = BackupSpec(
        [DatabaseSpec("db", [table("t", [("id", "bigint primary key"), ("s", "text")], rows)])],
        seed=1,
    )
    info = write_backup(tmp_path, spec)
    _, files, schemas = check_backup(info)
    default, write = files
    assert (default.cf, write.cf) == ("default", "write")
    assert (default.start_key, default.end_key) == (write.start_key, write.end_key)
    assert default.total_kvs == 2 and write.total_kvs == 1
    default_entries = sst_entries(tmp_path / default.name)
    write_entries = sst_entries(tmp_path / write.name)
    assert len(default_entries) == 2 and len(write_entries) == 3
    commit_ts = {split_key(k)[0]: split_key(k)[1] for k, _ in write_entries}
    for key, value in default_entries:
        raw, start_ts = split_key(key)
        assert len(value) > 255 and start_ts < commit_ts[raw]
        (record,) = [v for k, v in write_entries if split_key(k)[0] == raw]
        assert parse_write(record) == (b"P", start_ts, None)
    # The table checksum covers every row wherever its value lives.
    (schema,) = schemas
    total = KvChecksum()
    for f in files:
        total.merge(KvChecksum(f.crc64xor, f.total_kvs, f.total_bytes))
    assert (schema.crc64xor, schema.total_kvs, schema.total_bytes) == (
        total.crc64xor,
        total.total_kvs,
        total.total_bytes,
    )


def test_rows_split_over_regions(tmp_path: Path) -> None:
    rows = [(h, h * 10) for h in range(1, 11)]
    spec = BackupSpec(
        [
            DatabaseSpec(
                "db", [table("t", [("id", "int primary key"), ("v", "int")], rows, split_at=[4, 8])]
            )
        ]
    )
    info = write_backup(tmp_path, spec)
    _, files, _ = check_backup(info)
    t = info.tables["db.t"]
    start, end = record_range(t.id)
    assert [(f.start_key, f.end_key) for f in files] == [
        (start, record_key(t.id, 4)),
        (record_key(t.id, 4), record_key(t.id, 8)),
        (record_key(t.id, 8), end),
    ]
    assert [f.total_kvs for f in files] == [3, 4, 3]
    regions = {STORE_DIR_NAME.match(f.name).group(1) for f in files}  # type: ignore[union-attr]
    assert len(regions) == 3
    assert len(rows_of(tmp_path, files)) == 10


def test_index_entries_get_their_own_ranges(tmp_path: Path) -> None:
    spec = BackupSpec(
        [
            DatabaseSpec(
                "db",
                [
                    table(
                        "t",
                        [("id", "int primary key"), ("name", "varchar(20)"), ("n", "int")],
                        [(1, "a", 5), (2, "b", 5)],
                        indexes=[index("k_name", "name", unique=True), index("k_n", "n")],
                        index_entries=True,
                    )
                ],
            )
        ]
    )
    info = write_backup(tmp_path, spec)
    _, files, schemas = check_backup(info)
    t = info.tables["db.t"]
    kinds = [f.start_key[9:11] for f in files]
    assert kinds == [b"_i", b"_i", b"_r"]
    assert [f.total_kvs for f in files] == [2, 2, 2]
    (schema,) = schemas
    assert schema.total_kvs == 6
    keys = rows_of(tmp_path, files)
    assert record_key(t.id, 1) in keys
    assert sum(1 for k in keys if k[9:11] == b"_i") == 4


def test_row_format_v1_and_explicit_nulls(tmp_path: Path) -> None:
    spec = BackupSpec(
        [
            DatabaseSpec(
                "db",
                [
                    table(
                        "v1",
                        [("id", "int primary key"), ("s", "varchar(5)"), ("n", "int")],
                        [{"id": 1, "s": "abc", "n": None}, {"id": 2}],
                        row_format=1,
                        explicit_nulls=True,
                    )
                ],
            )
        ]
    )
    info = write_backup(tmp_path, spec)
    _, files, _ = check_backup(info)
    t = info.tables["db.v1"]
    rows = rows_of(tmp_path, files)
    # Row v1: (2, "abc") and an explicit (3, NULL); the int PK handle is not stored.
    assert rows[record_key(t.id, 1)] == bytes.fromhex("08040206616263080600")
    assert rows[record_key(t.id, 2)] == b"\x00"


def test_incremental_backup_with_deletes(tmp_path: Path) -> None:
    spec = BackupSpec(
        [
            DatabaseSpec(
                "db",
                [
                    table(
                        "t",
                        [("id", "int primary key"), ("v", "int")],
                        [(1, 1)],
                        deleted=[7],
                    )
                ],
            )
        ],
        start_version=440000000000000000,
    )
    info = write_backup(tmp_path, spec)
    meta, files, schemas = check_backup(info)
    assert meta.start_version == 440000000000000000
    (write,) = files
    records = [parse_write(v) for _, v in sst_entries(tmp_path / write.name)]
    assert sorted(r[0] for r in records) == [b"D", b"P"]
    assert write.total_kvs == 2
    (schema,) = schemas
    assert (schema.crc64xor, schema.total_kvs) == (0, 0)


def test_full_backup_rejects_deletes(tmp_path: Path) -> None:
    spec = BackupSpec(
        [DatabaseSpec("db", [table("t", [("id", "int primary key")], [], deleted=[1])])]
    )
    with pytest.raises(ValueError, match="Delete"):
        write_backup(tmp_path, spec)


def test_partitioned_table_uses_partition_ids(tmp_path: Path) -> None:
    partition = PartitionInfo("hash", "`id`", [PartitionDef("p0"), PartitionDef("p1")])
    spec = BackupSpec(
        [
            DatabaseSpec(
                "db",
                [
                    table(
                        "t",
                        [("id", "int primary key"), ("v", "int")],
                        partition=partition,
                        partition_rows={"p0": [(2, 20)], "p1": [(1, 10), (3, 30)]},
                    )
                ],
            )
        ]
    )
    info = write_backup(tmp_path, spec)
    _, files, schemas = check_backup(info)
    t = info.tables["db.t"]
    p0, p1 = t.physical_ids
    assert t.id not in (p0, p1)
    assert [f.start_key for f in files] == [record_range(p0)[0], record_range(p1)[0]]
    assert set(rows_of(tmp_path, files)) == {
        record_key(p0, 2),
        record_key(p1, 1),
        record_key(p1, 3),
    }
    (schema,) = schemas
    assert schema.total_kvs == 3
    assert b'"partition":{"type":2,"expr":"`id`"' in schema.table


def test_empty_database_and_empty_table(tmp_path: Path) -> None:
    spec = BackupSpec(
        [DatabaseSpec("empty"), DatabaseSpec("db", [table("t", [("id", "int primary key")])])]
    )
    info = write_backup(tmp_path, spec)
    meta, files, schemas = check_backup(info)
    assert files == [] and not meta.HasField("file_index")
    assert [p.name for p in info.meta_files] == ["backupmeta.schema.000000001"]
    assert [bool(s.table) for s in schemas] == [False, True]


def test_raw_entries_and_clustered_table(tmp_path: Path) -> None:
    spec = BackupSpec(
        [
            DatabaseSpec(
                "db",
                [
                    table(
                        "c",
                        [("k", "varchar(10)"), ("n", "int"), ("v", "double")],
                        [("a", 1, 1.5), ("b", 2, None)],
                        primary_key=["k", "n"],
                        clustered=True,
                        table_id=200,
                        raw_entries=[RawEntry(record_key(200, 5)[:11] + b"\x03raw", b"\x00")],
                    )
                ],
            )
        ]
    )
    info = write_backup(tmp_path, spec)
    _, files, _ = check_backup(info)
    rows = rows_of(tmp_path, files)
    assert len(rows) == 3 and rows[record_key(200, 5)[:11] + b"\x03raw"] == b"\x00"
    # VARCHAR utf8mb4_bin PK columns need restored data: `k` is stored, `n` is not.
    first = rows[record_key(200, 5)[:11] + datum_bytes(b"a") + datum_int(1)]
    assert first[6:8] == bytes([1, 3])  # column ids 1 (k) and 3 (v)


def test_same_seed_same_metadata(tmp_path: Path) -> None:
    """Everything but the SST bytes is reproducible (RocksDB stamps a session id)."""
    metas = []
    for name in ("a", "b"):
        meta = write_backup(tmp_path / name, smoke_spec(seed=3, meta_version=1)).backupmeta
        for f in meta.files:
            f.ClearField("sha256")
        metas.append(meta)
    assert metas[0] == metas[1]


@given(st.binary(max_size=200))
def test_python_crc64_matches_native(data: bytes) -> None:
    assert crc64_xz(data) == native.crc64_xz(data)


def all_files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def test_nothing_but_backup_files_written(tmp_path: Path) -> None:
    info = write_backup(tmp_path, smoke_spec())
    expected = {"backup.lock", "backupmeta", *(p.name for p in info.meta_files)}
    expected |= {d.file.name for d in info.data_files}
    assert {p.relative_to(tmp_path).as_posix() for p in all_files(tmp_path)} == expected


REAL_V2 = (
    Path(__file__).resolve().parents[2].parent / "shared/fixtures/real/tidb-br-show-testdata/v2"
)


def test_lock_file_and_meta_shape_match_a_real_v2_backup(tmp_path: Path) -> None:
    """A schema-only backup has the same backupmeta fields as BR's real v2 one."""
    if not REAL_V2.exists():
        pytest.skip(f"{REAL_V2} not found")
    assert (REAL_V2 / "backup.lock").read_bytes() == BACKUP_LOCK_TEXT
    real = brpb_pb2.BackupMeta()
    real.ParseFromString((REAL_V2 / "backupmeta").read_bytes())
    spec = BackupSpec([DatabaseSpec("test", [table("t", [("key", "int primary key")])])])
    mine = write_backup(tmp_path, spec).backupmeta
    assert [f.name for f, _ in mine.ListFields()] == [f.name for f, _ in real.ListFields()]
    assert [m.name for m in mine.schema_index.meta_files] == [
        m.name for m in real.schema_index.meta_files
    ]

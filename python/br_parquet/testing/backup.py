"""`write_backup`: a complete BR backup directory from a declarative description.

Layout and metadata follow `docs/formats/br-metadata.md`: per region a write-CF SST (and a
default-CF SST when some row value is longer than 255 bytes), `backupmeta` v1 (inline
lists) or v2 (child `MetaFile`s), `backup.lock`, per-file and per-table checksums.

    from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

    info = write_backup(root, BackupSpec([
        DatabaseSpec("shop", [
            table("items", [("id", "int primary key"), ("name", "varchar(20)")],
                  rows=[(1, "pen"), (2, "ink")]),
        ]),
    ]))
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from br_parquet.proto import brpb_pb2

from .checksum import KvChecksum, kv_crc64
from .keys import (
    INDEX_SEPARATOR,
    index_key,
    record_key,
    record_key_common,
    record_prefix,
    record_range,
    sst_key,
    table_prefix,
)
from .schema import (
    ColumnInfo,
    DBInfo,
    IndexInfo,
    JsonStyle,
    PartitionInfo,
    TableInfo,
    table_info,
)
from .sst import Compression, write_sst
from .tablecodec import Row, RowFormat, encode_index_entries, encode_row
from .writecf import SHORT_VALUE_MAX_LEN, WriteType, encode_write

__all__ = [
    "BACKUP_LOCK_TEXT",
    "BackupInfo",
    "BackupSpec",
    "DataFile",
    "DatabaseSpec",
    "Layout",
    "RawEntry",
    "TableSpec",
    "table",
    "write_backup",
]

BACKUP_LOCK_TEXT = (
    b"DO NOT DELETE\nThis file exists to remind other backup jobs won't use this path"
)
# A TSO: physical milliseconds << 18 | logical (2023-10-20 in wall time).
DEFAULT_BACKUP_TS = 445063339262394369
DEFAULT_CLUSTER_ID = 7300000000000000001
DEFAULT_CLUSTER_VERSION = '"7.5.0"\n'
DEFAULT_BR_VERSION = (
    "BR\nRelease Version: v7.5.0\nGit Commit Hash: br-parquet-testing\n"
    "Git Branch: heads/refs/tags/v7.5.0\nGo Version: go1.21.3\n"
    "UTC Build Time: 2023-11-20 00:00:00\nRace Enabled: false"
)
_TSO_PHYSICAL_SHIFT = 18
_ONE_SECOND_TS = 1000 << _TSO_PHYSICAL_SHIFT
_FIRST_TABLE_ID = 100
_FIRST_REGION_ID = 2
_REGION_EPOCH_VERSION = 5
_META_V2 = 1
_CIPHER_IV_LEN = 16

Layout = Literal["store_dir", "flat", "legacy"]


@dataclass(frozen=True)
class RawEntry:
    """A KV written as given (index entries, odd rows): a Put's value goes inline or to
    the default CF like any row value; other write types carry no value (`DELETE` needs an
    incremental backup). Timestamps default to the backup's."""

    raw_key: bytes
    value: bytes = b""
    write_type: WriteType = WriteType.PUT
    start_ts: int | None = None
    commit_ts: int | None = None


@dataclass
class TableSpec:
    """A table and its contents.

    `rows` are mappings by column name or sequences in column order (see
    `tablecodec.encode_row`); for a partitioned table use `partition_rows` keyed by
    partition name. `split_at` lists handles where a new region (file pair) starts.
    `deleted` lists handles written as Delete records (incremental backups only).
    """

    info: TableInfo
    rows: Sequence[Row] = ()
    partition_rows: Mapping[str, Sequence[Row]] = field(default_factory=dict)
    row_format: RowFormat | None = None
    explicit_nulls: bool = False
    row_checksum: bool = False
    index_entries: bool = False
    split_at: Sequence[int | bytes] = ()
    deleted: Sequence[int | bytes] = ()
    raw_entries: Sequence[RawEntry] = ()


def table(
    name: str,
    columns: Sequence[ColumnInfo | tuple[str, str]],
    rows: Sequence[Row] = (),
    *,
    table_id: int = 0,
    primary_key: Sequence[str] | None = None,
    clustered: bool | None = None,
    indexes: Sequence[IndexInfo] = (),
    partition: PartitionInfo | None = None,
    **options: Any,
) -> TableSpec:
    """A `TableSpec` with its `TableInfo` built by `schema.table_info`.

    `table_id=0` lets `write_backup` assign ids; other keywords are `TableSpec` fields.
    """
    info = table_info(
        table_id,
        name,
        columns,
        primary_key=primary_key,
        clustered=clustered,
        indexes=indexes,
        partition=partition,
    )
    return TableSpec(info=info, rows=rows, **options)


@dataclass
class DatabaseSpec:
    """A database; one without tables is backed up as a schema-only entry."""

    name: str
    tables: Sequence[TableSpec] = ()
    id: int = 0


@dataclass
class BackupSpec:
    """What to write. Defaults match a TiDB 7.5 full backup (backupmeta v2, zstd, S3/local
    file layout with a store directory, row format v2, new collations on)."""

    databases: Sequence[DatabaseSpec]
    meta_version: Literal[1, 2] = 2
    layout: Layout = "store_dir"
    compression: Compression = "zstd"
    row_format: RowFormat = 2
    backup_ts: int = DEFAULT_BACKUP_TS
    start_version: int = 0
    commit_ts: int | None = None
    start_ts: int | None = None
    shared_regions: Sequence[Sequence[str]] = ()
    table_metas: bool = True
    table_checksums: bool = True
    new_collation: bool = True
    json_style: JsonStyle = "v7"
    cluster_id: int = DEFAULT_CLUSTER_ID
    cluster_version: str = DEFAULT_CLUSTER_VERSION
    br_version: str = DEFAULT_BR_VERSION
    store_id: int = 1
    seed: int | None = None
    ddl_jobs: Sequence[bytes] = ()
    """JSON `model.Job`s done in `(start_version, backup_ts]` (incremental backups only):
    v1 joins them into the `ddls` array, v2 writes them to a `backupmeta.ddl.*` file."""


@dataclass(frozen=True)
class DataFile:
    """One SST written: its `File` entry, path and the physical table ids in it."""

    file: brpb_pb2.File
    path: Path
    physical_ids: tuple[int, ...]


@dataclass
class BackupInfo:
    """What `write_backup` wrote."""

    root: Path
    backupmeta: brpb_pb2.BackupMeta
    data_files: list[DataFile]
    schemas: list[brpb_pb2.Schema]
    tables: dict[str, TableInfo]
    meta_files: list[Path]
    table_checksums: dict[str, KvChecksum]
    ddl_jobs: list[dict[str, Any]] = field(default_factory=list)
    """The DDL jobs recorded, as parsed JSON."""


@dataclass(frozen=True)
class _Kv:
    physical_id: int
    raw_key: bytes
    value: bytes
    write_type: WriteType
    start_ts: int
    commit_ts: int
    crc: int = field(init=False)

    def __post_init__(self) -> None:
        # Counted in a file, a table and maybe a table_metas entry: hash once.
        object.__setattr__(self, "crc", kv_crc64(self.raw_key, self.value))

    @property
    def size(self) -> int:
        return len(self.raw_key) + len(self.value)

    @property
    def inline(self) -> bool:
        """Whether the value sits in the write record (else in the default CF)."""
        return self.write_type != WriteType.PUT or len(self.value) <= SHORT_VALUE_MAX_LEN


@dataclass
class _Region:
    start_key: bytes
    end_key: bytes
    kvs: list[_Kv] = field(default_factory=list)


def write_backup(root: Path, spec: BackupSpec) -> BackupInfo:
    """Write the backup described by `spec` under `root` (created if missing)."""
    root.mkdir(parents=True, exist_ok=True)
    commit_ts = spec.commit_ts if spec.commit_ts is not None else spec.backup_ts - _ONE_SECOND_TS
    start_ts = spec.start_ts if spec.start_ts is not None else commit_ts - 10
    if not start_ts < commit_ts <= spec.backup_ts:
        raise ValueError("need start_ts < commit_ts <= backup_ts")
    if spec.ddl_jobs and spec.start_version == 0:
        raise ValueError("only incremental backups record DDL jobs: set start_version")
    databases = _assign_ids(spec.databases, update_timestamp=start_ts - _ONE_SECOND_TS)

    (root / "backup.lock").write_bytes(BACKUP_LOCK_TEXT)
    table_regions: dict[str, list[_Region]] = {}
    tables: dict[str, TableInfo] = {}
    checksums: dict[str, KvChecksum] = {}
    for db, table_specs in databases:
        for tspec in table_specs:
            qualified = f"{db.name}.{tspec.info.name}"
            if qualified in tables:
                raise ValueError(f"table {qualified} given twice")
            tables[qualified] = tspec.info
            kvs = _table_kvs(tspec, spec, start_ts, commit_ts)
            checksums[qualified] = _table_checksum(kvs)
            table_regions[qualified] = _split_regions(tspec, kvs)
    regions = _merge_shared(table_regions, spec.shared_regions)

    rng = random.Random(spec.seed) if spec.seed is not None else None
    data_files: list[DataFile] = []
    for ordinal, region in enumerate(regions):
        data_files.extend(_write_region(root, spec, region, _FIRST_REGION_ID + ordinal, rng))

    schemas = _schemas(databases, tables, checksums, spec)
    meta, meta_paths = _backupmeta(root, spec, [d.file for d in data_files], schemas)
    (root / "backupmeta").write_bytes(meta.SerializeToString())
    jobs = [json.loads(job) for job in spec.ddl_jobs]
    return BackupInfo(root, meta, data_files, schemas, tables, meta_paths, checksums, jobs)


def _assign_ids(
    databases: Sequence[DatabaseSpec], update_timestamp: int
) -> list[tuple[DBInfo, list[TableSpec]]]:
    """Ids for what has none: databases 1, 2, …; tables and their partitions 100, 101, …
    in the order given (after any explicit id). Tables without one get `update_timestamp`.
    """
    explicit = [
        pid
        for db in databases
        for t in db.tables
        if t.info.id
        for pid in {t.info.id, *t.info.physical_ids}
    ]
    if len(explicit) != len(set(explicit)):
        raise ValueError("two tables or partitions share an id")
    table_ids = itertools.count(max([_FIRST_TABLE_ID - 1, *explicit]) + 1)
    used_db_ids = {db.id for db in databases if db.id}
    db_ids = (i for i in itertools.count(1) if i not in used_db_ids)
    out = []
    for db in databases:
        db_id = db.id or next(db_ids)
        specs = []
        for tspec in db.tables:
            info = tspec.info
            if not info.id:
                info = replace(info, id=next(table_ids))
                if info.partition is not None:
                    defs = [replace(d, id=next(table_ids)) for d in info.partition.definitions]
                    info = replace(info, partition=replace(info.partition, definitions=defs))
            if not info.update_timestamp:
                info = replace(info, update_timestamp=update_timestamp)
            specs.append(replace(tspec, info=info))
        out.append((DBInfo(db_id, db.name), specs))
    return out


def _table_kvs(tspec: TableSpec, spec: BackupSpec, start_ts: int, commit_ts: int) -> list[_Kv]:
    info = tspec.info
    row_format = tspec.row_format or spec.row_format
    groups: list[tuple[int, Sequence[Row]]]
    if info.partition is not None:
        by_name = {d.name.lower(): d.id for d in info.partition.definitions}
        unknown = {name for name in tspec.partition_rows if name.lower() not in by_name}
        if unknown or tspec.rows:
            raise ValueError(f"{info.name}: give rows per partition name in partition_rows")
        groups = [(by_name[name.lower()], rows) for name, rows in tspec.partition_rows.items()]
    else:
        if tspec.partition_rows:
            raise ValueError(f"{info.name} is not partitioned")
        groups = [(info.id, tspec.rows)]

    kvs: list[_Kv] = []

    def put(pid: int, raw_key: bytes, value: bytes) -> None:
        kvs.append(_Kv(pid, raw_key, value, WriteType.PUT, start_ts, commit_ts))

    # `_tidb_rowid` is allocated per logical table, across its partitions.
    rowids = itertools.count(1)
    for pid, rows in groups:
        for row in rows:
            rowid = next(rowids)
            kv = encode_row(
                info,
                row,
                physical_id=pid,
                rowid=rowid,
                row_format=row_format,
                explicit_nulls=tspec.explicit_nulls,
                row_checksum=tspec.row_checksum,
                new_collation=spec.new_collation,
            )
            put(pid, kv.raw_key, kv.value)
            if tspec.index_entries:
                for entry in encode_index_entries(
                    info, row, kv.handle, physical_id=pid, new_collation=spec.new_collation
                ):
                    put(pid, entry.raw_key, entry.value)
    if tspec.deleted and spec.start_version == 0:
        raise ValueError("a full backup holds no Delete records: set start_version")
    if tspec.deleted and info.partition is not None:
        raise ValueError(f"{info.name}: give deletes of a partitioned table as raw_entries")
    for handle in tspec.deleted:
        raw_key = _handle_key(info.id, handle)
        kvs.append(_Kv(info.id, raw_key, b"", WriteType.DELETE, start_ts, commit_ts))
    for raw in tspec.raw_entries:
        if raw.write_type != WriteType.PUT and raw.value:
            raise ValueError("only Put entries carry a value")
        if raw.write_type == WriteType.DELETE and spec.start_version == 0:
            raise ValueError("Delete entries need an incremental backup (start_version)")
        kvs.append(
            _Kv(
                _physical_id_of(info, raw.raw_key),
                raw.raw_key,
                raw.value,
                raw.write_type,
                raw.start_ts if raw.start_ts is not None else start_ts,
                raw.commit_ts if raw.commit_ts is not None else commit_ts,
            )
        )
    seen: set[bytes] = set()
    for item in kvs:
        if item.raw_key in seen:
            raise ValueError(f"{info.name}: key {item.raw_key.hex()} written twice")
        seen.add(item.raw_key)
    return kvs


def _handle_key(physical_id: int, handle: int | bytes) -> bytes:
    if isinstance(handle, int):
        return record_key(physical_id, handle)
    return record_key_common(physical_id, handle)


def _physical_id_of(info: TableInfo, raw_key: bytes) -> int:
    for pid in info.physical_ids:
        if raw_key.startswith(table_prefix(pid)):
            return pid
    return info.id


def _table_checksum(kvs: Sequence[_Kv]) -> KvChecksum:
    """The coprocessor checksum BR stores per table: every live KV of its ranges."""
    checksum = KvChecksum()
    for kv in kvs:
        if kv.write_type == WriteType.PUT:
            checksum.add(kv.crc, kv.size)
    return checksum


def _split_regions(tspec: TableSpec, kvs: Sequence[_Kv]) -> list[_Region]:
    """Regions as BR asks for them: per physical table a record range (cut at `split_at`)
    and one range per index; other keys get a region of their own."""
    regions: dict[tuple[int, str, int], _Region] = {}
    split_keys: dict[int, list[bytes]] = {}
    for kv in kvs:
        pid = kv.physical_id
        if kv.raw_key.startswith(record_prefix(pid)):
            start, end = record_range(pid)
            if pid not in split_keys:
                split_keys[pid] = sorted(_handle_key(pid, handle) for handle in tspec.split_at)
            splits = split_keys[pid]
            bounds = [start, *splits, end]
            part = sum(1 for split in splits if split <= kv.raw_key)
            region_key = (pid, "r", part)
            if region_key not in regions:
                regions[region_key] = _Region(bounds[part], bounds[part + 1])
        elif kv.raw_key.startswith(table_prefix(pid) + INDEX_SEPARATOR):
            index_id = int.from_bytes(kv.raw_key[11:19], "big") ^ (1 << 63)
            region_key = (pid, "i", index_id)
            if region_key not in regions:
                regions[region_key] = _Region(
                    index_key(pid, index_id, b""), index_key(pid, index_id + 1, b"")
                )
        else:
            region_key = (pid, "x", 0)
            if region_key not in regions:
                regions[region_key] = _Region(kv.raw_key, kv.raw_key + b"\x00")
            region = regions[region_key]
            region.start_key = min(region.start_key, kv.raw_key)
            region.end_key = max(region.end_key, kv.raw_key + b"\x00")
        regions[region_key].kvs.append(kv)
    return sorted(regions.values(), key=lambda r: r.start_key)


def _merge_shared(
    table_regions: Mapping[str, list[_Region]], shared: Sequence[Sequence[str]]
) -> list[_Region]:
    """One region per shared group (all KVs of its tables in one SST pair), then the rest."""
    grouped: set[str] = set()
    merged: list[_Region] = []
    for group in shared:
        members = list(group)
        missing = [name for name in members if name not in table_regions]
        if missing or not members:
            raise ValueError(f"shared region names unknown tables: {missing or group}")
        if grouped & set(members):
            raise ValueError(f"a table is in two shared regions: {group}")
        grouped |= set(members)
        parts = [r for name in members for r in table_regions[name]]
        if not parts:
            continue
        region = _Region(min(r.start_key for r in parts), max(r.end_key for r in parts))
        for part in parts:
            region.kvs.extend(part.kvs)
        merged.append(region)
    rest = [r for name, regions in table_regions.items() if name not in grouped for r in regions]
    return sorted(merged + rest, key=lambda r: r.start_key)


def _file_name(spec: BackupSpec, region_id: int, start_key: bytes, cf: str) -> str:
    digest = hashlib.sha256(start_key).hexdigest()
    unix_ms = spec.backup_ts >> _TSO_PHYSICAL_SHIFT
    stem = f"{region_id}_{_REGION_EPOCH_VERSION}_{digest}"
    if spec.layout == "store_dir":
        return f"{spec.store_id}/{stem}_{unix_ms}_{cf}.sst"
    if spec.layout == "flat":
        return f"{spec.store_id}_{stem}_{unix_ms}_{cf}.sst"
    return f"{spec.store_id}_{stem}_{cf}.sst"


def _write_region(
    root: Path, spec: BackupSpec, region: _Region, region_id: int, rng: random.Random | None
) -> list[DataFile]:
    """Write the default-CF SST (if any value is long) and the write-CF SST of a region."""
    write_entries: list[tuple[bytes, bytes]] = []
    default_entries: list[tuple[bytes, bytes]] = []
    write_sum, default_sum = KvChecksum(), KvChecksum()
    write_ids: set[int] = set()
    default_ids: set[int] = set()
    for kv in region.kvs:
        inline = kv.inline
        if kv.write_type != WriteType.PUT:
            record = encode_write(kv.write_type, kv.start_ts)
        elif inline:
            record = encode_write(kv.write_type, kv.start_ts, short_value=kv.value)
        else:
            record = encode_write(kv.write_type, kv.start_ts)
            default_entries.append((sst_key(kv.raw_key, kv.start_ts), kv.value))
        write_entries.append((sst_key(kv.raw_key, kv.commit_ts), record))
        target = write_sum if inline else default_sum
        target.add(kv.crc, kv.size)
        (write_ids if inline else default_ids).add(kv.physical_id)
    out = []
    cf_parts = [
        ("default", default_entries, default_sum, default_ids),
        ("write", write_entries, write_sum, write_ids | default_ids),
    ]
    for cf, entries, checksum, physical_ids in cf_parts:
        if not entries:
            continue
        entries.sort()
        for previous, current in itertools.pairwise(entries):
            if previous[0] == current[0]:
                raise ValueError(f"duplicate SST key {current[0].hex()}")
        name = _file_name(spec, region_id, region.start_key, cf)
        path = root / name
        size = write_sst(
            path, entries, compression=spec.compression, whole_key_filtering=cf == "default"
        )
        stored = path.read_bytes()
        file = brpb_pb2.File(
            name=name,
            sha256=hashlib.sha256(stored).digest(),
            start_key=region.start_key,
            end_key=region.end_key,
            start_version=spec.start_version,
            end_version=spec.backup_ts,
            crc64xor=checksum.crc64xor,
            total_kvs=checksum.total_kvs,
            total_bytes=checksum.total_bytes,
            cf=cf,
            size=size,
            cipher_iv=_cipher_iv(rng),
        )
        if spec.table_metas and len(write_ids | default_ids) > 1:
            for pid in sorted(physical_ids):
                table_sum = _cf_table_checksum(region.kvs, pid, cf)
                file.table_metas.add(
                    physical_id=pid,
                    crc64xor=table_sum.crc64xor,
                    total_kvs=table_sum.total_kvs,
                    total_bytes=table_sum.total_bytes,
                )
        out.append(DataFile(file, path, tuple(sorted(physical_ids))))
    return out


def _cf_table_checksum(kvs: Sequence[_Kv], physical_id: int, cf: str) -> KvChecksum:
    """The part of a file's checksum that belongs to one physical table."""
    checksum = KvChecksum()
    for kv in kvs:
        if kv.physical_id == physical_id and (cf == "write") == kv.inline:
            checksum.add(kv.crc, kv.size)
    return checksum


def _cipher_iv(rng: random.Random | None) -> bytes:
    return rng.randbytes(_CIPHER_IV_LEN) if rng is not None else os.urandom(_CIPHER_IV_LEN)


def _schemas(
    databases: Sequence[tuple[DBInfo, Sequence[TableSpec]]],
    tables: Mapping[str, TableInfo],
    checksums: Mapping[str, KvChecksum],
    spec: BackupSpec,
) -> list[brpb_pb2.Schema]:
    out = []
    with_checksum = spec.table_checksums and spec.start_version == 0
    for db, table_specs in databases:
        db_json = db.to_json(spec.json_style)
        if not table_specs:
            out.append(brpb_pb2.Schema(db=db_json))
        for tspec in table_specs:
            qualified = f"{db.name}.{tspec.info.name}"
            schema = brpb_pb2.Schema(db=db_json, table=tables[qualified].to_json(spec.json_style))
            if with_checksum:
                checksum = checksums[qualified]
                schema.crc64xor = checksum.crc64xor
                schema.total_kvs = checksum.total_kvs
                schema.total_bytes = checksum.total_bytes
            out.append(schema)
    return out


def _backupmeta(
    root: Path,
    spec: BackupSpec,
    files: Sequence[brpb_pb2.File],
    schemas: Sequence[brpb_pb2.Schema],
) -> tuple[brpb_pb2.BackupMeta, list[Path]]:
    meta = brpb_pb2.BackupMeta(
        cluster_id=spec.cluster_id,
        cluster_version=spec.cluster_version,
        start_version=spec.start_version,
        end_version=spec.backup_ts,
        # BR starts from `[]`; a v1 incremental backup's jobs replace it, v2 leaves it.
        ddls=b"[" + b",".join(spec.ddl_jobs) + b"]" if spec.meta_version == 1 else b"[]",
        br_version=spec.br_version,
        new_collations_enabled="True" if spec.new_collation else "False",
    )
    if spec.meta_version == 1:
        meta.files.extend(files)
        meta.schemas.extend(schemas)
        return meta, []
    meta.version = _META_V2
    counter = 0
    paths: list[Path] = []

    def child(kind: str, body: brpb_pb2.MetaFile, index: Callable[[], brpb_pb2.MetaFile]) -> None:
        # One counter shared by every kind, starting at 1, as BR numbers them.
        nonlocal counter
        counter += 1
        name = f"backupmeta.{kind}.{counter:09d}"
        plain = body.SerializeToString()
        (root / name).write_bytes(plain)
        paths.append(root / name)
        index().meta_files.add(name=name, sha256=hashlib.sha256(plain).digest(), size=len(plain))

    # BR writes the DDL jobs first, then the data files, then the schemas.
    if spec.ddl_jobs:
        child("ddl", brpb_pb2.MetaFile(ddls=spec.ddl_jobs), lambda: meta.ddl_indexes)
    if files:
        child("datafile", brpb_pb2.MetaFile(data_files=files), lambda: meta.file_index)
    if schemas:
        child("schema", brpb_pb2.MetaFile(schemas=schemas), lambda: meta.schema_index)
    return meta, paths

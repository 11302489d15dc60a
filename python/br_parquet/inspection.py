"""`br-parquet inspect`: what a backup holds, read from its metadata only (no SST is
downloaded), as aligned text or one JSON document with the same content.

The report is built from `Backup` (the same view the export uses): `Backup.info` for the
versions, `backupmeta` for the child meta files and checksums, and `plan_tasks` for which
SSTs can hold each table's rows, so the SST figures are those an export would read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .api import Backup
from .backupmeta import SchemaEntry, tso_time
from .plan import plan_tasks
from .proto import brpb_pb2 as brpb
from .table_filter import TableFilter
from .tables import DEFAULT_FILTER, Table

FORMAT_VERSION = 1
"""The version of the JSON document; bumped when a field changes meaning or goes away."""


@dataclass(frozen=True)
class CfFiles:
    """SST files of one column family: how many, their bytes and their KV count."""

    files: int = 0
    bytes: int = 0
    kvs: int = 0

    def add(self, f: brpb.File) -> CfFiles:
        return CfFiles(self.files + 1, self.bytes + f.size, self.kvs + f.total_kvs)


@dataclass(frozen=True)
class Sst:
    write: CfFiles = field(default_factory=CfFiles)
    default: CfFiles = field(default_factory=CfFiles)


@dataclass(frozen=True)
class Version:
    tso: int
    time: str | None
    """UTC, ISO 8601 with milliseconds (a TSO's precision); None for TSO 0."""


@dataclass(frozen=True)
class Checksum:
    crc64xor: int
    total_kvs: int
    total_bytes: int


@dataclass(frozen=True)
class ColumnReport:
    name: str
    tidb_type: str
    compat: str
    typed: str
    nullable: bool


@dataclass(frozen=True)
class Partition:
    id: int
    name: str


@dataclass(frozen=True)
class TableReport:
    name: str
    id: int
    partitions: list[Partition]
    sst: Sst
    checksum: Checksum | None
    """None when BR skipped the checksum (all three fields are 0)."""
    columns: list[ColumnReport]


@dataclass(frozen=True)
class DatabaseReport:
    name: str
    id: int
    tables: list[TableReport]


@dataclass(frozen=True)
class MetaFileReport:
    index: str
    name: str
    size: int


@dataclass(frozen=True)
class BackupReport:
    location: str
    backup_type: str
    """`full` or `incremental`."""
    br_version: str
    """The `Release Version` line of BR's version text (all of it when it has none)."""
    br_version_full: str
    cluster_id: int
    cluster_version: str
    start_version: Version
    end_version: Version
    ddl_jobs: int
    meta_version: str
    meta_files: list[MetaFileReport]
    encryption: str
    filters: list[str]
    data_files: Sst
    """Every data file of the backup, selected tables or not."""
    databases: list[DatabaseReport]

    def to_json(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **asdict(self)}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _version(tso: int) -> Version:
    return Version(tso, _iso(tso_time(tso)) if tso else None)


def _release(br_version: str) -> str:
    for line in br_version.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "Release Version":
            return value.strip()
    return br_version.strip()


def _cf(f: brpb.File) -> str:
    # As `plan_tasks`: old BR left `cf` empty and only the name says it.
    return f.cf or ("default" if f.name.endswith("_default.sst") else "write")


def _sst(files: Iterable[brpb.File]) -> Sst:
    write, default = CfFiles(), CfFiles()
    for f in files:
        if _cf(f) == "default":
            default = default.add(f)
        else:
            write = write.add(f)
    return Sst(write, default)


def _partitions(table: Table) -> list[Partition]:
    info = json.loads(table.table_info_json)
    definitions = (info.get("partition") or {}).get("definitions") or []
    names = {int(d.get("id", 0)): str((d.get("name") or {}).get("O", "")) for d in definitions}
    return [Partition(pid, names.get(pid, "")) for pid in table.partition_ids]


def _checksum(entry: SchemaEntry | None) -> Checksum | None:
    if entry is None or not entry.has_checksum:
        return None
    return Checksum(entry.crc64xor, entry.total_kvs, entry.total_bytes)


def _table_report(table: Table, files: list[brpb.File], entry: SchemaEntry | None) -> TableReport:
    columns = [
        ColumnReport(c.name, c.tidb_type, str(c.compat), str(c.typed), c.nullable)
        for c in table.columns
    ]
    return TableReport(
        table.name, table.table_id, _partitions(table), _sst(files), _checksum(entry), columns
    )


def inspect_backup(backup: Backup, filters: Sequence[str] = ()) -> BackupReport:
    """The report of `backup`, for the tables that pass BR filter rules `filters`
    (default: all but the system schemas, as the export)."""
    rules = TableFilter.parse(filters or DEFAULT_FILTER)
    meta, info = backup.meta, backup.info
    tables = backup.tables(rules.sources)
    # An SST spanning several tables counts for each, as it is read for each.
    files: list[list[brpb.File]] = [[] for _ in tables]
    for task in plan_tasks(meta.data_files, tables).tasks:
        for i in task.tables:
            files[i] += [task.write, *([task.default] if task.default else [])]
    entries = {e.table_id: e for e in meta.schemas if e.table_info is not None}
    selected_dbs = {t.db for t in tables}
    dbs_with_tables = {e.db_name for e in meta.schemas if e.table_info is not None}
    databases: dict[str, DatabaseReport] = {}
    for entry in meta.schemas:
        # In backup order; a database without any table shows when the rules allow it.
        name = entry.db_name
        if name not in databases and (
            name in selected_dbs or (name not in dbs_with_tables and rules.match_schema(name))
        ):
            databases[name] = DatabaseReport(name, entry.db_id, [])
    for table, table_files in zip(tables, files, strict=True):
        report = _table_report(table, table_files, entries.get(table.table_id))
        databases[table.db].tables.append(report)
    return BackupReport(
        location=info.location,
        backup_type="incremental" if info.incremental else "full",
        br_version=_release(info.br_version),
        br_version_full=info.br_version,
        cluster_id=info.cluster_id,
        cluster_version=info.cluster_version,
        start_version=_version(info.start_version),
        end_version=_version(info.end_version),
        ddl_jobs=len(meta.ddls),
        meta_version=info.meta_version,
        meta_files=[MetaFileReport(m.index, m.name, m.size) for m in meta.meta_files],
        encryption=info.encryption,
        filters=list(rules.sources),
        data_files=_sst(meta.data_files),
        databases=list(databases.values()),
    )


# --- text ----------------------------------------------------------------------------------

_KEY_WIDTH = 15


def _line(key: str, value: str, indent: str = "") -> str:
    return f"{indent}{key:<{_KEY_WIDTH}} {value}".rstrip()


def _cf_text(cf: CfFiles) -> str:
    return f"{cf.files} SST{'' if cf.files == 1 else 's'}, {cf.bytes} bytes, {cf.kvs} kvs"


def _version_text(v: Version) -> str:
    return f"{v.tso} ({v.time})" if v.time else str(v.tso)


def _aligned(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


def _table_text(t: TableReport) -> list[str]:
    ind = "    "
    parts = ", ".join(f"{p.name} {p.id}" if p.name else str(p.id) for p in t.partitions)
    checksum = (
        f"crc64xor {t.checksum.crc64xor:#018x}, total_kvs {t.checksum.total_kvs}, "
        f"total_bytes {t.checksum.total_bytes}"
        if t.checksum
        else "not computed"
    )
    lines = [f"  table {t.name} (id {t.id})"]
    if t.partitions:
        lines.append(_line("partitions", parts, ind))
    lines += [
        _line("write cf", _cf_text(t.sst.write), ind),
        _line("default cf", _cf_text(t.sst.default), ind),
        _line("checksum", checksum, ind),
    ]
    rows = [["column", "tidb type", "compat", "typed", "nullable"]]
    rows += [
        [c.name, c.tidb_type, c.compat, c.typed, "yes" if c.nullable else "no"] for c in t.columns
    ]
    return lines + _aligned(rows, ind)


def _selection_text(filters: list[str]) -> str:
    if tuple(filters) == DEFAULT_FILTER:
        return "(every table but the system schemas)"
    return "selected by " + " ".join(f"--filter {rule!r}" for rule in filters)


def render_text(report: BackupReport) -> str:
    r = report
    kind = r.backup_type + (f", {r.ddl_jobs} DDL jobs" if r.backup_type == "incremental" else "")
    lines = [
        _line("location", r.location),
        _line("backup type", kind),
        _line("br version", r.br_version),
        _line("cluster", f"id {r.cluster_id}, version {r.cluster_version}"),
        _line("start version", _version_text(r.start_version)),
        _line("end version", _version_text(r.end_version)),
    ]
    if r.meta_files:
        count = len(r.meta_files)
        plural = "s" if count != 1 else ""
        lines.append(_line("backupmeta", f"{r.meta_version}, {count} child meta file{plural}"))
        rows = [[m.index, m.name, f"{m.size} bytes"] for m in r.meta_files]
        lines += _aligned(rows, " " * (_KEY_WIDTH + 1))
    else:
        lines.append(_line("backupmeta", r.meta_version))
    n_tables = sum(len(db.tables) for db in r.databases)
    lines += [
        _line("encryption", r.encryption),
        _line("data files", f"write {_cf_text(r.data_files.write)}"),
        _line("", f"default {_cf_text(r.data_files.default)}"),
        _line("tables", f"{n_tables} {_selection_text(r.filters)}"),
    ]
    for db in r.databases:
        lines += ["", f"database {db.name} (id {db.id})"]
        if not db.tables:
            lines.append("  (no tables)")
        for t in db.tables:
            lines += _table_text(t)
    return "\n".join(lines) + "\n"


def encrypted_text(location: str) -> str:
    """What is known of an encrypted backup read without its key."""
    return (
        "\n".join(
            [
                _line("location", location),
                _line("encryption", "encrypted (needs --crypter.method and --crypter.key)"),
            ]
        )
        + "\n"
    )


def encrypted_json(location: str, error: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "location": location,
        "encryption": "encrypted",
        "error": error,
    }

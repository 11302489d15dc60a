"""Per-SST export tasks: each backup range's write-CF file, its default-CF
file, and the selected tables whose rows it may hold.

Tables of a file come from its `table_metas` when present, else from the
table IDs of its raw start/end keys. Files that can hold no selected row
(other tables, index-only ranges) are not downloaded at all.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import BackupMetaError
from .proto import brpb_pb2 as brpb
from .tables import Table

_SIGN = 1 << 63
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class SstTask:
    """One range of the backup to decode: write-CF file (+ default-CF file)."""

    write: brpb.File
    default: brpb.File | None
    tables: tuple[int, ...]
    """Indexes into the selected `Table` list."""

    @property
    def name(self) -> str:
        return self.write.name

    @property
    def size(self) -> int:
        return self.write.size + (self.default.size if self.default else 0)


@dataclass(frozen=True)
class Plan:
    tasks: list[SstTask]
    skipped_files: int
    """Data files that cannot hold a selected row (not downloaded)."""


def record_key(table_id: int, handle: int) -> bytes:
    """The raw key of row `handle` of physical table `table_id`: `t{id}_r{handle}`."""
    return (
        b"t"
        + struct.pack(">Q", (table_id & _MASK) ^ _SIGN)
        + b"_r"
        + struct.pack(">Q", (handle & _MASK) ^ _SIGN)
    )


def overlaps_handles(f: brpb.File, table_id: int, lo: int | None, hi: int | None) -> bool:
    """Whether file `f` (raw key range `[start_key, end_key)`) can hold a row of physical
    table `table_id` whose integer handle is in `[lo, hi)` (None: unbounded)."""
    prefix = record_key(table_id, 0)[:11]
    start = record_key(table_id, lo) if lo is not None else prefix
    end = record_key(table_id, hi) if hi is not None else prefix[:-2] + b"_s"
    return bytes(f.start_key) < end and (not f.end_key or start < bytes(f.end_key))


def _signed(u: int) -> int:
    return u - (1 << 64) if u >= _SIGN else u


def table_id_of(key: bytes) -> int | None:
    if len(key) < 9 or key[:1] != b"t":
        return None
    (u,) = struct.unpack(">Q", key[1:9])
    return _signed(u ^ _SIGN)


def _index_only(f: brpb.File) -> bool:
    """Whether the range lies inside one table's index key space `[t{id}_i, t{id}_r)`."""
    tid = table_id_of(f.start_key)
    if tid is None or f.start_key[9:11] != b"_i":
        return False
    record_prefix = f.start_key[:9] + b"_r"
    return bool(f.end_key) and f.end_key <= record_prefix


def pair_stem(name: str) -> str:
    for suffix in ("_write.sst", "_default.sst"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def plan_tasks(files: Sequence[brpb.File], targets: Sequence[Table]) -> Plan:
    """Groups data files into tasks, keeping only those that can hold selected rows."""
    by_pid: dict[int, int] = {}
    for i, t in enumerate(targets):
        for pid in t.physical_ids:
            by_pid[pid] = i
    pairs: dict[tuple[str, bytes, bytes], dict[str, brpb.File]] = {}
    for f in files:
        cf = f.cf or ("default" if f.name.endswith("_default.sst") else "write")
        key = (pair_stem(f.name), bytes(f.start_key), bytes(f.end_key))
        slot = pairs.setdefault(key, {})
        if cf in slot:
            raise BackupMetaError(f.name, f"two {cf}-CF files for the same range ({slot[cf].name})")
        slot[cf] = f
    tasks: list[SstTask] = []
    skipped = 0
    for slot in pairs.values():
        write = slot.get("write")
        default = slot.get("default")
        if write is None:
            # A default-CF file is only ever read through its write-CF records.
            raise BackupMetaError(
                default.name if default else "?", "default-CF file without a write-CF file"
            )
        if _index_only(write):
            skipped += 1 + (default is not None)
            continue
        tables = _tables_in_range(write, by_pid)
        if not tables:
            skipped += 1 + (default is not None)
            continue
        tasks.append(SstTask(write=write, default=default, tables=tables))
    tasks.sort(key=lambda t: t.name)
    return Plan(tasks=tasks, skipped_files=skipped)


def _tables_in_range(f: brpb.File, by_pid: dict[int, int]) -> tuple[int, ...]:
    """Indexes of the selected tables whose rows the file may hold."""
    if len(f.table_metas):
        return tuple(
            sorted({by_pid[m.physical_id] for m in f.table_metas if m.physical_id in by_pid})
        )
    lo = table_id_of(f.start_key)
    hi = table_id_of(f.end_key) if f.end_key else None
    if lo is None or (f.end_key and hi is None):
        # Not a table key range: any selected table may be inside.
        return tuple(sorted(set(by_pid.values())))
    return tuple(
        sorted({i for pid, i in by_pid.items() if pid >= lo and (hi is None or pid <= hi)})
    )

"""Per-SST export tasks: each backup range's write-CF file, its default-CF
file, and the selected tables whose rows it may hold.

Tables of a file come from its `table_metas` when present, else from the
table IDs of its raw start/end keys. Files that can hold no selected row
(other tables, index-only ranges) are not downloaded at all.

A plan of 10^6 tasks stays small: a task refers to its files' encodings in the
backup's `DataFiles` instead of holding parsed `File` messages.
"""

from __future__ import annotations

import heapq
import struct
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, overload

from .datafiles import DataFiles, data_files_of
from .errors import BackupMetaError
from .proto import brpb_pb2 as brpb
from .tables import Table

_SIGN = 1 << 63
_MASK = (1 << 64) - 1


class _Rows:
    """The tasks of a plan as columns: for row `i`, the indexes of its write-CF and
    default-CF (-1: none) files in `files`, its size, and its table set; and its name,
    unless the files are spilled to disk (a large backup: names then cost a read)."""

    __slots__ = (
        "_sets",
        "defaults",
        "files",
        "names",
        "sizes",
        "table_sets",
        "tables",
        "writes",
    )

    def __init__(self, files: DataFiles) -> None:
        self.files = files
        self.writes = array("I")
        self.defaults = array("i")
        self.sizes = array("Q")
        self.tables = array("I")
        self.table_sets: list[tuple[int, ...]] = []
        self._sets: dict[tuple[int, ...], int] = {}
        self.names: list[str] | None = None if files.spilled else []

    def add(
        self, write: int, default: int, size: int, tables: tuple[int, ...], name: str = ""
    ) -> int:
        number = self._sets.setdefault(tables, len(self.table_sets))
        if number == len(self.table_sets):
            self.table_sets.append(tables)
        self.writes.append(write)
        self.defaults.append(default)
        self.sizes.append(size)
        self.tables.append(number)
        if self.names is not None:
            self.names.append(name or self.files.name(write))
        return len(self.writes) - 1

    def name(self, at: int) -> str:
        """The name of row `at`: its write-CF file's."""
        if self.names is not None:
            return self.names[at]
        return self.files.name(self.writes[at])


class PlannedUnit(Protocol):
    """A unit of work of a plan: an `SstTask`, or a chain's `ChainUnit`."""

    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> tuple[int, ...]: ...

    @property
    def size(self) -> int: ...


class SstTask:
    """One range of the backup to decode: write-CF file (+ default-CF file), and the
    selected tables whose rows it may hold (`tables`: indexes into the selected `Table`
    list).

    A plain immutable value that pickles on its own (as the two files' encodings). In a
    plan it is a row of columns over the backup's `DataFiles` (under 100 bytes a task);
    `write` and `default` are parsed, and `name` read, on each access.
    """

    __slots__ = ("_at", "_rows")
    _rows: _Rows
    _at: int

    def __init__(
        self, write: brpb.File, default: brpb.File | None, tables: tuple[int, ...]
    ) -> None:
        rows = _Rows(DataFiles.of([write] if default is None else [write, default]))
        size = write.size + (default.size if default is not None else 0)
        self._set(rows, rows.add(0, -1 if default is None else 1, size, tables))

    @classmethod
    def _row(cls, rows: _Rows, at: int) -> SstTask:
        task = cls.__new__(cls)
        task._set(rows, at)
        return task

    def _set(self, rows: _Rows, at: int) -> None:
        object.__setattr__(self, "_rows", rows)
        object.__setattr__(self, "_at", at)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SstTask is immutable (setting {name!r})")

    @property
    def tables(self) -> tuple[int, ...]:
        return self._rows.table_sets[self._rows.tables[self._at]]

    @property
    def size(self) -> int:
        """Bytes of its SST files."""
        return self._rows.sizes[self._at]

    @property
    def write(self) -> brpb.File:
        return self._rows.files[self._rows.writes[self._at]]

    @property
    def default(self) -> brpb.File | None:
        at = self._rows.defaults[self._at]
        return None if at < 0 else self._rows.files[at]

    @property
    def name(self) -> str:
        """The write-CF SST's name: the task's name."""
        return self._rows.name(self._at)

    def _raws(self) -> tuple[bytes, bytes | None]:
        files, default = self._rows.files, self._rows.defaults[self._at]
        return files.raw(self._rows.writes[self._at]), None if default < 0 else files.raw(default)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_task_from, (*self._raws(), self.tables))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SstTask):
            return NotImplemented
        return self.tables == other.tables and self._raws() == other._raws()

    def __hash__(self) -> int:
        return hash((self.name, self.tables))

    def __repr__(self) -> str:
        return f"SstTask({self.name!r}, tables={self.tables})"


def _task_from(write: bytes, default: bytes | None, tables: tuple[int, ...]) -> SstTask:
    """Unpickles an `SstTask`."""
    return SstTask(
        brpb.File.FromString(write),
        None if default is None else brpb.File.FromString(default),
        tables,
    )


class Tasks(Sequence[SstTask]):
    """Tasks of a plan in name order, as row numbers of its columns: 4 bytes a task
    (`SstTask` row views are made on access, so a million never exist at once)."""

    __slots__ = ("_order", "_rows")
    __hash__: ClassVar[None]  # type: ignore[assignment]

    def __init__(self, rows: _Rows, order: array[int]) -> None:
        self._rows = rows
        self._order = order

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> SstTask: ...

    @overload
    def __getitem__(self, index: slice) -> Tasks: ...

    def __getitem__(self, index: int | slice) -> SstTask | Tasks:
        if isinstance(index, slice):
            return Tasks(self._rows, self._order[index])
        return SstTask._row(self._rows, self._order[index])

    def __iter__(self) -> Iterator[SstTask]:
        rows = self._rows
        for at in self._order:
            yield SstTask._row(rows, at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"Tasks({len(self)} tasks)"

    def subset(self, positions: Iterable[int]) -> Tasks:
        """The tasks at `positions` (ascending), in this order."""
        order = self._order
        return Tasks(self._rows, array("I", (order[i] for i in positions)))

    def position(self, name: str) -> int | None:
        """Where the (first) task named `name` is, found by bisection on the names."""
        rows, order = self._rows, self._order
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            if rows.name(order[mid]) < name:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(order) and rows.name(order[lo]) == name else None


@dataclass(frozen=True)
class Plan:
    tasks: Sequence[SstTask]
    """In name order (a `Tasks` when made by `plan_tasks`)."""
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


def _index_only(start: bytes, end: bytes) -> bool:
    """Whether the range `[start, end)` lies inside one table's index key space
    `[t{id}_i, t{id}_r)`."""
    if len(start) < 11 or start[:1] != b"t" or start[9:11] != b"_i":
        return False
    return bool(end) and end <= start[:9] + b"_r"


def pair_stem(name: str) -> str:
    for suffix in ("_write.sst", "_default.sst"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def plan_tasks(files: Sequence[brpb.File], targets: Sequence[Table]) -> Plan:
    """Groups data files into tasks, keeping only those that can hold selected rows."""
    data = data_files_of(files)
    ranges = _TableRanges(targets)
    defaults = _check_ranges(data)
    rows = _Rows(data)
    runs: list[array[int]] = []
    run: list[tuple[str, int]] = []  # names only for one run of tasks at a time
    skipped = 0
    for i, raw in enumerate(data.raws()):
        f = brpb.File.FromString(raw)
        name = f.name
        if _cf(f.cf, name) == "default":
            continue
        start, end = f.start_key, f.end_key
        default = defaults.pop((pair_stem(name), start, end), -1)
        tables = () if _index_only(start, end) else ranges.tables_of(f, start, end)
        if not tables:
            skipped += 1 + (default >= 0)
            continue
        size = f.size + (data[default].size if default >= 0 else 0)
        run.append((name, rows.add(i, default, size, tables, name)))
        if len(run) == _SORT_RUN:
            runs.append(_sorted_run(run))
    if run:
        runs.append(_sorted_run(run))
    if defaults:
        # A default-CF file is only ever read through its write-CF records.
        raise BackupMetaError(
            data.name(min(defaults.values())), "default-CF file without a write-CF file"
        )
    if len(runs) > 1:
        runs = [array("I", heapq.merge(*runs, key=rows.name))]
    return Plan(tasks=Tasks(rows, runs[0] if runs else array("I")), skipped_files=skipped)


def _check_ranges(data: DataFiles) -> dict[tuple[str, bytes, bytes], int]:
    """The default-CF files by range (stem, start and end key); raises when two files of
    one column family share a range. Write-CF files are told apart by the hash of their
    range only (kept in a packed table, not the ranges: there may be 10^6 of them); when
    two hashes meet, the earlier files are searched for the same range."""
    defaults: dict[tuple[str, bytes, bytes], int] = {}
    seen = HashSet(len(data))
    for i, raw in enumerate(data.raws()):
        f = brpb.File.FromString(raw)
        name = f.name
        key = (pair_stem(name), f.start_key, f.end_key)
        if _cf(f.cf, name) == "default":
            other = defaults.setdefault(key, i)
            if other != i:
                raise BackupMetaError(
                    name, f"two default-CF files for the same range ({data.name(other)})"
                )
            continue
        if seen.add(hash(key)):
            for j, earlier in enumerate(data.raws()):
                if j == i:
                    break
                g = brpb.File.FromString(earlier)
                if _cf(g.cf, g.name) != "default" and (
                    (pair_stem(g.name), g.start_key, g.end_key) == key
                ):
                    raise BackupMetaError(name, f"two write-CF files for the same range ({g.name})")
    return defaults


class HashSet:
    """A set of 64-bit hashes in one array (open addressing): 16 bytes a member at
    most, where a Python set of ints takes about 70."""

    def __init__(self, capacity: int) -> None:
        size = 1 << max(4, (2 * capacity).bit_length())
        self._table = array("q", bytes(8 * size))
        self._mask = size - 1

    def add(self, digest: int) -> bool:
        """Adds `digest`; whether it was there already."""
        digest = digest or 1  # 0 marks a free slot
        table, mask = self._table, self._mask
        slot = digest & mask
        while True:
            found = table[slot]
            if not found:
                table[slot] = digest
                return False
            if found == digest:
                return True
            slot = (slot + 1) & mask


_SORT_RUN = 65_536
"""Tasks sorted by name at a time; the sorted runs are merged, reading each name once
more, so that a million names never exist at once."""


def _sorted_run(run: list[tuple[str, int]]) -> array[int]:
    """The rows of `run`, sorted by their names; empties `run`."""
    run.sort(key=lambda pair: pair[0])
    rows = array("I", (at for _, at in run))
    run.clear()
    return rows


def _cf(cf: str, name: str) -> str:
    """The column family of a file (old BR left `cf` empty; only the name says it)."""
    return cf or ("default" if name.endswith("_default.sst") else "write")


class _TableRanges:
    """Which selected tables a file's key range (or its `table_metas`) can hold rows of."""

    def __init__(self, targets: Sequence[Table]) -> None:
        self.by_pid: dict[int, int] = {}
        for i, t in enumerate(targets):
            for pid in t.physical_ids:
                self.by_pid[pid] = i
        self.pids = sorted(self.by_pid)
        self.every = tuple(sorted(set(self.by_pid.values())))

    def tables_of(self, f: brpb.File, start: bytes, end: bytes) -> tuple[int, ...]:
        """Indexes of the selected tables whose rows file `f` (range `[start, end)`) may
        hold."""
        if len(f.table_metas):
            by_pid = self.by_pid
            return tuple(
                sorted({by_pid[m.physical_id] for m in f.table_metas if m.physical_id in by_pid})
            )
        lo = table_id_of(start)
        hi = table_id_of(end) if end else None
        if lo is None or (end and hi is None):
            # Not a table key range: any selected table may be inside.
            return self.every
        first = bisect_left(self.pids, lo)
        last = len(self.pids) if hi is None else bisect_right(self.pids, hi)
        if last - first == 1:
            return (self.by_pid[self.pids[first]],)
        return tuple(sorted({self.by_pid[pid] for pid in self.pids[first:last]}))


# --- one task per table (--target-file-size) ------------------------------------------------


@dataclass(frozen=True)
class TableUnit:
    """A table's SSTs in key order, exported by one task into files of about a target
    size (`--target-file-size`): the rolling per-table task of `table_task`."""

    name: str
    """`t{table_id}_files`: the task's name in events and for its checkpoint marker."""
    tables: tuple[int, ...]
    """The selected table (one index into the selected tables), as `SstTask.tables`."""
    table_id: int
    ssts: tuple[SstTask, ...]
    """Every SST that may hold rows of the table, in key order (by write-CF start key)."""
    start: int = 0
    """The first SST to export: those before it are in files an earlier run finished."""

    @property
    def size(self) -> int:
        """Bytes of the SST files still to export (from `start`)."""
        return sum(t.size for t in self.ssts[self.start :])


@dataclass(frozen=True)
class TablePlan:
    """The plan of an export with `--target-file-size`: one `TableUnit` per selected
    table with SSTs, and the SST plan it is made from (for `--verify tables`, the
    manifest and the name checks)."""

    tasks: Sequence[TableUnit]
    ssts: Plan

    @property
    def skipped_files(self) -> int:
        return self.ssts.skipped_files


def table_unit_name(table_id: int) -> str:
    return f"t{table_id}_files"


def plan_by_table(plan: Plan, targets: Sequence[Table]) -> TablePlan:
    """Regroups the SST tasks of `plan` into one task per selected table: the SSTs that
    may hold its rows, in key order. An SST shared by several tables (small tables in
    one region) is read by each of their tasks."""
    by_table: dict[int, list[SstTask]] = {}
    for task in plan.tasks:
        for idx in task.tables:
            by_table.setdefault(idx, []).append(task)
    units = []
    for idx in sorted(by_table, key=lambda i: targets[i].table_id):
        ssts = sorted(by_table[idx], key=lambda t: (bytes(t.write.start_key), t.name))
        table_id = targets[idx].table_id
        units.append(TableUnit(table_unit_name(table_id), (idx,), table_id, tuple(ssts)))
    return TablePlan(units, plan)

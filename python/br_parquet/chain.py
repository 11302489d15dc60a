"""A chain of backups: a full backup and its incrementals, exported as of the last one.

`check_chain` refuses a chain whose links do not follow each other: each backup's
`start_version` must equal the previous one's `end_version`, all from one cluster, and
the first must be a full backup. The tables and their schemas are the last backup's: a
table dropped in an increment is not exported, and a truncated table's rows are those of
its new table ID (its old ID is no longer a selected physical table, so rows under it are
never read), as TiDB's restore would leave them.

`plan_chain` cuts each selected physical table's key space into ranges at the region
boundaries of the chain's first (full) backup, and makes one task (`ChainUnit`) per range
with the SSTs of every backup that overlap it. The task reads each backup's part of the
range (`SstScan` clipped to it) and keeps the newest version of each key (`merge`), so
memory stays bounded by a task's SSTs, never by the table.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from .backupmeta import BackupMeta
from .errors import UsageError
from .plan import SstTask, plan_tasks, record_key
from .tables import Table


class ChainError(UsageError):
    """The backups given do not form a chain (a gap, an overlap, another cluster)."""


@dataclass(frozen=True)
class ChainSource:
    """One SST (write + default CF) of one backup of the chain."""

    backup: int
    """The backup's position in the chain (0: the full backup)."""
    sst: SstTask


@dataclass(frozen=True)
class ChainUnit:
    """One task of a chain export: a key range of one physical table and the SSTs of every
    backup that overlap it, oldest backup first, each backup's in key order."""

    name: str
    """`t{physical_id}_{n}`: the n-th range of the table in key order (the object stem)."""
    tables: tuple[int, ...]
    """The selected table (one index into the selected tables), as `SstTask.tables`."""
    physical_id: int
    clip: tuple[bytes, bytes]
    """The raw-key range `[start, end)` of the task."""
    sources: tuple[ChainSource, ...]

    @property
    def size(self) -> int:
        """Bytes of its SST files."""
        return sum(s.sst.size for s in self.sources)


def check_chain(metas: Sequence[BackupMeta], locations: Sequence[str]) -> None:
    """Raises `ChainError` unless `metas` (in the order given) form a chain."""
    first = metas[0]
    if first.start_version != 0:
        raise ChainError(
            f"the first backup of a chain must be a full backup, but {locations[0]} is an "
            f"incremental backup (start_version {first.start_version}); give the full "
            "backup first, then its incrementals, oldest first"
        )
    for i in range(1, len(metas)):
        before, now = metas[i - 1], metas[i]
        if now.cluster_id != first.cluster_id:
            raise ChainError(
                f"backup {i + 1} ({locations[i]}) is of cluster {now.cluster_id}, but "
                f"backup 1 ({locations[0]}) of cluster {first.cluster_id}: a chain comes "
                "from one cluster"
            )
        if now.start_version != before.end_version:
            what = "a gap" if now.start_version > before.end_version else "an overlap"
            raise ChainError(
                f"backup {i + 1} ({locations[i]}) starts at version {now.start_version}, "
                f"but backup {i} ({locations[i - 1]}) ends at {before.end_version}: "
                f"{what} in the chain; each incremental backup must start where the "
                "previous one ends (br backup --lastbackupts)"
            )


def chain_identity(metas: Sequence[BackupMeta]) -> BackupMeta:
    """The last backup's metadata standing for the whole chain in the checkpoint: its
    digest covers every backupmeta, its versions span the chain."""
    digest = hashlib.sha256(b"".join(m.content_digest for m in metas)).digest()
    return replace(metas[-1], content_digest=digest, start_version=metas[0].start_version)


def _overlaps(task: SstTask, start: bytes, end: bytes) -> bool:
    f = task.write
    return bytes(f.start_key) < end and (not f.end_key or start < bytes(f.end_key))


@dataclass(frozen=True)
class ChainPlan:
    tasks: Sequence[ChainUnit]
    """In name order."""
    skipped_files: int
    """Data files of all the backups that cannot hold a selected row (not downloaded)."""


def plan_chain(metas: Sequence[BackupMeta], targets: Sequence[Table]) -> ChainPlan:
    """The chain's tasks for `targets` (tables of the last backup), in name order."""
    by_backup: list[dict[int, list[SstTask]]] = []
    skipped = 0
    for meta in metas:
        plan = plan_tasks(meta.data_files, targets)
        skipped += plan.skipped_files
        tasks: dict[int, list[SstTask]] = defaultdict(list)
        for task in plan.tasks:
            for idx in task.tables:
                tasks[idx].append(task)
        for listed in tasks.values():
            listed.sort(key=lambda t: bytes(t.write.start_key))
        by_backup.append(tasks)
    units: list[ChainUnit] = []
    for idx, table in enumerate(targets):
        for pid in table.physical_ids:
            start = record_key(pid, 0)[:11]  # t{pid}_r
            end = start[:-2] + b"_s"
            mine = [
                [t for t in tasks.get(idx, ()) if _overlaps(t, start, end)] for tasks in by_backup
            ]
            cuts = sorted(_open_range(start, end, mine[0]))
            edges = [start, *cuts, end]
            for n, (lo, hi) in enumerate(pairwise(edges)):
                sources = tuple(
                    ChainSource(b, t)
                    for b, tasks in enumerate(mine)
                    for t in tasks
                    if _overlaps(t, lo, hi)
                )
                if sources:
                    units.append(ChainUnit(f"t{pid}_{n:06d}", (idx,), pid, (lo, hi), sources))
    units.sort(key=lambda u: u.name)
    return ChainPlan(tasks=units, skipped_files=skipped)


def _open_range(start: bytes, end: bytes, tasks: Sequence[SstTask]) -> set[bytes]:
    """The start keys of `tasks` strictly inside `(start, end)`."""
    return {k for k in (bytes(t.write.start_key) for t in tasks) if start < k < end}

"""`ExportResult`: what an export produced, for the API caller and the CLI summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .iceberg_tables import IcebergCommit
from .naming import sanitize
from .tables import Table
from .written import WrittenObject


@dataclass(frozen=True)
class TableResult:
    """The output of one table."""

    db: str
    table: str
    table_id: int
    objects: int
    rows: int
    bytes: int


@dataclass(frozen=True)
class PlannedTask:
    """An SST task this run does (or, in a dry run, would do)."""

    sst: str
    input_bytes: int
    """Bytes of its SSTs to download."""
    objects: tuple[str, ...]
    """The objects it writes, one per selected table with rows in the SST (at most these)."""


@dataclass
class ExportResult:
    """The outcome of an export: every object of the output (written now or reused from
    the checkpoint), sums per table, and where the time went."""

    tables: list[Table]
    objects: list[WrittenObject] = field(default_factory=list)
    tasks: int = 0
    """SST tasks of the plan (done now or earlier)."""
    skipped_files: int = 0
    """Data files that cannot hold a selected row, never downloaded."""
    scan_stats: Counter[str] = field(default_factory=Counter)
    """The decoders' counters, summed over the tasks run now."""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Time spent per stage (download, decode, write, upload, checkpoint), summed over
    the tasks run now; with concurrency the sum exceeds the wall time."""
    input_bytes: int = 0
    """Bytes of SSTs fetched by this run."""
    seconds: float = 0.0
    checkpoint: str | None = None
    """The checkpoint directory used, None with `use_checkpoint=False`."""
    manifest: str | None = None
    """The Iceberg JSON manifest written, if one was asked for."""
    commits: list[IcebergCommit] = field(default_factory=list)
    """The Iceberg table commits (`catalog` set), one per selected table; in a dry run,
    what would be committed."""
    to_do: Sequence[PlannedTask] = field(default_factory=list)
    """The SST tasks left after the checkpoint, which this run did (or would do)."""
    dry_run: bool = False
    """Nothing was written: `to_do` is what a run would do."""

    @property
    def rows_written(self) -> int:
        return sum(o.rows for o in self.objects)

    @property
    def files_written(self) -> int:
        return len(self.objects)

    @property
    def bytes_written(self) -> int:
        return sum(o.size for o in self.objects)

    @property
    def objects_reused(self) -> int:
        """Objects of the output finished by an earlier run (from the checkpoint)."""
        return sum(o.reused for o in self.objects)

    @property
    def objects_written(self) -> int:
        """Objects of the output uploaded by this run."""
        return sum(not o.reused for o in self.objects)

    @property
    def verified_files(self) -> int:
        """Data files fetched now whose TiKV checksum matched the backupmeta's."""
        return self.scan_stats["verified_files"]

    @property
    def unverifiable_files(self) -> int:
        """Data files fetched now without a recorded checksum (all zero) to compare with."""
        return self.scan_stats["unverifiable_files"]

    @property
    def verified_tables(self) -> int:
        """Tables whose `Schema` checksum matched their files' (`verify="tables"`)."""
        return self.scan_stats["verified_tables"]

    def per_table(self) -> dict[str, TableResult]:
        """`db.table` → its objects, rows and bytes, for every selected table."""
        sums: dict[str, Counter[str]] = {t.qualified_name: Counter() for t in self.tables}
        for o in self.objects:
            sums[o.qualified_table].update(objects=1, rows=o.rows, bytes=o.size)
        return {
            t.qualified_name: TableResult(
                t.db,
                t.name,
                t.table_id,
                sums[t.qualified_name]["objects"],
                sums[t.qualified_name]["rows"],
                sums[t.qualified_name]["bytes"],
            )
            for t in self.tables
        }

    def rows_by_table(self) -> dict[str, int]:
        return {name: t.rows for name, t in self.per_table().items()}

    def bytes_by_table(self) -> dict[str, int]:
        return {name: t.bytes for name, t in self.per_table().items()}

    def renamed(self) -> dict[str, str]:
        """Database/table names that were normalised for object paths."""
        names = {t.db for t in self.tables} | {t.name for t in self.tables}
        return {n: sanitize(n) for n in sorted(names) if sanitize(n) != n}

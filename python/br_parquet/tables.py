"""Which tables of a backup are exported: the filter and table-ID selection.

A table is selected when its real `db.table` name passes the BR table filter
and, if `--table-ids` is given, one of its physical IDs (the table's, or a
partition's) is listed; listing only some partitions exports only those.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._native import TableDecoder
from .backupmeta import BackupMeta, SchemaEntry
from .errors import NoTablesSelectedError
from .table_filter import TableFilter

# What TiDB's tools leave out unless asked: system and memory schemas.
DEFAULT_FILTER: tuple[str, ...] = (
    "*.*",
    "!mysql.*",
    "!sys.*",
    "!INFORMATION_SCHEMA.*",
    "!PERFORMANCE_SCHEMA.*",
    "!METRICS_SCHEMA.*",
    "!INSPECTION_SCHEMA.*",
)


@dataclass(frozen=True)
class TableTarget:
    """One selected table and the decoder of its rows."""

    db: str
    name: str
    table_id: int
    physical_ids: tuple[int, ...]
    entry: SchemaEntry = field(repr=False, compare=False)
    decoder: TableDecoder = field(repr=False, compare=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.db}.{self.name}"


def _has_rows(info: dict[str, object]) -> bool:
    return info.get("view") is None and info.get("sequence") is None


def table_json(entry: SchemaEntry) -> bytes:
    """The TableInfo JSON handed to the native decoder."""
    assert entry.table_info is not None
    return json.dumps(entry.table_info).encode()


def select_tables(
    meta: BackupMeta,
    *,
    filters: Sequence[str] = (),
    table_ids: Sequence[int] = (),
    type_mapping: str = "compat",
) -> list[TableTarget]:
    """The tables to export, in backup order; raises when nothing matches."""
    rules = TableFilter.parse(filters or DEFAULT_FILTER)
    wanted_ids = set(table_ids)
    selected: list[TableTarget] = []
    available: list[str] = []
    for entry in meta.schemas:
        info = entry.table_info
        if info is None or entry.table_name is None or not _has_rows(info):
            continue
        available.append(f"{entry.db_name}.{entry.table_name}")
        if not rules.match_table(entry.db_name, entry.table_name):
            continue
        decoder = TableDecoder(table_json(entry), type_mapping)
        physical = tuple(decoder.physical_ids)
        if wanted_ids:
            if decoder.table_id in wanted_ids:
                pass
            elif wanted_ids & set(physical):
                physical = tuple(p for p in physical if p in wanted_ids)
            else:
                continue
        selected.append(
            TableTarget(
                db=entry.db_name,
                name=entry.table_name,
                table_id=decoder.table_id,
                physical_ids=physical,
                entry=entry,
                decoder=decoder,
            )
        )
    if not selected:
        raise NoTablesSelectedError(list(filters or DEFAULT_FILTER), sorted(table_ids), available)
    return selected

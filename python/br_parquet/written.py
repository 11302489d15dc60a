"""`WrittenObject`: one Parquet object of an export, the record that the task returns,
the checkpoint stores as an entry, the JSON manifest lists and the result sums up."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, kw_only=True)
class WrittenObject:
    """A finished Parquet object in the output storage."""

    path: str
    """Object name in the output storage: `{prefix}/{db}/{table}/{sst_stem}.parquet`."""
    db: str
    table: str
    table_id: int
    """The logical table ID (`TableInfo.id`)."""
    rows: int
    size: int
    """Bytes of the object."""
    sha256: str
    """Hex SHA-256 of the object's bytes."""
    source_sst: str
    """The write-CF SST it was decoded from: the name of its task."""
    source_default_sst: str | None
    task_objects: tuple[str, ...]
    """Every object of the same task, sorted; the task is finished when all exist."""
    finished_at: str
    """UTC time (ISO 8601) the object was uploaded."""
    etag: str | None = None
    """The ETag the output storage gave the object when it was uploaded (None where the
    store gives none, and in entries written before ETags were recorded)."""
    group_first: str | None = None
    """With `--target-file-size`: the first of the consecutive SSTs (in key order) whose
    rows of the table the file holds (the same as `source_sst`); None for a one-SST file."""
    group_last: str | None = None
    """The last SST of the group; None for a one-SST file."""
    group_ssts: int = 0
    """How many SSTs the group spans (first and last included); 0 for a one-SST file."""
    reused: bool = False
    """Finished by an earlier run and taken from the checkpoint (not part of the JSON form)."""

    @property
    def qualified_table(self) -> str:
        return f"{self.db}.{self.table}"

    @property
    def grouped(self) -> bool:
        """Whether it holds the rows of a group of SSTs (`--target-file-size`)."""
        return self.group_first is not None

    def to_json(self) -> dict[str, Any]:
        """The JSON form: every field but `reused`, and the group fields only when set
        (a one-SST file's form is as it was before groups existed)."""
        out = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "reused" and (f.name not in _GROUP_FIELDS or self.grouped)
        }
        out["task_objects"] = list(self.task_objects)
        return out

    @classmethod
    def from_json(cls, document: Mapping[str, Any], *, reused: bool = False) -> WrittenObject:
        """The record whose `to_json()` is `document`; `ValueError` says what is wrong.
        Names repeated across records (database, table, the object's own path in
        `task_objects`) share one string: a checkpoint may hold 10^6 of them."""
        path = _typed(document, "path", str)
        obj = cls(
            path=path,
            db=sys.intern(_typed(document, "db", str)),
            table=sys.intern(_typed(document, "table", str)),
            table_id=_typed(document, "table_id", int),
            rows=_typed(document, "rows", int),
            size=_typed(document, "size", int),
            sha256=_typed(document, "sha256", str),
            source_sst=_typed(document, "source_sst", str),
            source_default_sst=_optional_str(document, "source_default_sst"),
            task_objects=tuple(
                p if p != path else path for p in _string_list(document, "task_objects")
            ),
            finished_at=_typed(document, "finished_at", str),
            etag=_optional_str(document, "etag"),
            group_first=_optional_str(document, "group_first"),
            group_last=_optional_str(document, "group_last"),
            group_ssts=document.get("group_ssts", 0),
            reused=reused,
        )
        if obj.grouped != (obj.group_last is not None) or (
            obj.grouped
            and (
                not isinstance(obj.group_ssts, int)
                or isinstance(obj.group_ssts, bool)
                or obj.group_ssts < 1
            )
        ):
            raise ValueError("has an incomplete group (group_first, group_last, group_ssts)")
        if obj.path not in obj.task_objects:
            raise ValueError("lists task_objects without its own path")
        if obj.rows < 0 or obj.size < 0:
            raise ValueError("has a negative row count or size")
        if len(obj.sha256) != 64 or not all(c in "0123456789abcdef" for c in obj.sha256):
            raise ValueError("has a sha256 that is not 64 lowercase hex digits")
        return obj


_GROUP_FIELDS = ("group_first", "group_last", "group_ssts")


def _typed(document: Mapping[str, Any], key: str, kind: type[Any]) -> Any:
    value = document.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"has no {kind.__name__} {key}")
    return value


def _optional_str(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"has a {key} that is not a string")
    return value


def _string_list(document: Mapping[str, Any], key: str) -> list[str]:
    value = document.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"has {key} that are not all strings")
    return value

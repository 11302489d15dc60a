"""Checkpoint state of an export: which Parquet objects under the output prefix are
finished, so that a run killed at any moment resumes without redoing them.

Everything lives under `{output-prefix}/_checkpoint/` (pyarrow, Spark and Hive skip
folders starting with `_` when they read the Parquet objects beside it):

- `meta.json`: the format version, the config hash and the settings it covers, the
  backup's identity and the creation time. Written once, before the first Parquet object.
- `entries/{db}/{table}/{sst_stem}.parquet.json`: one entry per Parquet object, written by
  its SST task only after the object is completely uploaded: the JSON form of its
  `WrittenObject` (object path, source SSTs, database, table, table ID, row count, byte
  size, SHA-256, the ETag the store gave it, finished time, and the paths of every object
  of the same SST task).
  With `--target-file-size` an object holds a group of SSTs (`{first}__{last}.parquet`),
  its entry records the group, and each object is a unit of its own: its table's task
  resumes after the last file of the table found here (`grouped_files`).
- `entries/_empty_tasks/{sst_stem}.json`: one entry per SST task that produced no object
  (all its records deletes, or rows of tables outside the selection), so that a resumed
  run does not download and decode it again.
- `commits/{key}.json`: one record per Iceberg table committed (`--iceberg-catalog`): the
  catalog, the table, the digest of the files committed and the snapshot made.
- `index/{seq}.json`: many entries in one document. The exporting process (`Compactor`)
  folds the entries of finished tasks into a new index every `INDEX_FLUSH_ENTRIES`
  entries and at the end of the run, and only then deletes the entries it covers; it
  merges small indexes into one (at most `INDEX_CAP` entries each) once there are
  `INDEX_MERGE_AT` of them, and deletes the merged ones after the merge is written. So
  opening the checkpoint of a large export takes a handful of reads, and a kill at any
  moment loses at most a compaction in progress, never an entry.

Every document is written with one atomic write (a single PUT on object stores, a staging
file renamed into place on local disk) and carries the SHA-256 of its own canonical JSON
(`checksum`), so a torn, edited or foreign document is recognised and ignored rather than
trusted. An entry found more than once is taken from its entry document before any index
(an entry is written only after every index that can hold an older form of it), else from
the index with the highest `seq`. A task is reusable only when each object in its
`task_objects` has a valid entry and is in the storage as recorded (`Verify`: by default
its size and ETag as listed); any other task is done again, overwriting its objects.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .backupmeta import BackupMeta
from .crashpoints import crash_point
from .errors import CheckpointError, CheckpointMismatchError, ObjectNotFoundError, StorageError
from .naming import normalize_prefix, sst_stem
from .storage import Storage
from .written import WrittenObject

if TYPE_CHECKING:
    from .events import Event

log = logging.getLogger("br_parquet.checkpoint")

FORMAT_NAME = "br-parquet-checkpoint"
FORMAT_VERSION = 3
"""Version of the checkpoint layout written. Version 2 named objects so that no folder
starts with `_` or `.` and stored entries as `WrittenObject`s; version 3 adds the ETag of
each object to its entry, and the index objects."""
READABLE_VERSIONS = (2, 3)
"""Versions that are opened; any other is refused, not misread. A version-2 checkpoint is
upgraded in place: the first run that writes to it rewrites `meta.json` as version 3 (so
an older br-parquet refuses it instead of ignoring the index objects), and its entries,
which have no ETag, are checked by SHA-256 once and then recorded with the ETag listed."""

CHECKPOINT_DIR = "_checkpoint"
META_NAME = "meta.json"
ENTRIES_DIR = "entries"
INDEX_DIR = "index"
EMPTY_TASKS_DIR = "_empty_tasks"
COMMITS_DIR = "commits"
OBJECT_SUFFIX = ".parquet"
ENTRY_SUFFIX = ".json"

INDEX_FLUSH_ENTRIES = 1000
"""Entries of finished tasks gathered before they are written as one index (and their
entry documents deleted). `BR_PARQUET_CHECKPOINT_FLUSH_ENTRIES` overrides it."""
FLUSH_ENV = "BR_PARQUET_CHECKPOINT_FLUSH_ENTRIES"
INDEX_MERGE_AT = 8
"""Indexes below `INDEX_CAP` entries that are merged into one as soon as there are this many."""
INDEX_CAP = 20_000
"""Entries in one index at most (about 12 MB of JSON, some 60 MB while it is parsed and its
checksum checked), so that reading one stays small."""

Verify = Literal["sha256", "size", "etag"]
VERIFY_MODES: tuple[Verify, ...] = ("sha256", "size", "etag")
"""How a resumed run checks a finished object before reusing it. `etag` (the default):
a listing of the output (its table folders in parallel), comparing each object's size and
ETag with its entry (on local disk obstore's ETag is made of the file's inode, mtime and
size); an object whose ETag differs or whose entry has none is read back and its SHA-256
compared. `sha256`: every object is read back, streamed. `size`: the listing's sizes
only (misses same-size replacements)."""
DEFAULT_VERIFY: Verify = "etag"

DEFAULT_WORKERS = 8
"""Documents read, deleted and objects verified concurrently."""
LIST_PAGE = 1000
"""Names in one page of an object store's listing."""

_OBJECT_KIND = "object"
_EMPTY_TASK_KIND = "empty_task"
_INDEX_KIND = "index"
_INDEX_NAME = re.compile(r"(\d{1,18})\.json")
_SHOWN_PROBLEMS = 10  # problems logged one by one; the rest only counted

_SETTING_LABELS: dict[str, str] = {
    "backupmeta_sha256": "the backup (SHA-256 of its backupmeta)",
    "start_version": "the backup's start_version",
    "end_version": "the backup's end_version",
    "filters": "--filter (after @file expansion)",
    "table_ids": "--table-ids",
    "row_group_size": "--row-group-size",
    "compression": "--compression",
    "type_mapping": "--type-mapping",
    "change_columns": "the change columns (--emit-deletes, --with-commit-ts)",
    "file_schemas": "the Iceberg field IDs of the files (--iceberg-catalog and its tables)",
    "target_file_size": "--target-file-size",
}

_T = TypeVar("_T")
_R = TypeVar("_R")


# --- configuration and identity -------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointConfig:
    """The settings that decide the content of the output; their hash binds a checkpoint
    to the export that wrote it. Build it with `CheckpointConfig.for_export`."""

    backupmeta_sha256: str
    start_version: int
    end_version: int
    filters: tuple[str, ...]
    table_ids: tuple[int, ...]
    row_group_size: int
    compression: str
    type_mapping: str
    change_columns: tuple[str, ...] = ()
    """`_tidb_op` and/or `_tidb_commit_ts` when asked for (`--emit-deletes`,
    `--with-commit-ts`)."""
    file_schemas: str | None = None
    """Digest of the Iceberg field IDs written into the files (`--iceberg-catalog`), None
    without a catalog: files of one table must all carry the same IDs."""
    target_file_size: int | None = None
    """`--target-file-size` in bytes, None for one file per SST."""

    @classmethod
    def for_export(
        cls,
        meta: BackupMeta,
        *,
        rules: Sequence[str],
        table_ids: Sequence[int],
        row_group_size: int,
        compression: str,
        type_mapping: str,
        file_schemas: str | None = None,
        change_columns: Sequence[str] = (),
        target_file_size: int | None = None,
    ) -> CheckpointConfig:
        """The config of an export of `meta` that selects tables with filter `rules` (after
        `@file` expansion, as the filter applied them: editing a filter file counts as a
        change), while reordering `--table-ids` does not."""
        return cls(
            backupmeta_sha256=meta.content_digest.hex(),
            start_version=meta.start_version,
            end_version=meta.end_version,
            filters=tuple(rules),
            table_ids=tuple(sorted(set(table_ids))),
            row_group_size=row_group_size,
            compression=compression,
            type_mapping=type_mapping,
            file_schemas=file_schemas,
            change_columns=tuple(change_columns),
            target_file_size=target_file_size,
        )

    def settings(self) -> dict[str, Any]:
        """The settings as JSON values, keyed by field name (`file_schemas`,
        `change_columns` and `target_file_size` only when set, so that checkpoints written
        without them keep their hash)."""
        settings: dict[str, Any] = {
            "backupmeta_sha256": self.backupmeta_sha256,
            "start_version": self.start_version,
            "end_version": self.end_version,
            "filters": list(self.filters),
            "table_ids": list(self.table_ids),
            "row_group_size": self.row_group_size,
            "compression": self.compression,
            "type_mapping": self.type_mapping,
        }
        if self.change_columns:
            settings["change_columns"] = list(self.change_columns)
        if self.file_schemas is not None:
            settings["file_schemas"] = self.file_schemas
        if self.target_file_size is not None:
            settings["target_file_size"] = self.target_file_size
        return settings

    @property
    def hash(self) -> str:
        """Hex SHA-256 of the canonical JSON of `settings()`."""
        return settings_hash(self.settings())

    def changes_from(self, recorded: Mapping[str, Any]) -> list[str]:
        """What differs between the `recorded` settings and these, one phrase per setting."""
        current = self.settings()
        changes: list[str] = []
        for key in sorted(set(current) | set(recorded), key=_setting_order):
            before, now = recorded.get(key), current.get(key)
            if before == now:
                continue
            label = _SETTING_LABELS.get(key, key)
            if key == "file_schemas":
                none = "none (no catalog)"
                changes.append(f"{label} were {before or none}, now {now or none}")
            elif key == "target_file_size":
                one = "none (one file per SST)"
                was, is_now = _show(before) if before else one, _show(now) if now else one
                changes.append(f"{label} was {was}, now {is_now}")
            elif key not in recorded:
                changes.append(f"{label} is not recorded in the checkpoint, now {_show(now)}")
            elif key not in current:
                changes.append(f"{label} was {_show(before)}, a setting this version lacks")
            else:
                changes.append(f"{label} was {_show(before)}, now {_show(now)}")
        return changes


def settings_hash(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(settings)).hexdigest()


def _setting_order(key: str) -> tuple[int, str]:
    order = list(_SETTING_LABELS)
    return (order.index(key) if key in order else len(order), key)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class BackupIdentity:
    """Which backup a checkpoint belongs to, recorded in `meta.json` for people reading it
    (the config hash already covers the backupmeta digest and versions)."""

    location: str
    cluster_id: int
    cluster_version: str
    br_version: str
    start_version: int
    end_version: int
    backupmeta_sha256: str

    @classmethod
    def of(cls, meta: BackupMeta, location: str) -> BackupIdentity:
        """`location` describes the input storage without credentials."""
        return cls(
            location=location,
            cluster_id=meta.cluster_id,
            cluster_version=meta.cluster_version,
            br_version=meta.br_version,
            start_version=meta.start_version,
            end_version=meta.end_version,
            backupmeta_sha256=meta.content_digest.hex(),
        )


# --- entries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmptyTaskEntry:
    """An SST task finished without producing an object."""

    source_sst: str
    source_default_sst: str | None
    finished_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "source_sst": self.source_sst,
            "source_default_sst": self.source_default_sst,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> EmptyTaskEntry:
        """Raises `_InvalidDocument` saying what is wrong."""
        default = document.get("source_default_sst")
        if default is not None and not isinstance(default, str):
            raise _InvalidDocument("has a source_default_sst that is not a string")
        return cls(_str(document, "source_sst"), default, _str(document, "finished_at"))


Entry = WrittenObject | EmptyTaskEntry


@dataclass(frozen=True)
class EntryWriter:
    """Records finished work as checkpoint entries: a small picklable value, so that an
    SST task can record its own objects wherever it runs (`record_*` take the output
    storage). Entries are written only after the objects they describe are uploaded."""

    prefix: str
    """The normalised output prefix."""
    config_hash: str

    @property
    def directory(self) -> str:
        return _join(self.prefix, CHECKPOINT_DIR)

    @property
    def entries_prefix(self) -> str:
        return f"{self.directory}/{ENTRIES_DIR}/"

    @property
    def index_prefix(self) -> str:
        return f"{self.directory}/{INDEX_DIR}/"

    def owns(self, obj: str) -> bool:
        head = self.prefix + "/" if self.prefix else ""
        return obj.startswith(head) and obj.endswith(OBJECT_SUFFIX)

    def entry_name(self, obj: str) -> str:
        """Where the entry of Parquet object `obj` is stored."""
        if not self.owns(obj):
            raise ValueError(f"object {obj!r} is not a Parquet object under {self.prefix!r}")
        relative = obj[len(self.prefix) + 1 :] if self.prefix else obj
        return f"{self.entries_prefix}{relative}{ENTRY_SUFFIX}"

    def empty_task_entry_name(self, source_sst: str) -> str:
        """Where the entry of an SST task that produced no object is stored."""
        return f"{self.entries_prefix}{EMPTY_TASKS_DIR}/{sst_stem(source_sst)}{ENTRY_SUFFIX}"

    def name_of(self, entry: Entry) -> str:
        """Where `entry` is stored as a document of its own."""
        if isinstance(entry, WrittenObject):
            return self.entry_name(entry.path)
        return self.empty_task_entry_name(entry.source_sst)

    def index_name(self, seq: int) -> str:
        return f"{self.index_prefix}{seq:010d}{ENTRY_SUFFIX}"

    def record_object(self, storage: Storage, obj: WrittenObject) -> None:
        """Mark Parquet object `obj` finished. Call only once it is completely uploaded."""
        if obj.path not in obj.task_objects:
            raise ValueError(f"object {obj.path!r} is not among its task's objects")
        document: dict[str, Any] = {
            "kind": _OBJECT_KIND,
            "format_version": FORMAT_VERSION,
            "config_hash": self.config_hash,
            "object": obj.to_json(),
        }
        storage.put_bytes(self.entry_name(obj.path), _seal(document))

    def record_empty_task(
        self, storage: Storage, source_sst: str, source_default_sst: str | None
    ) -> None:
        """Mark an SST task that produced no Parquet object finished."""
        entry = EmptyTaskEntry(source_sst, source_default_sst, utc_now())
        document: dict[str, Any] = {
            "kind": _EMPTY_TASK_KIND,
            "format_version": FORMAT_VERSION,
            "config_hash": self.config_hash,
            **entry.to_json(),
        }
        storage.put_bytes(self.empty_task_entry_name(source_sst), _seal(document))


class _InvalidDocument(Exception):
    """A checkpoint document that must not be trusted; the message says why."""


@dataclass(frozen=True)
class _Index:
    """An index object: its name, sequence number and entries (by entry name)."""

    name: str
    seq: int
    entries: dict[str, Entry] = field(repr=False)


# --- compaction -----------------------------------------------------------------------------


class Compactor:
    """Folds entries into index objects as the export runs, in the exporting process.

    It is a listener of the export's events (`UploadFinished` of a task means all of its
    entries are written; `RunFinished` ends the run): `add` gathers entries, `flush`
    writes them as one index and then deletes their entry documents, `merge` rewrites the
    small indexes as one and then deletes them, `close` flushes and merges what is left.
    Each index is written before anything it replaces is deleted, so a kill anywhere
    leaves every entry readable, in an index or in its own document. A failing store
    only stops the compaction: the entry documents stay and the next run compacts them.
    """

    def __init__(
        self,
        storage: Storage,
        writer: EntryWriter,
        *,
        next_seq: int = 1,
        small: Sequence[_Index] = (),
        flush_entries: int | None = None,
        merge_at: int = INDEX_MERGE_AT,
        cap: int = INDEX_CAP,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.storage = storage
        self.writer = writer
        self.flush_entries = max(1, flush_entries or _flush_entries_setting())
        self.merge_at = max(2, merge_at)
        self.cap = max(1, cap)
        self.workers = workers
        self.indexes_written = 0
        self.documents_deleted = 0
        self._next_seq = next_seq
        self._small = sorted(small, key=lambda i: i.seq)
        self._pending: dict[str, Entry] = {}
        self._pending_documents: set[str] = set()
        """Names in `_pending` that are stored as entry documents (to delete once indexed)."""

    def __call__(self, event: Event) -> None:
        from .events import RunFinished, UploadFinished  # events imports this module's users

        try:
            if isinstance(event, UploadFinished):
                objects: Sequence[Entry] = event.objects or (
                    EmptyTaskEntry(event.sst, None, utc_now()),
                )
                self.add(objects)
            elif isinstance(event, RunFinished):
                self.close()
        except StorageError as e:
            log.warning(
                "compacting the checkpoint failed (its entries stay as they are; the next "
                "run compacts them): %s",
                e,
            )

    @property
    def pending(self) -> int:
        """Entries gathered and not yet written in an index."""
        return len(self._pending)

    def add(self, entries: Iterable[Entry], *, stored: bool = True) -> None:
        """Gathers finished entries; `stored`: each is in its own entry document. Writes
        an index once `flush_entries` are gathered."""
        for entry in entries:
            name = self.writer.name_of(entry)
            self._pending[name] = entry
            if stored:
                self._pending_documents.add(name)
        if len(self._pending) >= self.flush_entries:
            self.flush()

    def flush(self) -> None:
        """Writes the gathered entries as one index, then deletes their entry documents."""
        if not self._pending:
            return
        self._small.append(self._write(self._pending))
        self._delete(sorted(self._pending_documents))
        self._pending = {}
        self._pending_documents = set()
        if len(self._small) >= self.merge_at:
            self.merge()

    def merge(self) -> None:
        """Rewrites the small indexes as one (or several of `cap` entries), then deletes
        them. Later indexes win, as when the checkpoint is opened."""
        if len(self._small) < 2:
            return
        combined: dict[str, Entry] = {}
        for index in self._small:
            combined.update(index.entries)
        names = sorted(combined)
        written = [
            self._write({name: combined[name] for name in names[i : i + self.cap]})
            for i in range(0, len(names), self.cap)
        ]
        merged, self._small = self._small, [i for i in written if len(i.entries) < self.cap]
        self._delete([index.name for index in merged])

    def close(self) -> None:
        """At the end of a run: flush, then merge the small indexes."""
        self.flush()
        self.merge()

    def _write(self, entries: Mapping[str, Entry]) -> _Index:
        seq = self._next_seq
        self._next_seq += 1
        name = self.writer.index_name(seq)
        values = list(entries.values())
        document: dict[str, Any] = {
            "kind": _INDEX_KIND,
            "format_version": FORMAT_VERSION,
            "config_hash": self.writer.config_hash,
            "seq": seq,
            "objects": [e.to_json() for e in values if isinstance(e, WrittenObject)],
            "empty_tasks": [e.to_json() for e in values if isinstance(e, EmptyTaskEntry)],
        }
        crash_point("before-index")
        self.storage.put_bytes(name, _seal(document))
        crash_point("after-index")
        self.indexes_written += 1
        log.debug("checkpoint index %s holds %d entries", name, len(values))
        return _Index(name, seq, dict(entries))

    def _delete(self, names: Sequence[str]) -> None:
        _parallel(self.storage.delete, names, self.workers)
        self.documents_deleted += len(names)


def _flush_entries_setting() -> int:
    text = os.environ.get(FLUSH_ENV)
    if not text:
        return INDEX_FLUSH_ENTRIES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{FLUSH_ENV}={text!r}: expected a positive number of entries")
    return value


@dataclass
class CheckpointStatus:
    """What opening a checkpoint found."""

    fresh: bool = True
    """No checkpoint existed: `meta.json` was written by this run."""
    created_at: str = ""
    format_version: int = FORMAT_VERSION
    """The version `meta.json` had when it was opened."""
    entries: int = 0
    """Valid entries found."""
    index_objects: int = 0
    """Index objects read (valid or not)."""
    entry_documents: int = 0
    """Entry documents read (valid or not): the entries not compacted into an index."""
    rejected_entries: list[str] = field(default_factory=list)
    """Documents ignored (torn, corrupt, foreign), each with the reason."""
    redo_objects: list[str] = field(default_factory=list)
    """Objects with a valid entry that failed verification (missing, size, SHA-256)."""
    reusable_tasks: int = 0
    reusable_objects: int = 0
    reusable_rows: int = 0
    listed_objects: int = 0
    """Reusable objects checked by the listing alone."""
    read_objects: int = 0
    """Objects read back to check their SHA-256."""


# --- the checkpoint --------------------------------------------------------------------------


class Checkpoint:
    """The checkpoint of one export under `{prefix}/_checkpoint/` of `storage`.

    `Checkpoint.open` loads (or starts) it; `reusable(task)` says whether an SST task is
    finished; `record_object` / `record_empty_task` mark work finished; `compactor` (None
    when opened read-only) folds entries into index objects. The queries and records are
    safe to call from the export's worker threads; the compactor belongs to one thread.
    """

    def __init__(self, storage: Storage, prefix: str, config: CheckpointConfig) -> None:
        self.storage = storage
        self.prefix = normalize_prefix(prefix)
        self.config = config
        self.writer = EntryWriter(self.prefix, config.hash)
        self.directory = self.writer.directory
        self.meta_name = f"{self.directory}/{META_NAME}"
        self.url = f"{storage.location.rstrip('/')}/{self.directory}/"
        """The checkpoint directory as a URL, for messages that tell the user to remove it."""
        self.entries_prefix = self.writer.entries_prefix
        self.status = CheckpointStatus()
        self.compactor: Compactor | None = None
        self._reusable: dict[str, tuple[WrittenObject, ...]] = {}
        self._grouped: defaultdict[int, dict[str, WrittenObject]] = defaultdict(dict)

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        storage: Storage,
        prefix: str,
        config: CheckpointConfig,
        backup: BackupIdentity,
        *,
        verify: Verify = DEFAULT_VERIFY,
        workers: int = DEFAULT_WORKERS,
        read_only: bool = False,
        flush_entries: int | None = None,
    ) -> Checkpoint:
        """Load the checkpoint under `prefix`, or start one by writing its `meta.json`
        (unless `read_only`, as for a dry run: then nothing is written and there is no
        compactor).

        Raises `CheckpointMismatchError` when it was written for another backup or other
        settings, `CheckpointError` when `meta.json` is unreadable; both before anything
        else is written. Documents that fail validation and objects that fail
        verification (`verify`) are logged and their tasks left to be done again. Entries
        left uncompacted by an earlier run are compacted now, with the compactor's
        `flush_entries` (default `INDEX_FLUSH_ENTRIES`).
        """
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, got {verify!r}")
        checkpoint = cls(storage, prefix, config)
        checkpoint._load(backup, verify, max(1, workers), read_only, flush_entries)
        return checkpoint

    def _load(
        self,
        backup: BackupIdentity,
        verify: Verify,
        workers: int,
        read_only: bool,
        flush_entries: int | None,
    ) -> None:
        try:
            raw = self.storage.get_bytes(self.meta_name)
        except ObjectNotFoundError:
            self._start(backup, write=not read_only)
            if not read_only:
                self.compactor = Compactor(
                    self.storage, self.writer, flush_entries=flush_entries, workers=workers
                )
            return
        document = self._check_meta(raw)
        self.status.fresh = False
        indexes, documents, next_seq = self._read_documents(workers)
        entries = self._combine(indexes, documents)
        if self.status.format_version < FORMAT_VERSION and not read_only:
            self._upgrade(document)
        refreshed = self._select_reusable(entries, verify, workers)
        status = self.status
        log.info(
            "checkpoint %s (created %s): %d Parquet objects (%d rows) of %d SST tasks "
            "reusable (%s: %d checked by listing, %d read back); %d entries in %d index "
            "objects and %d entry documents; %d documents rejected, %d objects to redo",
            self.directory,
            status.created_at or "?",
            status.reusable_objects,
            status.reusable_rows,
            status.reusable_tasks,
            verify,
            status.listed_objects,
            status.read_objects,
            status.entries,
            status.index_objects,
            status.entry_documents,
            len(status.rejected_entries),
            len(status.redo_objects),
        )
        if read_only:
            return
        compactor = Compactor(
            self.storage,
            self.writer,
            next_seq=next_seq,
            small=[i for i in indexes if len(i.entries) < INDEX_CAP],
            flush_entries=flush_entries,
            workers=workers,
        )
        self.compactor = compactor
        # Reusable entries still in documents of their own, and those now known with
        # another ETag, go into an index at once: they never pile up over many kills.
        leftovers: list[Entry] = []
        for task, objects in self._reusable.items():
            if not objects:
                name = self.writer.empty_task_entry_name(task)
                found = documents.get(name)
                if isinstance(found, EmptyTaskEntry):
                    leftovers.append(found)
            leftovers.extend(o for o in objects if self.writer.entry_name(o.path) in documents)
        compactor.add(leftovers, stored=True)
        compactor.add(refreshed, stored=False)
        try:
            compactor.flush()
        except StorageError as e:
            log.warning("compacting the checkpoint failed (it stays as it is): %s", e)

    def _start(self, backup: BackupIdentity, *, write: bool) -> None:
        prefix = self.directory + "/"
        leftovers = [
            o for o in self.storage.list(prefix) if _is_entry(o.name) and o.name != self.meta_name
        ]
        if leftovers:
            raise CheckpointError(
                self.meta_name,
                f"is missing although {prefix} holds {len(leftovers)} entries "
                f"(such as {leftovers[0].name}); the checkpoint was partly removed. Remove "
                f"the whole checkpoint directory {self.url} to start over, use a new "
                "--output-prefix, or pass --use-checkpoint=false",
                directory=self.url,
            )
        if not write:
            return
        created_at = utc_now()
        document: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "config_hash": self.config.hash,
            "config": self.config.settings(),
            "backup": {
                "location": backup.location,
                "cluster_id": backup.cluster_id,
                "cluster_version": backup.cluster_version,
                "br_version": backup.br_version,
                "start_version": backup.start_version,
                "end_version": backup.end_version,
                "backupmeta_sha256": backup.backupmeta_sha256,
            },
            "created_at": created_at,
            "created_by": f"br-parquet {_package_version()}",
        }
        self.storage.put_bytes(self.meta_name, _seal(document, indent=2))
        self.status.created_at = created_at
        log.info("started checkpoint %s", self.directory)

    def _check_meta(self, raw: bytes) -> dict[str, Any]:
        """The meta document, when this run may resume from it."""

        def invalid(reason: str) -> CheckpointError:
            return CheckpointError(
                self.meta_name,
                f"{reason}; expected the checkpoint meta document br-parquet writes. Remove "
                f"the checkpoint directory {self.url} to start over, use a new "
                "--output-prefix, or pass --use-checkpoint=false",
                directory=self.url,
            )

        try:
            document = _unseal(raw)
        except _InvalidDocument as e:
            raise invalid(str(e)) from None
        if document.get("format") != FORMAT_NAME:
            raise invalid(f"has format {_show(document.get('format'))}, not {FORMAT_NAME!r}")
        found = document.get("format_version")
        if not isinstance(found, int) or isinstance(found, bool):
            raise invalid("has no integer format_version")
        if found > FORMAT_VERSION:
            raise CheckpointError(
                self.meta_name,
                f"was written by a newer br-parquet (checkpoint format version {found}; this "
                f"one reads versions {READABLE_VERSIONS[0]} to {FORMAT_VERSION}): resume with "
                f"that version, or remove the checkpoint directory {self.url}",
                directory=self.url,
            )
        if found not in READABLE_VERSIONS:
            raise CheckpointError(
                self.meta_name,
                f"was written by an older br-parquet (checkpoint format version {found}; this "
                f"one reads versions {READABLE_VERSIONS[0]} to {FORMAT_VERSION}), which named "
                "some objects differently, so resuming could leave duplicates. Finish the "
                "export with that version, or remove the checkpoint directory "
                f"{self.url} and the objects beside it to export again, or use a new "
                "--output-prefix",
                directory=self.url,
            )
        self.status.format_version = found
        recorded = document.get("config")
        recorded_hash = document.get("config_hash")
        if not isinstance(recorded, dict) or not isinstance(recorded_hash, str):
            raise invalid("has no config and config_hash")
        if settings_hash(recorded) != recorded_hash:
            raise invalid("has a config_hash that does not match its config")
        created_at = document.get("created_at")
        self.status.created_at = created_at if isinstance(created_at, str) else ""
        if recorded_hash != self.config.hash:
            changes = self.config.changes_from(recorded) or [
                f"the config hash was {recorded_hash}, now {self.config.hash}"
            ]
            raise CheckpointMismatchError(self.meta_name, directory=self.url, changes=changes)
        return document

    def _upgrade(self, document: dict[str, Any]) -> None:
        """Rewrites `meta.json` of an older readable version as the current one."""
        before = document["format_version"]
        upgraded = {**document, "format_version": FORMAT_VERSION, "upgraded_at": utc_now()}
        self.storage.put_bytes(self.meta_name, _seal(upgraded, indent=2))
        log.info(
            "upgraded checkpoint %s from format version %d to %d",
            self.directory,
            before,
            FORMAT_VERSION,
        )

    def _read_documents(self, workers: int) -> tuple[list[_Index], dict[str, Entry | str], int]:
        """(valid indexes, {entry document: its entry or why it is rejected}, the next
        index sequence number), from one listing of the checkpoint directory."""
        index_names: list[str] = []
        entry_names: list[str] = []
        next_seq = 1
        for info in self.storage.list(self.directory + "/"):
            if info.name.startswith(self.writer.index_prefix):
                index_names.append(info.name)
                match = _INDEX_NAME.fullmatch(info.name[len(self.writer.index_prefix) :])
                if match:
                    next_seq = max(next_seq, int(match.group(1)) + 1)
            elif info.name.startswith(self.entries_prefix) and _is_entry(info.name):
                entry_names.append(info.name)
        self.status.index_objects = len(index_names)
        self.status.entry_documents = len(entry_names)
        indexes: list[_Index] = []
        # One at a time: each may hold INDEX_CAP entries, parsed as JSON in memory.
        for name, parsed in zip(
            index_names, _parallel(self._read_index, index_names, 1), strict=True
        ):
            if isinstance(parsed, str):
                self._reject(name, parsed, "index")
            else:
                indexes.append(parsed)
        documents = dict(
            zip(entry_names, _parallel(self._read_entry, entry_names, workers), strict=True)
        )
        for name, entry in documents.items():
            if isinstance(entry, str):
                self._reject(name, entry, "entry")
        return indexes, documents, next_seq

    def _combine(
        self, indexes: Sequence[_Index], documents: Mapping[str, Entry | str]
    ) -> dict[str, Entry]:
        """Every valid entry by entry name: entry documents first, then later indexes."""
        entries: dict[str, Entry] = {}
        for index in sorted(indexes, key=lambda i: i.seq):
            entries.update(index.entries)
        for name, entry in documents.items():
            if isinstance(entry, str):
                entries.pop(name, None)  # the newest form of it is unreadable
            else:
                entries[name] = entry
        self.status.entries = len(entries)
        return entries

    def _read_index(self, name: str) -> _Index | str:
        """The index stored as `name`, or why it cannot be trusted."""
        try:
            raw = self.storage.get_bytes(name)
        except ObjectNotFoundError:
            return "vanished while the checkpoint was read"
        try:
            return self._parse_index(name, _unseal(raw))
        except _InvalidDocument as e:
            return str(e)

    def _parse_index(self, name: str, document: dict[str, Any]) -> _Index:
        self._check_document(document, (FORMAT_VERSION,))
        if document.get("kind") != _INDEX_KIND:
            raise _InvalidDocument(f"has kind {_show(document.get('kind'))}")
        seq = document.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or name != self.writer.index_name(seq):
            raise _InvalidDocument(f"is stored under another name than index {_show(seq)}")
        objects, empty_tasks = document.get("objects"), document.get("empty_tasks")
        if not isinstance(objects, list) or not isinstance(empty_tasks, list):
            raise _InvalidDocument("has no objects and empty_tasks lists")
        entries: dict[str, Entry] = {}
        for body in objects:
            obj = self._object_entry(body)
            entries[self.writer.entry_name(obj.path)] = obj
        for body in empty_tasks:
            if not isinstance(body, dict):
                raise _InvalidDocument("has an empty-task record that is not an object")
            empty = EmptyTaskEntry.from_json(body)
            entries[self.writer.empty_task_entry_name(empty.source_sst)] = empty
        return _Index(name, seq, entries)

    def _read_entry(self, name: str) -> Entry | str:
        """The entry stored as `name`, or why it cannot be trusted."""
        try:
            raw = self.storage.get_bytes(name)
        except ObjectNotFoundError:
            return "vanished while the checkpoint was read"
        try:
            return self._parse_entry(name, _unseal(raw))
        except _InvalidDocument as e:
            return str(e)

    def _parse_entry(self, name: str, document: dict[str, Any]) -> Entry:
        self._check_document(document, READABLE_VERSIONS)
        kind = document.get("kind")
        if kind == _EMPTY_TASK_KIND:
            empty = EmptyTaskEntry.from_json(document)
            if name != self.writer.empty_task_entry_name(empty.source_sst):
                raise _InvalidDocument(
                    f"is stored under another name than task {empty.source_sst!r}"
                )
            return empty
        if kind != _OBJECT_KIND:
            raise _InvalidDocument(f"has kind {_show(kind)}")
        entry = self._object_entry(document.get("object"))
        if name != self.writer.entry_name(entry.path):
            raise _InvalidDocument(f"is stored under another name than object {entry.path!r}")
        return entry

    def _check_document(self, document: Mapping[str, Any], versions: Sequence[int]) -> None:
        if document.get("format_version") not in versions:
            raise _InvalidDocument(f"has format_version {_show(document.get('format_version'))}")
        if document.get("config_hash") != self.config.hash:
            raise _InvalidDocument("belongs to a checkpoint with a different config hash")

    def _object_entry(self, body: Any) -> WrittenObject:
        if not isinstance(body, dict):
            raise _InvalidDocument("has no object record")
        try:
            # Marked reused now: only the entries of reusable tasks are handed out.
            entry = WrittenObject.from_json(body, reused=True)
        except ValueError as e:
            raise _InvalidDocument(str(e)) from None
        if not self.writer.owns(entry.path):
            raise _InvalidDocument(f"records object {entry.path!r} outside {self.prefix!r}")
        return entry

    def _select_reusable(
        self, entries: Mapping[str, Entry], verify: Verify, workers: int
    ) -> list[WrittenObject]:
        """Fills `_reusable`; returns the reusable entries whose ETag is now another (or
        newly known) after their SHA-256 was checked, to be recorded again."""
        objects: dict[str, list[WrittenObject]] = defaultdict(list)
        empty_tasks: set[str] = set()
        for entry in entries.values():
            if isinstance(entry, WrittenObject):
                # A grouped file is a unit of its own: its table's task resumes after
                # the last file it finds recorded (see `grouped_files`).
                objects[entry.path if entry.grouped else entry.source_sst].append(entry)
            else:
                empty_tasks.add(entry.source_sst)
        candidates: dict[str, list[WrittenObject]] = {}
        for task, group in objects.items():
            wanted = {e.task_objects for e in group}
            recorded = tuple(sorted(e.path for e in group))
            if task in empty_tasks:
                log.warning("task %s has both object and empty-task entries; redoing it", task)
            elif len(wanted) == 1 and recorded == tuple(sorted(next(iter(wanted)))):
                candidates[task] = group
            else:
                log.info("task %s was interrupted after %d objects; redoing it", task, len(group))
        for task in empty_tasks:
            if task not in objects:
                self._reusable[task] = ()
        failures, etags = self._verify(
            [e for group in candidates.values() for e in group], verify, workers
        )
        for obj, problem in sorted(failures.items()):
            self._redo(obj, problem)
        refreshed: list[WrittenObject] = []
        for task, group in candidates.items():
            if any(e.path in failures for e in group):
                continue
            reused = []
            for e in sorted(group, key=lambda e: e.path):
                etag = etags.get(e.path, e.etag)
                if etag != e.etag:
                    e = replace(e, etag=etag)
                    refreshed.append(e)
                reused.append(e)
            self._reusable[task] = tuple(reused)
        for found in self._reusable.values():
            for e in found:
                if e.group_first is not None:
                    self._grouped[e.table_id][e.group_first] = e
        status = self.status
        status.reusable_tasks = len(self._reusable)
        status.reusable_objects = sum(map(len, self._reusable.values()))
        status.reusable_rows = sum(e.rows for es in self._reusable.values() for e in es)
        return refreshed

    def _verify(
        self, entries: Sequence[WrittenObject], verify: Verify, workers: int
    ) -> tuple[dict[str, str], dict[str, str]]:
        """({object: problem} for the entries whose object is not as recorded, {object:
        ETag listed} for those confirmed by their SHA-256)."""
        if not entries:
            return {}, {}
        listed = self._list(entries, workers)
        problems: dict[str, str] = {}
        to_hash: list[WrittenObject] = []
        for entry in entries:
            found = listed.get(entry.path)
            if found is None:
                problems[entry.path] = "is missing"
            elif found[0] != entry.size:
                problems[entry.path] = (
                    f"is {found[0]} bytes but its entry records {entry.size} "
                    "(truncated or replaced)"
                )
            elif verify == "size" or (
                verify == "etag" and entry.etag is not None and found[1] == entry.etag
            ):
                self.status.listed_objects += 1
            else:
                to_hash.append(entry)
        self.status.read_objects = len(to_hash)
        if verify == "etag" and to_hash:
            log.info(
                "reading back %d finished objects whose ETag is not the one recorded", len(to_hash)
            )

        def check(entry: WrittenObject) -> str | None:
            try:
                digest, size = self.storage.sha256(entry.path)
            except ObjectNotFoundError:
                return "is missing"
            if size != entry.size:
                return f"is {size} bytes but its entry records {entry.size}"
            if digest.hex() != entry.sha256:
                changed = (
                    f" (its ETag {listed[entry.path][1]} is not the recorded {entry.etag})"
                    if verify == "etag" and entry.etag is not None
                    else ""
                )
                return f"has sha256 {digest.hex()} but its entry records {entry.sha256}{changed}"
            return None

        etags: dict[str, str] = {}
        for entry, problem in zip(to_hash, _parallel(check, to_hash, workers), strict=True):
            if problem is not None:
                problems[entry.path] = problem
            else:
                etag = listed[entry.path][1]
                if etag is not None:
                    etags[entry.path] = etag
        return problems, etags

    def _list(
        self, entries: Sequence[WrittenObject], workers: int
    ) -> dict[str, tuple[int, str | None]]:
        """{object: (size, ETag)} for the objects of `entries` found in the output.

        Listed folder by folder (`{prefix}/{db}/{table}/`), `workers` at a time, when
        there are no more folders than pages (of `LIST_PAGE` names) of one listing of
        the whole prefix: object stores list one prefix a page at a time, so this runs
        the pages in parallel; otherwise (many small tables) in one listing."""
        wanted = {e.path for e in entries}
        folders = {path[: path.rfind("/") + 1] for path in wanted}
        prefixes = sorted(folders)
        if len(folders) > max(1, len(wanted) // LIST_PAGE) or "" in folders:
            prefixes = [self.prefix + "/" if self.prefix else ""]
        listed: dict[str, tuple[int, str | None]] = {}
        for infos in _parallel(self.storage.list, prefixes, workers):
            for info in infos:
                if info.name in wanted:
                    listed[info.name] = (info.size, info.e_tag)
        return listed

    def _reject(self, name: str, reason: str, kind: str) -> None:
        rejected = self.status.rejected_entries
        if len(rejected) < _SHOWN_PROBLEMS:
            consequence = (
                "the tasks it lists are redone unless recorded elsewhere"
                if kind == "index"
                else "its task is redone"
            )
            log.warning("ignoring checkpoint %s %s: it %s; %s", kind, name, reason, consequence)
        rejected.append(f"{name}: {reason}")

    def _redo(self, obj: str, problem: str) -> None:
        redo = self.status.redo_objects
        if len(redo) < _SHOWN_PROBLEMS:
            log.warning("finished object %s %s; its task is redone", obj, problem)
        redo.append(f"{obj}: {problem}")

    # --- queries and records -----------------------------------------------------------

    def reusable(self, task: str) -> tuple[WrittenObject, ...] | None:
        """The verified entries of SST task `task` (the write-CF SST name) when it is
        finished, `()` for a finished task that produced no object, None when it is to
        be done (again)."""
        return self._reusable.get(task)

    def grouped_files(self, table_id: int) -> Mapping[str, WrittenObject]:
        """The verified grouped files (`--target-file-size`) of table `table_id`, by the
        name of the first SST of their group."""
        return self._grouped.get(table_id, {})

    def record_object(self, obj: WrittenObject) -> None:
        """Mark Parquet object `obj` finished. Call only once it is completely uploaded."""
        self.writer.record_object(self.storage, obj)

    def record_empty_task(self, source_sst: str, source_default_sst: str | None) -> None:
        """Mark an SST task that produced no Parquet object finished."""
        self.writer.record_empty_task(self.storage, source_sst, source_default_sst)

    # --- Iceberg commits ----------------------------------------------------------------

    def _commit_name(self, key: str) -> str:
        return f"{self.directory}/{COMMITS_DIR}/{key}.json"

    def commit_record(self, key: str) -> dict[str, Any] | None:
        """The Iceberg commit recorded under `key` (see `iceberg_commit`), or None when
        there is none or it cannot be trusted (then the catalog decides)."""
        name = self._commit_name(key)
        try:
            return _unseal(self.storage.get_bytes(name))
        except ObjectNotFoundError:
            return None
        except _InvalidDocument as e:
            log.warning("ignoring checkpoint document %s: it %s", name, e)
            return None

    def record_commit(self, key: str, record: Mapping[str, Any]) -> None:
        """Record an Iceberg commit made (one atomic write)."""
        self.storage.put_bytes(self._commit_name(key), _seal(dict(record), indent=2))


# --- helpers --------------------------------------------------------------------------------


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _is_entry(name: str) -> bool:
    return name.endswith(ENTRY_SUFFIX)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _seal(document: dict[str, Any], *, indent: int | None = None) -> bytes:
    """`document` as JSON with `checksum`: the SHA-256 of its canonical form without it."""
    sealed = {**document, "checksum": hashlib.sha256(_canonical(document)).hexdigest()}
    return (json.dumps(sealed, indent=indent, ensure_ascii=False) + "\n").encode()


def _unseal(raw: bytes) -> dict[str, Any]:
    """The document `_seal` wrote, without its checksum; raises `_InvalidDocument`."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _InvalidDocument(f"is not JSON ({len(raw)} bytes; torn or damaged)") from None
    if not isinstance(document, dict):
        raise _InvalidDocument("is not a JSON object")
    checksum = document.pop("checksum", None)
    if not isinstance(checksum, str):
        raise _InvalidDocument("has no checksum")
    if hashlib.sha256(_canonical(document)).hexdigest() != checksum:
        raise _InvalidDocument("does not match its checksum (damaged or edited)")
    return document


def _str(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str):
        raise _InvalidDocument(f"has no string {key}")
    return value


def _parallel(function: Callable[[_T], _R], items: Iterable[_T], workers: int) -> list[_R]:
    """`[function(item) for item in items]`, run on up to `workers` threads."""
    items = list(items)
    if len(items) <= 1 or workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="checkpoint") as pool:
        return list(pool.map(function, items))


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _package_version() -> str:
    try:
        return version("br-parquet")
    except PackageNotFoundError:
        return "0.0.0"

"""Checkpoint state of an export: which Parquet objects under the output prefix are
finished, so that a run killed at any moment resumes without redoing them.

Everything lives under `{output-prefix}/_checkpoint/` (pyarrow, Spark and Hive skip
folders starting with `_` when they read the Parquet objects beside it):

- `meta.json`: the format version, the config hash and the settings it covers, the
  backup's identity and the creation time. Written once, before the first Parquet object.
- `entries/{db}/{table}/{sst_stem}.parquet.json`: one entry per Parquet object, written
  only after the object is completely uploaded: the JSON form of its `WrittenObject`
  (object path, source SSTs, database, table, table ID, row count, byte size, SHA-256,
  finished time, and the paths of every object of the same SST task).
- `entries/_empty_tasks/{sst_stem}.json`: one entry per SST task that produced no object
  (all its records deletes, or rows of tables outside the selection), so that a resumed
  run does not download and decode it again.

Every document is written with one atomic write (a single PUT on object stores, a staging
file renamed into place on local disk) and carries the SHA-256 of its own canonical JSON
(`checksum`), so a torn, edited or foreign entry is recognised and ignored rather than
trusted. A task is reusable only when each object in its `task_objects` has a valid entry
and is in the storage with the recorded size and, unless verification is limited to
sizes, the recorded SHA-256; any other task is done again, overwriting its objects.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal, TypeVar

from .backupmeta import BackupMeta
from .errors import CheckpointError, CheckpointMismatchError, ObjectNotFoundError
from .naming import normalize_prefix, sst_stem
from .storage import Storage
from .written import WrittenObject

log = logging.getLogger("br_parquet.checkpoint")

FORMAT_NAME = "br-parquet-checkpoint"
FORMAT_VERSION = 2
"""Version of the checkpoint layout; any other is refused, not misread. Version 2 names
objects so that no folder starts with `_` or `.`, and stores entries as `WrittenObject`s."""

CHECKPOINT_DIR = "_checkpoint"
META_NAME = "meta.json"
ENTRIES_DIR = "entries"
EMPTY_TASKS_DIR = "_empty_tasks"
OBJECT_SUFFIX = ".parquet"
ENTRY_SUFFIX = ".json"

Verify = Literal["sha256", "size"]
VERIFY_MODES: tuple[Verify, ...] = ("sha256", "size")
"""How a resumed run checks a finished object: its size and SHA-256 (read back in full,
streamed), or only its size (one listing; misses same-size corruption)."""

DEFAULT_WORKERS = 8
"""Entries read and objects verified concurrently when a checkpoint is opened."""

_OBJECT_KIND = "object"
_EMPTY_TASK_KIND = "empty_task"
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
        )

    def settings(self) -> dict[str, Any]:
        """The settings as JSON values, keyed by field name."""
        return {
            "backupmeta_sha256": self.backupmeta_sha256,
            "start_version": self.start_version,
            "end_version": self.end_version,
            "filters": list(self.filters),
            "table_ids": list(self.table_ids),
            "row_group_size": self.row_group_size,
            "compression": self.compression,
            "type_mapping": self.type_mapping,
        }

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
            if key not in recorded:
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
class EntryWriter:
    """Records finished work as checkpoint entries: a small picklable value, so that an
    SST task can record its own objects wherever it runs (`record_*` take the output
    storage). Entries are written only after the objects they describe are uploaded."""

    prefix: str
    """The normalised output prefix."""
    config_hash: str

    @property
    def entries_prefix(self) -> str:
        return f"{_join(self.prefix, CHECKPOINT_DIR)}/{ENTRIES_DIR}/"

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
        document: dict[str, Any] = {
            "kind": _EMPTY_TASK_KIND,
            "format_version": FORMAT_VERSION,
            "config_hash": self.config_hash,
            "source_sst": source_sst,
            "source_default_sst": source_default_sst,
            "finished_at": utc_now(),
        }
        storage.put_bytes(self.empty_task_entry_name(source_sst), _seal(document))


@dataclass(frozen=True)
class _EmptyTaskEntry:
    source_sst: str
    source_default_sst: str | None
    finished_at: str


class _InvalidDocument(Exception):
    """A checkpoint document that must not be trusted; the message says why."""


@dataclass
class CheckpointStatus:
    """What opening a checkpoint found."""

    fresh: bool = True
    """No checkpoint existed: `meta.json` was written by this run."""
    created_at: str = ""
    entries: int = 0
    """Valid entries read."""
    rejected_entries: list[str] = field(default_factory=list)
    """Entry documents ignored (torn, corrupt, foreign), each with the reason."""
    redo_objects: list[str] = field(default_factory=list)
    """Objects with a valid entry that failed verification (missing, size, SHA-256)."""
    reusable_tasks: int = 0
    reusable_objects: int = 0
    reusable_rows: int = 0


# --- the checkpoint --------------------------------------------------------------------------


class Checkpoint:
    """The checkpoint of one export under `{prefix}/_checkpoint/` of `storage`.

    `Checkpoint.open` loads (or starts) it; `reusable(task)` says whether an SST task is
    finished; `record_object` / `record_empty_task` mark work finished. Safe to call from
    the export's worker threads.
    """

    def __init__(self, storage: Storage, prefix: str, config: CheckpointConfig) -> None:
        self.storage = storage
        self.prefix = normalize_prefix(prefix)
        self.config = config
        self.directory = _join(self.prefix, CHECKPOINT_DIR)
        self.meta_name = f"{self.directory}/{META_NAME}"
        self.url = f"{storage.location.rstrip('/')}/{self.directory}/"
        """The checkpoint directory as a URL, for messages that tell the user to remove it."""
        self.writer = EntryWriter(self.prefix, config.hash)
        self.entries_prefix = self.writer.entries_prefix
        self.status = CheckpointStatus()
        self._reusable: dict[str, tuple[WrittenObject, ...]] = {}

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        storage: Storage,
        prefix: str,
        config: CheckpointConfig,
        backup: BackupIdentity,
        *,
        verify: Verify = "sha256",
        workers: int = DEFAULT_WORKERS,
        read_only: bool = False,
    ) -> Checkpoint:
        """Load the checkpoint under `prefix`, or start one by writing its `meta.json`
        (unless `read_only`, as for a dry run: then nothing is written).

        Raises `CheckpointMismatchError` when it was written for another backup or other
        settings, `CheckpointError` when `meta.json` is unreadable; both before anything
        else is written. Entries that fail validation or whose objects fail verification
        (`verify`) are logged and their tasks left to be done again.
        """
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, got {verify!r}")
        checkpoint = cls(storage, prefix, config)
        checkpoint._load(backup, verify, max(1, workers), read_only)
        return checkpoint

    def _load(self, backup: BackupIdentity, verify: Verify, workers: int, read_only: bool) -> None:
        try:
            raw = self.storage.get_bytes(self.meta_name)
        except ObjectNotFoundError:
            self._start(backup, write=not read_only)
            return
        self._check_meta(raw)
        self.status.fresh = False
        objects, empty_tasks = self._read_entries(workers)
        self._select_reusable(objects, empty_tasks, verify, workers)
        status = self.status
        checked = "size and sha256" if verify == "sha256" else "size only"
        log.info(
            "checkpoint %s (created %s): %d Parquet objects (%d rows) of %d SST tasks "
            "reusable, verified by %s; %d entries rejected, %d objects to redo",
            self.directory,
            status.created_at or "?",
            status.reusable_objects,
            status.reusable_rows,
            status.reusable_tasks,
            checked,
            len(status.rejected_entries),
            len(status.redo_objects),
        )

    def _start(self, backup: BackupIdentity, *, write: bool) -> None:
        leftovers = [o for o in self.storage.list(self.entries_prefix) if _is_entry(o.name)]
        if leftovers:
            raise CheckpointError(
                self.meta_name,
                f"is missing although {self.entries_prefix} holds {len(leftovers)} entries "
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

    def _check_meta(self, raw: bytes) -> None:
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
                f"one reads version {FORMAT_VERSION}): resume with that version, or remove "
                f"the checkpoint directory {self.url}",
                directory=self.url,
            )
        if found < FORMAT_VERSION:
            raise CheckpointError(
                self.meta_name,
                f"was written by an older br-parquet (checkpoint format version {found}; this "
                f"one reads version {FORMAT_VERSION}), which named some objects differently, "
                "so resuming could leave duplicates. Finish the export with that version, or "
                f"remove the checkpoint directory {self.url} and the objects beside it to "
                "export again, or use a new --output-prefix",
                directory=self.url,
            )
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

    def _read_entries(
        self, workers: int
    ) -> tuple[dict[str, list[WrittenObject]], dict[str, _EmptyTaskEntry]]:
        """Valid entries, grouped by task; invalid ones are recorded in the status."""
        names = [o.name for o in self.storage.list(self.entries_prefix) if _is_entry(o.name)]
        objects: dict[str, list[WrittenObject]] = defaultdict(list)
        empty_tasks: dict[str, _EmptyTaskEntry] = {}
        for name, parsed in zip(names, _parallel(self._read_entry, names, workers), strict=True):
            if isinstance(parsed, str):
                self._reject(name, parsed)
            elif isinstance(parsed, WrittenObject):
                objects[parsed.source_sst].append(parsed)
            else:
                empty_tasks[parsed.source_sst] = parsed
        self.status.entries = sum(map(len, objects.values())) + len(empty_tasks)
        return objects, empty_tasks

    def _read_entry(self, name: str) -> WrittenObject | _EmptyTaskEntry | str:
        """The entry stored as `name`, or why it cannot be trusted."""
        try:
            raw = self.storage.get_bytes(name)
        except ObjectNotFoundError:
            return "vanished while the checkpoint was read"
        try:
            return self._parse_entry(name, _unseal(raw))
        except _InvalidDocument as e:
            return str(e)

    def _parse_entry(self, name: str, document: dict[str, Any]) -> WrittenObject | _EmptyTaskEntry:
        if document.get("format_version") != FORMAT_VERSION:
            raise _InvalidDocument(f"has format_version {_show(document.get('format_version'))}")
        if document.get("config_hash") != self.config.hash:
            raise _InvalidDocument("belongs to a checkpoint with a different config hash")
        kind = document.get("kind")
        if kind == _EMPTY_TASK_KIND:
            source_sst = _str(document, "source_sst")
            default = document.get("source_default_sst")
            if default is not None and not isinstance(default, str):
                raise _InvalidDocument("has a source_default_sst that is not a string")
            if name != self.writer.empty_task_entry_name(source_sst):
                raise _InvalidDocument(f"is stored under another name than task {source_sst!r}")
            return _EmptyTaskEntry(source_sst, default, _str(document, "finished_at"))
        if kind != _OBJECT_KIND:
            raise _InvalidDocument(f"has kind {_show(kind)}")
        body = document.get("object")
        if not isinstance(body, dict):
            raise _InvalidDocument("has no object record")
        try:
            entry = WrittenObject.from_json(body)
        except ValueError as e:
            raise _InvalidDocument(str(e)) from None
        if not self.writer.owns(entry.path) or name != self.writer.entry_name(entry.path):
            raise _InvalidDocument(f"is stored under another name than object {entry.path!r}")
        return entry

    def _select_reusable(
        self,
        objects: Mapping[str, list[WrittenObject]],
        empty_tasks: Mapping[str, _EmptyTaskEntry],
        verify: Verify,
        workers: int,
    ) -> None:
        candidates: dict[str, tuple[WrittenObject, ...]] = {}
        for task, entries in objects.items():
            wanted = {e.task_objects for e in entries}
            recorded = tuple(sorted(e.path for e in entries))
            if task in empty_tasks:
                log.warning("task %s has both object and empty-task entries; redoing it", task)
            elif len(wanted) == 1 and recorded == tuple(sorted(next(iter(wanted)))):
                candidates[task] = tuple(
                    sorted((replace(e, reused=True) for e in entries), key=lambda e: e.path)
                )
            else:
                log.info("task %s was interrupted after %d objects; redoing it", task, len(entries))
        for task in empty_tasks:
            if task not in objects:
                self._reusable[task] = ()
        failures = self._verify(
            [e for group in candidates.values() for e in group], verify, workers
        )
        for obj, problem in sorted(failures.items()):
            self._redo(obj, problem)
        for task, group in candidates.items():
            if not any(e.path in failures for e in group):
                self._reusable[task] = group
        status = self.status
        status.reusable_tasks = len(self._reusable)
        status.reusable_objects = sum(map(len, self._reusable.values()))
        status.reusable_rows = sum(e.rows for es in self._reusable.values() for e in es)

    def _verify(
        self, entries: Sequence[WrittenObject], verify: Verify, workers: int
    ) -> dict[str, str]:
        """{object: problem} for the entries whose object is not as recorded."""
        if not entries:
            return {}
        sizes = {
            o.name: o.size for o in self.storage.list(self.prefix + "/" if self.prefix else "")
        }
        problems: dict[str, str] = {}
        to_hash: list[WrittenObject] = []
        for entry in entries:
            size = sizes.get(entry.path)
            if size is None:
                problems[entry.path] = "is missing"
            elif size != entry.size:
                problems[entry.path] = (
                    f"is {size} bytes but its entry records {entry.size} (truncated or replaced)"
                )
            elif verify == "sha256":
                to_hash.append(entry)

        def check(entry: WrittenObject) -> str | None:
            try:
                digest, size = self.storage.sha256(entry.path)
            except ObjectNotFoundError:
                return "is missing"
            if size != entry.size:
                return f"is {size} bytes but its entry records {entry.size}"
            if digest.hex() != entry.sha256:
                return f"has sha256 {digest.hex()} but its entry records {entry.sha256}"
            return None

        for entry, problem in zip(to_hash, _parallel(check, to_hash, workers), strict=True):
            if problem is not None:
                problems[entry.path] = problem
        return problems

    def _reject(self, name: str, reason: str) -> None:
        rejected = self.status.rejected_entries
        if len(rejected) < _SHOWN_PROBLEMS:
            log.warning("ignoring checkpoint entry %s: it %s; its task is redone", name, reason)
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

    def record_object(self, obj: WrittenObject) -> None:
        """Mark Parquet object `obj` finished. Call only once it is completely uploaded."""
        self.writer.record_object(self.storage, obj)

    def record_empty_task(self, source_sst: str, source_default_sst: str | None) -> None:
        """Mark an SST task that produced no Parquet object finished."""
        self.writer.record_empty_task(self.storage, source_sst, source_default_sst)


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

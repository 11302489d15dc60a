"""The exception hierarchy of br-parquet: one class per failure kind.

Every error derives from `BrParquetError`, so callers (the CLI, notebooks) can catch
everything the package raises deliberately with one `except`. Each class carries the
names it is about (object, file, rule) as attributes, and builds a message that says
what was expected. New stages add their classes here, next to the existing ones.

Each class also carries the process exit code of its kind (`exit_code`), the contract the
command line keeps (see README, "Errors and exit codes"); `exit_code_of` maps any
exception to one.
"""

from __future__ import annotations

import signal
from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
"""An unexpected exception: a bug."""
EXIT_USAGE = 2
"""Bad flags, filter syntax, storage URL/base64, crypter options, unknown tables, a
checkpoint of another configuration."""
EXIT_BAD_INPUT = 3
"""The backup is malformed: backupmeta, SSTs, keys, rows, TableInfo, sha256 of inputs."""
EXIT_STORAGE = 4
"""A storage operation failed (after retries), permission denied, missing bucket."""
EXIT_VERIFICATION = 5
"""The export does not match the backup's own checksums."""
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


class BrParquetError(Exception):
    """Base class of every error raised on purpose by br-parquet."""

    exit_code: int = EXIT_INTERNAL
    """The process exit code for this kind of failure (a class attribute; `Interrupted`
    sets it per instance)."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclass constructors take other arguments than the message; rebuilding from
        # the attributes lets every error cross a process pool intact.
        return (_rebuild, (type(self), self.__dict__, self.args))


def exit_code_of(exc: BaseException) -> int:
    """The process exit code for `exc`: its class's code for a `BrParquetError`, 4 for
    other `OSError`s (storage and file-system failures), 130 for `KeyboardInterrupt`,
    and 1 (internal error) for anything else."""
    if isinstance(exc, BrParquetError):
        return exc.exit_code
    if isinstance(exc, OSError):
        return EXIT_STORAGE
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_SIGINT
    return EXIT_INTERNAL


def message_of(exc: BaseException) -> str:
    """The one-line message the command line prints for `exc`: its own message for a
    `BrParquetError` or `OSError`; for anything else, an internal error naming its type."""
    text = (
        str(exc)
        if isinstance(exc, BrParquetError | OSError)
        else (
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in br-parquet, "
            "run again with --log-level debug for the traceback"
        )
    )
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class UsageError(BrParquetError):
    """The command line or an API argument is invalid."""

    exit_code = EXIT_USAGE


class InputError(BrParquetError):
    """The backup itself is malformed (base of the bad-input classes that carry no
    more specific base)."""

    exit_code = EXIT_BAD_INPUT


class InternalError(BrParquetError):
    """An unexpected failure inside br-parquet (a bug), with the original exception as
    its cause."""

    exit_code = EXIT_INTERNAL


class Interrupted(BrParquetError):
    """The run was stopped by a signal; `signal_name` is `SIGINT` or `SIGTERM`."""

    exit_code = EXIT_SIGINT

    def __init__(self, signal_name: str = "SIGINT", detail: str = "") -> None:
        self.signal_name = signal_name
        self.detail = detail
        self.exit_code = EXIT_SIGTERM if signal_name == "SIGTERM" else EXIT_SIGINT
        super().__init__(f"interrupted by {signal_name}" + (f": {detail}" if detail else ""))


# --- storage -----------------------------------------------------------------------


class StorageError(BrParquetError):
    """An object-storage operation failed.

    `name` is the object name relative to the storage root (None when the failure is
    not about one object); `location` describes the storage (URL without secrets).
    """

    exit_code = EXIT_STORAGE

    def __init__(self, message: str, *, name: str | None = None, location: str = "") -> None:
        self.name = name
        self.location = location
        super().__init__(message)


class ObjectNotFoundError(StorageError):
    """The named object does not exist in the storage."""

    def __init__(self, name: str, *, location: str = "", detail: str = "") -> None:
        where = f" in {location}" if location else ""
        message = f"object {name!r} not found{where}"
        if detail:
            message += f" ({detail})"
        super().__init__(message, name=name, location=location)


class MissingInputError(ObjectNotFoundError):
    """An object the backup's metadata lists (a data SST) is not in the storage: the
    backup is incomplete."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, name: str, *, location: str = "", what: str = "data file") -> None:
        self.what = what
        super().__init__(name, location=location, detail=f"backupmeta lists it as a {what}")


class InvalidStorageUrlError(StorageError):
    """A storage URL or a `--*-storage-base64` value cannot be turned into a backend.

    `url` is the offending input with credentials redacted.
    """

    exit_code = EXIT_USAGE

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"invalid storage {url!r}: {reason}", location=url)


class UnsupportedStorageError(StorageError):
    """The storage backend kind (or one of its options) is not supported by br-parquet."""

    exit_code = EXIT_USAGE

    def __init__(self, location: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"unsupported storage {location}: {reason}", location=location)


# --- integrity and encryption --------------------------------------------------------


class ChecksumMismatchError(BrParquetError):
    """The SHA-256 of an object (or of a decrypted meta file) differs from the recorded one.

    `expected` and `actual` are the raw 32-byte digests.
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, name: str, *, expected: bytes, actual: bytes, what: str = "") -> None:
        self.name = name
        self.expected = expected
        self.actual = actual
        subject = f"{what} {name!r}" if what else repr(name)
        super().__init__(
            f"sha256 mismatch for {subject}: expected {expected.hex()}, got {actual.hex()}"
        )


class SizeMismatchError(StorageError):
    """An input object's size differs from the size the backup records for it (a
    truncated or replaced file)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, name: str, *, expected: int, actual: int, location: str = "") -> None:
        self.expected = expected
        self.actual = actual
        where = f" in {location}" if location else ""
        super().__init__(
            f"size mismatch for {name!r}{where}: expected {expected} bytes, got {actual}",
            name=name,
            location=location,
        )


class VerificationError(BrParquetError):
    """An exported SST does not match the backup's own record of it: a data file's TiKV
    checksum (`File.crc64xor`, `total_kvs`, `total_bytes`) differs from what its contents
    hash to, or fewer rows reached Parquet than were decoded. Nothing of its task is
    uploaded.
    """

    exit_code = EXIT_VERIFICATION

    def __init__(self, file: str, table: str, what: str, *, expected: str, actual: str) -> None:
        self.file = file
        self.table = table
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"verification failed for {file!r} (table {table}): {what}: "
            f"backup says {expected}, export has {actual}"
        )


class CipherConfigError(BrParquetError):
    """The `--crypter.*` options are invalid (unknown method, bad key, wrong key length)."""

    exit_code = EXIT_USAGE


# --- backup metadata -------------------------------------------------------------------


class BackupMetaError(BrParquetError):
    """The backup metadata cannot be read or is malformed.

    `path` is the object the problem is in (`backupmeta` or a child meta file).
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class EncryptedMetaError(BackupMetaError):
    """The backup metadata is encrypted and no (or the wrong) key was given, or it is not
    encrypted and a key was given: the `--crypter.*` options do not fit the backup."""

    exit_code = EXIT_USAGE


class UnsupportedBackupError(BackupMetaError):
    """The backup is of a kind br-parquet does not convert (RawKV, TxnKV, EBS, file-copy)."""

    exit_code = EXIT_BAD_INPUT


# --- data files and table schemas (raised by the native core) ---------------------------


class SstError(InputError):
    """A data SST of the backup cannot be converted.

    `sst` is the file's name in the backup, `key` the SST key at fault as lower-case hex
    (None when the failure is not about one key), `column` the column being decoded
    (None when not about one column) and `reason` what was wrong and what was expected.
    """

    def __init__(
        self, sst: str, reason: str, key: str | None = None, column: str | None = None
    ) -> None:
        self.sst = sst
        self.reason = reason
        self.key = key
        self.column = column
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [self.sst]
        if self.key is not None:
            parts.append(f"key {self.key}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        parts.append(self.reason)
        return ": ".join(parts)


class SstReadError(SstError):
    """RocksDB cannot open or read the SST: not an SST at all, cut short, or a block
    whose checksum does not match."""

    def _describe(self) -> str:
        return f"{self.sst}: not a readable RocksDB SST: {self.reason}"


class SstDecodeError(SstError):
    """RocksDB reads the SST, but a key, write-CF record or row in it does not decode as
    a TiDB backup's data."""


class TableInfoError(InputError):
    """A table's `TableInfo` JSON cannot be turned into an output schema.

    `table` is its name (`db.table` once `db` is known), `table_id` its ID (None when the
    JSON has none), `column` the column at fault (None when not about one column) and
    `reason` what was expected.
    """

    def __init__(
        self,
        table: str,
        reason: str,
        table_id: int | None = None,
        column: str | None = None,
        db: str | None = None,
    ) -> None:
        self.table = table
        self.reason = reason
        self.table_id = table_id
        self.column = column
        self.db = db
        name = f"{db}.{table}" if db is not None else table
        subject = f"table {name}" if name else "a table"
        if table_id is not None:
            subject += f" (id {table_id})"
        column_part = f": column {column}" if column is not None else ""
        super().__init__(f"TableInfo of {subject}{column_part}: {reason}")

    def in_db(self, db: str) -> TableInfoError:
        """The same error, naming the table's database too."""
        return TableInfoError(self.table, self.reason, self.table_id, self.column, db)


# --- table filter ----------------------------------------------------------------------


class FilterError(BrParquetError):
    """A table-filter rule cannot be parsed.

    `source` is where the rule came from (`<cmdline>` or a filter file) and `line` its
    1-based position there.
    """

    exit_code = EXIT_USAGE

    def __init__(self, source: str, line: int, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        super().__init__(f"at {source}:{line}: {reason}")


class NoTablesSelectedError(BrParquetError):
    """No table of the backup passes the filter and table-ID selection."""

    exit_code = EXIT_USAGE

    def __init__(self, filters: list[str], table_ids: list[int], available: list[str]) -> None:
        self.filters = filters
        self.table_ids = table_ids
        self.available = available
        shown = ", ".join(available[:50]) if available else "(none: the backup has no tables)"
        more = f" and {len(available) - 50} more" if len(available) > 50 else ""
        ids = f" and table IDs {table_ids}" if table_ids else ""
        super().__init__(
            f"no table matches filter {filters}{ids}; tables in the backup: {shown}{more}"
        )


class UnknownTableIdsError(BrParquetError):
    """Table IDs were asked for that no table or partition of the backup has."""

    exit_code = EXIT_USAGE

    def __init__(self, unknown: list[int]) -> None:
        self.unknown = unknown
        super().__init__(
            f"table IDs {unknown} are not in the backup (neither a table's nor a "
            "partition's ID); `br-parquet inspect` lists the IDs it holds"
        )


class ExportError(BrParquetError):
    """The export failed; nothing after the failure was marked complete."""

    exit_code = EXIT_INTERNAL


# --- checkpoints ---------------------------------------------------------------------------


class CheckpointError(BrParquetError):
    """The checkpoint under the output prefix cannot be used as it is.

    `path` is the checkpoint object at fault (such as `{prefix}/_checkpoint/meta.json`),
    `directory` the URL of the checkpoint directory the user may remove to start over.
    """

    exit_code = EXIT_USAGE

    def __init__(self, path: str, reason: str, *, directory: str = "") -> None:
        self.path = path
        self.reason = reason
        self.directory = directory
        super().__init__(f"{path}: {reason}")


class CheckpointMismatchError(CheckpointError):
    """The checkpoint was written by an export with a different backup or configuration.

    `changes` says, one item per setting, what the checkpoint recorded and what this run
    uses.
    """

    def __init__(self, path: str, *, directory: str, changes: list[str]) -> None:
        self.changes = changes
        reason = (
            "the checkpoint belongs to an export with a different configuration: "
            + "; ".join(changes)
            + f". To export with the new configuration, remove the checkpoint directory "
            f"{directory} (objects already under the prefix stay unless the new export "
            "overwrites them) or use a new --output-prefix; --use-checkpoint=false exports "
            "everything without reading or writing checkpoint data"
        )
        super().__init__(path, reason, directory=directory)


# --- Iceberg catalogs ----------------------------------------------------------------------


class IcebergError(BrParquetError):
    """The Iceberg catalog (or the storage behind a table) failed or refused a request,
    after pyiceberg's own retries. `catalog` is the catalog URI without credentials,
    `table` the table identifier when one is concerned."""

    exit_code = EXIT_STORAGE

    def __init__(self, catalog: str, message: str, *, table: str | None = None) -> None:
        self.catalog = catalog
        self.table = table
        subject = f"Iceberg table {table} in {catalog}" if table else f"Iceberg catalog {catalog}"
        super().__init__(f"{subject}: {message}")


class IcebergConfigError(IcebergError):
    """`--iceberg-catalog` and its properties do not name a usable catalog, or the
    `iceberg` extra is not installed."""

    exit_code = EXIT_USAGE


class IcebergTableConflictError(IcebergError):
    """The table cannot take this export: an incompatible schema change, or it already
    holds a newer backup. Nothing was committed."""

    exit_code = EXIT_USAGE


# --- executors ----------------------------------------------------------------------------


class ExecutorError(BrParquetError):
    """The cluster that runs the tasks failed: its scheduler cannot be reached, it has no
    worker, its workers cannot run the tasks, or they keep dying."""

    exit_code = EXIT_STORAGE


# --- the Python API ------------------------------------------------------------------------


class TableNotFoundError(BrParquetError):
    """A table named in an API call is not in the backup (or the name is ambiguous)."""

    exit_code = EXIT_USAGE

    def __init__(self, name: str, available: list[str]) -> None:
        self.table = name
        self.available = available
        shown = ", ".join(available[:50]) if available else "(none)"
        more = f" and {len(available) - 50} more" if len(available) > 50 else ""
        super().__init__(
            f"no single table {name!r} (as db.table, case-insensitive) in the backup; "
            f"tables: {shown}{more}"
        )


class NameCollisionError(BrParquetError):
    """Two selected tables would be written to the same output folder."""

    exit_code = EXIT_BAD_INPUT


def _rebuild(cls: type[BaseException], state: dict[str, Any], args: tuple[Any, ...]) -> Any:
    """Unpickles an error whose constructor takes other arguments than its message."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error

"""The exception hierarchy of br-parquet: one class per failure kind.

Every error derives from `BrParquetError`, so callers (the CLI, notebooks) can catch
everything the package raises deliberately with one `except`. Each class carries the
names it is about (object, file, rule) as attributes, and builds a message that says
what was expected. New stages add their classes here, next to the existing ones.
"""

from __future__ import annotations


class BrParquetError(Exception):
    """Base class of every error raised on purpose by br-parquet."""


# --- storage -----------------------------------------------------------------------


class StorageError(BrParquetError):
    """An object-storage operation failed.

    `name` is the object name relative to the storage root (None when the failure is
    not about one object); `location` describes the storage (URL without secrets).
    """

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


class InvalidStorageUrlError(StorageError):
    """A storage URL or a `--*-storage-base64` value cannot be turned into a backend.

    `url` is the offending input with credentials redacted.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"invalid storage {url!r}: {reason}", location=url)


class UnsupportedStorageError(StorageError):
    """The storage backend kind (or one of its options) is not supported by br-parquet."""

    def __init__(self, location: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"unsupported storage {location}: {reason}", location=location)


# --- integrity and encryption --------------------------------------------------------


class ChecksumMismatchError(BrParquetError):
    """The SHA-256 of an object (or of a decrypted meta file) differs from the recorded one.

    `expected` and `actual` are the raw 32-byte digests.
    """

    def __init__(self, name: str, *, expected: bytes, actual: bytes, what: str = "") -> None:
        self.name = name
        self.expected = expected
        self.actual = actual
        subject = f"{what} {name!r}" if what else repr(name)
        super().__init__(
            f"sha256 mismatch for {subject}: expected {expected.hex()}, got {actual.hex()}"
        )


class VerificationError(BrParquetError):
    """An exported SST does not match the backup's own record of it: a data file's TiKV
    checksum (`File.crc64xor`, `total_kvs`, `total_bytes`) differs from what its contents
    hash to, or fewer rows reached Parquet than were decoded. Nothing of its task is
    uploaded.
    """

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


# --- backup metadata -------------------------------------------------------------------


class BackupMetaError(BrParquetError):
    """The backup metadata cannot be read or is malformed.

    `path` is the object the problem is in (`backupmeta` or a child meta file).
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class EncryptedMetaError(BackupMetaError):
    """The backup metadata is encrypted and no (or the wrong kind of) key was given."""


class UnsupportedBackupError(BackupMetaError):
    """The backup is of a kind br-parquet does not convert (RawKV, TxnKV, EBS, file-copy)."""


# --- table filter ----------------------------------------------------------------------


class FilterError(BrParquetError):
    """A table-filter rule cannot be parsed.

    `source` is where the rule came from (`<cmdline>` or a filter file) and `line` its
    1-based position there.
    """

    def __init__(self, source: str, line: int, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        super().__init__(f"at {source}:{line}: {reason}")


class NoTablesSelectedError(BrParquetError):
    """No table of the backup passes the filter and table-ID selection."""

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

    def __init__(self, unknown: list[int]) -> None:
        self.unknown = unknown
        super().__init__(
            f"table IDs {unknown} are not in the backup (neither a table's nor a "
            "partition's ID); `br-parquet inspect` lists the IDs it holds"
        )


class ExportError(BrParquetError):
    """The export failed; nothing after the failure was marked complete."""


# --- checkpoints ---------------------------------------------------------------------------


class CheckpointError(BrParquetError):
    """The checkpoint under the output prefix cannot be used as it is.

    `path` is the checkpoint object at fault (such as `{prefix}/_checkpoint/meta.json`),
    `directory` the URL of the checkpoint directory the user may remove to start over.
    """

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


# --- the Python API ------------------------------------------------------------------------


class TableNotFoundError(BrParquetError):
    """A table named in an API call is not in the backup (or the name is ambiguous)."""

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

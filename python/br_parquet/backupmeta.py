"""Loading a BR snapshot backup's metadata: `backupmeta` and the meta files it indexes.

The reader does what BR's `MetaReader` does: it takes the inline v1 lists (`files`,
`schemas`, `ddls`) and also walks the v2 indexes (`file_index`, `schema_index`,
`ddl_indexes`, `raw_range_index`); an index entry with child pointers is fetched,
decrypted with the pointer's IV when a cipher is configured, checked against the
pointer's size and SHA-256 (of the plaintext) and walked in turn, otherwise it is a leaf.
Child meta files are read a few at a time concurrently and streamed: their data files are
kept encoded in a compact `DataFiles` (a meta file can hold 10^5 to 10^6 of them), never
as one parsed message.

On top of BR it recognises what it cannot convert and says so: an encrypted
`backupmeta` without a key, RawKV and TxnKV backups, EBS volume-snapshot metadata,
file-copy backups (`mode` = FILE) and `br debug decode` JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError

from .crypto import IV_LENGTH, Cipher, method_name
from .datafiles import DataFiles, DataFilesBuilder, PackedFiles, canonical
from .errors import (
    BackupMetaError,
    ChecksumMismatchError,
    EncryptedMetaError,
    ObjectNotFoundError,
    UnsupportedBackupError,
)
from .naming import check_input_name
from .proto import brpb_pb2 as brpb

_log = logging.getLogger(__name__)

BACKUPMETA_NAME = "backupmeta"
"""The fixed name of the metadata object at the root of a backup."""

TEMPORARY_DB_PREFIX = "__TiDB_BR_Temporary_"
"""BR stores the system databases `mysql` and `sys` under this prefix."""

_SYSTEM_DBS = frozenset({"mysql", "sys"})
_REPOSITORY_MARKER = "_meta/repo.json"
_MAX_INDEX_DEPTH = 8  # BR writes one level; deeper trees are tolerated up to this
META_READERS = 4
"""Child meta files read concurrently."""
META_MEMORY_BYTES = 64 << 20
"""Child meta files kept in memory up to this size in all; the data files of the others
go to temporary files (see `DataFiles`), so a backup of 10^6 SSTs needs about 8 MiB for
its file list, while smaller ones are read faster."""
_DATA_FILES_FIELD = 2  # MetaFile.data_files
_SPILL_FROM = 10_000  # inline data files kept in memory up to this many
# Field numbers BackupMeta may carry that this reader deliberately leaves unparsed.
_IGNORED_FIELDS = frozenset({22})  # db_maps (PITR)
# Unknown field numbers above this mean the bytes are not a BackupMeta at all.
_MAX_PLAUSIBLE_FIELD = 64
_CRYPTER_HINT = (
    "pass --crypter.method (aes128-ctr|aes192-ctr|aes256-ctr) and --crypter.key or "
    "--crypter.key-file with the key the backup was taken with"
)


class ObjectReader(Protocol):
    """What the loader needs from a storage (`br_parquet.storage.Storage` provides it)."""

    def get_bytes(self, name: str) -> bytes: ...

    def exists(self, name: str) -> bool: ...

    def stream_to(self, name: str, out: _Sink) -> tuple[bytes, int]: ...


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class SchemaEntry:
    """One `Schema` of the backup: a table (or an empty database) and its checksum.

    `db_name` is the database's real name (`mysql` / `sys` for the temporary names BR
    stores system databases under); `stored_db_name` is the name as stored. `db_info`
    and `table_info` are the parsed `model.DBInfo` / `model.TableInfo` JSON objects;
    `table_info` is None for a database without tables.
    """

    db_name: str
    stored_db_name: str
    table_name: str | None
    db_info: dict[str, Any] = field(hash=False)
    table_info: dict[str, Any] | None = field(hash=False)
    crc64xor: int
    total_kvs: int
    total_bytes: int

    @property
    def db_id(self) -> int:
        """`DBInfo.id`."""
        return int(self.db_info.get("id", 0))

    @property
    def table_id(self) -> int | None:
        """`TableInfo.id` (the logical table ID), None for an empty database."""
        return None if self.table_info is None else int(self.table_info.get("id", 0))

    @property
    def has_checksum(self) -> bool:
        """Whether BR computed the table checksum (all three fields are 0 when skipped)."""
        return bool(self.crc64xor or self.total_kvs or self.total_bytes)


@dataclass(frozen=True)
class ChildMetaFile:
    """A v2 child meta file the loader read: the index it hangs under, its name and size."""

    index: str
    """The `BackupMeta` field: `file_index`, `schema_index`, `ddl_indexes` or
    `raw_range_index`."""
    name: str
    size: int


@dataclass(frozen=True)
class BackupMeta:
    """The metadata of one snapshot backup, with the v1 lists and v2 indexes merged.

    `content_digest` is the SHA-256 of the `backupmeta` object as stored. `data_files`
    are the SST `File` entries in BR's order (a `DataFiles` when loaded: each item is
    parsed on access); `ddls` the `model.Job` JSON objects of an incremental backup, in
    BR's order (by job ID), each checked to be a job when loaded (see `ddl_jobs`).
    """

    cluster_id: int
    cluster_version: str
    br_version: str
    start_version: int
    end_version: int
    api_version: int
    new_collations_enabled: str
    meta_version: int
    content_digest: bytes
    data_files: Sequence[brpb.File] = field(hash=False)
    schemas: list[SchemaEntry] = field(hash=False)
    ddls: list[dict[str, Any]] = field(hash=False)
    meta_files: tuple[ChildMetaFile, ...] = ()
    """The v2 child meta files read, in reading order; empty for v1."""

    @property
    def ddl_jobs(self) -> list[DdlJob]:
        """`ddls` as typed records."""
        return [_ddl_job(job, BACKUPMETA_NAME, i) for i, job in enumerate(self.ddls)]

    @property
    def is_incremental(self) -> bool:
        """Whether this is an incremental backup (changes in `(start_version, end_version]`)."""
        return self.start_version != 0


ACTION_CREATE_SCHEMA = 1
ACTION_DROP_SCHEMA = 2
ACTION_CREATE_TABLE = 3
ACTION_DROP_TABLE = 4
ACTION_TRUNCATE_TABLE = 11
ACTION_RENAME_TABLE = 14
ACTION_CREATE_TABLES = 60
"""`model.ActionType` values of the DDL jobs that add, remove or renumber tables."""


@dataclass(frozen=True)
class DdlJob:
    """The fields of one `model.Job` (a DDL job BR recorded) that tell what happened to
    which table. IDs are TiDB's; for TRUNCATE TABLE `table_id` is the old table ID and
    `table_info` the table under its new ID."""

    id: int
    type: int
    """`model.ActionType` (see the `ACTION_*` constants)."""
    schema_id: int
    table_id: int
    schema_name: str
    table_name: str
    state: int
    """`model.JobState`: 4 done, 6 synced (BR records only these two)."""
    query: str
    schema_version: int
    """`binlog.SchemaVersion`: the schema version the job finished at."""
    finished_ts: int
    """`binlog.FinishedTS` (0 when TiDB did not record it)."""
    table_info: dict[str, Any] | None = field(hash=False, compare=False)
    """`binlog.TableInfo`: the table after the job (None for database jobs)."""


_TSO_PHYSICAL_SHIFT = 18


def tso_time(tso: int) -> datetime:
    """The UTC time of a TiDB TSO: its physical part is milliseconds since the epoch."""
    return datetime.fromtimestamp((tso >> _TSO_PHYSICAL_SHIFT) / 1000, tz=UTC)


def load_backupmeta(storage: ObjectReader, *, cipher: Cipher | None = None) -> BackupMeta:
    """Read and validate the backup whose root `storage` is.

    `cipher` is the `--crypter.*` configuration the backup was taken with (None when it
    is not encrypted). Raises `BackupMetaError` (and its subclasses) or
    `ChecksumMismatchError`, each naming the object at fault.
    """
    try:
        raw = storage.get_bytes(BACKUPMETA_NAME)
    except ObjectNotFoundError:
        raise BackupMetaError(BACKUPMETA_NAME, _missing_backupmeta_reason(storage)) from None
    meta = decode_backupmeta(raw, cipher=cipher)
    _reject_unsupported(meta)
    walker = _MetaWalker(storage, cipher)

    raw_ranges = list(meta.raw_ranges)
    for leaf in walker.leaves(meta, "raw_range_index"):
        raw_ranges.extend(leaf.raw_ranges)
    if raw_ranges:
        raise UnsupportedBackupError(
            BACKUPMETA_NAME,
            f"lists {len(raw_ranges)} raw-KV ranges, so it is a RawKV backup; "
            "br-parquet converts TiDB (table) snapshot backups only",
        )

    data_files = walker.data_files(meta)

    schemas = [_schema_entry(s, BACKUPMETA_NAME) for s in meta.schemas]
    for leaf, source in walker.leaves_with_source(meta, "schema_index"):
        schemas.extend(_schema_entry(s, source) for s in leaf.schemas)

    ddls = _read_ddls(meta, walker)

    return BackupMeta(
        cluster_id=meta.cluster_id,
        cluster_version=meta.cluster_version,
        br_version=meta.br_version,
        start_version=meta.start_version,
        end_version=meta.end_version,
        api_version=int(meta.api_version),
        new_collations_enabled=meta.new_collations_enabled,
        meta_version=meta.version,
        content_digest=hashlib.sha256(raw).digest(),
        data_files=data_files,
        schemas=schemas,
        ddls=ddls,
        meta_files=tuple(walker.read),
    )


def decode_backupmeta(
    raw: bytes, *, cipher: Cipher | None = None, path: str = BACKUPMETA_NAME
) -> brpb.BackupMeta:
    """Decode the `backupmeta` object: strip the IV and decrypt when `cipher` is given.

    BR itself does not detect encryption; here a `backupmeta` that does not decode to a
    plausible `BackupMeta` without a cipher is reported as encrypted when its bytes look
    like ciphertext, and as damaged or the wrong file otherwise.
    """
    _reject_json(raw, path)
    if cipher is None:
        meta = _parse_plausible(raw)
        if meta is None:
            raise _not_a_backupmeta(raw, path)
        return meta

    name = method_name(cipher.method)
    if len(raw) <= IV_LENGTH:
        raise BackupMetaError(
            path,
            f"is {len(raw)} bytes, too short for an encrypted backupmeta "
            f"({IV_LENGTH}-byte IV followed by the ciphertext)",
        )
    meta = _parse_plausible(cipher.decrypt(raw[IV_LENGTH:], raw[:IV_LENGTH]))
    if meta is not None:
        return meta
    if _parse_plausible(raw) is not None:
        raise EncryptedMetaError(
            path,
            f"is not encrypted, but --crypter.method {name} was given; "
            "run again without the --crypter options",
        )
    raise EncryptedMetaError(
        path,
        f"does not decrypt to a BackupMeta with --crypter.method {name} and the given key: "
        "the key or the method is not the one the backup was taken with",
    )


# --- decoding helpers -------------------------------------------------------------------


def _not_a_backupmeta(raw: bytes, path: str) -> BackupMetaError:
    """Why `raw`, read without a cipher, is no plausible BackupMeta: empty, another
    protobuf message, a BackupMeta cut short, ciphertext, or damaged."""
    if not raw:
        return BackupMetaError(path, "is empty (0 bytes); expected a BackupMeta protobuf")
    meta = brpb.BackupMeta()
    try:
        meta.ParseFromString(raw)
    except DecodeError:
        pass
    else:
        if meta.cluster_id:
            return BackupMetaError(
                path,
                f"decodes as a BackupMeta of cluster {meta.cluster_id} but has no end_version "
                "(backup TS), which BR always writes: the file is truncated or damaged",
            )
        return BackupMetaError(
            path,
            f"is a protobuf message ({len(raw)} bytes) but not a BackupMeta: it has no "
            "cluster_id and no end_version, which BR always writes; is it another file?",
        )
    if raw[0] == _CLUSTER_ID_TAG:
        return BackupMetaError(
            path,
            f"starts like a BackupMeta but does not decode ({len(raw)} bytes): the file is "
            "truncated or damaged",
        )
    if not _looks_like_ciphertext(raw):
        return BackupMetaError(
            path,
            f"does not decode as a BackupMeta protobuf ({len(raw)} bytes), and its bytes are "
            "not ciphertext either: the file is damaged or not a backupmeta",
        )
    return EncryptedMetaError(
        path,
        "does not decode as a BackupMeta protobuf, so it is most likely encrypted "
        f"(or damaged): {_CRYPTER_HINT}",
    )


_CLUSTER_ID_TAG = 0x08  # field 1 (cluster_id), varint: the first field BR writes


def _looks_like_ciphertext(raw: bytes) -> bool:
    """Whether the bytes are as evenly spread as AES-CTR output: nearly as many distinct
    byte values as random bytes of that length have (plain protobuf and text have far
    fewer)."""
    if len(raw) <= IV_LENGTH:
        return False
    sample = raw[:4096]
    expected = 256 * (1 - (255 / 256) ** len(sample))
    return len(set(sample)) >= 0.8 * expected


def _parse_plausible(data: bytes) -> brpb.BackupMeta | None:
    """`data` as a BackupMeta if it parses and looks like one a BR run wrote."""
    meta = brpb.BackupMeta()
    try:
        meta.ParseFromString(data)
    except DecodeError:
        return None
    if meta.cluster_id == 0:
        return None
    # RawKV backups written by old BR have no end_version; they are rejected later.
    if meta.end_version == 0 and not (meta.is_raw_kv or meta.is_txn_kv):
        return None
    fields = unknown_fields.UnknownFieldSet(meta)
    unknown: set[int] = {int(fields[i].field_number) for i in range(len(fields))}
    if any(number > _MAX_PLAUSIBLE_FIELD for number in unknown):
        return None
    unexpected = sorted(unknown - _IGNORED_FIELDS)
    if unexpected:
        _log.warning(
            "backupmeta has fields this reader does not know (numbers %s); "
            "it may come from a newer BR",
            unexpected,
        )
    return meta


def _reject_json(raw: bytes, path: str) -> None:
    if raw.lstrip()[:1] != b"{":
        return
    try:
        document = json.loads(raw)
    except ValueError:
        return  # an encrypted backupmeta can start with `{` by chance
    if not isinstance(document, dict):
        return
    info = document.get("cluster_info")
    if (isinstance(info, dict) and "full_backup_type" in info) or "tikv" in document:
        kind = info.get("full_backup_type", "?") if isinstance(info, dict) else "?"
        raise UnsupportedBackupError(
            path,
            f"is the JSON metadata of an EBS volume-snapshot backup (full_backup_type={kind}); "
            "it holds volume snapshots, not SST files, so there is nothing br-parquet can "
            "read. Take a snapshot backup with `br backup full` instead",
        )
    raise BackupMetaError(
        path,
        "is JSON (such as the output of `br debug decode`), expected the protobuf BR "
        "writes; convert it back with `br debug encode`",
    )


def _reject_unsupported(meta: brpb.BackupMeta) -> None:
    if meta.is_raw_kv:
        raise UnsupportedBackupError(
            BACKUPMETA_NAME,
            "is a RawKV backup (`br backup raw`); br-parquet converts TiDB (table) "
            "snapshot backups only",
        )
    if meta.is_txn_kv:
        raise UnsupportedBackupError(
            BACKUPMETA_NAME,
            "is a TxnKV backup (`br backup txn`); br-parquet converts TiDB (table) "
            "snapshot backups only",
        )
    if meta.mode == brpb.FILE:
        raise UnsupportedBackupError(
            BACKUPMETA_NAME,
            "is a file-copy backup (mode=FILE), whose SSTs may overlap and hold keys outside "
            "their ranges; br-parquet converts scan-mode snapshot backups only",
        )


def _missing_backupmeta_reason(storage: ObjectReader) -> str:
    where = getattr(storage, "location", "the storage")
    try:
        repository = storage.exists(_REPOSITORY_MARKER)
    except Exception:  # the hint is best effort; the missing object is the error
        repository = False
    if repository:
        return (
            f"not found at the root of {where}, which is a BR backup repository "
            f"({_REPOSITORY_MARKER}); point the storage at one backup inside it"
        )
    return (
        f"not found in {where}; expected the root of a finished BR snapshot backup "
        "(BR writes backupmeta last, so an unfinished backup has none)"
    )


# --- walking the v2 indexes --------------------------------------------------------------


class _MetaWalker:
    """Fetches, decrypts and verifies the child meta files of the v2 indexes."""

    def __init__(self, storage: ObjectReader, cipher: Cipher | None) -> None:
        self._storage = storage
        self._cipher = cipher
        self.read: list[ChildMetaFile] = []
        self._in_memory = META_MEMORY_BYTES
        self._lock = threading.Lock()

    def data_files(self, meta: brpb.BackupMeta) -> DataFiles:
        """The data files of the inline v1 list and of the `file_index` tree, in order,
        each name checked."""
        parts = [_builder_of(meta.files, BACKUPMETA_NAME)]
        parts += [leaf.data for leaf in self._leaves(meta, "file_index")]
        return DataFiles(parts)

    def leaves(self, meta: brpb.BackupMeta, index_field: str) -> Iterator[brpb.MetaFile]:
        for leaf, _ in self.leaves_with_source(meta, index_field):
            yield leaf

    def leaves_with_source(
        self, meta: brpb.BackupMeta, index_field: str
    ) -> Iterator[tuple[brpb.MetaFile, str]]:
        """Leaf MetaFiles under `meta.<index_field>`, with the object each came from
        (their data files are in `data_files`)."""
        for leaf in self._leaves(meta, index_field):
            yield leaf.meta, leaf.source

    def _leaves(self, meta: brpb.BackupMeta, index_field: str) -> Iterator[_Leaf]:
        if not meta.HasField(index_field):
            return
        index: brpb.MetaFile = getattr(meta, index_field)
        yield from self._walk(index, BACKUPMETA_NAME, 0, (), index_field)

    def _walk(
        self,
        node: brpb.MetaFile,
        source: str,
        depth: int,
        ancestors: tuple[str, ...],
        index_field: str,
    ) -> Iterator[_Leaf]:
        if not node.meta_files:
            yield _Leaf(node, _builder_of(node.data_files, source), source)
            return
        if depth >= _MAX_INDEX_DEPTH:
            raise BackupMetaError(
                source, f"nests meta-file indexes deeper than {_MAX_INDEX_DEPTH} levels"
            )
        pointers = list(node.meta_files)
        for pointer in pointers:
            if pointer.name in ancestors:
                raise BackupMetaError(pointer.name, "is referenced from inside itself (a cycle)")

        def read(pointer: brpb.File) -> _Leaf:
            return self._read_child(pointer, source)

        with ThreadPoolExecutor(min(META_READERS, len(pointers)), "meta") as pool:
            for pointer, child in zip(pointers, pool.map(read, pointers), strict=True):
                self.read.append(ChildMetaFile(index_field, pointer.name, pointer.size))
                if child.meta.meta_files:
                    yield from self._walk(
                        child.meta,
                        pointer.name,
                        depth + 1,
                        (*ancestors, pointer.name),
                        index_field,
                    )
                else:
                    yield child

    def _read_child(self, pointer: brpb.File, parent: str) -> _Leaf:
        """The child meta file `pointer` names, streamed: its data files packed, the rest
        parsed, after its size and SHA-256 are checked."""
        name = pointer.name
        if not name:
            raise BackupMetaError(parent, "has a meta-file index entry without a name")
        check_input_name(name, listed_in=parent, what="meta file")
        with self._lock:
            spill = not 0 < pointer.size <= self._in_memory
            if not spill:
                self._in_memory -= pointer.size
        sink = _ChildSink(self._cipher, pointer.cipher_iv, spill=spill)
        try:
            _, size = self._storage.stream_to(name, sink)
        except ObjectNotFoundError:
            raise BackupMetaError(
                name, f"is listed in {parent} but missing from the storage"
            ) from None
        if pointer.size and size != pointer.size:
            raise BackupMetaError(
                name,
                f"is {size} bytes, but {parent} records {pointer.size}; "
                "the file is truncated or was replaced",
            )
        if sink.missing_iv:
            raise BackupMetaError(
                name,
                f"has no {IV_LENGTH}-byte cipher_iv in {parent} although a cipher was given",
            )
        digest = sink.hasher.digest()
        if digest != pointer.sha256:
            if self._cipher is None and pointer.cipher_iv:
                raise EncryptedMetaError(
                    name, f"is encrypted (its entry in {parent} has a cipher_iv): {_CRYPTER_HINT}"
                )
            raise ChecksumMismatchError(
                name, expected=pointer.sha256, actual=digest, what="meta file"
            )
        rest = brpb.MetaFile()
        try:
            rest.ParseFromString(sink.splitter.finish())
        except (DecodeError, _MalformedMetaFile):
            raise BackupMetaError(name, "does not decode as a MetaFile protobuf") from None
        return _Leaf(rest, _checked(sink.splitter.data.finish(), name), name)


@dataclass(frozen=True)
class _Leaf:
    """A leaf of an index: its data files (packed) and its other fields (parsed)."""

    meta: brpb.MetaFile
    data: PackedFiles
    source: str


def _builder_of(files: Sequence[brpb.File], source: str) -> PackedFiles:
    builder = DataFilesBuilder(spill=len(files) > _SPILL_FROM)
    for f in files:
        check_input_name(f.name, listed_in=source, what="data file")
        builder.add(canonical(f.SerializeToString())[1])
    return builder.finish()


def _checked(data: PackedFiles, source: str) -> PackedFiles:
    """`data` with every file parsed once and its name checked; a file whose name field
    is not first (or is repeated) is encoded again, so that `name_of` reads it right."""
    rebuilt: DataFilesBuilder | None = None
    for i, raw in enumerate(data.raws()):
        try:
            parsed, kept = canonical(raw)
        except DecodeError:
            raise BackupMetaError(source, "holds a data file that does not decode") from None
        check_input_name(parsed.name, listed_in=source, what="data file")
        if rebuilt is None and kept is not raw:
            rebuilt = DataFilesBuilder(spill=data.file is not None)
            for j, earlier in enumerate(data.raws()):
                if j == i:
                    break
                rebuilt.add(earlier)
        if rebuilt is not None:
            rebuilt.add(kept)
    return data if rebuilt is None else rebuilt.finish()


class _MalformedMetaFile(Exception):
    pass


class _ChildSink:
    """Where a child meta file streams to: decrypts, hashes the plaintext, and splits it."""

    def __init__(self, cipher: Cipher | None, iv: bytes, *, spill: bool) -> None:
        self.hasher = hashlib.sha256()
        self.splitter = _MetaFileSplitter(spill=spill)
        self.missing_iv = cipher is not None and len(iv) != IV_LENGTH
        self._context = cipher.context(iv) if cipher is not None and not self.missing_iv else None

    def write(self, data: bytes) -> int:
        if self.missing_iv:
            return len(data)
        plain = self._context.update(data) if self._context is not None else data
        self.hasher.update(plain)
        self.splitter.feed(plain)
        return len(data)


class _MetaFileSplitter:
    """Splits the encoding of a `MetaFile`, fed in pieces, into its data files (kept
    encoded, in `data`) and the encoding of all its other fields (`finish`). A malformed
    encoding is remembered, not raised, so that the checksum is checked first."""

    def __init__(self, *, spill: bool) -> None:
        self.data = DataFilesBuilder(spill=spill)
        self._pending = bytearray()
        self._rest = bytearray()
        self._malformed = False

    def feed(self, chunk: bytes) -> None:
        if self._malformed:
            return
        buffer = self._pending
        buffer += chunk
        try:
            used = self._split(buffer)
        except _MalformedMetaFile:
            self._malformed = True
            return
        del buffer[:used]

    def _split(self, buffer: bytearray) -> int:
        """Takes the whole fields at the start of `buffer`; returns the bytes taken."""
        pos, end = 0, len(buffer)
        add_data, add_rest = self.data.add, self._rest.extend
        while pos < end:
            start = pos
            tag, pos = _varint(buffer, pos, end)
            if pos < 0:
                return start
            wire = tag & 7
            if wire == 2:
                size, pos = _varint(buffer, pos, end)
                if pos < 0 or pos + size > end:
                    return start
                if tag >> 3 == _DATA_FILES_FIELD:
                    add_data(buffer[pos : pos + size])
                else:
                    add_rest(buffer[start : pos + size])
                pos += size
            elif wire == 0:
                _, pos = _varint(buffer, pos, end)
                if pos < 0:
                    return start
                add_rest(buffer[start:pos])
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
                if pos > end:
                    return start
                add_rest(buffer[start:pos])
            else:
                raise _MalformedMetaFile
        return pos

    def finish(self) -> bytes:
        """The encoding of every field but the data files (packed in `data`, now done);
        raises `_MalformedMetaFile`."""
        if self._malformed or self._pending:
            raise _MalformedMetaFile
        return bytes(self._rest)


def _varint(buffer: bytearray, pos: int, end: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it; (0, -1) when it is cut off."""
    value = shift = 0
    while pos < end:
        byte = buffer[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise _MalformedMetaFile
    return 0, -1


# --- schemas and DDLs -----------------------------------------------------------------------


def _json_object(data: bytes, source: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise BackupMetaError(source, f"holds a {what} that is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise BackupMetaError(source, f"holds a {what} that is not a JSON object")
    return value


def _ci_name(info: dict[str, Any], key: str, source: str, what: str) -> str:
    """The original spelling `O` of a `CIStr` field such as `db_name` or `name`."""
    value = info.get(key)
    if isinstance(value, dict) and isinstance(value.get("O"), str):
        return str(value["O"])
    raise BackupMetaError(source, f"holds a {what} without a {key}.O name")


def _schema_entry(schema: brpb.Schema, source: str) -> SchemaEntry:
    db_info = _json_object(schema.db, source, "database (DBInfo)")
    stored_db_name = _ci_name(db_info, "db_name", source, "DBInfo")
    db_name = stored_db_name
    if stored_db_name.startswith(TEMPORARY_DB_PREFIX):
        real = stored_db_name[len(TEMPORARY_DB_PREFIX) :]
        if real.lower() in _SYSTEM_DBS:
            db_name = real
    table_info: dict[str, Any] | None = None
    table_name: str | None = None
    if schema.table:
        table_info = _json_object(schema.table, source, "table (TableInfo)")
        table_name = _ci_name(table_info, "name", source, "TableInfo")
    return SchemaEntry(
        db_name=db_name,
        stored_db_name=stored_db_name,
        table_name=table_name,
        db_info=db_info,
        table_info=table_info,
        crc64xor=schema.crc64xor,
        total_kvs=schema.total_kvs,
        total_bytes=schema.total_bytes,
    )


def _read_ddls(meta: brpb.BackupMeta, walker: _MetaWalker) -> list[dict[str, Any]]:
    """DDL jobs: the inline JSON array for v1 metadata, the indexed jobs for v2 (as BR:
    a v2 backupmeta's `ddls` is always `[]`), each checked to be a `model.Job`."""
    if meta.version == 0:
        if not meta.ddls:
            return []
        try:
            jobs = json.loads(meta.ddls)
        except (ValueError, UnicodeDecodeError) as e:
            raise BackupMetaError(
                BACKUPMETA_NAME,
                f"has ddls that are not valid JSON ({e}); expected a JSON array of DDL jobs",
            ) from None
        if not isinstance(jobs, list):
            raise BackupMetaError(
                BACKUPMETA_NAME,
                f"has ddls that are a JSON {_json_kind(jobs)}; expected a JSON array of DDL jobs",
            )
        for position, job in enumerate(jobs):
            _ddl_job(job, BACKUPMETA_NAME, position)
        return jobs
    jobs = []
    for leaf, source in walker.leaves_with_source(meta, "ddl_indexes"):
        for position, raw in enumerate(leaf.ddls):
            try:
                job = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                raise BackupMetaError(
                    source,
                    f"holds DDL job #{position + 1} that is not valid JSON ({e}); "
                    "expected one model.Job JSON object per element",
                ) from None
            _ddl_job(job, source, position)
            jobs.append(job)
    return jobs


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


_JOB_INT_FIELDS = ("id", "type", "schema_id", "table_id", "state")
_JOB_STR_FIELDS = ("schema_name", "table_name", "query")


def _ddl_job(value: object, source: str, position: int) -> DdlJob:
    """One DDL job, checked the way Go's `json.Unmarshal` into `model.Job` would: an
    object, its numeric fields integers, its names strings, `binlog` an object or null."""
    where = f"DDL job #{position + 1}"
    if not isinstance(value, dict):
        raise BackupMetaError(
            source, f"holds {where} that is a JSON {_json_kind(value)}; expected a model.Job object"
        )
    for key in _JOB_INT_FIELDS:
        number = value.get(key, 0)
        if not isinstance(number, int) or isinstance(number, bool):
            raise BackupMetaError(
                source, f"holds {where} whose {key} is {number!r}; expected an integer"
            )
    if not isinstance(value.get("id"), int):
        raise BackupMetaError(source, f"holds {where} without an id; expected a model.Job")
    for key in _JOB_STR_FIELDS:
        if not isinstance(value.get(key, ""), str):
            raise BackupMetaError(
                source, f"holds {where} whose {key} is {value[key]!r}; expected a string"
            )
    binlog = value.get("binlog")
    if binlog is None:
        binlog = {}
    if not isinstance(binlog, dict):
        raise BackupMetaError(
            source, f"holds {where} whose binlog is a JSON {_json_kind(binlog)}; expected an object"
        )
    table_info = binlog.get("TableInfo")
    if table_info is not None and not isinstance(table_info, dict):
        raise BackupMetaError(
            source, f"holds {where} whose binlog.TableInfo is not a JSON object (a TableInfo)"
        )
    numbers = {key: binlog.get(key) or 0 for key in ("SchemaVersion", "FinishedTS")}
    for key, number in numbers.items():
        if not isinstance(number, int) or isinstance(number, bool):
            raise BackupMetaError(
                source, f"holds {where} whose binlog.{key} is {number!r}; expected an integer"
            )
    return DdlJob(
        id=value["id"],
        type=value.get("type", 0),
        schema_id=value.get("schema_id", 0),
        table_id=value.get("table_id", 0),
        schema_name=value.get("schema_name", ""),
        table_name=value.get("table_name", ""),
        state=value.get("state", 0),
        query=value.get("query", ""),
        schema_version=numbers["SchemaVersion"],
        finished_ts=numbers["FinishedTS"],
        table_info=table_info,
    )

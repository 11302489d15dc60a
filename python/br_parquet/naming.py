"""Output object names: `{prefix}/{db}/{table}/{sst_stem}.parquet`, or with
`--target-file-size` `{prefix}/{db}/{table}/{first_sst_stem}__{last_sst_stem}.parquet`.

Spark, Hive, Trino and `pyarrow.dataset` skip folders and files whose names start with `_`
or `.`, so no name made here does. The rules, for database and table names (`sanitize`):

- a name matching `[A-Za-z0-9][A-Za-z0-9_]*` of at most `MAX_NAME_BYTES` is kept unchanged;
- any other name becomes its runs of ASCII letters and digits joined by `_` (cut to fit),
  then `_` and a hash: the first `HASH_LEN` hex digits of the SHA-256 of its UTF-8 bytes;
  only the hash when it has no ASCII letter or digit. `数据` → `5440f742`,
  `ünïcödé_表` → `n_c_d_aa9c05f9`, `_tmp` → `tmp_{hash}`, `a-b` → `a_b_{hash}`.

SST names (`sst_stem`) follow the same rule, except that `/` between conforming parts and a
final `.sst` are allowed: TiKV's `1/2_5_7_abcdef_1700000000000_write.sst` becomes
`1_2_5_7_abcdef_1700000000000_write`. Anything else (`..`, separators, control characters,
names longer than `MAX_STEM_BYTES`) becomes readable part + hash, never a path.

Names are deterministic, and differ whenever the originals do, except when a name equals
another's hashed form or two hashes collide: `table_folders` refuses such exports.

Names read from a backup are untrusted. Output names are made only by the rules above, so
they stay below the output prefix whatever the database, table and SST names are. Input
object names (data files, v2 child meta files) are used as they are, so `check_input_name`
refuses any that is not a plain relative path (`..`, absolute, backslashes, control
characters, overlong), and `contained_path` keeps a local store inside its root even if one
slipped through.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from .errors import BackupMetaError

HASH_LEN = 8
MAX_NAME_BYTES = 100
"""Longest database or table folder name."""
MAX_STEM_BYTES = 200
"""Longest SST stem: with `.parquet` and a checkpoint's `.json` it stays within 255 bytes."""

MAX_OBJECT_NAME_BYTES = 1024
"""Longest input object name: S3's limit for a whole key."""
MAX_SEGMENT_BYTES = 255
"""Longest part of an input object name between `/`: a file name on local disks."""
_SHOWN_NAME_CHARS = 120

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
_SAFE_SST = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*(?:/[A-Za-z0-9][A-Za-z0-9_]*)*")
_ALNUM_RUNS = re.compile(r"[A-Za-z0-9]+")


def _hashed(readable: str, original: str, limit: int) -> str:
    """The ASCII letter/digit runs of `readable` joined by `_`, `_`, hash of `original`."""
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LEN]
    kept = "_".join(_ALNUM_RUNS.findall(readable))[: limit - HASH_LEN - 1].rstrip("_")
    return f"{kept}_{digest}" if kept else digest


def sanitize(name: str) -> str:
    """The folder name of a database or table: `name` if already safe, else readable + hash."""
    if len(name) <= MAX_NAME_BYTES and _SAFE.fullmatch(name):
        return name
    return _hashed(name, name, MAX_NAME_BYTES)


def sst_stem(sst_name: str) -> str:
    """The SST's name relative to the backup root, without `.sst`, folders joined by `_`.

    TiKV ≥ 6.2 writes `{store}/{region}_…_{cf}.sst`, which becomes `{store}_{region}_…_{cf}`;
    any name that is not such a path of safe parts becomes readable part + hash.
    """
    name = sst_name.strip("/").removesuffix(".sst")
    if len(name) <= MAX_STEM_BYTES and _SAFE_SST.fullmatch(name):
        return name.replace("/", "_")
    return _hashed(name, sst_name, MAX_STEM_BYTES)


def normalize_prefix(prefix: str) -> str:
    """The output prefix as object names start with it: `/a//b/` → `a/b`, `/` → ``."""
    return "/".join(p for p in prefix.strip("/").split("/") if p)


def table_folder(db: str, table: str) -> str:
    """The folder of a table's objects, relative to the prefix: `{db}/{table}` sanitised."""
    return f"{sanitize(db)}/{sanitize(table)}"


def table_folders(tables: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """`{(db, table): table_folder(db, table)}`, or `ValueError` when two tables share one."""
    folders: dict[tuple[str, str], str] = {}
    owners: dict[str, tuple[str, str]] = {}
    for db, table in tables:
        folder = table_folder(db, table)
        owner = owners.setdefault(folder, (db, table))
        if owner != (db, table):
            raise ValueError(
                f"tables {owner[0]!r}.{owner[1]!r} and {db!r}.{table!r} would both be "
                f"written to the folder {folder!r}; export them separately"
            )
        folders[db, table] = folder
    return folders


def parquet_object_name(prefix: str, db: str, table: str, sst_name: str) -> str:
    parts = [normalize_prefix(prefix), table_folder(db, table), f"{sst_stem(sst_name)}.parquet"]
    return "/".join(p for p in parts if p)


GROUP_SEPARATOR = "__"
"""Between the first and the last SST stem of a grouped file's name."""


def group_stem(first_sst: str, last_sst: str) -> str:
    """The stem of a file holding a table's rows of consecutive SSTs `first_sst` to
    `last_sst` (`--target-file-size`): `{first_stem}__{last_stem}`, also when both are
    one SST, so that it never is the name of a one-SST file. Over `MAX_STEM_BYTES` it
    becomes readable part + hash of both names."""
    stem = f"{sst_stem(first_sst)}{GROUP_SEPARATOR}{sst_stem(last_sst)}"
    if len(stem) <= MAX_STEM_BYTES:
        return stem
    return _hashed(stem, f"{first_sst}\n{last_sst}", MAX_STEM_BYTES)


def group_object_name(prefix: str, db: str, table: str, first_sst: str, last_sst: str) -> str:
    """`{prefix}/{db}/{table}/{group_stem}.parquet`."""
    parts = [
        normalize_prefix(prefix),
        table_folder(db, table),
        f"{group_stem(first_sst, last_sst)}.parquet",
    ]
    return "/".join(p for p in parts if p)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
"""Unicode category Cc (NUL, C0 and C1 controls, DEL) as one scan: names are checked
for every data file of the backup, up to millions."""


def unsafe_name_reason(name: str) -> str | None:
    """Why object name `name` (relative to a storage root, `/`-separated) cannot be used
    as it is, or None when it is a plain relative path that stays below the root."""
    # The common case first, with string methods only (a regex scan costs several times
    # more, for every data file of the backup): a short ASCII name (so no segment is too
    # long) without control characters (for ASCII, `isprintable` is exactly that), `\\`,
    # `//`, a segment starting with `.`, or a `/` at either end. Any other name, such as
    # `a/.b`, gets the full check, which also says why.
    if (
        0 < len(name) <= MAX_SEGMENT_BYTES
        and name.isascii()
        and name.isprintable()
        and "\\" not in name
        and "//" not in name
        and "/." not in name
        and name[0] not in "./"
        and name[-1] != "/"
    ):
        return None
    return _unsafe_reason(name)


def _unsafe_reason(name: str) -> str | None:
    """`unsafe_name_reason` for any name."""
    if not name:
        return "is empty"
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_OBJECT_NAME_BYTES:
        return f"is {size} bytes long (at most {MAX_OBJECT_NAME_BYTES})"
    control = _CONTROL.search(name)
    if control is not None:
        return f"contains the control character {control.group()!r}"
    if "\\" in name:
        return "contains a backslash, a path separator on Windows"
    if name.startswith("/"):
        return "is an absolute path"
    for segment in name.split("/"):
        if not segment:
            return "has an empty path segment (`//` or a trailing `/`)"
        if segment in (".", ".."):
            return f"has a {segment!r} path segment"
        length = len(segment.encode("utf-8", "surrogatepass"))
        if length > MAX_SEGMENT_BYTES:
            return f"has a path segment of {length} bytes (at most {MAX_SEGMENT_BYTES})"
    return None


def shown_name(name: str) -> str:
    """`name` quoted and escaped for a one-line message, cut when very long."""
    if len(name) <= _SHOWN_NAME_CHARS:
        return repr(name)
    return f"{name[:_SHOWN_NAME_CHARS]!r}… ({len(name)} characters)"


def check_input_name(name: str, *, listed_in: str, what: str) -> None:
    """Refuses an object name read from the backup (`what`: "data file", "meta file")
    that could lead outside the backup's root: raises `BackupMetaError` naming
    `listed_in` (the meta object that lists it) and the name."""
    reason = unsafe_name_reason(name)
    if reason is not None:
        raise BackupMetaError(
            listed_in,
            f"lists the {what} {shown_name(name)}, which {reason}; a backup names its "
            "files by plain paths relative to its root",
        )


def contained_path(root: Path, name: str) -> Path | None:
    """The local file of object `name` below directory `root`, or None when the name
    would lead elsewhere (`..`, an absolute path): the last line of defence of a local
    store. The check is on the path as written; symbolic links placed inside the root
    by its owner are followed."""
    path = Path(os.path.normpath(root / name))
    if path == root or not path.is_relative_to(root):
        return None
    return path

"""Output object names: `{prefix}/{db}/{table}/{sst_stem}.parquet`.

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
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

HASH_LEN = 8
MAX_NAME_BYTES = 100
"""Longest database or table folder name."""
MAX_STEM_BYTES = 200
"""Longest SST stem: with `.parquet` and a checkpoint's `.json` it stays within 255 bytes."""

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

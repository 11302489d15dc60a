"""Output object names: `{prefix}/{db}/{table}/{sst_stem}.parquet`.

Database and table names are normalised to `[A-Za-z0-9_]`; whenever that
changes a name, a short stable hash of the original is appended so that
`table-name` and `table_name` never share a folder.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
HASH_LEN = 8


def sanitize(name: str) -> str:
    """`name` unchanged if it is already `[A-Za-z0-9_]+`, else normalised + hash."""
    clean = _UNSAFE.sub("_", name)
    if clean == name and name:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_LEN]
    return f"{clean}_{digest}"


def sst_stem(sst_name: str) -> str:
    """The SST's name relative to the backup root, without `.sst`, folders joined by `_`.

    TiKV ≥ 6.2 writes `{store}/{region}_…_{cf}.sst`, which becomes `{store}_{region}_…_{cf}`.
    """
    name = sst_name.strip("/")
    if name.endswith(".sst"):
        name = name[: -len(".sst")]
    return name.replace("/", "_")


def normalize_prefix(prefix: str) -> str:
    """The output prefix as object names start with it: `/a//b/` → `a/b`, `/` → ``."""
    return "/".join(p for p in prefix.strip("/").split("/") if p)


def parquet_object_name(prefix: str, db: str, table: str, sst_name: str) -> str:
    parts = [p for p in prefix.strip("/").split("/") if p]
    parts += [sanitize(db), sanitize(table), f"{sst_stem(sst_name)}.parquet"]
    return "/".join(parts)

"""Verification against the backup's own checksums (`--verify`): each data file's TiKV
checksum (CRC-64/XZ xor, KV count, bytes, computed by the decoder while it reads the
file) against its `File` entry, and with `--verify tables` each table's `Schema`
checksum against the sum of all its files'."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._native import SstScan
from .backupmeta import BackupMeta
from .errors import VerificationError
from .fetch import LocalSst, fetch_sst
from .interrupt import make_temp_dir, remove_temp_dir
from .options import ExportOptions
from .plan import SstTask, pair_stem, table_id_of
from .proto import brpb_pb2 as brpb
from .storage import shared_storage
from .tables import Table


def check_files(
    files: list[tuple[str, brpb.File | None]],
    sums: dict[str, tuple[int, int, int]],
    tables: str,
) -> dict[str, int]:
    """Compares each file's recorded checksum with what its contents hash to."""
    verified = unverifiable = 0
    for cf, file in files:
        if file is None:
            continue
        actual = sums.get(cf, (0, 0, 0))
        expected = (file.crc64xor, file.total_kvs, file.total_bytes)
        if expected == actual:
            verified += 1
        elif expected == (0, 0, 0):
            # Not recorded (e.g. an old or partial backupmeta): nothing to compare with.
            unverifiable += 1
        else:
            raise VerificationError(
                file.name,
                tables,
                "TiKV checksum",
                expected=checksum_text(expected),
                actual=checksum_text(actual),
            )
    return {"verified_files": verified, "unverifiable_files": unverifiable}


def verify_tables(
    meta: BackupMeta,
    tables: Sequence[Table],
    tasks: Sequence[SstTask],
    input: brpb.StorageBackend,
    options: ExportOptions,
    workdir: str | None = None,
) -> dict[str, int]:
    """`--verify tables`: for each selected table whose `Schema` carries a checksum,
    checks that the checksums of all its files (records and indexes of every partition,
    the table's share of a shared file from `table_metas`) add up to it, which catches
    a data file missing from the backupmeta; then downloads the files of those tables
    that no SST task reads (index ranges, unselected partitions) and checks each against
    its own checksum. The task files are checked by their tasks (`--verify files`).
    Raises `VerificationError`; returns `verified_tables`, `unverifiable_tables` and the
    `verified_files` / `unverifiable_files` of the extra files."""
    schemas = {s.table_id: s for s in meta.schemas if s.table_id is not None}
    read_by_tasks = {f.name for t in tasks for f in (t.write, t.default) if f is not None}
    counts: Counter[str] = Counter(verified_tables=0, unverifiable_tables=0)
    extra: dict[str, tuple[brpb.File, str]] = {}
    for table in tables:
        schema = schemas.get(table.table_id)
        if schema is None or schema.table_info is None or not schema.has_checksum:
            counts["unverifiable_tables"] += 1
            continue
        pids = _all_physical_ids(schema.table_info)
        crc = kvs = size = 0
        for f in meta.data_files:
            part = _share_of(f, pids)
            if part is None:
                continue
            crc ^= part[0]
            kvs += part[1]
            size += part[2]
            if f.name not in read_by_tasks:
                extra[f.name] = (f, table.qualified_name)
        expected = (schema.crc64xor, schema.total_kvs, schema.total_bytes)
        if (crc, kvs, size) != expected:
            raise VerificationError(
                "backupmeta",
                table.qualified_name,
                "table checksum (Schema) against the sum of its data files' checksums",
                expected=checksum_text(expected),
                actual=checksum_text((crc, kvs, size)),
            )
        counts["verified_tables"] += 1
    pairs: dict[tuple[str, bytes, bytes], dict[str, tuple[brpb.File, str]]] = {}
    for f, owner in extra.values():
        cf = f.cf or ("default" if f.name.endswith("_default.sst") else "write")
        pairs.setdefault((pair_stem(f.name), f.start_key, f.end_key), {})[cf] = (f, owner)
    with ThreadPoolExecutor(options.sst_concurrency, thread_name_prefix="verify") as pool:
        for done in pool.map(lambda p: _checksum_pair(p, input, options, workdir), pairs.values()):
            counts.update(done)
    return dict(counts)


def _checksum_pair(
    pair: dict[str, tuple[brpb.File, str]],
    input: brpb.StorageBackend,
    options: ExportOptions,
    workdir: str | None,
) -> dict[str, int]:
    """Downloads a write-CF file (+ default-CF file) and checks their checksums; no row
    is decoded (the scan is given no table)."""
    if "write" not in pair:
        lone, owner = pair["default"]
        raise VerificationError(
            lone.name, owner, "pairing", expected="a write-CF file", actual="none"
        )
    write, owner = pair["write"]
    default = pair["default"][0] if "default" in pair else None
    source = shared_storage(input, options.storage)
    tmp = make_temp_dir("verify", workdir)
    fetched: list[LocalSst] = []
    try:
        local_write = fetch_sst(source, write, options.crypter, tmp)
        fetched.append(local_write)
        local_default = fetch_sst(source, default, options.crypter, tmp) if default else None
        if local_default is not None:
            fetched.append(local_default)
        scan = SstScan(
            local_write.path,
            [],
            default_sst=local_default.path if local_default else None,
            name=write.name,
            default_name=default.name if default else None,
            key_range=(bytes(write.start_key), bytes(write.end_key)),
            batch_rows=1,
            checksums=True,
        )
        for _ in scan:
            pass
        sums = scan.checksums() or {}
    finally:
        for f in fetched:
            f.close()
        remove_temp_dir(tmp)
    return check_files([("write", write), ("default", default)], sums, owner)


def _all_physical_ids(table_info: dict[str, Any]) -> set[int]:
    """The table's ID and every partition's: what its `Schema` checksum covers."""
    ids = {int(table_info.get("id", 0))}
    partition = table_info.get("partition") or {}
    for definition in partition.get("definitions") or ():
        ids.add(int(definition.get("id", 0)))
    return ids


def _share_of(f: brpb.File, pids: set[int]) -> tuple[int, int, int] | None:
    """The part of file `f`'s checksum that belongs to physical tables `pids`: from its
    `table_metas` when it has them, else all of it if its start key is of one of them."""
    if f.table_metas:
        parts = [m for m in f.table_metas if m.physical_id in pids]
        if not parts:
            return None
        crc = 0
        for m in parts:
            crc ^= m.crc64xor
        return crc, sum(m.total_kvs for m in parts), sum(m.total_bytes for m in parts)
    if table_id_of(bytes(f.start_key)) in pids:
        return f.crc64xor, f.total_kvs, f.total_bytes
    return None


def checksum_text(checksum: tuple[int, int, int]) -> str:
    crc, kvs, size = checksum
    return f"crc64xor={crc:#018x} total_kvs={kvs} total_bytes={size}"

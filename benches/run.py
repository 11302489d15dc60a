"""Benchmarks of the read and decode path, reported as ratios measured in one run.

    python benches/run.py [--rows N] [--repeat K]

1. raw SST scan: RocksDB iteration of a write-CF SST (~100 MiB at the default size),
   entries and bytes per second, nothing decoded;
2. decode: the same SST decoded into Arrow batches (one thread), rows per second,
   and decode time / raw scan time;
3. Parquet write of the decoded batches, and the whole export of the backup with
   one SST at a time, as export time / (decode + Parquet write).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from br_parquet import export
from br_parquet._native import SstReader, SstScan, TableDecoder, write_sst
from br_parquet.options import Verification
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.testing.keys import sst_key
from br_parquet.testing.schema import table_info
from br_parquet.testing.tablecodec import encode_row
from br_parquet.testing.writecf import WriteType, encode_write

COLUMNS = [
    ("id", "bigint primary key"),
    ("customer", "int not null"),
    ("name", "varchar(32)"),
    ("score", "double"),
    ("note", "varchar(64)"),
    ("created", "datetime"),
    ("amount", "decimal(12,2)"),
    ("flag", "tinyint"),
]
TABLE_ID = 1000
COMMIT_TS = 445063339262394369
DISTINCT_ROWS = 4096  # rows are cycled: decoding cost does not depend on repetition


def sample_rows(rng: random.Random) -> list[tuple[object, ...]]:
    base = datetime(2024, 1, 1)
    return [
        (
            0,
            rng.randrange(1, 1_000_000),
            f"customer-{rng.randrange(10**6):06d}",
            rng.random() * 1000,
            None if rng.random() < 0.2 else "note " + "x" * rng.randrange(0, 50),
            base + timedelta(seconds=rng.randrange(10**8)),
            Decimal(rng.randrange(-(10**9), 10**9)) / 100,
            rng.randrange(-128, 128),
        )
        for _ in range(DISTINCT_ROWS)
    ]


def build_sst(path: Path, rows: int) -> bytes:
    """Writes a zstd write-CF SST of `rows` records; returns the TableInfo JSON."""
    info = table_info(TABLE_ID, "bench", COLUMNS)
    rng = random.Random(7)
    samples = sample_rows(rng)
    entries = []
    for handle in range(rows):
        values = samples[handle % DISTINCT_ROWS]
        kv = encode_row(info, (handle, *values[1:]))
        write = encode_write(WriteType.PUT, COMMIT_TS - 10, short_value=kv.value)
        entries.append((sst_key(kv.raw_key, COMMIT_TS), write))
    write_sst(path, entries, compression="zstd", whole_key_filtering=False)
    return info.to_json()


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="br-parquet-bench-"))
    try:
        sst = work / "1_2_3_write.sst"
        t0 = time.perf_counter()
        table_json = build_sst(sst, args.rows)
        size = sst.stat().st_size
        took = time.perf_counter() - t0
        print(f"built {args.rows} rows into {size / 2**20:.1f} MiB zstd SST in {took:.1f}s")

        reader = SstReader(sst)
        scan_s, (n, kb, vb) = timed(reader.scan, args.repeat)  # type: ignore[misc]
        print(
            f"raw scan:  {n / scan_s / 1e6:6.2f} M KV/s, {(kb + vb) / scan_s / 2**20:7.1f} MiB/s "
            f"(uncompressed), {scan_s:.3f}s"
        )

        decoder = TableDecoder(table_json, "compat")

        def decode() -> list[pa.RecordBatch]:
            return [b for _, b in SstScan(sst, [decoder], batch_rows=8192)]

        decode_s, batches = timed(decode, args.repeat)
        rows = sum(b.num_rows for b in batches)  # type: ignore[union-attr]
        assert rows == args.rows
        print(
            f"decode:    {rows / decode_s / 1e6:6.2f} M rows/s, {decode_s:.3f}s "
            f"= {decode_s / scan_s:.2f} x raw scan"
        )

        table = pa.Table.from_batches(batches)  # type: ignore[arg-type]
        out = work / "out.parquet"
        write_s, _ = timed(
            lambda: pq.write_table(table, out, compression="snappy", row_group_size=8192),
            args.repeat,
        )
        print(f"parquet:   {rows / write_s / 1e6:6.2f} M rows/s, {write_s:.3f}s")

        backup = work / "backup"
        (backup / "1").mkdir(parents=True)
        shutil.copy(sst, backup / "1" / sst.name)
        meta = brpb.BackupMeta(cluster_id=1, end_version=COMMIT_TS)
        import hashlib

        # The file's TiKV checksum as BR records it, so `--verify files` has work to do.
        scan = SstScan(sst, [decoder], batch_rows=8192, checksums=True)
        for _ in scan:
            pass
        crc64xor, total_kvs, total_bytes = (scan.checksums() or {})["write"]
        meta.files.add(
            crc64xor=crc64xor,
            total_kvs=total_kvs,
            total_bytes=total_bytes,
            name=f"1/{sst.name}",
            sha256=hashlib.sha256(sst.read_bytes()).digest(),
            start_key=b"t",
            end_key=b"u",
            cf="write",
            size=size,
            end_version=COMMIT_TS,
        )
        meta.schemas.add(
            db=b'{"id":1,"db_name":{"O":"bench","L":"bench"},"state":5}', table=table_json
        )
        (backup / "backupmeta").write_bytes(meta.SerializeToString())

        def run_export(verify: Verification) -> Callable[[], object]:
            def run() -> object:
                shutil.rmtree(work / "export", ignore_errors=True)
                result = export(str(backup), str(work / "export"), sst_concurrency=1, verify=verify)
                assert verify == "none" or result.verified_files == 1
                return result

            return run

        export_s, _ = timed(run_export("files"), args.repeat)
        print(
            f"export:    {rows / export_s / 1e6:6.2f} M rows/s, {export_s:.3f}s "
            f"= {export_s / (decode_s + write_s):.2f} x (decode + parquet write)"
        )
        unverified_s, _ = timed(run_export("none"), args.repeat)
        print(
            f"verify:    --verify files costs {(export_s / unverified_s - 1) * 100:+.1f}% "
            f"of export time ({export_s:.3f}s vs {unverified_s:.3f}s with --verify none)"
        )
        print(f"cpu: {os.cpu_count()} cores; best of {args.repeat}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of scanning a whole table: it should not grow with the backup's size.

    python benches/scan_memory.py [--sst-gib 2] [--small-gib 0.5] [--concurrency N]
                                  [--batch-rows N] [--region-mib 96] [--jobs N]
                                  [--cache-dir DIR] [--native]

For a small and a large backup of `bench.t12` (generated or reused: see
`benches/datagen.py`) scans every row through `br_parquet.open_backup(path).scan(
"bench.t12", type_mapping="typed")` in a fresh subprocess, so that neither the generator
nor the other scan counts, and prints the subprocess's peak RSS (`ru_maxrss`) next to its
peak after the imports and `open_backup`, for both sizes, and their ratio. It also
prints how much the machine's `Shmem` grew during the scan: SSTs the scan keeps in
in-memory files (memfd) count there, not in RSS (system-wide: other processes add noise). `--native`
scans with `SstScan` one region after the other instead (no `open_backup` needed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datagen

MIB = 1 << 20
MARKER = "datagen.json"  # what `datagen` wrote about the backup


def peak_rss_bytes() -> int:
    """This process's peak resident set size (`ru_maxrss` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def shmem_bytes() -> int:
    """The machine's shared memory (`Shmem` of /proc/meminfo): in-memory files (memfd) the
    scan keeps SSTs in are counted here, not in the RSS of a process that only reads them.
    System-wide, so other processes move it too; 0 where there is no /proc/meminfo."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("Shmem:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def child(args: argparse.Namespace) -> int:
    """Scan the backup at `args.child`; print one JSON line of rows, seconds and RSS.
    Imports neither `datagen` nor anything the scan does not need."""
    import br_parquet
    from br_parquet._native import SstScan, TableDecoder

    root = Path(args.child)
    marker = json.loads((root / MARKER).read_text())
    imported = peak_rss_bytes()
    rows = 0
    shmem_before = peak_shmem = shmem_bytes()
    began = time.perf_counter()
    if args.native:
        decoder = TableDecoder(marker["table_info_json"].encode(), type_mapping="typed")
        opened = peak_rss_bytes()
        batch_rows = args.batch_rows or 8192
        for write, default, _ in marker["regions"]:
            scan = SstScan(
                root / write,
                [decoder],
                default_sst=None if default is None else root / default,
                batch_rows=batch_rows,
            )
            for _, batch in scan:
                rows += batch.num_rows
    else:
        options: dict[str, Any] = {"type_mapping": "typed"}
        if args.concurrency is not None:
            options["concurrency"] = args.concurrency
        if args.batch_rows is not None:
            options["batch_rows"] = args.batch_rows
        with br_parquet.open_backup(str(root)) as backup:
            opened = peak_rss_bytes()
            for n, batch in enumerate(backup.scan("bench.t12", **options)):
                rows += batch.num_rows
                if n % 64 == 0:
                    peak_shmem = max(peak_shmem, shmem_bytes())
    seconds = time.perf_counter() - began
    result = {
        "rows": rows,
        "seconds": seconds,
        "imported_rss": imported,
        "opened_rss": opened,
        "peak_rss": peak_rss_bytes(),
        "shmem_growth": max(peak_shmem, shmem_bytes()) - shmem_before,
    }
    print(json.dumps(result))
    return 0


def measure(gen: datagen.Generated, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(gen.root)]
    if args.native:
        command.append("--native")
    if args.concurrency is not None:
        command += ["--concurrency", str(args.concurrency)]
    if args.batch_rows is not None:
        command += ["--batch-rows", str(args.batch_rows)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the scan of {gen.root} failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rows"] != gen.rows:
        raise SystemExit(f"scanned {result['rows']:,} rows of {gen.root}, expected {gen.rows:,}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sst-gib", type=float, default=2.0, help="the large backup")
    parser.add_argument("--small-gib", type=float, default=0.5, help="the small backup")
    parser.add_argument("--concurrency", type=int, default=None, help="scan(concurrency=)")
    parser.add_argument("--batch-rows", type=int, default=None, help="scan(batch_rows=)")
    parser.add_argument("--region-mib", type=float, default=96.0)
    parser.add_argument("--jobs", type=int, default=None, help="generator processes")
    parser.add_argument("--cache-dir", type=Path, default=None, help="generated backups")
    parser.add_argument("--native", action="store_true", help="SstScan, not open_backup")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    import datagen

    if not args.native:
        import br_parquet

        if not hasattr(br_parquet, "open_backup"):
            print("br_parquet.open_backup does not exist (yet); try --native", file=sys.stderr)
            return 2
    region_kv_bytes = round(args.region_mib * MIB)
    results = []
    for gib in (args.small_gib, args.sst_gib):
        params = datagen.Params.for_gib(gib, region_kv_bytes=region_kv_bytes)
        gen = datagen.ensure_backup(params, cache_dir=args.cache_dir, jobs=args.jobs, progress=True)
        result = measure(gen, args)
        results.append((gen, result))
        print(
            f"{gen.sst_bytes / datagen.GIB:5.2f} GiB backup ({len(gen.regions)} regions, "
            f"{gen.rows:,} rows): peak RSS {result['peak_rss'] / MIB:,.0f} MiB "
            f"({result['opened_rss'] / MIB:,.0f} MiB before the scan), "
            f"peak Shmem growth {result['shmem_growth'] / MIB:,.0f} MiB, "
            f"{gen.rows / result['seconds'] / 1e6:.2f} M rows/s",
            flush=True,
        )
    (small, small_result), (large, large_result) = results
    print(
        f"peak RSS large / small: {large_result['peak_rss'] / small_result['peak_rss']:.2f} "
        f"for {large.sst_bytes / small.sst_bytes:.1f}x the SST bytes; scan's own growth "
        f"{(small_result['peak_rss'] - small_result['opened_rss']) / MIB:,.0f} MiB vs "
        f"{(large_result['peak_rss'] - large_result['opened_rss']) / MIB:,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

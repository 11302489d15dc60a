"""Projection: the time to decode 2 of the 12 columns of `bench.t12` against all 12.

    python benches/scan_projection.py [--sst-gib 0.5] [--repeat 3] [--mode auto|api|native]
                                      [--region-mib 96] [--jobs N] [--cache-dir DIR]

Generates (or reuses: see `benches/datagen.py`) a backup of about `--sst-gib` GiB of SSTs,
then scans the whole table decoding all 12 columns, then only `id` and `c_varchar32`,
alternately, and keeps the best of `--repeat` runs of each:

* `api`: `br_parquet.open_backup(path).scan("bench.t12", columns=[...],
  type_mapping="typed", concurrency=1)`, batches counted from the `RecordBatchReader`;
* `native`: `TableDecoder(table_info, "typed").project([...])` and one `SstScan` per
  region (write-CF SST + its default-CF SST), one after the other, 8192-row batches.

`native` also times the raw scan of the same SSTs (every KV of the write-CF and
default-CF files through `SstReader.scan`, nothing decoded), the floor that every scan
pays for RocksDB. Prints rows/s of each, the ratio of the wall times, and the ratio of
the decode costs (wall time minus the raw scan), all measured in this run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import datagen

import br_parquet
from br_parquet._native import SstReader, SstScan, TableDecoder

TWO_COLUMNS = ["id", "c_varchar32"]
BATCH_ROWS = 8192


def warm_page_cache(gen: datagen.Generated) -> None:
    """Read every SST once, so that no timed run pays for the disk."""
    for write, default in gen.region_paths:
        for path in (write, default):
            if path is not None:
                with path.open("rb") as f:
                    while f.read(16 << 20):
                        pass


def native_scanner(gen: datagen.Generated, columns: list[str] | None) -> Callable[[], int]:
    """Counts the rows of every region decoded with the columns given (None: all, by the
    unprojected decoder)."""
    decoder = TableDecoder(gen.table_info_json, type_mapping="typed")
    if columns is not None:
        decoder = decoder.project(columns)

    def run() -> int:
        rows = 0
        for write, default in gen.region_paths:
            for _, batch in SstScan(write, [decoder], default_sst=default, batch_rows=BATCH_ROWS):
                rows += batch.num_rows
        return rows

    return run


def raw_scanner(gen: datagen.Generated) -> Callable[[], int]:
    """Reads every KV of every SST, decoding nothing; counts the write-CF entries."""

    def run() -> int:
        rows = 0
        for write, default in gen.region_paths:
            rows += SstReader(write).scan()[0]
            if default is not None:
                SstReader(default).scan()
        return rows

    return run


def api_scanner(backup: Any, columns: list[str]) -> Callable[[], int]:
    def run() -> int:
        rows = 0
        reader = backup.scan(
            datagen.QUALIFIED, columns=columns, type_mapping="typed", concurrency=1
        )
        for batch in reader:
            rows += batch.num_rows
        return rows

    return run


def best_of(
    runs: dict[str, Callable[[], int]], repeat: int, expected_rows: int
) -> dict[str, float]:
    """Best wall time of each run, the runs alternating so that drift hits all alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            began = time.perf_counter()
            rows = run()
            elapsed = time.perf_counter() - began
            if rows != expected_rows:
                raise SystemExit(f"{name}: scanned {rows:,} rows, expected {expected_rows:,}")
            best[name] = min(best[name], elapsed)
    return best


def report(label: str, best: dict[str, float], rows: int) -> None:
    for name, seconds in best.items():
        print(f"{label} {name:>16}: {seconds:7.3f} s  {rows / seconds / 1e6:6.2f} M rows/s")
    two, all12 = best["2 of 12 columns"], best["all 12 columns"]
    print(f"{label} ratio 2-of-12 / all-12 wall time: {two / all12:.3f}")
    if "raw scan" in best:
        raw = best["raw scan"]
        print(
            f"{label} ratio 2-of-12 / all-12 decode cost (wall - raw scan): "
            f"{(two - raw) / (all12 - raw):.3f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sst-gib", type=float, default=0.5)
    parser.add_argument("--region-mib", type=float, default=datagen.DEFAULT_REGION_MIB)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mode", choices=["auto", "api", "native"], default="auto")
    parser.add_argument("--jobs", type=int, default=None, help="generator processes")
    parser.add_argument("--cache-dir", type=Path, default=None, help="generated backups")
    args = parser.parse_args(argv)

    params = datagen.Params.for_gib(
        args.sst_gib, region_kv_bytes=round(args.region_mib * datagen.MIB)
    )
    gen = datagen.ensure_backup(params, cache_dir=args.cache_dir, jobs=args.jobs, progress=True)
    print(
        f"backup {gen.root}: {gen.sst_bytes / datagen.GIB:.2f} GiB of SST, "
        f"{len(gen.regions)} regions, {gen.rows:,} rows"
    )
    modes = {"auto": ["api", "native"], "api": ["api"], "native": ["native"]}[args.mode]
    warm_page_cache(gen)

    if "native" in modes:
        runs = {
            "raw scan": raw_scanner(gen),
            "all 12 columns": native_scanner(gen, datagen.COLUMN_NAMES),
            "2 of 12 columns": native_scanner(gen, TWO_COLUMNS),
        }
        report("native", best_of(runs, args.repeat, gen.rows), gen.rows)
    if "api" in modes:
        with br_parquet.open_backup(str(gen.root)) as backup:
            runs = {
                "all 12 columns": api_scanner(backup, datagen.COLUMN_NAMES),
                "2 of 12 columns": api_scanner(backup, TWO_COLUMNS),
            }
            report("api   ", best_of(runs, args.repeat, gen.rows), gen.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Dask executor against the local one, on the same backup and the same cores.

    python benches/dask_executor.py [--gib 1] [--workers 2] [--small-ssts 200]
                                    [--cache-dir DIR]

Two backups:

- **realistic**: the cached `bench.t12` backup of `--gib` GiB (`benches/datagen.py`),
  regions of 96 MiB of KV data: the export time of each executor and their ratio;
- **many small SSTs**: `--small-ssts` SSTs of 50 rows each (`br_parquet.testing`): the
  per-task cost of the cluster, (Dask time - local time) / tasks.

Each export is `br-parquet-export` in a fresh subprocess: local with `--sst-concurrency
N`, Dask with `--executor dask --scheduler ADDR` on a cluster of N single-threaded worker
processes started beforehand (its start is timed apart), and once more with the local
cluster the export starts itself. The export time is the summary's (loading the
backupmeta to the last checkpoint entry) and, for the run that starts its own cluster,
the process's wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import datagen
from distributed import LocalCluster

from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

ROWS_PER_SMALL_SST = 50


def small_backup(root: Path, ssts: int) -> Path:
    rows = [(h, f"value {h:08d}", h * 7) for h in range(1, ssts * ROWS_PER_SMALL_SST + 1)]
    spec = BackupSpec(
        [
            DatabaseSpec(
                "bench",
                [
                    table(
                        "small",
                        [("id", "bigint primary key"), ("s", "varchar(64)"), ("n", "bigint")],
                        rows,
                        split_at=[1 + i * ROWS_PER_SMALL_SST for i in range(1, ssts)],
                    )
                ],
            )
        ],
        seed=3,
    )
    write_backup(root, spec)
    return root


def export(backup: Path, out: Path, *flags: str) -> tuple[float, float, int]:
    """(export seconds from its summary, process seconds, tasks)."""
    shutil.rmtree(out, ignore_errors=True)
    summary = out.with_suffix(".json")
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "br_parquet.cli",
            "--input",
            str(backup),
            "--output",
            str(out),
            "--no-progress",
            "--log-level",
            "warning",
            "--summary-json",
            str(summary),
            *flags,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"export failed ({done.returncode}):\n{done.stderr[-3000:]}")
    data = json.loads(summary.read_text())
    return float(data["seconds"]), wall, int(data["plan"]["ssts"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small-ssts", type=int, default=200)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    n = args.workers
    real = datagen.ensure_backup(
        datagen.Params.for_gib(args.gib), cache_dir=args.cache_dir, progress=True
    ).root
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        work = Path(tmp)
        small = small_backup(work / "small", args.small_ssts)
        began = time.perf_counter()
        with LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # a free port on the loopback host
        ) as cluster:
            started = time.perf_counter() - began
            dask = ["--executor", "dask", "--scheduler", cluster.scheduler_address]
            rows = []
            for label, backup in (("realistic", real), ("many small SSTs", small)):
                local = export(backup, work / "local", "--sst-concurrency", str(n))
                remote = export(backup, work / "dask", *dask)
                rows.append((label, local, remote))
        own = export(small, work / "own", "--executor", "dask", "--sst-concurrency", str(n))
    print(f"{n} worker threads each way (local: --sst-concurrency {n}; Dask: {n} worker")
    print(f"processes of 1 thread on 127.0.0.1, started in {started:.2f} s beforehand)\n")
    print("| backup | SST tasks | local s | Dask s | Dask / local | Dask cost per task |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, (ls, _, tasks), (ds, _, _) in rows:
        per_task = (ds - ls) / tasks * 1000
        print(f"| {label} | {tasks} | {ls:.2f} | {ds:.2f} | {ds / ls:.2f} | {per_task:+.1f} ms |")
    print(
        f"\nThe many-small-SSTs export with a local cluster it starts itself: {own[0]:.2f} s "
        f"of export, {own[1]:.2f} s of process (the cluster's start and stop included)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

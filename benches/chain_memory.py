"""Peak memory of a chain export: bounded by the overlapping SSTs, not by the table.

    python benches/chain_memory.py [--full-gib 2] [--inc-gib 0.25] [--workers 2]
                                   [--cache-dir DIR] [--keep]

The full backup is the cached `bench.t12` backup of `--full-gib` GiB (`benches/datagen.py`).
The increment is a second generated backup of the same table, of `--inc-gib` GiB with
other values (another seed) and smaller regions (so its ranges straddle the full
backup's), relabelled as the full backup's incremental: its `backupmeta` gets
`start_version` = the full backup's `end_version` and a later `end_version`. Every key of
the increment replaces a key of the full backup.

Each export (the full backup alone, then the chain) runs `br-parquet-export` in a fresh
subprocess that prints its own peak RSS (`ru_maxrss`); the report gives both, their
ratio, and the chain's peak against the budget of 256 MiB + 192 MiB per worker.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import datagen

from br_parquet.proto import brpb_pb2 as brpb

MIB = 1 << 20
CHILD = """
import resource, sys, time
from br_parquet.cli import main
began = time.perf_counter()
code = main(sys.argv[1:])
seconds = time.perf_counter() - began
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(f"RESULT {code} {rss} {seconds:.3f}")
"""


def relabel(source: Path, target: Path, *, start: int, end: int, cluster: int) -> None:
    """A copy of backup `source` at `target` whose backupmeta says it is the increment
    `(start, end]` of cluster `cluster` (the SSTs are linked, not copied)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in source.rglob("*"):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif path.name != "backupmeta":
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(path)
    meta = brpb.BackupMeta.FromString((source / "backupmeta").read_bytes())
    meta.start_version = start
    meta.end_version = end
    meta.cluster_id = cluster
    for schema in meta.schemas:
        schema.crc64xor = schema.total_kvs = schema.total_bytes = 0
    (target / "backupmeta").write_bytes(meta.SerializeToString())


def export(inputs: Sequence[Path], output: Path, workers: int) -> tuple[int, float]:
    """(peak RSS bytes, seconds) of one export in a fresh subprocess."""
    shutil.rmtree(output, ignore_errors=True)
    argv = [a for p in inputs for a in ("--input", str(p))]
    argv += ["--output", str(output), "--no-progress", "--log-level", "warning"]
    argv += ["--sst-concurrency", str(workers), "--type-mapping", "typed"]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"export failed ({done.returncode}):\n{done.stderr[-3000:]}")
    _, code, rss, seconds = line.split()
    if code != "0":
        raise SystemExit(f"export failed with exit code {code}:\n{done.stderr[-3000:]}")
    return int(rss), float(seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full-gib", type=float, default=2.0)
    parser.add_argument("--inc-gib", type=float, default=0.25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the exported files")
    args = parser.parse_args(argv)
    full = datagen.ensure_backup(
        datagen.Params.for_gib(args.full_gib), cache_dir=args.cache_dir, progress=True
    )
    inc_source = datagen.ensure_backup(
        datagen.Params.for_gib(args.inc_gib, seed=7, region_kv_bytes=37 * MIB),
        cache_dir=args.cache_dir,
        progress=True,
    )
    work = Path(tempfile.mkdtemp(prefix="br-parquet-chain-bench-"))
    try:
        meta = brpb.BackupMeta.FromString((full.root / "backupmeta").read_bytes())
        inc = work / "increment"
        relabel(
            inc_source.root,
            inc,
            start=meta.end_version,
            end=meta.end_version + (60_000 << 18),
            cluster=meta.cluster_id,
        )
        began = time.perf_counter()
        single_rss, single_s = export([full.root], work / "out-full", args.workers)
        chain_rss, chain_s = export([full.root, inc], work / "out-chain", args.workers)
        budget = (256 + 192 * args.workers) * MIB
        report = {
            "full_sst_mib": round(full.sst_bytes / MIB, 1),
            "increment_sst_mib": round(inc_source.sst_bytes / MIB, 1),
            "workers": args.workers,
            "full_export": {"peak_rss_mib": round(single_rss / MIB, 1), "seconds": single_s},
            "chain_export": {"peak_rss_mib": round(chain_rss / MIB, 1), "seconds": chain_s},
            "chain_rss_over_full_rss": round(chain_rss / single_rss, 3),
            "chain_rss_over_budget": round(chain_rss / budget, 3),
            "wall_seconds": round(time.perf_counter() - began, 1),
        }
        print(json.dumps(report, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

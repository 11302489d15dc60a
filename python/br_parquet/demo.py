"""`make demo`: writes a sample BR backup, exports it, prints what came out.

The backup holds the original design's grouping case: `parquet_smoke.group_a`
and `parquet_smoke.group_b` (`id INT PRIMARY KEY, v INT`) in one region SST.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq

from .cli import main as cli_main
from .testing import BackupSpec, DatabaseSpec, table, write_backup


def write_sample_backup(root: Path) -> None:
    write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "parquet_smoke",
                    [
                        table(
                            "group_a",
                            [("id", "int primary key"), ("v", "int")],
                            rows=[(1, 10), (2, 20)],
                        ),
                        table(
                            "group_b",
                            [("id", "int primary key"), ("v", "int")],
                            rows=[(1, 100), (2, 200)],
                        ),
                    ],
                )
            ],
            shared_regions=[["parquet_smoke.group_a", "parquet_smoke.group_b"]],
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".demo"))
    args = parser.parse_args(argv)
    workdir: Path = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    backup, output = workdir / "backup", workdir / "output"
    write_sample_backup(backup)
    print(f"wrote a BR backup to {backup}:")
    for path in sorted(p for p in backup.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(backup)}")
    print()
    command = [
        "--input",
        f"local://{backup}",
        "--output",
        f"local://{output}",
        "--filter",
        "parquet_smoke.group_*",
    ]
    print("br-parquet-export " + " ".join(command))
    status = cli_main(command)
    if status != 0:
        return status
    print()
    for path in sorted(output.rglob("*.parquet")):
        print(f"{path.relative_to(output)}:")
        for row in pq.read_table(path).to_pylist():
            print(f"  {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

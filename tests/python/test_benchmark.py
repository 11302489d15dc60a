"""`br-parquet bench` (`br_parquet.benchmark`) on small real backups: the report counts
the rows the backup holds in every step, its figures and ratios are consistent with
each other, the exports it runs are real subprocesses with a peak RSS; errors end in one
line and the exit code of their kind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from br_parquet.benchmark import MIB, rss_budget
from br_parquet.cli import br_parquet_main
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

ROWS_A = 300
ROWS_B = 120
SCRIPT = Path(sys.executable).parent / "br-parquet"


def _rows(n: int, offset: int) -> list[tuple[Any, ...]]:
    """Every fourth row is long enough for its value to go to the default CF."""
    return [
        (i, f"name-{i + offset:05d}" * (40 if i % 4 == 0 else 1), i * 7 - 1000)
        for i in range(1, n + 1)
    ]


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tables over several SSTs each, long values in the default CF."""
    root = tmp_path_factory.mktemp("bench") / "backup"
    columns = [("id", "bigint primary key"), ("name", "varchar(512)"), ("v", "int")]
    spec = BackupSpec(
        [
            DatabaseSpec(
                "shop",
                [
                    table("a", columns, _rows(ROWS_A, 0), split_at=[70, 140, 210]),
                    table("b", columns, _rows(ROWS_B, 50_000), split_at=[60]),
                ],
            )
        ]
    )
    write_backup(root, spec)
    return root


def _bench(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "br_parquet"]
    return subprocess.run(
        [*command, "bench", *argv], capture_output=True, text=True, check=False, timeout=300
    )


def test_report_counts_the_backup_rows_in_every_step(backup: Path) -> None:
    done = _bench(
        "--input",
        str(backup),
        "--type-mapping",
        "compat",
        "--compression",
        "zstd",
        "--workers",
        "1,2",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tables"] == ["shop.a", "shop.b"]
    assert report["rows"] == ROWS_A + ROWS_B
    files = _sst_names(backup)
    assert any(n.endswith("_default.sst") for n in files)
    assert report["sst_files"] == len(files)
    assert report["input_bytes"] == sum((backup / n).stat().st_size for n in files)
    assert report["remote"] is False

    raw = report["raw_scan"]
    # Every row is one write-CF KV; long values add a default-CF KV.
    assert raw["kvs"] >= ROWS_A + ROWS_B and raw["key_bytes"] > 0 and raw["value_bytes"] > 0
    assert set(report["decode"]) == {"compat"}
    assert set(report["write"]) == {"compat/zstd"}
    for figure in [*report["decode"].values(), *report["write"].values()]:
        assert figure["rows"] == ROWS_A + ROWS_B
        assert figure["seconds"] > 0
    assert all(f["output_bytes"] > 0 for f in report["write"].values())

    runs = report["exports"]
    # With more than one CPU, the one-worker export runs once more on a single CPU.
    several = len(os.sched_getaffinity(0)) > 1
    expected = [("compat", 1, False), ("compat", 1, True), ("compat", 2, False)]
    if not several:
        expected.remove(("compat", 1, True))
    assert [(r["type_mapping"], r["workers"], r["one_cpu"]) for r in runs] == expected
    for run in runs:
        assert run["rows"] == ROWS_A + ROWS_B
        assert run["compression"] == "zstd"
        assert run["peak_rss"] > 10 * MIB  # an interpreter with pyarrow loaded
        assert run["process_seconds"] >= run["seconds"] > 0
        command = run["command"][3:] if run["one_cpu"] else run["command"]
        assert run["command"][:3] == ["taskset", "-c", run["command"][2]] or not run["one_cpu"]
        assert command[:3] == ["br-parquet-export", "--input", str(backup)]
        assert {"download", "convert"} <= set(run["stages"])

    ratios = {r["name"]: r for r in report["ratios"]}
    assert all(r["value"] is not None and r["value"] > 0 for r in ratios.values())
    decode = report["decode"]["compat"]["seconds"] / raw["seconds"]
    assert ratios["decode compat / raw scan"]["value"] == pytest.approx(decode)
    one, two = runs[-2], runs[-1]  # the targets compare with one worker on one CPU
    where = ", one worker on 1 CPU" if several else ""
    speedup = ratios[f"export x1 / x2, compat zstd{where}"]
    assert speedup["value"] == pytest.approx(one["seconds"] / two["seconds"])
    assert speedup["met"] == (speedup["value"] >= 1.85)
    on_one = ", on 1 CPU" if several else ""
    overhead = ratios[f"export x1 / (decode + write), compat zstd{on_one}"]["value"]
    floor = report["decode"]["compat"]["seconds"] + report["write"]["compat/zstd"]["seconds"]
    assert overhead == pytest.approx(one["seconds"] / floor)
    if several:
        free = ratios[f"export x1 on {report['cpus']} CPUs / (decode + write), compat zstd"]
        assert free["value"] == pytest.approx(runs[0]["seconds"] / floor)
        assert free["met"] is None
    rss = ratios["peak RSS / (256 MiB + 192 MiB x 2), compat zstd x2"]
    assert rss["value"] == pytest.approx(two["peak_rss"] / rss_budget(2))
    assert rss["met"] == (two["peak_rss"] <= rss_budget(2))
    assert report["bottleneck"][0].startswith(("CPU-bound", "I/O-bound"))

    if shutil.which("sst_dump"):
        assert report["sst_dump"]["seconds"] > 0 and "raw scan / sst_dump check" in ratios
    else:
        assert report["sst_dump"] is None and "sst_dump" in report["sst_dump_note"]


def _sst_names(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.sst"))


def test_one_table_from_s3_without_exports(
    backup: Path, s3_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A remote backup is downloaded once for the in-process steps; `--table` measures
    one table's SSTs only; the text report names the steps and the verdict."""
    storage = Storage.from_url(s3_url)
    for path in sorted(backup.rglob("*")):
        if path.is_file():
            storage.put_bytes(str(path.relative_to(backup)), path.read_bytes())
    argv = ["--input", s3_url, "--table", "SHOP.B", "--type-mapping", "typed", "--no-export"]
    code = br_parquet_main(["bench", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "(remote)" in out and "tables   shop.b\n" in out
    assert f"{ROWS_B:,} rows" in out
    assert "read SST bytes (download)" in out and "decode typed (1 thread)" in out
    assert "export" not in out.split("ratios")[0]
    assert "secret" not in out + err
    assert err.startswith("reading ")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--input", "{missing}"], 3, "backupmeta: not found in local://"),
        (["--input", "{backup}", "--table", "shop.nope"], 2, "shop.nope"),
        (["--input", "s3://"], 2, "invalid storage 's3://'"),
    ],
)
def test_errors_are_one_line_with_their_exit_code(
    backup: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    args = [a.format(backup=backup, missing=tmp_path / "nothing") for a in argv]
    assert br_parquet_main(["bench", *args]) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("br-parquet bench: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_bad_flags_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        br_parquet_main(["bench", "--input", "x", "--workers", "0"])
    assert exit_info.value.code == 2
    assert "usage: br-parquet bench" in capsys.readouterr().err
    assert br_parquet_main(["--help"]) == 0
    assert "usage: br-parquet {export,inspect,bench}" in capsys.readouterr().out

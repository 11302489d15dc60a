"""End to end: backups written by `br_parquet.testing` → `br-parquet-export` →
Parquet files read back with pyarrow."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet.cli import main as cli_main
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

CLI = [sys.executable, "-m", "br_parquet.cli"]


def local_b64(path: Path) -> str:
    backend = brpb.StorageBackend(local=brpb.Local(path=str(path)))
    return base64.b64encode(backend.SerializeToString()).decode() + "\n"  # as base64ify prints


def read_dir(root: Path) -> dict[str, list[dict[str, object]]]:
    """{relative path: rows} of every Parquet file under `root`."""
    return {
        str(p.relative_to(root)): pq.read_table(p).to_pylist()
        for p in sorted(root.rglob("*.parquet"))
    }


def grouping_backup(root: Path, **spec: object) -> None:
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
            **spec,  # type: ignore[arg-type]
        ),
    )


@pytest.mark.parametrize("meta_version", [1, 2])
def test_one_sst_with_two_tables_lands_in_both_table_folders(
    tmp_path: Path, meta_version: int
) -> None:
    grouping_backup(tmp_path / "backup", meta_version=meta_version)
    ssts = sorted((tmp_path / "backup").rglob("*.sst"))
    assert len(ssts) == 1  # both tables really share one region SST
    result = subprocess.run(
        [
            *CLI,
            "--input-storage-base64",
            local_b64(tmp_path / "backup"),
            "--output-storage-base64",
            local_b64(tmp_path / "out"),
            "--filter",
            "parquet_smoke.group_*",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    files = read_dir(tmp_path / "out")
    stem = str(ssts[0].relative_to(tmp_path / "backup")).removesuffix(".sst").replace("/", "_")
    assert files == {
        f"parquet/parquet_smoke/group_a/{stem}.parquet": [
            {"_tidb_table_id": 100, "_tidb_handle": 1, "id": 1, "v": 10},
            {"_tidb_table_id": 100, "_tidb_handle": 2, "id": 2, "v": 20},
        ],
        f"parquet/parquet_smoke/group_b/{stem}.parquet": [
            {"_tidb_table_id": 101, "_tidb_handle": 1, "id": 1, "v": 100},
            {"_tidb_table_id": 101, "_tidb_handle": 2, "id": 2, "v": 200},
        ],
    }
    assert "parquet_smoke.group_a: 2 rows" in result.stdout


MIXED_COLUMNS = [
    ("id", "bigint primary key"),
    ("name", "varchar(64)"),
    ("score", "double"),
    ("note", "varchar(1000) not null"),
    ("qty", "int not null"),
]


def mixed_rows(n: int) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for i in range(n):
        rows.append(
            (
                i * 7 - 500,
                None if i % 5 == 0 else f"name-{i}-é",
                None if i % 7 == 0 else i * 1.25 - 3.5,
                "x" * (300 if i % 11 == 0 else i % 40),  # some rows exceed 255 bytes → default CF
                -(2**31) if i == 3 else i,
            )
        )
    return rows


@pytest.mark.parametrize("compression", ["zstd", "lz4", "snappy"])
@pytest.mark.parametrize("meta_version", [1, 2])
def test_integer_varchar_double_table_round_trips(
    tmp_path: Path, compression: str, meta_version: int
) -> None:
    rows = mixed_rows(400)
    write_backup(
        tmp_path / "backup",
        BackupSpec(
            [
                DatabaseSpec(
                    "shop", [table("items", MIXED_COLUMNS, rows=rows, split_at=[0, 700, 1400])]
                )
            ],
            compression=compression,  # type: ignore[arg-type]
            meta_version=meta_version,  # type: ignore[arg-type]
        ),
    )
    assert any(p.name.endswith("_default.sst") for p in (tmp_path / "backup").rglob("*.sst"))
    status = cli_main(["--input", str(tmp_path / "backup"), "--output", str(tmp_path / "out")])
    assert status == 0
    parts = sorted((tmp_path / "out/parquet/shop/items").glob("*.parquet"))
    assert len(parts) > 1  # one file per region SST
    got = pa.concat_tables([pq.read_table(p) for p in parts])
    assert got.schema == pa.schema(
        [
            pa.field("_tidb_table_id", pa.int64(), nullable=False),
            pa.field("_tidb_handle", pa.int64(), nullable=False),
            pa.field("id", pa.int64(), nullable=False),
            pa.field("name", pa.string()),
            pa.field("score", pa.float64()),
            pa.field("note", pa.string(), nullable=False),
            pa.field("qty", pa.int64(), nullable=False),
        ]
    )
    by_id = sorted(got.to_pylist(), key=lambda r: r["id"])  # type: ignore[arg-type,return-value]
    assert [(r["id"], r["name"], r["score"], r["note"], r["qty"]) for r in by_id] == sorted(rows)  # type: ignore[type-var]
    assert all(r["_tidb_handle"] == r["id"] for r in by_id)


def test_python_api_returns_a_summary(tmp_path: Path) -> None:
    grouping_backup(tmp_path / "backup")
    summary = br_parquet.export(
        f"local://{tmp_path}/backup", str(tmp_path / "out"), filters=["parquet_smoke.group_a"]
    )
    assert summary.rows_by_table() == {"parquet_smoke.group_a": 2}
    assert summary.files_written == 1
    assert [o.table for o in summary.objects] == ["group_a"]


def test_no_matching_table_fails_listing_the_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grouping_backup(tmp_path / "backup")
    status = cli_main(
        [
            "--input",
            str(tmp_path / "backup"),
            "--output",
            str(tmp_path / "out"),
            "--filter",
            "nope.*",
        ]
    )
    assert status == 2
    assert (
        "br-parquet-export: error: no table matches filter ['nope.*']; tables in the backup: "
        "parquet_smoke.group_a, parquet_smoke.group_b\n"
    ) in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.parquet"))


def test_corrupted_sst_fails_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grouping_backup(tmp_path / "backup")
    (sst,) = (tmp_path / "backup").rglob("*.sst")
    expected = hashlib.sha256(sst.read_bytes()).hexdigest()
    data = bytearray(sst.read_bytes())
    data[len(data) // 3] ^= 0x01
    sst.write_bytes(bytes(data))
    status = cli_main(["--input", str(tmp_path / "backup"), "--output", str(tmp_path / "out")])
    assert status == 3
    name = sst.relative_to(tmp_path / "backup").as_posix()
    assert (
        f"br-parquet-export: error: sha256 mismatch for object {name!r}: "
        f"expected {expected}, got {hashlib.sha256(data).hexdigest()}\n"
    ) in capsys.readouterr().err
    assert not list((tmp_path / "out").rglob("*.parquet")) if (tmp_path / "out").exists() else True


def test_missing_backupmeta_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    status = cli_main(["--input", str(tmp_path / "empty"), "--output", str(tmp_path / "out")])
    assert status == 3
    assert (
        f"br-parquet-export: error: backupmeta: not found in local://{tmp_path / 'empty'}; "
        "expected the root of a finished BR snapshot backup (BR writes backupmeta last, so an "
        "unfinished backup has none)\n"
    ) in capsys.readouterr().err


def test_help_documents_every_flag_with_its_default() -> None:
    result = subprocess.run(
        [*CLI, "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    for flag in [
        "--input-storage-base64",
        "--output-storage-base64",
        "--output-prefix",
        "--row-group-size",
        "--sst-concurrency",
        "--compression",
        "--filter",
        "--table-ids",
        "--type-mapping",
        "--input",
        "--output",
    ]:
        assert flag in result.stdout
    assert "(default: parquet)" in result.stdout
    assert "(default: 8192)" in result.stdout
    assert "(default: snappy)" in result.stdout
    assert "(default: manifest)" in result.stdout

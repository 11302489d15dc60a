"""The original design's smoke cases — grouping, `--row-group-size 1`, all types —
local → local and S3 → S3, plus the output settings and the manifest."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from br_parquet.cli import main as cli_main
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
from br_parquet.testing.smoke import all_types, groups


def write_groups(root: Path) -> None:
    write_backup(
        root,
        BackupSpec(
            [DatabaseSpec("parquet_smoke", groups())],
            shared_regions=[["parquet_smoke.group_a", "parquet_smoke.group_b"]],
        ),
    )


def write_all_types(root: Path) -> None:
    from test_data_model_all_types import ROWS

    write_backup(root, BackupSpec([DatabaseSpec("parquet_smoke", [all_types(ROWS)])]))


class Place:
    """Where a backup is read from and the output written to."""

    def __init__(self, input_url: str, output_url: str, output: Storage) -> None:
        self.input_url, self.output_url, self.output = input_url, output_url, output

    def parquet(self) -> dict[str, pa.Table]:
        return {
            o.name: pq.read_table(io.BytesIO(self.output.get_bytes(o.name)))
            for o in self.output.list("parquet/")
            if o.name.endswith(".parquet")
        }


@pytest.fixture(params=["local", "s3"])
def place(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[Callable[[Path], None]], Place]:
    def make(write: Callable[[Path], None]) -> Place:
        local = tmp_path / "backup"
        write(local)
        if request.param == "local":
            out = tmp_path / "out"
            return Place(str(local), str(out), Storage.from_url(str(out)))
        s3_url: str = request.getfixturevalue("s3_url")
        base, query = s3_url.split("?", 1)
        backup = Storage.from_url(s3_url)
        for p in sorted(local.rglob("*")):
            if p.is_file():
                backup.put_file(str(p.relative_to(local)), p)
        out_url = f"{base.rsplit('/', 2)[0]}/exported?{query}"
        return Place(s3_url, out_url, Storage.from_url(out_url))

    return make


def run(place: Place, *flags: str) -> int:
    return cli_main(["--input", place.input_url, "--output", place.output_url, *flags])


def test_grouping_case(place: Callable[[Callable[[Path], None]], Place]) -> None:
    p = place(write_groups)
    assert run(p, "--filter", "parquet_smoke.group_*") == 0
    files = p.parquet()
    assert sorted(name.split("/")[2] for name in files) == ["group_a", "group_b"]
    rows = {name.split("/")[2]: t.select(["id", "v"]).to_pylist() for name, t in files.items()}
    assert rows == {
        "group_a": [{"id": 1, "v": 10}, {"id": 2, "v": 20}],
        "group_b": [{"id": 1, "v": 100}, {"id": 2, "v": 200}],
    }


def test_row_group_size_one(place: Callable[[Callable[[Path], None]], Place]) -> None:
    p = place(write_all_types)
    assert run(p, "--filter", "parquet_smoke.all_types", "--row-group-size", "1") == 0
    (name,) = p.parquet()
    meta = pq.ParquetFile(io.BytesIO(p.output.get_bytes(name))).metadata
    from test_data_model_all_types import ROWS

    assert meta.num_row_groups == len(ROWS) == 4
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1] * len(ROWS)


def test_all_types_case(place: Callable[[Callable[[Path], None]], Place]) -> None:
    from test_data_model_all_types import COMPAT, NAMES

    p = place(write_all_types)
    assert run(p, "--filter", "parquet_smoke.*") == 0
    (t,) = p.parquet().values()
    rows = sorted(t.to_pylist(), key=lambda r: r["id"])
    assert [{k: r[k] for k in NAMES} for r in rows] == COMPAT


def many_rows(root: Path) -> None:
    write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "db",
                    [
                        table(
                            "t",
                            [("id", "int primary key"), ("s", "varchar(10)")],
                            rows=[(i, f"s{i % 4}") for i in range(10)],
                        ),
                    ],
                )
            ]
        ),
    )


@pytest.mark.parametrize("size,expected", [(3, [3, 3, 3, 1]), (10, [10]), (8192, [10])])
def test_row_groups_hold_exactly_n_rows(tmp_path: Path, size: int, expected: list[int]) -> None:
    many_rows(tmp_path / "b")
    assert (
        cli_main(
            [
                "--input",
                str(tmp_path / "b"),
                "--output",
                str(tmp_path / "o"),
                "--row-group-size",
                str(size),
            ]
        )
        == 0
    )
    (f,) = (tmp_path / "o").rglob("*.parquet")
    meta = pq.ParquetFile(f).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == expected


@pytest.mark.parametrize(
    "name,codec",
    [
        ("snappy", "SNAPPY"),
        ("zstd", "ZSTD"),
        ("gzip", "GZIP"),
        ("brotli", "BROTLI"),
        ("lz4", "LZ4"),
        ("lz4raw", "LZ4"),
        ("none", "UNCOMPRESSED"),
    ],
)
def test_compression_and_writer_settings(tmp_path: Path, name: str, codec: str) -> None:
    many_rows(tmp_path / "b")
    assert (
        cli_main(
            ["--input", str(tmp_path / "b"), "--output", str(tmp_path / "o"), "--compression", name]
        )
        == 0
    )
    (f,) = (tmp_path / "o").rglob("*.parquet")
    pf = pq.ParquetFile(f)
    col = pf.metadata.row_group(0).column(3)  # `s`
    assert col.compression == codec
    assert any("DICTIONARY" in e for e in col.encodings)  # dictionary encoding on
    assert col.statistics is not None and col.statistics.has_min_max
    assert col.has_column_index  # page-level statistics
    assert pf.schema_arrow.names[:2] == ["_tidb_table_id", "_tidb_handle"]


def test_names_are_normalised_without_collisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_backup(
        tmp_path / "b",
        BackupSpec(
            [
                DatabaseSpec(
                    "shop-eu",
                    [
                        table("table-name", [("id", "int primary key")], rows=[(1,)]),
                        table("table_name", [("id", "int primary key")], rows=[(2,)]),
                        table("表名", [("id", "int primary key")], rows=[(3,)]),
                    ],
                )
            ]
        ),
    )
    assert (
        cli_main(
            ["--input", str(tmp_path / "b"), "--output", str(tmp_path / "o"), "--filter", "*.*"]
        )
        == 0
    )
    folders = sorted(
        {
            p.parent.relative_to(tmp_path / "o").as_posix()
            for p in (tmp_path / "o").rglob("*.parquet")
        }
    )
    assert len(folders) == 3
    assert all(
        part.replace("_", "").isalnum() and part.isascii() for f in folders for part in f.split("/")
    )
    assert any(f.endswith("/table_name") for f in folders)
    out = capsys.readouterr().out
    assert "'table-name' →" in out and "'shop-eu' →" in out and "'表名' →" in out


def test_filter_rules_from_a_file(tmp_path: Path) -> None:
    write_groups(tmp_path / "b")
    rules = tmp_path / "rules.txt"
    rules.write_text("# only group_b\nparquet_smoke.*\n!parquet_smoke.group_a\n")
    assert (
        cli_main(
            [
                "--input",
                str(tmp_path / "b"),
                "--output",
                str(tmp_path / "o"),
                "--filter",
                f"@{rules}",
            ]
        )
        == 0
    )
    assert [p.parent.name for p in (tmp_path / "o").rglob("*.parquet")] == ["group_b"]


def test_table_ids_select_by_physical_id(tmp_path: Path) -> None:
    write_groups(tmp_path / "b")
    assert (
        cli_main(
            ["--input", str(tmp_path / "b"), "--output", str(tmp_path / "o"), "--table-ids", "101"]
        )
        == 0
    )
    (f,) = (tmp_path / "o").rglob("*.parquet")
    assert f.parent.name == "group_b"


# 2023-11-14T22:13:20.123Z as a TSO: physical milliseconds << 18 | a logical part.
ICEBERG_BACKUP_MS = 1_700_000_000_123
ICEBERG_BACKUP_TS = (ICEBERG_BACKUP_MS << 18) | 7
SST_FACTS = (
    "name",
    "cf",
    "start_key",
    "end_key",
    "size",
    "sha256",
    "crc64xor",
    "total_kvs",
    "total_bytes",
)


def _sst_facts(f: Any) -> dict[str, Any]:
    """A backupmeta `File` as the manifest spells it: bytes as lower-case hex."""
    return {
        "name": f.name,
        "cf": f.cf,
        "start_key": f.start_key.hex(),
        "end_key": f.end_key.hex(),
        "size": f.size,
        "sha256": f.sha256.hex(),
        "crc64xor": f.crc64xor,
        "total_kvs": f.total_kvs,
        "total_bytes": f.total_bytes,
    }


def test_iceberg_manifest(tmp_path: Path) -> None:
    long_note = "n" * 400  # a default-CF value: the `notes` task has a default-CF file
    info = write_backup(
        tmp_path / "b",
        BackupSpec(
            [
                DatabaseSpec(
                    "parquet_smoke",
                    [
                        *groups(),
                        table(
                            "notes",
                            [("id", "int primary key"), ("note", "text")],
                            rows=[(1, long_note), (2, "short"), (3, long_note)],
                        ),
                    ],
                )
            ],
            shared_regions=[["parquet_smoke.group_a", "parquet_smoke.group_b"]],
            backup_ts=ICEBERG_BACKUP_TS,
        ),
    )
    assert (
        cli_main(
            [
                "--input",
                str(tmp_path / "b"),
                "--output",
                str(tmp_path / "o"),
                "--write-iceberg-manifest",
                "--iceberg-warehouse",
                "warehouse",
                "--iceberg-namespace",
                "analytics",
                "--iceberg-table",
                "groups",
            ]
        )
        == 0
    )
    (m,) = (tmp_path / "o/warehouse/analytics/groups/metadata").glob("manifest_*_0.json")
    assert m.name == f"manifest_{ICEBERG_BACKUP_TS}_0.json"
    doc: dict[str, Any] = json.loads(m.read_text())
    meta = info.backupmeta
    assert meta.end_version == ICEBERG_BACKUP_TS
    assert doc.keys() == {"format_version", "output_prefix", "snapshot", "files"}
    assert doc["format_version"] == 1
    assert doc["output_prefix"] == "parquet"
    assert doc["snapshot"] == {
        "start_version": meta.start_version,
        "end_version": ICEBERG_BACKUP_TS,
        "end_time": "2023-11-14T22:13:20.123000+00:00",
        "end_time_ms": ICEBERG_BACKUP_MS,
        "cluster_id": meta.cluster_id,
        "cluster_version": meta.cluster_version,
    }

    def sst(table_id: int, cf: str) -> dict[str, Any] | None:
        found = [d.file for d in info.data_files if d.file.cf == cf and table_id in d.physical_ids]
        assert len(found) <= 1
        return _sst_facts(found[0]) if found else None

    rows = {"group_a": 2, "group_b": 2, "notes": 3}
    files = doc["files"]
    assert [f["table"] for f in files] == sorted(rows)
    for entry in files:
        name = entry["table"]
        table_id = info.tables[f"parquet_smoke.{name}"].id
        parquet = tmp_path / "o" / entry["file_name"]
        data = parquet.read_bytes()
        write = sst(table_id, "write")
        assert write is not None
        assert entry == {
            "file_name": f"parquet/parquet_smoke/{name}/{parquet.name}",
            "file_format": "PARQUET",
            "record_count": rows[name],
            "file_size_in_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "db": "parquet_smoke",
            "table": name,
            "table_id": table_id,
            **{("sst_" + k if k in ("name", "size", "sha256") else k): v for k, v in write.items()},
            "default_cf": sst(table_id, "default"),
        }, name
        # The object is named after its write-CF SST (store dir flattened into the name).
        assert parquet.name == write["name"].replace("/", "_").removesuffix(".sst") + ".parquet"
        assert pq.read_metadata(parquet).num_rows == rows[name]
    by_table = {f["table"]: f for f in files}
    # The two group tables share one write-CF SST: its File.total_kvs counts both.
    assert by_table["group_a"]["sst_name"] == by_table["group_b"]["sst_name"]
    assert by_table["group_a"]["total_kvs"] == 4
    assert by_table["group_a"]["default_cf"] is None
    # The notes task has both CFs; the default CF holds the two long values.
    default_cf = by_table["notes"]["default_cf"]
    assert default_cf is not None and default_cf["cf"] == "default"
    assert default_cf["total_kvs"] == 2
    assert set(default_cf) == set(SST_FACTS)


def test_iceberg_flags_need_the_switch_and_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_groups(tmp_path / "b")
    base = ["--input", str(tmp_path / "b"), "--output", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as e:
        cli_main([*base, "--write-iceberg-manifest", "--iceberg-table", "x"])
    assert e.value.code == 2
    assert capsys.readouterr().err.endswith(
        "br-parquet-export: error: --write-iceberg-manifest needs --iceberg-warehouse, "
        "--iceberg-namespace\n"
    )


def test_schema_only_backup_has_nothing_to_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_backup(
        tmp_path / "b",
        BackupSpec(
            [
                DatabaseSpec(
                    "empty",
                    [
                        table("t", [("id", "int primary key")], rows=[]),
                    ],
                )
            ]
        ),
    )
    status = cli_main(["--input", str(tmp_path / "b"), "--output", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert status == 0
    assert "nothing to export" in out
    assert not list((tmp_path / "o").rglob("*.parquet")) if (tmp_path / "o").exists() else True


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        (
            "tidb-br-json-test/testMetaJSONs_1_v5.0.0_rawkv.json",
            "is JSON (such as the output of `br debug decode`), expected the protobuf BR "
            "writes; convert it back with `br debug encode`",
        ),
        (
            "tidb-br-ebs-backupmeta/backupmeta",
            "is the JSON metadata of an EBS volume-snapshot backup (full_backup_type=aws-ebs); "
            "it holds volume snapshots, not SST files, so there is nothing br-parquet can read. "
            "Take a snapshot backup with `br backup full` instead",
        ),
    ],
)
def test_unsupported_backups_are_rejected(
    shared_fixtures: Path,
    tmp_path: Path,
    fixture: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b/backupmeta").write_bytes((shared_fixtures / "real" / fixture).read_bytes())
    status = cli_main(["--input", str(tmp_path / "b"), "--output", str(tmp_path / "o")])
    assert status == 3
    assert f"br-parquet-export: error: backupmeta: {message}\n" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").rglob("*.parquet"))


def test_at_most_sst_concurrency_tasks_in_flight_and_temp_files_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile
    import threading
    import time

    from br_parquet import job

    write_backup(
        tmp_path / "b",
        BackupSpec(
            [
                DatabaseSpec(
                    "db",
                    [
                        table(
                            "t",
                            [("id", "int primary key"), ("s", "varchar(10)")],
                            rows=[(i, "x") for i in range(40)],
                            split_at=list(range(0, 40, 4)),
                        ),
                    ],
                )
            ]
        ),
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    lock = threading.Lock()
    in_flight, peak = 0, 0
    original = job.run_task

    def counted(task: Any, workdir: str | None = None) -> Any:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            time.sleep(0.02)  # let other workers start if the bound allowed them
            return original(task, workdir)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(job, "run_task", counted)
    assert (
        cli_main(
            [
                "--input",
                str(tmp_path / "b"),
                "--output",
                str(tmp_path / "o"),
                "--sst-concurrency",
                "3",
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "o").rglob("*.parquet"))) == 10
    assert peak == 3
    assert list(scratch.iterdir()) == []  # every downloaded SST and local Parquet removed


def test_work_dirs_of_killed_exports_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    dead = scratch / "br-parquet-999999999-abc"  # no such pid
    (dead / "sst-x").mkdir(parents=True)
    (dead / "sst-x/write.sst").write_bytes(b"left behind")
    alive = scratch / f"br-parquet-{os.getppid()}-def"
    alive.mkdir()
    many_rows(tmp_path / "b")
    assert cli_main(["--input", str(tmp_path / "b"), "--output", str(tmp_path / "o")]) == 0
    assert not dead.exists()
    assert alive.exists()

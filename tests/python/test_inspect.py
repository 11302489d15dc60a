"""`br-parquet inspect`: real BR metadata (v1, v2, encrypted v2) and generated backups whose
files are known, in text and JSON, plus the `br-parquet` dispatcher and its errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from br_parquet.backupmeta import tso_time
from br_parquet.cli import br_parquet_main, inspect_main, main
from br_parquet.testing import (
    BackupInfo,
    BackupSpec,
    DatabaseSpec,
    PartitionDef,
    PartitionInfo,
    table,
    write_backup,
)

TPCC_TABLES = {
    "customer",
    "district",
    "history",
    "item",
    "new_order",
    "order_line",
    "orders",
    "stock",
    "warehouse",
}
KEY_0X42 = ["--crypter.method", "aes256-ctr", "--crypter.key", "42" * 32]


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = inspect_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> dict[str, Any]:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def tables_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{db['name']}.{t['name']}": t for db in document["databases"] for t in db["tables"]}


def field(text: str, key: str) -> str:
    """The value of the top-level text line `key`."""
    match = re.search(rf"^{re.escape(key)} +(.*)$", text, flags=re.M)
    assert match, f"no line {key!r} in:\n{text}"
    return match.group(1)


def table_block(text: str, name: str) -> str:
    """The text lines of `table name`, up to the next table or database."""
    start = text.index(f"  table {name} (")
    end = re.compile(r"^(  table |database )", re.M).search(text, start + 1)
    return text[start : end.start() if end else len(text)]


# --- real BR metadata --------------------------------------------------------------------


@pytest.fixture
def show(shared_fixtures: Path) -> Path:
    return shared_fixtures / "real" / "tidb-br-show-testdata"


@pytest.fixture
def v1(show: Path, tmp_path: Path) -> Path:
    # BR's own test reads this file as the `backupmeta` of a backup, as here.
    root = tmp_path / "v1"
    root.mkdir()
    shutil.copyfile(show / "full-schema.meta", root / "backupmeta")
    return root


def test_v1_full_schema(v1: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--input", v1)
    assert code == 0
    end = tso_time(440689413714870273)
    assert end.isoformat(timespec="milliseconds") == "2023-04-10T03:18:21.488+00:00"
    assert field(out, "backup type") == "full"
    assert field(out, "backupmeta") == "v1"
    assert field(out, "encryption") == "plaintext"
    assert field(out, "end version") == "440689413714870273 (2023-04-10T03:18:21.488+00:00)"
    assert field(out, "start version") == "0"
    assert field(out, "cluster") == "id 7211076907329653533, version 7.1.0-alpha"
    assert field(out, "br version") == "v6.7.0-alpha-305-g4a9212a209-dirty"
    assert field(out, "tables").startswith("9 ")
    assert len(re.findall(r"^  table (\w+) \(id \d+\)$", out, flags=re.M)) == 9
    warehouse = table_block(out, "warehouse")
    assert "checksum        not computed" in warehouse
    assert re.search(
        r"^    w_tax +decimal\(4,4\) +string +decimal128\(4, 4\) +yes$", warehouse, re.M
    )

    document = run_json(capsys, "--input", v1)
    assert document["format_version"] == 1
    assert document["meta_version"] == "v1" and document["meta_files"] == []
    assert document["cluster_id"] == 7211076907329653533
    assert document["end_version"] == {
        "tso": 440689413714870273,
        "time": "2023-04-10T03:18:21.488+00:00",
    }
    assert document["start_version"] == {"tso": 0, "time": None}
    assert document["backup_type"] == "full"
    assert [db["name"] for db in document["databases"]] == ["tpcc"]
    tables = tables_of(document)
    assert {name.split(".")[1] for name in tables} == TPCC_TABLES
    assert all(t["checksum"] is None and t["partitions"] == [] for t in tables.values())
    w_id = tables["tpcc.warehouse"]["columns"][0]
    assert w_id == {
        "name": "w_id",
        "tidb_type": "int",
        "compat": "int64",
        "typed": "int32",
        "nullable": False,
    }


def test_v2_lists_its_child_meta_file(show: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--input", show / "v2")
    assert code == 0
    assert field(out, "backupmeta") == "v2, 1 child meta file"
    assert re.search(
        r"^ +schema_index +backupmeta\.schema\.000000001 +671354 bytes$", out, flags=re.M
    )
    assert field(out, "end version").startswith("440691270926467074 (")
    assert field(out, "tables").startswith("500 ")

    document = run_json(capsys, "--input", show / "v2")
    assert document["meta_version"] == "v2"
    assert document["meta_files"] == [
        {"index": "schema_index", "name": "backupmeta.schema.000000001", "size": 671354}
    ]
    assert document["end_version"]["tso"] == 440691270926467074
    assert set(tables_of(document)) == {f"test.test{i}" for i in range(1, 501)}


def test_encrypted_without_key_says_so(show: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--input", show / "v2-enc")
    assert code == 2
    assert field(out, "encryption").startswith("encrypted")
    assert "--crypter.method" in out
    assert err.startswith("br-parquet inspect: error: backupmeta: ")
    assert "--crypter.key" in err

    code, out, err = run(capsys, "--input", show / "v2-enc", "--json")
    assert code == 2
    document = json.loads(out)
    assert document["encryption"] == "encrypted"
    assert "--crypter.method" in document["error"]
    assert document["location"].endswith("v2-enc")


def test_encrypted_with_key(show: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--input", show / "v2-enc", *KEY_0X42)
    assert code == 0
    assert field(out, "encryption") == "aes256-ctr"
    assert field(out, "backupmeta") == "v2, 1 child meta file"
    document = run_json(capsys, "--input", show / "v2-enc", *KEY_0X42)
    assert document["encryption"] == "aes256-ctr"
    assert {name.split(".")[1] for name in tables_of(document)} == TPCC_TABLES

    # A wrong key is an error, not "encrypted": the operator gave the flags already.
    code, out, err = run(capsys, "--input", show / "v2-enc", *KEY_0X42[:3], "41" * 32)
    assert (code, out) == (2, "")
    assert "key or the method is not the one" in err


# --- generated backups ------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> BackupInfo:
    """Multi-region, default-CF, partitioned and SST-sharing tables, and an empty database."""
    part = PartitionInfo("hash", "`id`", [PartitionDef("p0"), PartitionDef("p1")])
    long = "x" * 300  # longer than 255 bytes: the row value goes to the default CF
    return write_backup(
        tmp_path_factory.mktemp("inspect") / "backup",
        BackupSpec(
            [
                DatabaseSpec(
                    "shop",
                    [
                        table(
                            "items",
                            [("id", "int primary key"), ("body", "text")],
                            rows=[(i, long if i % 2 else "short") for i in range(20)],
                            split_at=[10],
                        ),
                        table(
                            "parts",
                            [("id", "int primary key"), ("v", "varchar(8)")],
                            partition=part,
                            partition_rows={"p0": [(0, "a"), (2, "b")], "p1": [(1, "c")]},
                        ),
                        table("a", [("id", "int primary key")], rows=[(1,)]),
                        table("b", [("id", "bigint primary key")], rows=[(1,), (2,)]),
                    ],
                ),
                DatabaseSpec("empty"),
            ],
            shared_regions=[["shop.a", "shop.b"]],
        ),
    )


def expected_sst(info: BackupInfo, name: str) -> dict[str, dict[str, int]]:
    """Per CF, the files the writer wrote that hold rows of table `name`."""
    physical = set(info.tables[name].physical_ids)
    out = {cf: {"files": 0, "bytes": 0, "kvs": 0} for cf in ("write", "default")}
    for data in info.data_files:
        if physical & set(data.physical_ids):
            figures = out[data.file.cf]
            figures["files"] += 1
            figures["bytes"] += data.file.size
            figures["kvs"] += data.file.total_kvs
    return out


def test_sst_figures_are_what_the_writer_wrote(
    written: BackupInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    document = run_json(capsys, "--input", written.root)
    tables = tables_of(document)
    assert set(tables) == set(written.tables)
    for name, t in tables.items():
        assert t["sst"] == expected_sst(written, name), name
        assert t["id"] == written.tables[name].id
        checksum = written.table_checksums[name]
        assert t["checksum"] == {
            "crc64xor": checksum.crc64xor,
            "total_kvs": checksum.total_kvs,
            "total_bytes": checksum.total_bytes,
        }
    # The fixture is what it claims: several regions, a default CF, a shared SST.
    assert tables["shop.items"]["sst"]["write"]["files"] == 2
    assert tables["shop.items"]["sst"]["default"]["files"] == 2
    assert tables["shop.a"]["sst"] == tables["shop.b"]["sst"]
    all_files = [d.file for d in written.data_files]
    assert document["data_files"]["write"]["files"] == sum(f.cf == "write" for f in all_files)
    assert document["data_files"]["default"]["bytes"] == sum(
        f.size for f in all_files if f.cf == "default"
    )
    assert [m["name"] for m in document["meta_files"]] == [p.name for p in written.meta_files]
    assert {m["index"] for m in document["meta_files"]} == {"file_index", "schema_index"}
    empty = next(db for db in document["databases"] if db["name"] == "empty")
    assert empty["tables"] == []


def test_text_matches_json(written: BackupInfo, capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(capsys, "--input", written.root)
    code, out, _ = run(capsys, "--input", written.root)
    assert code == 0
    assert field(out, "backup type") == document["backup_type"] == "full"
    assert field(out, "cluster") == (
        f"id {document['cluster_id']}, version {document['cluster_version']}"
    )
    end = document["end_version"]
    assert field(out, "end version") == f"{end['tso']} ({end['time']})"
    assert field(out, "tables").startswith(f"{len(tables_of(document))} ")
    for db in document["databases"]:
        assert f"database {db['name']} (id {db['id']})" in out
        for t in db["tables"]:
            block = table_block(out, t["name"])
            assert block.startswith(f"  table {t['name']} (id {t['id']})\n")
            for cf in ("write", "default"):
                figures = t["sst"][cf]
                line = re.search(
                    rf"^    {cf} cf +(\d+) SSTs?, (\d+) bytes, (\d+) kvs$", block, re.M
                )
                assert line, block
                assert [int(g) for g in line.groups()] == [
                    figures["files"],
                    figures["bytes"],
                    figures["kvs"],
                ]
            c = t["checksum"]
            assert (
                f"crc64xor {c['crc64xor']:#018x}, total_kvs {c['total_kvs']}, "
                f"total_bytes {c['total_bytes']}"
            ) in block
            for col in t["columns"]:
                cells = [col["name"], col["tidb_type"], col["compat"], col["typed"]]
                assert re.search(
                    r"^    " + r" +".join(map(re.escape, cells)) + " +(yes|no)$", block, re.M
                )
    assert "database empty (id 2)\n  (no tables)" in out


def test_partitioned_table_shows_its_partitions(
    written: BackupInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    p0, p1 = written.tables["shop.parts"].physical_ids
    code, out, _ = run(capsys, "--input", written.root, "--filter", "shop.parts")
    assert code == 0
    assert field(out, "tables") == "1 selected by --filter 'shop.parts'"
    assert f"    partitions      p0 {p0}, p1 {p1}\n" in table_block(out, "parts")
    assert "table items" not in out and "database empty" not in out
    document = run_json(capsys, "--input", written.root, "--filter", "shop.parts")
    assert tables_of(document)["shop.parts"]["partitions"] == [
        {"id": p0, "name": "p0"},
        {"id": p1, "name": "p1"},
    ]
    assert document["filters"] == ["shop.parts"]


def test_incremental_backup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = 445063000000000000
    spec = BackupSpec(
        [DatabaseSpec("db", [table("t", [("id", "int primary key")], rows=[(1,)])])],
        start_version=start,
    )
    root = write_backup(tmp_path / "incr", spec).root
    code, out, _ = run(capsys, "--input", root)
    assert code == 0
    assert field(out, "backup type").startswith("incremental")
    assert field(out, "start version") == (
        f"{start} ({tso_time(start).isoformat(timespec='milliseconds')})"
    )
    assert "checksum        not computed" in out  # BR skips checksums of incremental backups


# --- errors and the dispatcher ------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "exit_code", "message"),
    [
        (["--input", "s3://"], 2, "invalid storage 's3://'"),
        (["--input", "{missing}"], 3, "backupmeta: not found in local://"),
        (["--input", "{root}", "--filter", "a.b.c"], 2, "at <cmdline>:1: syntax error"),
        (["--input-storage-base64", "!!!!"], 2, "not standard base64"),
        (["--input", "{root}", "--crypter.method", "aes256-ctr"], 2, "needs exactly one of"),
        (["--input", "{root}", *KEY_0X42], 2, "is not encrypted, but --crypter.method"),
    ],
)
def test_errors_exit_with_their_code_without_traceback(
    written: BackupInfo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    exit_code: int,
    message: str,
) -> None:
    args = [a.format(root=written.root, missing=tmp_path / "nothing") for a in argv]
    code, out, err = run(capsys, *args)
    assert (code, out) == (exit_code, "")
    assert err.startswith("br-parquet inspect: error: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [[], ["--input", "a", "--input-storage-base64", "b"], ["--input", "a", "--bogus"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        inspect_main(argv)
    assert exit_info.value.code == 2
    assert "usage: br-parquet inspect" in capsys.readouterr().err


def test_dispatcher(
    written: BackupInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert br_parquet_main([]) == 2
    assert "a command is required" in capsys.readouterr().err
    assert br_parquet_main(["bogus"]) == 2
    assert "unknown command 'bogus'" in capsys.readouterr().err
    assert br_parquet_main(["--help"]) == 0
    assert "inspect" in capsys.readouterr().out

    assert br_parquet_main(["inspect", "--input", str(written.root)]) == 0
    assert capsys.readouterr().out.startswith(f"location        local://{written.root}\n")

    out_dir = tmp_path / "out"
    argv = ["--input", str(written.root), "--output", str(out_dir), "--filter", "shop.a"]
    assert br_parquet_main(["export", *argv]) == 0
    assert "shop.a: 1 rows" in capsys.readouterr().out
    assert list((out_dir / "parquet/shop/a").glob("*.parquet"))
    # Export errors name the command they came from; `br-parquet-export` stays as it was.
    missing = ["--input", str(tmp_path / "nothing"), "--output", str(out_dir)]
    assert br_parquet_main(["export", *missing]) == 3
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("br-parquet export: error: backupmeta: ")
    assert main(missing) == 3
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("br-parquet-export: error: backupmeta: ")


def test_module_entry_point(written: BackupInfo) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "br_parquet", "inspect", "--input", str(written.root), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert set(tables_of(json.loads(done.stdout))) == set(written.tables)


def test_installed_script(written: BackupInfo) -> None:
    script = Path(sys.executable).parent / "br-parquet"
    if not script.exists():
        pytest.skip(f"{script} is not installed yet (`pip install -e .` / `make develop` adds it)")
    done = subprocess.run(
        [str(script), "inspect", "--input", str(written.root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert field(done.stdout, "backup type") == "full"

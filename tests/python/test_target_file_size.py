"""`--target-file-size`: each table's rows of consecutive SSTs in files of about a size,
closed only between SSTs, named by their first and last SST, resumed exactly."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

import br_parquet
from br_parquet import job
from br_parquet.crashpoints import ENV as KILL_ENV
from br_parquet.events import (
    CheckpointLoaded,
    Event,
    ResumedFromCheckpoint,
    SkippedFromCheckpoint,
    TaskCompleted,
)
from br_parquet.naming import MAX_STEM_BYTES, group_stem, sst_stem
from br_parquet.options import ExportOptions, parse_size
from br_parquet.plan import table_unit_name
from br_parquet.progress import ProgressBar
from br_parquet.storage import Storage
from br_parquet.storage_url import parse_storage_url
from br_parquet.summary import RunSummary
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
from br_parquet.written import WrittenObject

CLI = [sys.executable, "-m", "br_parquet.cli"]
PREFIX = "parquet"
BIG_SSTS = 60
ROWS_PER_SST = 120
TARGET = 96 * 1024
"""About eight SSTs of the big table a file."""


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=n))


def write_test_backup(root: Path) -> None:
    """A table of `BIG_SSTS` SSTs of values that do not compress away (some long enough
    for the default CF), a table of 5 SSTs, and two small tables sharing one SST."""
    rng = random.Random(14)
    big = [
        (h, _text(rng, rng.randint(60, 140)), rng.randint(-(10**9), 10**9))
        for h in range(1, BIG_SSTS * ROWS_PER_SST + 1)
    ]
    big[7] = (8, _text(rng, 400), 0)  # a long value: read from the default CF
    mid = [(h, _text(rng, 80)) for h in range(1, 501)]
    cols = [("id", "bigint primary key"), ("s", "varchar(512)"), ("n", "bigint")]
    spec = BackupSpec(
        [
            DatabaseSpec(
                "shop",
                [
                    table(
                        "big",
                        cols,
                        big,
                        split_at=[1 + i * ROWS_PER_SST for i in range(1, BIG_SSTS)],
                    ),
                    table(
                        "mid",
                        [("id", "int primary key"), ("s", "varchar(100)")],
                        mid,
                        split_at=[101, 201, 301, 401],
                    ),
                    table("tiny_a", [("id", "int primary key"), ("v", "int")], [(1, 1), (2, 2)]),
                    table("tiny_b", [("id", "int primary key"), ("v", "int")], [(5, 5)]),
                ],
            )
        ],
        shared_regions=[["shop.tiny_a", "shop.tiny_b"]],
        seed=14,
    )
    write_backup(root, spec)


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("target-size") / "backup"
    write_test_backup(root)
    return root


def export(
    backup: Path | str,
    out: Path,
    *flags: str,
    kill: str | None = None,
    expect: int = 0,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
    if kill is not None:
        env[KILL_ENV] = kill
    result = subprocess.run(
        [
            *CLI,
            "--input",
            str(backup),
            "--output",
            str(out),
            "--output-prefix",
            PREFIX,
            "--no-progress",
            *flags,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == expect, (
        f"exit {result.returncode}, expected {expect}\n{result.stdout}\n{result.stderr}"
    )
    return result


def files_of(out: Path) -> dict[str, str]:
    """Every Parquet object of the output: relative name → SHA-256."""
    root = out / PREFIX
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
        if "_checkpoint" not in p.parts
    }


def entries_of(out: Path) -> list[WrittenObject]:
    """The checkpoint's object entries (from its index objects after a finished run)."""
    found: list[WrittenObject] = []
    for index in sorted((out / PREFIX / "_checkpoint" / "index").glob("*.json")):
        document = json.loads(index.read_bytes())
        found.extend(WrittenObject.from_json(o) for o in document["objects"])
    return found


@pytest.fixture(scope="module")
def default_out(backup: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("default") / "out"
    br_parquet.export(backup, out, output_prefix=PREFIX, sst_concurrency=2)
    return out


@pytest.fixture(scope="module")
def grouped_out(backup: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run, its summary and metrics beside the output (`ran_beside`)."""
    out = tmp_path_factory.mktemp("grouped") / "out"
    summary, metrics = ran_beside(out)
    flags = ("--summary-json", str(summary), "--metrics-file", str(metrics))
    export(backup, out, "--target-file-size", str(TARGET), "--sst-concurrency", "2", *flags)
    return out


def ran_beside(out: Path) -> tuple[Path, Path]:
    """The summary JSON and the metrics textfile of the run that wrote `out`."""
    return out.parent / "summary.json", out.parent / "metrics.prom"


def metric_values(path: Path) -> dict[str, float]:
    """The textfile's unlabelled samples (and the SST events by event), by name."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            name = s.name.removeprefix("tikv_br_parquet_")
            values[f"{name}:{s.labels['event']}" if "event" in s.labels else name] = s.value
    return values


def read(out: Path, e: WrittenObject) -> pa.Table:
    return pq.read_table(out / e.path)


def ordered_files(out: Path) -> dict[str, list[tuple[WrittenObject, pa.Table]]]:
    """Each table's grouped files with their rows, in key order."""
    tables: dict[str, list[tuple[WrittenObject, pa.Table]]] = {}
    for e in entries_of(out):
        tables.setdefault(e.table, []).append((e, read(out, e)))
    for files in tables.values():
        files.sort(key=lambda f: f[1]["_tidb_handle"][0].as_py())
    return tables


def test_files_are_within_20_percent_of_the_target_but_each_tables_last(
    grouped_out: Path,
) -> None:
    tables = ordered_files(grouped_out)
    big = tables["big"]
    assert sum(e.group_ssts for e, _ in big) >= 50
    assert len(big) >= 5
    sizes = {name: [e.size for e, _ in files] for name, files in tables.items()}
    for name, files in tables.items():
        for e, _ in files[:-1]:
            assert 0.8 * TARGET <= e.size <= 1.2 * TARGET, (name, sizes[name])
        for e, _ in files:
            assert (grouped_out / e.path).stat().st_size == e.size
    # The smaller tables fit in one file each.
    assert [len(tables[n]) for n in ("mid", "tiny_a", "tiny_b")] == [1, 1, 1]


def test_same_rows_in_handle_order_as_one_file_per_sst(
    grouped_out: Path, default_out: Path
) -> None:
    for name, files in ordered_files(grouped_out).items():
        grouped = pa.concat_tables([t for _, t in files])
        assert grouped.num_rows == sum(e.rows for e, _ in files)
        default = pa.concat_tables(
            pq.read_table(p)
            for p in sorted((default_out / PREFIX / "shop" / name).glob("*.parquet"))
        ).sort_by([("_tidb_table_id", "ascending"), ("_tidb_handle", "ascending")])
        assert grouped.schema == default.schema
        assert grouped.to_pylist() == default.to_pylist(), name
        for e, t in files:
            handles = t["_tidb_handle"].to_pylist()
            assert handles == sorted(handles) and len(set(handles)) == len(handles)
            meta = pq.ParquetFile(grouped_out / e.path).metadata
            for g in range(meta.num_row_groups):
                columns = meta.row_group(g).sorting_columns
                names = [meta.schema.column(c.column_index).name for c in columns]
                assert names == ["_tidb_table_id", "_tidb_handle"]
                assert not any(c.descending for c in columns)


def test_names_and_entries_record_consecutive_groups(grouped_out: Path) -> None:
    for name, files in ordered_files(grouped_out).items():
        for e, _ in files:
            assert e.grouped and e.group_first == e.source_sst
            assert e.group_first is not None and e.group_last is not None
            stem = f"{sst_stem(e.group_first)}__{sst_stem(e.group_last)}"
            assert e.path == f"{PREFIX}/shop/{name}/{stem}.parquet"
            assert e.task_objects == (e.path,)
        # Groups follow each other: the SST counts add up and names never repeat.
        assert len({e.group_first for e, _ in files}) == len(files)
    big = ordered_files(grouped_out)["big"]
    assert sum(e.group_ssts for e, _ in big) == BIG_SSTS
    meta_doc = json.loads((grouped_out / PREFIX / "_checkpoint" / "meta.json").read_bytes())
    assert meta_doc["config"]["target_file_size"] == TARGET


def test_entries_without_a_group_still_load() -> None:
    old = {
        "path": "p/db/t/a.parquet",
        "db": "db",
        "table": "t",
        "table_id": 5,
        "rows": 1,
        "size": 10,
        "sha256": "0" * 64,
        "source_sst": "a.sst",
        "source_default_sst": None,
        "task_objects": ["p/db/t/a.parquet"],
        "finished_at": "2026-01-01T00:00:00.000Z",
        "etag": None,
    }
    obj = WrittenObject.from_json(old)
    assert not obj.grouped and obj.group_ssts == 0
    assert obj.to_json() == old  # a one-SST file's form is unchanged
    grouped = WrittenObject.from_json(
        {**old, "group_first": "a.sst", "group_last": "b.sst", "group_ssts": 2}
    )
    assert WrittenObject.from_json(grouped.to_json()) == grouped
    with pytest.raises(ValueError, match="incomplete group"):
        WrittenObject.from_json({**old, "group_first": "a.sst"})


def test_group_names_stay_short_and_distinct() -> None:
    short = group_stem("1/10_2_ab_write.sst", "1/12_2_cd_write.sst")
    assert short == "1_10_2_ab_write__1_12_2_cd_write"
    assert group_stem("1/10_2_ab_write.sst", "1/10_2_ab_write.sst") == (
        "1_10_2_ab_write__1_10_2_ab_write"
    )
    first, last = "1/" + "a" * 150 + "_write.sst", "1/" + "b" * 150 + "_write.sst"
    long = group_stem(first, last)
    assert len(long) <= MAX_STEM_BYTES and long == group_stem(first, last)
    assert long != group_stem(first, "1/" + "c" * 150 + "_write.sst")


@pytest.mark.parametrize(
    ("point", "recorded"),
    [("at-before-upload:3", 2), ("at-after-upload:2", 1), ("at-after-entry:4", 4)],
)
def test_kill_mid_table_then_resume_is_byte_identical(
    backup: Path,
    grouped_out: Path,
    tmp_path: Path,
    point: str,
    recorded: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`recorded`: the files of the first (big) table the killed run recorded."""
    workdirs = tmp_path / "workdirs"
    workdirs.mkdir()
    monkeypatch.setenv("TMPDIR", str(workdirs))
    out = tmp_path / "out"
    flags = ("--target-file-size", str(TARGET), "--sst-concurrency", "1")
    export(backup, out, *flags, kill=point, expect=-9)
    partial = files_of(out)
    assert 0 < len(partial) < len(files_of(grouped_out))
    summary, metrics = ran_beside(out)
    export(backup, out, *flags, "--summary-json", str(summary), "--metrics-file", str(metrics))
    assert files_of(out) == files_of(grouped_out)

    # The resumed run's totals are the uninterrupted run's: every reused file counts once.
    whole_summary, whole_metrics = ran_beside(grouped_out)
    whole = json.loads(whole_summary.read_text())
    doc = json.loads(summary.read_text())
    assert doc["status"] == whole["status"] == "succeeded"
    assert doc["end"] == whole["end"] and doc["tables"] == whole["tables"]
    assert doc["plan"] == whole["plan"] and doc["end"]["bytes_in"] == whole["plan"]["input_bytes"]
    # The big table was cut short: its recorded files were there, the table was not done.
    start = doc["start"]
    assert start["objects"] == recorded and start["ssts_converted"] == 0
    assert 0 < start["rows"] < whole["end"]["rows"]
    assert 0 < start["bytes_in"] < whole["end"]["bytes_in"]
    assert 0 < start["bytes_out"] < whole["end"]["bytes_out"]
    assert doc["delta"]["ssts_converted"] == whole["end"]["ssts_converted"]
    assert doc["delta"]["ssts_skipped"] == doc["delta"]["ssts_failed"] == 0

    # The metrics: written by this run plus reused, the uninterrupted run's written.
    once, again = metric_values(whole_metrics), metric_values(metrics)
    assert once["objects_written_total"] == whole["end"]["objects"]
    assert once["objects_reused_total"] == once["rows_reused_total"] == 0
    for written, reused, expected in (
        ("objects_written_total", "objects_reused_total", start["objects"]),
        ("rows_emitted_total", "rows_reused_total", start["rows"]),
        ("output_bytes_total", "output_bytes_reused_total", start["bytes_out"]),
    ):
        assert again[reused] == expected, reused
        assert again[written] + again[reused] == once[written], written
    assert again["ssts_done"] == again["ssts_planned"] == once["ssts_done"]
    assert again["sst_events_total:completed"] == once["sst_events_total:completed"]
    assert again["sst_events_total:skipped_checkpoint"] == 0
    assert again["input_bytes_total"] + start["bytes_in"] == once["input_bytes_total"]


def test_a_resumed_table_reports_its_reused_files_once(
    backup: Path, grouped_out: Path, tmp_path: Path
) -> None:
    """Killed in the middle of the big table, resumed in this process: its reused files
    come in one `ResumedFromCheckpoint` (the task is not done until it completes), and
    the summary and the progress bar end where an uninterrupted run does."""
    out = tmp_path / "out"
    flags = ("--target-file-size", str(TARGET), "--sst-concurrency", "1")
    export(backup, out, *flags, kill="at-after-entry:3", expect=-9)
    events: list[Event] = []
    bar = ProgressBar(Console(file=io.StringIO(), force_terminal=True, width=120))
    summary = RunSummary()
    job.export(
        parse_storage_url(str(backup)),
        parse_storage_url(str(out)),
        ExportOptions(output_prefix=PREFIX, target_file_size=TARGET, sst_concurrency=1),
        listeners=[events.append, bar, summary],
    )
    assert files_of(out) == files_of(grouped_out)
    (loaded,) = [e for e in events if isinstance(e, CheckpointLoaded)]
    (resumed,) = [e for e in events if isinstance(e, ResumedFromCheckpoint)]
    assert not [e for e in events if isinstance(e, SkippedFromCheckpoint)]
    assert {o.table for o in resumed.objects} == {"big"} and len(resumed.objects) == 3
    assert resumed.sst == table_unit_name(resumed.objects[0].table_id)
    assert loaded.reused_tasks == 0
    assert loaded.reused_objects == len(resumed.objects)
    assert loaded.reused_rows == sum(o.rows for o in resumed.objects)
    assert loaded.reused_bytes == sum(o.size for o in resumed.objects)
    completed = [e for e in events if isinstance(e, TaskCompleted) and e.sst == resumed.sst]
    assert len(completed) == 1
    assert completed[0].rows + loaded.reused_rows == BIG_SSTS * ROWS_PER_SST

    whole = json.loads(ran_beside(grouped_out)[0].read_text())
    doc = summary.snapshot()
    assert doc["end"] == whole["end"] and doc["tables"] == whole["tables"]
    assert doc["start"]["objects"] == loaded.reused_objects
    assert doc["start"]["rows"] == loaded.reused_rows
    assert doc["start"]["bytes_out"] == loaded.reused_bytes
    assert doc["start"]["bytes_in"] == resumed.input_bytes > 0
    assert bar.status == "succeeded"
    assert (bar.ssts_done, bar.ssts_total, bar.ssts_reused) == (whole["plan"]["ssts"],) * 2 + (0,)
    assert bar.bytes_done == bar.bytes_total == whole["plan"]["input_bytes"]
    assert (bar.bytes_reused, bar.rows_reused) == (resumed.input_bytes, loaded.reused_rows)
    assert bar.rows_done == whole["end"]["rows"]
    assert bar.tables_done == bar.tables_total


def test_a_rerun_of_a_finished_export_reuses_every_file_once(
    backup: Path, grouped_out: Path, tmp_path: Path
) -> None:
    summary, metrics = tmp_path / "summary.json", tmp_path / "metrics.prom"
    before = files_of(grouped_out)
    flags = ("--summary-json", str(summary), "--metrics-file", str(metrics))
    export(backup, grouped_out, "--target-file-size", str(TARGET), *flags)
    assert files_of(grouped_out) == before
    whole = json.loads(ran_beside(grouped_out)[0].read_text())
    doc = json.loads(summary.read_text())
    assert doc["start"] == doc["end"] == whole["end"] and doc["tables"] == whole["tables"]
    assert doc["delta"]["ssts_skipped"] == whole["plan"]["ssts"]
    again = metric_values(metrics)
    assert again["objects_reused_total"] == whole["end"]["objects"]
    assert again["rows_reused_total"] == whole["end"]["rows"]
    assert again["output_bytes_reused_total"] == whole["end"]["bytes_out"]
    assert again["objects_written_total"] == again["rows_emitted_total"] == 0
    skipped = again["sst_events_total:skipped_checkpoint"]
    assert skipped == again["ssts_done"] == whole["plan"]["ssts"]


@pytest.mark.s3
def test_grouped_files_on_an_object_store_are_the_same(
    backup: Path, grouped_out: Path, s3_url: str
) -> None:
    """On an object store each file is written locally and uploaded, not renamed into
    place: the same names and bytes."""
    br_parquet.export(backup, s3_url, output_prefix=PREFIX, target_file_size=TARGET)
    store = Storage.from_url(s3_url)
    listed = {
        o.name.removeprefix(f"{PREFIX}/"): store.sha256(o.name)[0].hex()
        for o in store.list(f"{PREFIX}/")
        if o.name.endswith(".parquet") and "/_checkpoint/" not in o.name
    }
    assert listed == files_of(grouped_out)


def test_iceberg_commit_and_json_manifest_list_the_grouped_files(
    backup: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyiceberg")
    from pyiceberg.catalog import load_catalog

    out = tmp_path / "out"
    uri = f"sqlite:///{tmp_path / 'catalog.db'}"
    export(
        backup,
        out,
        "--target-file-size",
        str(TARGET),
        "--iceberg-catalog",
        uri,
        "--write-iceberg-manifest",
        "--iceberg-warehouse",
        "wh",
        "--iceberg-namespace",
        "lake",
        "--iceberg-table",
        "all",
    )
    # The files carry Iceberg field IDs here: their own sizes, so their own groups.
    expected = {e.path: e for e in entries_of(out)}
    assert all(e.grouped for e in expected.values())
    catalog = load_catalog("br_parquet", type="sql", uri=uri)
    for name in ("big", "mid", "tiny_a", "tiny_b"):
        t = catalog.load_table(f"lake.shop__{name}")
        files = sorted(task.file.file_path for task in t.scan().plan_files())
        wanted = sorted(str(out / p) for p, e in expected.items() if e.table == name)
        assert [f.removeprefix("file://") for f in files] == wanted
        assert t.scan().to_arrow().num_rows == sum(
            e.rows for e in expected.values() if e.table == name
        )
    (manifest,) = (out / "wh" / "lake" / "all" / "metadata").glob("*.json")
    listed = json.loads(manifest.read_bytes())["files"]
    assert sorted(f["file_name"] for f in listed) == sorted(expected)
    for f in listed:
        e = expected[f["file_name"]]
        assert f["group"] == {"first": e.group_first, "last": e.group_last, "ssts": e.group_ssts}
        assert len(f["sources"]) == e.group_ssts
        assert f["sources"][0]["write"]["name"] == e.group_first
        assert f["sources"][-1]["write"]["name"] == e.group_last
        assert f["file_size_in_bytes"] == e.size == (out / e.path).stat().st_size
        assert f["record_count"] == e.rows


@pytest.mark.parametrize(
    ("text", "size"),
    [("256MiB", 256 << 20), ("1GiB", 1 << 30), ("512KiB", 512 << 10), ("1000000", 10**6)],
)
def test_sizes_parse(text: str, size: int) -> None:
    assert parse_size(text) == size
    assert ExportOptions(target_file_size=text).target_bytes == size
    assert ExportOptions(target_file_size=size).target_bytes == size


@pytest.mark.parametrize("text", ["12XB", "abc", "0", "-5MiB", "1.5.2GiB", ""])
def test_bad_sizes_are_usage_errors(backup: Path, tmp_path: Path, text: str) -> None:
    result = export(backup, tmp_path / "out", f"--target-file-size={text}", expect=2)
    assert "--target-file-size" in result.stderr and "size" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="size"):
        ExportOptions(target_file_size=text)


def test_a_chain_is_refused(backup: Path, tmp_path: Path) -> None:
    result = export(
        backup, tmp_path / "out", "--input", str(backup), "--target-file-size", "1MiB", expect=2
    )
    assert "--target-file-size works on one backup only" in result.stderr
    assert "Traceback" not in result.stderr


def test_another_target_does_not_resume_the_checkpoint(grouped_out: Path, backup: Path) -> None:
    before = files_of(grouped_out)
    result = export(backup, grouped_out, "--target-file-size", "1MiB", expect=2)
    assert f"--target-file-size was {TARGET}, now {1 << 20}" in result.stderr
    result = export(backup, grouped_out, expect=2)
    assert f"--target-file-size was {TARGET}, now none (one file per SST)" in result.stderr
    assert files_of(grouped_out) == before

"""The end-of-run summary: counters at the start (from the checkpoint), at the end and
their difference, per-stage times and throughput, on success and on failure."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from br_parquet import ExportOptions, job
from br_parquet.errors import BrParquetError
from br_parquet.events import Event, Listener, RunFinished, TaskCompleted
from br_parquet.result import ExportResult
from br_parquet.storage_url import parse_storage_url
from br_parquet.summary import COUNTERS, STAGES, RunSummary
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

SSTS = 5


def backup(root: Path) -> Path:
    """Two tables in 5 SSTs: db.t (60 rows, 3 SSTs) and db.u (30 rows, 2 SSTs)."""
    t = table(
        "t", [("id", "int primary key"), ("s", "varchar(8)")], [(i, f"v{i}") for i in range(60)]
    )
    t.split_at = [20, 40]
    u = table("u", [("id", "int primary key"), ("n", "bigint")], [(i, i * 7) for i in range(30)])
    u.split_at = [15]
    write_backup(root, BackupSpec([DatabaseSpec("db", [t, u])]))
    return root


def export(
    tmp_path: Path, summary: RunSummary, events: list[Event] | None = None, **settings: object
) -> ExportResult:
    listeners: list[Listener] = [summary]
    if events is not None:
        listeners.append(events.append)
    return job.export(
        parse_storage_url(str(tmp_path / "b")),
        parse_storage_url(str(tmp_path / "out")),
        ExportOptions(**settings),  # type: ignore[arg-type]
        listeners=listeners,
    )


def test_end_counters_are_the_result_and_a_rerun_starts_there(tmp_path: Path) -> None:
    backup(tmp_path / "b")
    first = RunSummary()
    result = export(tmp_path, first, sst_concurrency=2)
    doc = first.snapshot()
    assert doc["format_version"] == 1
    assert (doc["status"], doc["error"]) == ("succeeded", None)
    assert doc["start"] == dict.fromkeys(COUNTERS, 0)
    end = doc["end"]
    assert end["rows"] == result.rows_written == 90
    assert end["bytes_out"] == result.bytes_written
    assert end["objects"] == result.files_written == SSTS
    assert end["ssts_converted"] == result.tasks == SSTS
    assert end["bytes_in"] == result.input_bytes == doc["plan"]["input_bytes"]
    assert doc["delta"] == {**end, "ssts_skipped": 0, "ssts_failed": 0}
    assert doc["plan"] == {
        "tables": 2,
        "ssts": SSTS,
        "input_bytes": result.input_bytes,
        "skipped_files": 0,
    }
    assert doc["seconds"] == pytest.approx(result.seconds)
    assert doc["started_at"] < doc["finished_at"] and doc["finished_at"].endswith("Z")
    assert list(doc["stages"]) == list(STAGES)
    for stage in STAGES:
        assert doc["stages"][stage]["count"] == SSTS
    assert doc["stages"]["convert"]["seconds"] > 0
    assert doc["throughput"]["rows_per_second"] > 0
    assert doc["throughput"]["out_mib_per_second"] > 0
    assert doc["tables"] == {
        name: {"rows": t.rows, "bytes": t.bytes, "objects": t.objects}
        for name, t in result.per_table().items()
    }
    assert doc["tables"]["db.t"]["objects"] == 3 and doc["tables"]["db.u"]["rows"] == 30
    assert doc["checkpoint"] == result.checkpoint is not None
    assert doc["manifest"] is None
    json.dumps(doc)  # JSON-ready as it is

    second = RunSummary()
    rerun = export(tmp_path, second)
    again = second.snapshot()
    assert again["status"] == "succeeded"
    assert again["start"] == doc["end"]
    assert again["end"] == doc["end"]
    assert again["delta"] == {
        **dict.fromkeys(COUNTERS, 0),
        "ssts_skipped": SSTS,
        "ssts_failed": 0,
    }
    assert all(again["stages"][s]["count"] == 0 for s in STAGES)
    assert again["throughput"]["rows_per_second"] == 0
    assert again["tables"] == doc["tables"]
    assert rerun.rows_written == again["end"]["rows"]


def test_a_failed_run_has_a_summary_with_its_error(tmp_path: Path) -> None:
    root = backup(tmp_path / "b")
    victim = sorted(root.rglob("*_write.sst"))[2]
    victim.write_bytes(bytes(victim.stat().st_size))  # sha256 mismatch
    secret = victim.name  # stands for a secret the redactor knows
    summary = RunSummary(redact=lambda text: text.replace(secret, "****"))
    events: list[Event] = []
    with pytest.raises(BrParquetError, match="sha256 mismatch") as raised:
        export(tmp_path, summary, events, sst_concurrency=1)
    assert secret in str(raised.value)
    doc = summary.snapshot()
    assert doc["status"] == "failed"
    assert "sha256 mismatch" in doc["error"] and "****" in doc["error"]
    assert secret not in json.dumps(doc)
    assert doc["error_type"] == type(raised.value).__name__
    assert doc["delta"]["ssts_failed"] == 1
    completed = [e for e in events if isinstance(e, TaskCompleted)]
    assert 0 < len(completed) < SSTS  # the SSTs before the victim, in plan order
    assert doc["end"]["ssts_converted"] == len(completed)
    assert doc["end"]["rows"] == sum(e.rows for e in completed)
    assert doc["end"]["bytes_out"] == sum(e.output_bytes for e in completed)
    assert doc["finished_at"] is not None

    path = tmp_path / "reports" / "summary.json"
    summary.write_json(str(path))
    assert json.loads(path.read_text()) == doc
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]  # no temp file left

    out = io.StringIO()
    summary.render(Console(file=out, width=120))
    text = out.getvalue()
    assert "failed" in text and "SSTs failed" in text
    assert "error: " in text and "sha256 mismatch" in text and secret not in text


def test_render_shows_start_end_and_delta(tmp_path: Path) -> None:
    backup(tmp_path / "b")
    export(tmp_path, RunSummary())
    # Delete one finished object of db.u: the rerun redoes its SST (15 rows).
    [obj, _] = sorted((tmp_path / "out" / "parquet").rglob("u/*.parquet"))
    obj.unlink()
    summary = RunSummary()
    export(tmp_path, summary)
    doc = summary.snapshot()
    assert doc["start"]["rows"] == 75 and doc["end"]["rows"] == 90
    assert doc["delta"] == {
        "ssts_converted": 1,
        "objects": 1,
        "rows": 15,
        "bytes_in": doc["end"]["bytes_in"] - doc["start"]["bytes_in"],
        "bytes_out": doc["end"]["bytes_out"] - doc["start"]["bytes_out"],
        "ssts_skipped": SSTS - 1,
        "ssts_failed": 0,
    }
    out = io.StringIO()
    summary.render(Console(file=out, width=120))
    text = out.getvalue()
    cells = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
        for line in text.splitlines()
        if line.startswith("│")
    }
    assert cells["SSTs converted"] == ["4", "5", "1"]
    assert cells["SSTs skipped (checkpoint)"] == ["", "", "4"]
    assert cells["SSTs failed"] == ["", "", "0"]
    assert cells["rows"] == ["75", "90", "15"]
    assert cells["Parquet objects"] == ["4", "5", "1"]
    assert cells["bytes out (Parquet)"][1].startswith(f"{doc['end']['bytes_out']:,}")
    for stage in STAGES:
        assert cells[stage][1] == "1"  # the one task run now
    assert "export succeeded" in text and "throughput:" in text and "rows/s" in text
    assert f"checkpoint: {doc['checkpoint']}" in text


def test_a_run_that_fails_before_planning(tmp_path: Path) -> None:
    summary = RunSummary()
    with pytest.raises(BrParquetError):
        export(tmp_path, summary)  # no backup there
    doc = summary.snapshot()
    assert doc["status"] == "failed" and doc["error"]
    assert doc["end"] == dict.fromkeys(COUNTERS, 0) and doc["tables"] == {}


def test_interrupted_run_without_a_message() -> None:
    summary = RunSummary()
    summary(RunFinished(None, KeyboardInterrupt(), 1.5))
    doc = summary.snapshot()
    assert (doc["status"], doc["error"], doc["seconds"]) == (
        "interrupted",
        "KeyboardInterrupt",
        1.5,
    )

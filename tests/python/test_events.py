"""The event stream of an export: every stage of every SST task, from the task results,
whatever executor ran the tasks."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from br_parquet import ExportOptions, job
from br_parquet.errors import BrParquetError
from br_parquet.events import (
    CheckpointLoaded,
    DecodeFinished,
    DownloadFinished,
    DownloadStarted,
    EntryWritten,
    Event,
    ManifestWritten,
    Planned,
    RunFinished,
    SkippedFromCheckpoint,
    TaskCompleted,
    TaskFailed,
    UploadFinished,
)
from br_parquet.storage_url import parse_storage_url
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

TASK_STAGES = [
    DownloadStarted,
    DownloadFinished,
    DecodeFinished,
    UploadFinished,
    EntryWritten,
    TaskCompleted,
]


def backup(root: Path) -> Path:
    rows = [(i, f"v{i}") for i in range(60)]
    spec = table("t", [("id", "int primary key"), ("s", "varchar(8)")], rows=rows)
    spec.split_at = [20, 40]
    write_backup(root, BackupSpec([DatabaseSpec("db", [spec])]))
    return root


def run(
    tmp_path: Path, out: str = "out", **settings: object
) -> tuple[list[Event], job.ExportResult]:
    events: list[Event] = []
    result = job.export(
        parse_storage_url(str(tmp_path / "b")),
        parse_storage_url(str(tmp_path / out)),
        ExportOptions(**settings),  # type: ignore[arg-type]
        listeners=[events.append],
    )
    return events, result


def test_every_stage_of_every_task(tmp_path: Path) -> None:
    backup(tmp_path / "b")
    events, result = run(
        tmp_path,
        sst_concurrency=1,
        write_iceberg_manifest=True,
        iceberg_warehouse="w",
        iceberg_namespace="n",
        iceberg_table="t",
    )
    planned = events[0]
    assert isinstance(planned, Planned)
    assert (planned.tables, planned.tasks) == (1, 3) and planned.input_bytes > 0
    assert isinstance(events[1], CheckpointLoaded) and events[1].fresh
    per_task = events[2:-2]
    assert [type(e) for e in per_task] == TASK_STAGES * 3
    assert isinstance(events[-2], ManifestWritten) and events[-2].files == 3
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.result is result
    assert finished.error is None and finished.seconds == result.seconds
    done = [e for e in events if isinstance(e, TaskCompleted)]
    assert sum(e.rows for e in done) == result.rows_written == 60
    assert sum(e.output_bytes for e in done) == result.bytes_written
    decoded = [e for e in events if isinstance(e, DecodeFinished)]
    assert [e.rows for e in decoded] == [20, 20, 20] and all(e.seconds > 0 for e in decoded)
    downloaded = [e for e in events if isinstance(e, DownloadFinished)]
    assert sum(e.input_bytes for e in downloaded) == planned.input_bytes

    again, rerun = run(tmp_path, sst_concurrency=1)
    loaded = again[1]
    assert isinstance(loaded, CheckpointLoaded) and not loaded.fresh
    assert (loaded.reused_tasks, loaded.reused_objects, loaded.reused_rows) == (3, 3, 60)
    assert loaded.reused_bytes == result.bytes_written
    assert [type(e) for e in again[2:]] == [SkippedFromCheckpoint] * 3 + [RunFinished]
    assert rerun.objects_reused == 3


def test_tasks_in_other_processes_feed_the_same_stream(tmp_path: Path) -> None:
    backup(tmp_path / "b")
    local, _ = run(tmp_path, out="local", use_checkpoint=False)
    events: list[Event] = []
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        job.export(
            parse_storage_url(str(tmp_path / "b")),
            parse_storage_url(str(tmp_path / "pool")),
            ExportOptions(use_checkpoint=False),
            executor=pool,
            listeners=[events.append],
        )
    assert Counter(type(e) for e in events) == Counter(type(e) for e in local)
    assert EntryWritten not in {type(e) for e in events}
    assert sorted(e.rows for e in events if isinstance(e, TaskCompleted)) == [20, 20, 20]


def test_a_failed_task_is_an_event(tmp_path: Path) -> None:
    root = backup(tmp_path / "b")
    victim = sorted(root.rglob("*_write.sst"))[1]
    victim.write_bytes(bytes(victim.stat().st_size))  # sha256 mismatch
    events: list[Event] = []
    with pytest.raises(BrParquetError, match="sha256 mismatch"):
        job.export(
            parse_storage_url(str(root)),
            parse_storage_url(str(tmp_path / "out")),
            ExportOptions(sst_concurrency=1),
            listeners=[events.append],
        )
    [failed] = [e for e in events if isinstance(e, TaskFailed)]
    assert failed.sst == victim.relative_to(root).as_posix()
    assert "sha256 mismatch" in str(failed.error)
    last = events[-1]
    assert isinstance(last, RunFinished) and last.result is None
    assert isinstance(last.error, BrParquetError)


def test_a_failing_listener_does_not_fail_the_export(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backup(tmp_path / "b")

    def broken(event: Event) -> None:
        raise RuntimeError("observer bug")

    result = job.export(
        parse_storage_url(str(tmp_path / "b")),
        parse_storage_url(str(tmp_path / "out")),
        ExportOptions(),
        listeners=[broken],
    )
    assert result.rows_written == 60
    assert "event listener" in caplog.text and "observer bug" in caplog.text

"""The per-SST task is a plain value: it pickles with everything it needs, and tasks run
in other processes give the same output as in the exporting process."""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from br_parquet import ExportOptions, job
from br_parquet.crypto import cipher_from_options
from br_parquet.storage_url import parse_storage_url
from br_parquet.task import ExportTask, run_task
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
from br_parquet.testing.smoke import smoke_backup


def many_ssts(root: Path) -> Path:
    rows = [(i, f"name {i}", i * 1.5) for i in range(400)]
    spec = table(
        "t",
        [("id", "int primary key"), ("s", "varchar(32)"), ("d", "double")],
        rows=rows,
        split_at=list(range(0, 400, 50)),
    )
    smoke = smoke_backup()
    write_backup(
        root,
        BackupSpec(
            [DatabaseSpec("db", [spec]), *smoke.databases], shared_regions=smoke.shared_regions
        ),
    )
    return root


def outputs(root: Path) -> dict[str, str]:
    """{object path: sha256} of the Parquet objects under `root`, checkpoint aside."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
        if "_checkpoint" not in p.parts
    }


def test_task_pickles_with_everything_it_needs(tmp_path: Path) -> None:
    backup = many_ssts(tmp_path / "b")
    options = ExportOptions(type_mapping="typed", filters=("db.*",))
    prepared = job.prepare(
        parse_storage_url(str(backup)), parse_storage_url(str(tmp_path / "o")), options
    )
    assert len(prepared.tasks) == 8
    key = cipher_from_options("aes128-ctr", key="00" * 16)
    with_key = replace(prepared.tasks[0], options=replace(options, crypter=key))
    assert pickle.loads(pickle.dumps(with_key)).options.crypter == key
    for task in prepared.tasks:
        copy = pickle.loads(pickle.dumps(task))
        assert isinstance(copy, ExportTask) and copy == task
        assert [t.table_info_json for t in copy.tables] == [t.table_info_json for t in task.tables]
        assert copy.sst.write.SerializeToString() == task.sst.write.SerializeToString()
    result = run_task(pickle.loads(pickle.dumps(prepared.tasks[0])))
    again = pickle.loads(pickle.dumps(result))
    assert again == result and result.objects[0].rows == 50
    assert set(result.stage_seconds) >= {"download", "decode", "write", "upload", "checkpoint"}
    assert result.input_bytes == prepared.tasks[0].sst.size


def test_tasks_in_other_processes_give_identical_output(tmp_path: Path) -> None:
    backup = parse_storage_url(str(many_ssts(tmp_path / "b")))
    options = ExportOptions(sst_concurrency=2)
    local = job.export(backup, parse_storage_url(str(tmp_path / "local")), options)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        remote = job.export(
            backup, parse_storage_url(str(tmp_path / "pool")), options, executor=pool
        )
    assert outputs(tmp_path / "local") == outputs(tmp_path / "pool")
    assert len(outputs(tmp_path / "local")) == 11
    assert [(o.path, o.rows, o.sha256) for o in local.objects] == [
        (o.path, o.rows, o.sha256) for o in remote.objects
    ]
    assert local.scan_stats == remote.scan_stats
    # The checkpoint entries the workers wrote are complete: a rerun reuses everything.
    rerun = job.export(backup, parse_storage_url(str(tmp_path / "pool")), options)
    assert rerun.objects_reused == 11 and rerun.objects_written == 0

"""`dry_run`: plan and load the checkpoint, write nothing; the plan is what a real run
then does."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import br_parquet
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
from br_parquet.testing.smoke import smoke_backup


def backup(root: Path) -> Path:
    rows = [(i, f"v{i}") for i in range(60)]
    spec = table("t", [("id", "int primary key"), ("s", "varchar(8)")], rows=rows)
    spec.split_at = [20, 40]
    smoke = smoke_backup()
    write_backup(
        root,
        BackupSpec(
            [DatabaseSpec("db", [spec]), *smoke.databases], shared_regions=smoke.shared_regions
        ),
    )
    return root


def snapshot(storage: Storage) -> dict[str, str]:
    """Every object of the output storage, with the SHA-256 of its bytes."""
    return {o.name: storage.sha256(o.name)[0].hex() for o in storage.list("")}


def check_dry_run_then_real_run(source: str, output: str) -> None:
    storage = Storage.from_url(output)
    before = snapshot(storage)
    planned = br_parquet.export(source, output, dry_run=True, filters=["db.*"])
    assert snapshot(storage) == before  # nothing written, nothing removed
    assert planned.dry_run and planned.objects_written == 0
    assert len(planned.to_do) == 3 and all(len(t.objects) == 1 for t in planned.to_do)
    real = br_parquet.export(source, output, filters=["db.*"])
    assert sorted(o.path for o in real.objects if not o.reused) == sorted(
        p for t in planned.to_do for p in t.objects
    )
    assert real.input_bytes == sum(t.input_bytes for t in planned.to_do)
    # A dry run over a finished export: everything reused, still nothing written.
    after = snapshot(storage)
    again = br_parquet.export(source, output, dry_run=True, filters=["db.*"])
    assert again.to_do == [] and again.objects_reused == 3
    assert snapshot(storage) == after


def test_dry_run_local(tmp_path: Path) -> None:
    root = backup(tmp_path / "b")
    out = tmp_path / "out"
    br_parquet.export(str(root), str(out), filters=["db.*"], dry_run=True)
    assert not out.exists()  # not even the output folder or a checkpoint
    check_dry_run_then_real_run(str(root), f"local://{out}")


@pytest.mark.s3
def test_dry_run_s3(tmp_path: Path, s3_url: str) -> None:
    root = backup(tmp_path / "b")
    base, query = s3_url.split("?", 1)
    source = Storage.from_url(s3_url)
    for p in sorted(root.rglob("*")):
        if p.is_file():
            source.put_file(str(p.relative_to(root)), p)
    output = f"{base.rsplit('/', 2)[0]}/exported?{query}"
    Storage.from_url(output).put_bytes("unrelated/keep.txt", b"keep")
    check_dry_run_then_real_run(s3_url, output)


def test_dry_run_leaves_partial_uploads_and_checkpoint_alone(tmp_path: Path) -> None:
    root = backup(tmp_path / "b")
    out = tmp_path / "out"
    br_parquet.export(str(root), str(out), filters=["parquet_smoke.*"])
    staging = out / "parquet/db/t/left#1"
    staging.parent.mkdir(parents=True)
    staging.write_bytes(b"a killed upload")
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(br_parquet.BrParquetError, match="different configuration"):
        br_parquet.export(str(root), str(out), filters=["db.*"], dry_run=True)
    planned = br_parquet.export(str(root), str(out), filters=["parquet_smoke.*"], dry_run=True)
    assert planned.to_do == [] and planned.objects_reused == 3
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
    assert after == digest


def test_cli_dry_run_prints_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from br_parquet.cli import main

    root = backup(tmp_path / "b")
    out = tmp_path / "out"
    assert main(["--input", str(root), "--output", str(out), "--filter", "db.*", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert not out.exists()
    assert printed.startswith("dry run: nothing was written. 1 tables, 3 SST tasks")
    assert "to do: 3 SST tasks" in printed and "reused from the checkpoint: 0 objects" in printed
    assert printed.count("\n    write parquet/db/t/") == 3
    assert main(["--input", str(root), "--output", str(out), "--filter", "db.*"]) == 0
    written = sorted(
        str(p.relative_to(out)) for p in out.rglob("*.parquet") if "_checkpoint" not in str(p)
    )
    assert all(f"    write {path}\n" in printed for path in written) and len(written) == 3

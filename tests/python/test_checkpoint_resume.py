"""Crash and resume, end to end: `br-parquet-export` is SIGKILLed at chosen moments
(`br_parquet.crashpoints`), run again with the same command, and its final output compared
with an uninterrupted run's, on local disk and on the S3 test server, also while the
checkpoint compacts its entries into index objects. Also: refused config changes,
`--use-checkpoint=false`, and finished objects and checkpoint documents damaged by hand."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from br_parquet.checkpoint import FLUSH_ENV
from br_parquet.crashpoints import ENV as KILL_ENV
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

CLI = [sys.executable, "-m", "br_parquet.cli"]
PREFIX = "parquet"
CHECKPOINT = f"{PREFIX}/_checkpoint/"
SUMMARY = re.compile(r"objects: (\d+) reused \(([^)]*)\), (\d+) written")
LONG_NOTE = "n" * 300  # longer than a short value: goes to a default-CF SST

Snapshot = dict[str, tuple[str, Counter[tuple[Any, ...]]]]
"""{object name: (sha256, row multiset)} of the Parquet output."""


def write_test_backup(root: Path, *, rows_of_a: int = 640, seed_text: str = "name") -> int:
    """52 SST tasks (84 SST files): table `a` in 32 regions with default-CF files, `b` in
    16, `g1`+`g2` sharing one region (two objects from one SST), `d` with a region of
    delete records only (an SST that yields no object); returns the SST file count."""
    a_rows = [
        (i, f"{seed_text}-{i}", LONG_NOTE if i % 7 == 0 else "short")
        for i in range(1, rows_of_a + 1)
    ]
    info = write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "ckpt",
                    [
                        table(
                            "a",
                            [("id", "int primary key"), ("name", "varchar(40)"), ("note", "text")],
                            rows=a_rows,
                            split_at=list(range(21, rows_of_a + 1, 20)),
                        ),
                        table(
                            "b",
                            [("id", "bigint primary key"), ("v", "double")],
                            rows=[(i, i / 3) for i in range(1, 321)],
                            split_at=list(range(21, 321, 20)),
                        ),
                        table("g1", [("id", "int primary key"), ("v", "int")], rows=[(1, 1)]),
                        table("g2", [("id", "int primary key"), ("v", "int")], rows=[(2, 2)]),
                        table(
                            "d",
                            [("id", "int primary key"), ("v", "int")],
                            rows=[(i, i) for i in range(1, 41)],
                            split_at=[21, 1000],
                            deleted=list(range(1001, 1011)),
                        ),
                    ],
                )
            ],
            shared_regions=[["ckpt.g1", "ckpt.g2"]],
            start_version=445063339262394000,  # incremental, so delete records exist
        ),
    )
    return len(info.data_files)


@dataclass
class Output:
    """Where one export writes: the `--output` value and a `Storage` on the same root."""

    url: str
    storage: Storage
    local_root: Path | None


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ckpt") / "backup"
    assert write_test_backup(root) >= 50
    return root


def make_output(kind: str, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Output:
    if kind == "local":
        root = tmp_path / name
        return Output(str(root), Storage.from_url(str(root)), root)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    key, secret = request.getfixturevalue("s3_credentials")
    url = (
        f"s3://{bucket}/{name}?endpoint={endpoint}&force-path-style=true"
        f"&access-key={key}&secret-access-key={secret}&region=us-east-1"
    )
    return Output(url, Storage.from_url(url), None)


BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


@pytest.fixture(autouse=True)
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A killed exporter cannot remove its work directory: keep those out of /tmp."""
    workdirs = tmp_path / "workdirs"
    workdirs.mkdir()
    monkeypatch.setenv("TMPDIR", str(workdirs))


def export(
    backup: Path,
    output: Output,
    *args: str,
    kill: str | None = None,
    expect: int = 0,
    flush: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs the exporter; `kill` is a crash point, `flush` the entries per checkpoint index."""
    env = {k: v for k, v in os.environ.items() if k not in (KILL_ENV, FLUSH_ENV)}
    if kill is not None:
        env[KILL_ENV] = kill
    if flush is not None:
        env[FLUSH_ENV] = str(flush)
    result = subprocess.run(
        [
            *CLI,
            "--input",
            str(backup),
            "--output",
            output.url,
            "--output-prefix",
            PREFIX,
            "--sst-concurrency",
            "2",
            *args,
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


def counts(result: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    """(reused, written) objects from the run summary."""
    match = SUMMARY.search(result.stdout)
    assert match, result.stdout
    return int(match.group(1)), int(match.group(3))


def snapshot(output: Output) -> Snapshot:
    """The Parquet output (the checkpoint left out); on local disk also proves that no
    file other than finished objects and checkpoint documents is left behind."""
    found: Snapshot = {}
    for info in output.storage.list(PREFIX + "/"):
        if info.name.startswith(CHECKPOINT):
            continue
        assert info.name.endswith(".parquet"), info.name
        data = output.storage.get_bytes(info.name)
        rows = pq.read_table(pa.BufferReader(data)).to_pylist()
        found[info.name] = (
            hashlib.sha256(data).hexdigest(),
            Counter(tuple(row.values()) for row in rows),
        )
    if output.local_root is not None:
        on_disk = {
            p.relative_to(output.local_root).as_posix()
            for p in output.local_root.rglob("*")
            if p.is_file()
        }
        checkpoint = {n for n in on_disk if n.startswith(CHECKPOINT)}
        assert on_disk - checkpoint == set(found), "stray files in the output"
        assert all(n.endswith(".json") for n in checkpoint), sorted(checkpoint)
    return found


def documents(output: Output) -> list[str]:
    """The entry documents: entries not (yet) compacted into an index."""
    return [o.name for o in output.storage.list(CHECKPOINT + "entries/")]


def indexes(output: Output) -> list[str]:
    return [o.name for o in output.storage.list(CHECKPOINT + "index/")]


def recorded(output: Output) -> dict[str, str]:
    """{object: source SST} of every object the checkpoint records as finished, in index
    objects and entry documents alike (read as JSON here, not through the loader)."""
    found: dict[str, str] = {}
    for name in indexes(output) + documents(output):
        try:
            document = json.loads(output.storage.get_bytes(name))
        except ValueError:
            continue  # torn: records nothing
        for obj in document.get("objects", [document.get("object")]):
            if obj is not None:
                found[obj["path"]] = obj["source_sst"]
    return found


def assert_compacted(output: Output) -> None:
    """What a finished run leaves: every entry in one index, no entry document."""
    assert documents(output) == []
    assert len(indexes(output)) == 1


def test_crash_point_kills_at_the_nth_event() -> None:
    script = (
        "from br_parquet.crashpoints import crash_point\n"
        "for i in range(1, 4):\n"
        "    crash_point('after-upload')\n"
        "    crash_point('before-upload')\n"
        "    print(i, flush=True)\n"
    )
    env = {**os.environ, KILL_ENV: "at-before-upload:2"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == -signal.SIGKILL
    assert result.stdout == "1\n"
    env[KILL_ENV] = "at-before-upload"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1
    assert "BR_PARQUET_TEST_KILL='at-before-upload': expected at-<event>:<n>" in result.stderr


@pytest.fixture(scope="module")
def baseline(backup: Path, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """An uninterrupted run without checkpoint data."""
    root = tmp_path_factory.mktemp("baseline") / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    result = export(backup, output, "--use-checkpoint=false")
    assert counts(result) == (0, 52)
    found = snapshot(output)
    assert len(found) == 52
    assert sum(sum(rows.values()) for _, rows in found.values()) == 1002
    return found


# Crash points (`br_parquet.crashpoints`); `N` stands for the last upload (one per object)
# and `E` for the last entry write (one per object, one for the SST that yields none).
KILL_POINTS = [
    "at-before-upload:1",  # checkpoint started, nothing uploaded
    "during-before-upload:1",  # in the middle of (or right after) the first upload
    "at-after-upload:1",  # first object uploaded, its entry not written
    "during-before-entry:1",  # while the first entry is written
    "at-after-entry:1",
    "at-before-upload:20",
    "during-before-upload:27",
    "at-after-upload:33",
    "at-before-entry:41",
    "at-after-upload:N",  # during the last file: uploaded, no entry
    "during-before-upload:N",  # during the last upload
    "at-after-entry:E",  # everything recorded, killed before the summary
]
EMPTY_TASKS = 1


def resolve(point: str, objects: int) -> str:
    return point.replace(":N", f":{objects}").replace(":E", f":{objects + EMPTY_TASKS}")


@pytest.mark.parametrize("kind", BACKENDS)
def test_kill_anywhere_then_resume(
    kind: str, backup: Path, baseline: Snapshot, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    total = len(baseline)
    for number, point in enumerate(KILL_POINTS):
        output = make_output(kind, request, tmp_path, f"run{number}")
        killed = export(backup, output, kill=resolve(point, total), expect=-signal.SIGKILL)
        assert "exported" not in killed.stdout
        before = len(recorded(output))

        resumed = export(backup, output)
        reused, written = counts(resumed)
        assert reused + written == total, point
        assert reused <= before, point  # an object without an entry is never reused
        if point == "at-before-upload:1":
            assert (reused, written) == (0, total)
        if point == "at-after-entry:E":
            assert (reused, written) == (total, 0)
        assert snapshot(output) == baseline, point
        assert set(recorded(output)) == set(baseline)
        assert_compacted(output)
        # Resuming a finished export reuses everything.
        assert counts(export(backup, output)) == (total, 0)


# With 10 entries per index, the 53 entries of a run make indexes 1-5 as tasks finish;
# at the end 6 holds the last 3 and 7 is all six merged.
COMPACTION_KILL_POINTS = [
    "at-before-index:1",  # 10 entries written, no index yet
    "during-before-index:2",  # while the second index is written
    "at-after-index:2",  # index written, its entry documents not yet deleted
    "during-after-index:3:2",  # while its entry documents are deleted
    "at-after-index:6",  # every entry in an index, the merge not started
    "at-before-index:7",  # the merge about to be written
    "during-after-index:7",  # merged, the six indexes being deleted
]


@pytest.mark.parametrize("kind", BACKENDS)
def test_kill_during_compaction_then_resume(
    kind: str, backup: Path, baseline: Snapshot, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    total = len(baseline)
    points = COMPACTION_KILL_POINTS if kind == "local" else COMPACTION_KILL_POINTS[2::2]
    for number, point in enumerate(points):
        output = make_output(kind, request, tmp_path, f"run{number}")
        killed = export(backup, output, kill=point, flush=10, expect=-signal.SIGKILL)
        assert "exported" not in killed.stdout
        before = recorded(output)
        assert len(before) >= 10, point  # nothing recorded was lost by the compaction

        resumed = export(backup, output, flush=10)
        reused, written = counts(resumed)
        assert reused + written == total, point
        assert reused <= len(before), point
        if point.endswith(":6") or point.endswith(":7"):
            assert (reused, written) == (total, 0), point
        assert snapshot(output) == baseline, point
        assert set(recorded(output)) == set(baseline)
        assert_compacted(output)


def test_repeated_crashes_converge(backup: Path, baseline: Snapshot, tmp_path: Path) -> None:
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    for point in [
        "at-after-upload:7",
        "during-before-entry:5",
        "at-after-index:1",
        "at-before-upload:30",
    ]:
        export(backup, output, kill=point, flush=4, expect=-signal.SIGKILL)
    reused, written = counts(export(backup, output, flush=4))
    assert reused > 0 and reused + written == len(baseline)
    assert snapshot(output) == baseline
    assert_compacted(output)


@pytest.mark.parametrize("use_checkpoint", ["true", "false"])
def test_staging_files_of_a_killed_local_upload_are_removed(
    backup: Path, baseline: Snapshot, tmp_path: Path, use_checkpoint: str
) -> None:
    """What a kill in the middle of a local upload leaves: a `{name}#{n}` staging file."""
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    export(backup, output, kill="at-after-upload:10", expect=-signal.SIGKILL)
    victim = next(iter(sorted(baseline)))
    (root / f"{victim}#1").write_bytes(b"PAR1 half an upload")
    (root / f"{CHECKPOINT}entries/ckpt/a/x.parquet.json#2").write_bytes(b'{"kind": "obj')
    result = export(backup, output, f"--use-checkpoint={use_checkpoint}")
    # Ours, plus any upload another worker had in flight when the kill came.
    removed = re.search(r"removed (\d+) partial uploads left by an interrupted run", result.stderr)
    assert removed is not None and int(removed.group(1)) >= 2
    assert snapshot(output) == baseline  # also asserts no stray file is left


# --- configuration changes and --use-checkpoint ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "change"),
    [
        (["--filter", "ckpt.a"], '--filter .* was \\["\\*\\.\\*", .*\\], now \\["ckpt\\.a"\\]'),
        (["--compression", "zstd"], '--compression was "snappy", now "zstd"'),
        (["--row-group-size", "100"], "--row-group-size was 8192, now 100"),
        (["--type-mapping", "typed"], '--type-mapping was "compat", now "typed"'),
    ],
)
def test_config_change_is_refused(
    backup: Path, tmp_path: Path, args: list[str], change: str
) -> None:
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    export(backup, output, kill="at-after-entry:10", expect=-signal.SIGKILL)
    before = files(root)
    failed = export(backup, output, *args, expect=2)
    assert re.search(change, failed.stderr), failed.stderr
    assert f"remove the checkpoint directory local://{root}/parquet/_checkpoint/" in failed.stderr
    assert "new --output-prefix" in failed.stderr
    assert files(root) == before  # refused before any work


def test_different_backup_is_refused(backup: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-backup"
    write_test_backup(other, seed_text="other")
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    export(backup, output, kill="at-after-entry:10", expect=-signal.SIGKILL)
    before = files(root)
    failed = export(other, output, expect=2)
    assert "the backup (SHA-256 of its backupmeta) was" in failed.stderr
    assert "remove the checkpoint directory" in failed.stderr
    assert files(root) == before


def test_filter_file_edit_is_a_change(backup: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("ckpt.*\n")
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    export(backup, output, "--filter", f"@{rules}", kill="at-after-entry:5", expect=-9)
    rules.write_text("# comments do not count\nckpt.*\n")
    assert counts(export(backup, output, "--filter", f"@{rules}"))[0] >= 5
    rules.write_text("ckpt.*\n!ckpt.b\n")
    failed = export(backup, output, "--filter", f"@{rules}", expect=2)
    assert '["ckpt.*"], now ["ckpt.*", "!ckpt.b"]' in failed.stderr


@pytest.mark.parametrize("form", [["--use-checkpoint=false"], ["--use-checkpoint", "false"]])
@pytest.mark.parametrize("kind", BACKENDS)
def test_use_checkpoint_false_ignores_and_keeps_the_checkpoint(
    kind: str,
    form: list[str],
    backup: Path,
    baseline: Snapshot,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    output = make_output(kind, request, tmp_path, "out")
    export(backup, output, kill="at-after-entry:12", expect=-signal.SIGKILL)
    kept = {o.name: output.storage.get_bytes(o.name) for o in output.storage.list(CHECKPOINT)}
    assert len(kept) >= 13  # meta.json + at least 12 entries
    # Even with another configuration: nothing is compared, read or written.
    result = export(backup, output, *form)
    assert counts(result) == (0, len(baseline))
    assert "checkpoint off" in result.stdout
    assert {
        o.name: output.storage.get_bytes(o.name) for o in output.storage.list(CHECKPOINT)
    } == kept
    assert snapshot(output) == baseline
    export(backup, output, *form, "--compression", "zstd")
    assert {o.name for o in output.storage.list(CHECKPOINT)} == set(kept)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("true", True), ("1", True), ("t", True), ("TRUE", True), ("F", False), ("0", False)],
)
def test_use_checkpoint_values(backup: Path, tmp_path: Path, value: str, ok: bool) -> None:
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    result = export(backup, output, f"--use-checkpoint={value}", "--filter", "ckpt.g*")
    assert ("checkpoint off" in result.stdout) != ok
    assert (root / CHECKPOINT / "meta.json").exists() == ok


def test_use_checkpoint_rejects_other_values(backup: Path, tmp_path: Path) -> None:
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    failed = export(backup, output, "--use-checkpoint=yes", expect=2)
    assert "--use-checkpoint: expected true or false" in failed.stderr
    assert not root.exists()


# --- finished objects damaged by hand --------------------------------------------------------


@pytest.mark.parametrize("kind", BACKENDS)
def test_damaged_objects_are_redone(
    kind: str, backup: Path, baseline: Snapshot, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    output = make_output(kind, request, tmp_path, "out")
    assert counts(export(backup, output)) == (0, len(baseline))
    deleted, truncated, flipped = sorted(baseline)[3:6]
    storage = output.storage
    storage.delete(deleted)
    storage.put_bytes(truncated, storage.get_bytes(truncated)[:-10])
    data = bytearray(storage.get_bytes(flipped))
    data[len(data) // 2] ^= 0xFF
    storage.put_bytes(flipped, bytes(data))  # same size: only sha256 tells

    # Size-only verification catches the deleted and the truncated object.
    result = export(backup, output, "--checkpoint-verify", "size")
    assert counts(result) == (len(baseline) - 2, 2)
    assert storage.get_bytes(flipped) == data  # trusted: the documented limit of `size`
    # The default (sha256) catches the same-size damage too.
    storage.delete(deleted)
    result = export(backup, output)
    assert counts(result) == (len(baseline) - 2, 2)
    assert f"finished object {flipped} has sha256" in result.stderr
    assert f"finished object {deleted} is missing" in result.stderr
    assert snapshot(output) == baseline


def test_torn_entry_is_redone(backup: Path, baseline: Snapshot, tmp_path: Path) -> None:
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    export(backup, output, kill="at-after-entry:20", expect=-signal.SIGKILL)
    names = [n for n in documents(output) if "/ckpt/a/" in n or "/ckpt/b/" in n]
    victim = root / names[0]  # an entry of a task with one object
    obj = json.loads(victim.read_bytes())["object"]["path"]
    [before] = [o.e_tag for o in output.storage.list(obj)]
    # Tasks finish concurrently, so a 21st entry may land before the kill: count them.
    finished = len(recorded(output))
    victim.write_bytes(victim.read_bytes()[:40])
    result = export(backup, output)
    reused, written = counts(result)
    assert 0 < reused < finished and reused + written == len(baseline)
    assert f"ignoring checkpoint entry {names[0]}: it is not JSON" in result.stderr
    assert [o.e_tag for o in output.storage.list(obj)] != [before]  # written again
    assert snapshot(output) == baseline
    assert_compacted(output)


def test_torn_index_is_redone(backup: Path, baseline: Snapshot, tmp_path: Path) -> None:
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    export(backup, output)
    [index] = indexes(output)
    (root / index).write_bytes((root / index).read_bytes()[:100])
    result = export(backup, output)
    assert counts(result) == (0, len(baseline))  # every task it listed is done again
    assert f"ignoring checkpoint index {index}: it is not JSON" in result.stderr
    assert snapshot(output) == baseline
    assert set(recorded(output)) == set(baseline)  # the torn index is still there, and a new one


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# --- failures ---------------------------------------------------------------------------------


def test_failed_sst_is_not_marked_complete(
    backup: Path, baseline: Snapshot, tmp_path: Path
) -> None:
    damaged = tmp_path / "backup"
    shutil.copytree(backup, damaged)
    victim = sorted(damaged.rglob("*_write.sst"))[30]
    good = victim.read_bytes()
    victim.write_bytes(bytes(len(good)))  # same size, wrong content: sha256 mismatch
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    failed = export(damaged, output, expect=3)
    assert "sha256 mismatch" in failed.stderr
    assert victim.relative_to(damaged).as_posix() in failed.stderr
    sources = set(recorded(output).values())
    assert sources
    assert victim.relative_to(damaged).as_posix() not in sources
    # The failed run compacted the entries of the tasks it saw finish; the other task in
    # flight when the error came finished unseen, so its entry stays a document.
    assert len(indexes(output)) == 1 and len(documents(output)) <= 1

    victim.write_bytes(good)
    reused, written = counts(export(damaged, output))
    assert written >= 1 and reused + written == len(baseline)
    assert snapshot(output) == baseline


def test_unreadable_meta_fails_naming_the_file(backup: Path, tmp_path: Path) -> None:
    root = tmp_path / "out"
    output = Output(str(root), Storage.from_url(str(root)), root)
    export(backup, output, kill="at-after-entry:3", expect=-signal.SIGKILL)
    (root / CHECKPOINT / "meta.json").write_bytes(b'{"format": "br-parq')
    before = files(root)
    failed = export(backup, output, expect=2)
    assert "parquet/_checkpoint/meta.json: is not JSON" in failed.stderr
    assert "expected the checkpoint meta document br-parquet writes" in failed.stderr
    assert files(root) == before

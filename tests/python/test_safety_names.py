"""Names read from a backup never lead outside the input or the output: object names in
`backupmeta` (data files, v2 child meta files) that could escape are refused before
anything is read or written, and database and table names become visible, bounded
folder names below the output prefix."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet.errors import BackupMetaError, StorageError
from br_parquet.naming import MAX_NAME_BYTES, contained_path, sanitize
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

COLUMNS = [("id", "int primary key"), ("v", "varchar(20)")]
CLI = [sys.executable, "-m", "br_parquet.cli"]


def small_backup(root: Path, meta_version: Literal[1, 2]) -> None:
    write_backup(
        root,
        BackupSpec(
            [DatabaseSpec("shop", [table("items", COLUMNS, rows=[(1, "pen"), (2, "ink")])])],
            meta_version=meta_version,
        ),
    )


def tree(root: Path) -> dict[str, bytes]:
    """{path relative to root: content} of every file below root."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- input object names ----------------------------------------------------------------------


def rename_data_file(root: Path, rename: Callable[[str], str]) -> tuple[str, str]:
    """Renames the first data file in the backupmeta (inline for v1, in the data-file meta
    file for v2, whose pointer is updated); returns (old name, new name)."""
    meta = brpb.BackupMeta()
    meta.ParseFromString((root / "backupmeta").read_bytes())
    if meta.files:
        old = meta.files[0].name
        meta.files[0].name = rename(old)
        new = meta.files[0].name
    else:
        pointer = meta.file_index.meta_files[0]
        child = brpb.MetaFile()
        child.ParseFromString((root / pointer.name).read_bytes())
        old = child.data_files[0].name
        child.data_files[0].name = rename(old)
        new = child.data_files[0].name
        body = child.SerializeToString()
        (root / pointer.name).write_bytes(body)
        pointer.sha256 = hashlib.sha256(body).digest()
        pointer.size = len(body)
    (root / "backupmeta").write_bytes(meta.SerializeToString())
    return old, new


def escape_to(outside: Path, root: Path, old: str) -> str:
    """A name that leads from the backup root to `outside` through `..`; the real SST is
    copied there, so a reader that followed the name would succeed."""
    shutil.copyfile(root / old, outside)
    return os.path.relpath(outside, root)


def dotdot(tmp: Path, root: Path, old: str) -> str:
    return escape_to(tmp / "x.sst", root, old)


def absolute(tmp: Path, root: Path, old: str) -> str:
    shutil.copyfile(root / old, tmp / "abs.sst")
    return str(tmp / "abs.sst")


Rename = Callable[[Path, Path, str], str]
BAD_DATA_FILE_NAMES: list[tuple[str, Rename, str]] = [
    ("dotdot", dotdot, "has a '..' path segment"),
    ("absolute", absolute, "is an absolute path"),
    ("nul", lambda tmp, root, old: old.replace("_write", "\x00_write"), "control character"),
    ("backslash", lambda tmp, root, old: "..\\" + old, "contains a backslash"),
    ("newline", lambda tmp, root, old: old.replace("/", "/\n"), "control character"),
    ("dot", lambda tmp, root, old: "./" + old, "has a '.' path segment"),
    ("empty-segment", lambda tmp, root, old: old.replace("/", "//"), "empty path segment"),
    ("long-segment", lambda tmp, root, old: "1/" + "a" * 996 + ".sst", "segment of 1000 bytes"),
    ("long-name", lambda tmp, root, old: "1/" * 600 + "x.sst", "is 1205 bytes long"),
]


@pytest.mark.parametrize("meta_version", [1, 2])
@pytest.mark.parametrize(
    ("rename", "reason"),
    [pytest.param(f, r, id=i) for i, f, r in BAD_DATA_FILE_NAMES],
)
def test_escaping_data_file_names_are_refused_before_anything_is_written(
    tmp_path: Path,
    meta_version: Literal[1, 2],
    rename: Rename,
    reason: str,
) -> None:
    root = tmp_path / "backup"
    small_backup(root, meta_version)
    _, new = rename_data_file(root, lambda old: rename(tmp_path, root, old))
    before = tree(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(BackupMetaError) as err:
        br_parquet.export(str(root), str(out))
    listed_in = "backupmeta" if meta_version == 1 else "backupmeta.datafile.000000001"
    message = str(err.value)
    assert message.startswith(f"{listed_in}: lists the data file "), message
    assert reason in message
    assert "\n" not in message and "\x00" not in message
    if len(new) < 100:
        assert repr(new) in message
    assert err.value.exit_code == 3
    assert not out.exists()
    assert tree(tmp_path) == before


def test_escaping_child_meta_file_is_refused_unread(tmp_path: Path) -> None:
    root = tmp_path / "backup"
    small_backup(root, 2)
    meta = brpb.BackupMeta()
    meta.ParseFromString((root / "backupmeta").read_bytes())
    pointer = meta.file_index.meta_files[0]
    # The child is there, intact, one level up: only its name is wrong.
    shutil.move(root / pointer.name, tmp_path / pointer.name)
    pointer.name = f"../{pointer.name}"
    (root / "backupmeta").write_bytes(meta.SerializeToString())
    out = tmp_path / "out"
    with pytest.raises(BackupMetaError) as err:
        br_parquet.export(str(root), str(out))
    assert str(err.value) == (
        "backupmeta: lists the meta file '../backupmeta.datafile.000000001', which has a "
        "'..' path segment; a backup names its files by plain paths relative to its root"
    )
    assert not out.exists()
    with pytest.raises(BackupMetaError, match="lists the meta file"):
        br_parquet.open_backup(str(root))


def test_command_line_refuses_an_escaping_name_with_one_line(tmp_path: Path) -> None:
    root = tmp_path / "backup"
    small_backup(root, 2)
    rename_data_file(root, lambda old: dotdot(tmp_path, root, old))
    out = tmp_path / "out"
    run = subprocess.run(
        [*CLI, "--input", str(root), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3, run.stderr
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert errors == [
        "br-parquet-export: error: backupmeta.datafile.000000001: lists the data file "
        "'../x.sst', which has a '..' path segment; a backup names its files by plain "
        "paths relative to its root"
    ]
    assert "Traceback" not in run.stderr
    assert not out.exists()


# --- the local store, whatever name reaches it -------------------------------------------------


@pytest.mark.parametrize("name", ["../secret", "a/../../secret", "/etc/passwd", "x/../..", "", "."])
def test_local_store_never_leaves_its_root(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_bytes(b"keep")
    before = tree(tmp_path)
    storage = Storage.from_url(str(root))
    for operation in (
        lambda: storage.get_bytes(name),
        lambda: storage.put_bytes(name, b"overwritten"),
        lambda: storage.put_file(name, tmp_path / "secret"),
        lambda: storage.size(name),
        lambda: storage.delete(name),
        lambda: storage.download_to(name, tmp_path / "copy"),
        lambda: storage.local_file(name),
    ):
        with pytest.raises(StorageError, match="leads outside"):
            operation()
    assert tree(tmp_path) == before
    assert contained_path(root, name) is None


def test_contained_path_keeps_plain_names() -> None:
    root = Path("/data/backup")
    assert contained_path(root, "1/2_write.sst") == root / "1" / "2_write.sst"
    assert contained_path(root, "a/../b") == root / "b"


# --- output names from database and table names ---------------------------------------------

HOSTILE = [
    "..",
    "../../etc",
    "/abs",
    "a\\b",
    "a\x00b",
    "x\ny",
    "\x7f",
    "_checkpoint",
    ".hidden",
    "t" * 999 + "a",
    "t" * 999 + "b",
    "表" * 333,
]


def test_hostile_database_and_table_names_stay_below_the_prefix(tmp_path: Path) -> None:
    root = tmp_path / "backup"
    databases = [
        DatabaseSpec(
            "../..",
            [table(name, COLUMNS, rows=[(i, name[:20]) for i in range(1, 3)]) for name in HOSTILE],
        ),
        DatabaseSpec("/", [table("t", COLUMNS, rows=[(1, "x")])]),
        DatabaseSpec("_checkpoint", [table("meta", COLUMNS, rows=[(1, "y")])]),
        DatabaseSpec("d" * 1000, [table("..", COLUMNS, rows=[(1, "z")])]),
    ]
    write_backup(root, BackupSpec(databases))
    work = tmp_path / "work"
    work.mkdir()
    out = work / "out"
    before = tree(tmp_path)

    result = br_parquet.export(str(root), str(out), filters=["*.*"])

    written = tree(tmp_path)
    for name in set(written) - set(before):
        assert name.startswith("work/out/parquet/"), name
    assert {p for p in before if p in written} == set(before)  # nothing else changed
    assert all(written[p] == before[p] for p in before)

    files = sorted(p for p in (out / "parquet").rglob("*.parquet"))
    assert len(files) == len(HOSTILE) + 3 == len(result.objects)
    for path in (out / "parquet").rglob("*"):
        parts = path.relative_to(out / "parquet").parts
        if parts[0] == "_checkpoint":
            parts = parts[1:]
            if parts[:2] == ("entries", "_empty_tasks"):
                parts = parts[2:]
        for part in parts:
            assert not part.startswith(("_", ".")), path
            assert len(part.encode()) <= 255, path
            assert part.isascii() and part.isprintable(), path
    for file in files:
        folder = file.parent.relative_to(out / "parquet").parts
        assert len(folder) == 2
        assert all(len(part) <= MAX_NAME_BYTES for part in folder)

    # Every table lands in a folder of its own, with its own rows.
    folders = {(o.db, o.table): o.path.rsplit("/", 1)[0] for o in result.objects}
    assert len(set(folders.values())) == len(folders)
    assert folders["../..", "t" * 999 + "a"] != folders["../..", "t" * 999 + "b"]
    for obj in result.objects:
        rows = pq.read_table(out / obj.path, columns=["v"]).column("v").to_pylist()
        if obj.db == "../..":
            assert rows == [obj.table[:20]] * 2
    assert folders["_checkpoint", "meta"] == f"parquet/checkpoint_{_hash('_checkpoint')}/meta"


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


@pytest.mark.parametrize("name", [*HOSTILE, "d" * 1000, "/", "", "a/b", "表" * 1000])
def test_sanitized_names_are_visible_bounded_and_flat(name: str) -> None:
    folder = sanitize(name)
    assert 0 < len(folder.encode()) <= MAX_NAME_BYTES
    assert folder.isascii() and folder.replace("_", "").isalnum()
    assert not folder.startswith("_")
    if len(name) > MAX_NAME_BYTES or not name.isascii():
        assert folder.endswith(_hash(name))

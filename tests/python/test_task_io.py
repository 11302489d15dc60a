"""What a task reads and writes: every byte once, and nothing partial under a final name.

A local SST is hashed while it is decoded, each Parquet file while it is written, and on
local output the file is written under a staging name next to its object and renamed
into place. These tests check the results of that against the real bytes: the recorded
SHA-256 and size of every object, an SST whose bytes do not match its `File` entry, a
decode that fails half-way through a Parquet file, and the decoding thread itself.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from br_parquet import export
from br_parquet._native import SstReader, SstScan
from br_parquet.api import open_backup
from br_parquet.cli import main as cli_main
from br_parquet.decode_ahead import DecodeAhead
from br_parquet.naming import sst_stem
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
from br_parquet.testing.keys import record_key, sst_key
from br_parquet.testing.rowcodec import encode_row_v2
from br_parquet.testing.sst import write_sst
from br_parquet.testing.writecf import WriteType, encode_write

TABLE_ID = 100  # the writer's first table ID
ROWS = 3000
SPLIT = 1500  # region 1: handles 1-1499, region 2: 1500-3000
BAD_HANDLE = 2900  # in region 2, after its first 1024-row batch
START_TS = 445_063_000_000_000_000


def _backup(root: Path) -> Path:
    """t.items (id, name, note) in two regions, and t.small in one; backupmeta v1, so that
    its `File` entries are in `backupmeta` itself."""
    rows = [(i, f"name {i}", "x" * (i % 50)) for i in range(1, ROWS + 1)]
    items = table(
        "items",
        [("id", "int primary key"), ("name", "varchar(20)"), ("note", "varchar(64)")],
        rows=rows,
        split_at=[SPLIT],
    )
    small = table("small", [("id", "int primary key"), ("v", "int")], rows=[(1, 10), (2, 20)])
    write_backup(root, BackupSpec([DatabaseSpec("t", [items, small])], meta_version=1, seed=3))
    return root


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _backup(tmp_path_factory.mktemp("backup") / "b")


def _meta(root: Path) -> brpb.BackupMeta:
    meta = brpb.BackupMeta()
    meta.ParseFromString((root / "backupmeta").read_bytes())
    return meta


def _items_write_ssts(root: Path) -> list[str]:
    """The write-CF SSTs of t.items, in key order (region 1, region 2)."""
    files = [f for f in _meta(root).files if f.cf == "write"]
    items = [f for f in files if f.start_key.startswith(record_key(TABLE_ID, 0)[:9])]
    return [f.name for f in sorted(items, key=lambda f: bytes(f.start_key))]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _export_cli(backup: Path, out: Path, *flags: str) -> int:
    return cli_main(
        [
            "--input",
            str(backup),
            "--output",
            str(out),
            "--sst-concurrency",
            "1",
            "--no-progress",
            *flags,
        ]
    )


def _staged(root: Path) -> list[Path]:
    """Staging files (`{name}#{digits}`) under `root`."""
    return [p for p in root.rglob("*#*") if p.name.rpartition("#")[2].isdigit()]


def _mentions(root: Path, sst: str) -> bool:
    checkpoint = root / "parquet" / "_checkpoint"
    return any(sst in p.read_text(errors="replace") for p in checkpoint.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_recorded_sha256_size_and_etag_are_the_objects(
    kind: str, original: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "local":
        url = str(tmp_path / "out")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        url = (
            f"s3://{bucket}/out?endpoint={endpoint}&force-path-style=true"
            "&access-key=a&secret-access-key=b&region=us-east-1"
        )
    result = export(str(original), url, sst_concurrency=2, row_group_size=100)
    storage = Storage.from_url(url)
    listed = {info.name: info for info in storage.list("parquet/")}
    assert len(result.objects) == 3
    for obj in result.objects:
        data = storage.get_bytes(obj.path)
        assert obj.sha256 == hashlib.sha256(data).hexdigest(), obj.path
        assert obj.size == len(data) == listed[obj.path].size
        assert obj.etag is not None and obj.etag == listed[obj.path].e_tag
        assert pq.read_table(pa.BufferReader(data)).num_rows == obj.rows
    # Nothing but the objects and the checkpoint: no staging file is left behind.
    assert {n for n in listed if "/_checkpoint/" not in n} == {o.path for o in result.objects}
    if kind == "local":
        assert _staged(tmp_path / "out") == []
    # The recorded ETags match, so a second run reuses every object.
    again = export(str(original), url, sst_concurrency=2, row_group_size=100)
    assert sorted(o.path for o in again.objects if o.reused) == sorted(
        o.path for o in result.objects
    )


@pytest.mark.parametrize("where", ["first-block", "middle"])
def test_sst_not_matching_its_sha256_fails_with_exit_3_and_leaves_no_object(
    where: str, original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The SST keeps its size, so only its SHA-256 (computed while it is decoded) tells;
    RocksDB may notice the damage first, yet the error names the mismatch."""
    backup, out = _copy(original, tmp_path / "b"), tmp_path / "out"
    good, bad = _items_write_ssts(backup)
    data = bytearray((backup / bad).read_bytes())
    data[20 if where == "first-block" else len(data) // 2] ^= 0x01
    (backup / bad).write_bytes(bytes(data))

    assert _export_cli(backup, out) == 3
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "sha256 mismatch" in errors[0] and bad in errors[0], errors
    objects = {p.name for p in out.rglob("*.parquet")}
    assert f"{sst_stem(good).rsplit('/', 1)[-1]}.parquet" in objects
    assert f"{sst_stem(bad).rsplit('/', 1)[-1]}.parquet" not in objects
    assert _staged(out) == []
    assert not _mentions(out, bad) and _mentions(out, good)


def test_decode_failing_half_way_through_a_parquet_file_leaves_no_object(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row past the first batch of region 2 does not decode: its Parquet file was
    already being written (under a staging name) when the error came."""
    backup, out = _copy(original, tmp_path / "b"), tmp_path / "out"
    good, bad = _items_write_ssts(backup)
    meta = _meta(backup)
    for f in meta.files:
        if f.name == bad:  # rewritten below: its recorded sha256 and size no longer hold
            f.ClearField("sha256")
            f.ClearField("size")
    (backup / "backupmeta").write_bytes(meta.SerializeToString())
    path = backup / bad
    entries = [(bytes(k), bytes(v)) for k, v in SstReader(path).entries()]
    commit_ts = (1 << 64) - 1 - int.from_bytes(entries[0][0][-8:], "big")
    key = sst_key(record_key(TABLE_ID, BAD_HANDLE), commit_ts)
    row = bytearray(encode_row_v2({2: b"n", 3: b"abc"}))
    row[10:12] = (999).to_bytes(2, "little")  # the last column's end offset points past the row
    record = encode_write(WriteType.PUT, START_TS, short_value=bytes(row))
    assert key in dict(entries)
    write_sst(path, [(k, record if k == key else v) for k, v in entries])

    assert _export_cli(backup, out, "--row-group-size", "100") == 3
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"key {key.hex()}" in errors[0] and bad in errors[0], errors
    objects = {p.name for p in out.rglob("*.parquet")}
    assert f"{sst_stem(good).rsplit('/', 1)[-1]}.parquet" in objects
    assert f"{sst_stem(bad).rsplit('/', 1)[-1]}.parquet" not in objects
    assert _staged(out) == []
    assert not _mentions(out, bad)


def test_staged_file_is_invisible_until_published(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path / "out"))
    name = "p/db/t/x.parquet"
    staged = storage.staging_file(name)
    assert staged is not None and staged.parent == tmp_path / "out" / "p" / "db" / "t"
    staged.write_bytes(b"PAR1 complete")
    assert storage.list("p/") == [] and not storage.exists(name)
    put = storage.publish_staged(name, staged)
    assert not staged.exists() and storage.get_bytes(name) == b"PAR1 complete"
    assert [(i.name, i.e_tag) for i in storage.list("p/")] == [(name, put["e_tag"])]
    # One that is never published is a partial upload: listings skip it, cleanup removes it.
    other = storage.staging_file(name)
    assert other is not None and other != staged
    other.write_bytes(b"PAR1 half")
    assert [i.name for i in storage.list("p/")] == [name]
    assert storage.discard_partial_uploads("p/") == [other.relative_to(tmp_path / "out").as_posix()]
    assert not other.exists() and storage.get_bytes(name) == b"PAR1 complete"


def _scan(backup: Path, batch_rows: int) -> SstScan:
    write = _items_write_ssts(backup)[1]
    default = write.replace("_write.sst", "_default.sst")
    decoder = open_backup(backup).table("t.items").decoder("typed")
    return SstScan(
        backup / write,
        [decoder],
        default_sst=backup / default if (backup / default).exists() else None,
        batch_rows=batch_rows,
    )


def _decoding_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sst-decode"]


@pytest.mark.parametrize("ahead", [0, 2])
def test_decode_ahead_yields_what_the_scan_yields(original: Path, ahead: int) -> None:
    direct = [(i, b.to_pylist()) for i, b in _scan(original, 100)]
    with DecodeAhead(_scan(original, 100), ahead) as batches:
        assert len(_decoding_threads()) == (1 if ahead else 0)
        assert [(i, b.to_pylist()) for i, b in batches] == direct
    assert len(direct) == 16 and sum(len(b) for _, b in direct) == ROWS - SPLIT + 1
    assert _decoding_threads() == []


def test_decode_ahead_stops_its_thread_when_left_early(original: Path) -> None:
    with DecodeAhead(_scan(original, 10), ahead=2) as ahead:
        first = next(iter(ahead))
    assert first[1].num_rows == 10
    assert _decoding_threads() == []

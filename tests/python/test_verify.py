"""`--verify files`: every data file is checked against the TiKV checksum its backupmeta
records (`File.crc64xor`, `total_kvs`, `total_bytes`), and every decoded row must reach
Parquet, before anything of a task is uploaded.

Tampered SSTs are rewritten with `write_sst` and their `sha256` and `size` in the
backupmeta recomputed, so only the KV checksum can notice.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet.errors import VerificationError
from br_parquet.parquet_writer import ParquetFileWriter
from br_parquet.proto import brpb_pb2
from br_parquet.testing import (
    BackupInfo,
    BackupSpec,
    DatabaseSpec,
    KvChecksum,
    PartitionDef,
    PartitionInfo,
    RawEntry,
    WriteType,
    index,
    table,
    write_backup,
)
from br_parquet.testing.checksum import kv_crc64
from br_parquet.testing.keys import record_key, sst_key

native = pytest.importorskip("br_parquet._native")

LONG = "x" * 300  # longer than a short value: goes to the default CF
Entries = list[tuple[bytes, bytes]]


def _spec(**overrides: object) -> BackupSpec:
    t_rows = [(i, f"name-{i}", LONG if i % 10 == 0 else "short") for i in range(1, 61)]
    return BackupSpec(
        [
            DatabaseSpec(
                "v",
                [
                    table(
                        "t",
                        [("id", "int primary key"), ("name", "varchar(40)"), ("note", "text")],
                        rows=t_rows,
                        split_at=[21, 41],
                        indexes=[index("k_name", "name")],
                        index_entries=True,
                    ),
                    table("u", [("id", "int primary key"), ("v", "int")], rows=[(1, 1), (2, 2)]),
                ],
            )
        ],
        meta_version=1,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def backup(tmp_path: Path) -> BackupInfo:
    return write_backup(tmp_path / "backup", _spec())


def _table_id(info: BackupInfo, name: str) -> int:
    return info.tables[name].id


def _target(info: BackupInfo, cf: str = "write") -> brpb_pb2.File:
    """The `cf` file of the second record region of `v.t` (handles 21..40)."""
    start = record_key(_table_id(info, "v.t"), 21)
    (found,) = [d.file for d in info.data_files if d.file.cf == cf and d.file.start_key == start]
    return found


def _rewrite(info: BackupInfo, file: brpb_pb2.File, change: Callable[[Entries], Entries]) -> None:
    """Rewrites `file` with `change(entries)`, with its sha256 and size in the backupmeta
    made to match: the file passes every check but its KV checksum."""
    path = info.root / file.name
    entries = change(native.SstReader(path).entries())
    size = native.write_sst(
        path, entries, compression="zstd", whole_key_filtering=file.cf == "default"
    )
    meta = brpb_pb2.BackupMeta.FromString((info.root / "backupmeta").read_bytes())
    (entry,) = [f for f in meta.files if f.name == file.name]
    entry.sha256 = hashlib.sha256(path.read_bytes()).digest()
    entry.size = size
    (info.root / "backupmeta").write_bytes(meta.SerializeToString())


def _entry_of(entries: Entries, raw_key: bytes) -> int:
    prefix = sst_key(raw_key, 0)[:-8]
    (at,) = [i for i, (k, _) in enumerate(entries) if k.startswith(prefix)]
    return at


def _short_value(record: bytes) -> bytes:
    """The row inside a Put record written as `P`, varint start_ts, `v`, length, row."""
    pos = 1
    while record[pos] & 0x80:
        pos += 1
    assert record[pos + 1 : pos + 2] == b"v"
    length = record[pos + 2]
    return record[pos + 3 : pos + 3 + length]


def _flip_row_byte(info: BackupInfo) -> tuple[brpb_pb2.File, KvChecksum]:
    """Flips the last byte of row 25's inline value; returns the file and the checksum
    its contents now have."""
    file = _target(info)
    raw_key = record_key(_table_id(info, "v.t"), 25)
    actual = KvChecksum(file.crc64xor, file.total_kvs, file.total_bytes)

    def change(entries: Entries) -> Entries:
        at = _entry_of(entries, raw_key)
        key, record = entries[at]
        flipped = record[:-1] + bytes([record[-1] ^ 0x01])
        entries[at] = (key, flipped)
        actual.crc64xor ^= kv_crc64(raw_key, _short_value(record))
        actual.crc64xor ^= kv_crc64(raw_key, _short_value(flipped))
        return entries

    _rewrite(info, file, change)
    return file, actual


def _figures(c: KvChecksum | brpb_pb2.File) -> str:
    return f"crc64xor={c.crc64xor:#018x} total_kvs={c.total_kvs} total_bytes={c.total_bytes}"


def _export(info: BackupInfo, out: Path, **options: object) -> br_parquet.ExportResult:
    return br_parquet.export(  # type: ignore[no-any-return]
        f"local://{info.root}", str(out), sst_concurrency=1, **options
    )


# --- the native scan computes what TiKV records ------------------------------------------


def _pairs(info: BackupInfo) -> list[tuple[brpb_pb2.File, brpb_pb2.File | None]]:
    defaults = {d.file.start_key: d.file for d in info.data_files if d.file.cf == "default"}
    return [
        (d.file, defaults.get(d.file.start_key)) for d in info.data_files if d.file.cf == "write"
    ]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(_spec(), id="full"),
        pytest.param(
            BackupSpec(
                [
                    DatabaseSpec(
                        "inc",
                        [
                            table(
                                "d",
                                [("id", "int primary key"), ("v", "text")],
                                rows=[(i, LONG if i % 3 else "s") for i in range(1, 30)],
                                deleted=[100, 101, 102],
                                raw_entries=[
                                    RawEntry(record_key(999_999, 1), write_type=WriteType.DELETE)
                                ],
                            ),
                            table("g1", [("id", "int primary key"), ("v", "int")], rows=[(1, 1)]),
                            table(
                                "g2", [("id", "int primary key"), ("v", "text")], rows=[(2, LONG)]
                            ),
                        ],
                    )
                ],
                start_version=445063339262394000,
                shared_regions=[["inc.g1", "inc.g2"]],
            ),
            id="incremental-shared",
        ),
    ],
)
def test_scan_checksums_equal_the_writers(tmp_path: Path, spec: BackupSpec) -> None:
    info = write_backup(tmp_path / "b", spec)
    # One decoder of some table: other tables' keys, index entries, long values and
    # delete records are counted all the same.
    (some_table,) = [t for name, t in info.tables.items() if name.endswith((".t", ".d"))]
    decoder = native.TableDecoder(some_table.to_json(), "compat")
    for write, default in _pairs(info):
        scan = native.SstScan(
            info.root / write.name,
            [decoder],
            batch_rows=7,
            default_sst=info.root / default.name if default else None,
            checksums=True,
        )
        assert scan.checksums() is None  # not before the end
        rows = sum(batch.num_rows for _, batch in scan)
        got = scan.checksums()
        assert got is not None
        assert got["write"] == (write.crc64xor, write.total_kvs, write.total_bytes), write.name
        if default is None:
            assert "default" not in got
        else:
            assert got["default"] == (default.crc64xor, default.total_kvs, default.total_bytes)
        assert scan.table_rows() == [rows]
        assert scan.stats()["rows"] == rows


def test_scan_checksums_off_by_default(backup: BackupInfo) -> None:
    write, _ = _pairs(backup)[0]
    decoder = native.TableDecoder(backup.tables["v.t"].to_json(), "compat")
    scan = native.SstScan(backup.root / write.name, [decoder], batch_rows=8)
    list(scan)
    assert scan.checksums() is None


# --- the export ------------------------------------------------------------------------


def test_untampered_backup_verifies_every_file(backup: BackupInfo, tmp_path: Path) -> None:
    result = _export(backup, tmp_path / "out")
    downloaded = [d for d in backup.data_files if b"_i" not in d.file.start_key[9:11]]
    assert result.verified_files == len(downloaded)
    assert result.unverifiable_files == 0
    assert result.rows_by_table() == {"v.t": 60, "v.u": 2}


def test_flipped_byte_in_a_row_value_fails_the_task(backup: BackupInfo, tmp_path: Path) -> None:
    file, actual = _flip_row_byte(backup)
    with pytest.raises(VerificationError) as caught:
        _export(backup, tmp_path / "out")
    message = str(caught.value)
    assert file.name in message
    assert "v.t" in message
    assert _figures(file) in message
    assert _figures(actual) in message
    assert caught.value.file == file.name


def test_removed_kv_fails_the_task(backup: BackupInfo, tmp_path: Path) -> None:
    file = _target(backup)
    raw_key = record_key(_table_id(backup, "v.t"), 33)

    def drop(entries: Entries) -> Entries:
        del entries[_entry_of(entries, raw_key)]
        return entries

    _rewrite(backup, file, drop)
    with pytest.raises(VerificationError, match=f"total_kvs={file.total_kvs - 1} "):
        _export(backup, tmp_path / "out")


def test_tampered_default_cf_value_fails_the_task(backup: BackupInfo, tmp_path: Path) -> None:
    file = _target(backup, "default")

    def flip(entries: Entries) -> Entries:
        key, value = entries[0]
        entries[0] = (key, value[:-1] + bytes([value[-1] ^ 0x01]))
        return entries

    _rewrite(backup, file, flip)
    with pytest.raises(VerificationError) as caught:
        _export(backup, tmp_path / "out")
    assert caught.value.file == file.name


def test_a_row_lost_before_parquet_fails_the_task(
    backup: BackupInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ParquetFileWriter.write

    def lossy(self: ParquetFileWriter, batch: pa.RecordBatch) -> None:
        original(self, batch.slice(1))

    monkeypatch.setattr(ParquetFileWriter, "write", lossy)
    with pytest.raises(VerificationError, match=r"rows: backup says (\d+) rows decoded") as caught:
        _export(backup, tmp_path / "out")
    assert caught.value.what == "rows"
    assert not list((tmp_path / "out").rglob("*.parquet"))


def test_verify_none_lets_the_tampered_file_through(backup: BackupInfo, tmp_path: Path) -> None:
    _flip_row_byte(backup)
    result = _export(backup, tmp_path / "out", verify="none")
    assert result.rows_by_table() == {"v.t": 60, "v.u": 2}
    assert "verified_files" not in result.scan_stats


def test_files_without_checksums_are_unverifiable(backup: BackupInfo, tmp_path: Path) -> None:
    meta = brpb_pb2.BackupMeta.FromString((backup.root / "backupmeta").read_bytes())
    for f in meta.files:
        f.crc64xor = f.total_kvs = f.total_bytes = 0
    (backup.root / "backupmeta").write_bytes(meta.SerializeToString())
    _flip_row_byte(backup)  # cannot be caught without a recorded checksum
    result = _export(backup, tmp_path / "out")
    downloaded = [d for d in backup.data_files if b"_i" not in d.file.start_key[9:11]]
    assert result.verified_files == 0
    assert result.unverifiable_files == len(downloaded)


def test_table_checksums_off_still_verifies_files(tmp_path: Path) -> None:
    info = write_backup(tmp_path / "b", _spec(table_checksums=False))
    result = _export(info, tmp_path / "out")
    assert result.verified_files > 0
    assert result.unverifiable_files == 0


def test_verify_option_is_checked() -> None:
    with pytest.raises(ValueError, match="verify must be one of"):
        br_parquet.ExportOptions(verify="all")  # type: ignore[arg-type]


def test_cli_exits_1_and_leaves_nothing_of_the_task(backup: BackupInfo, tmp_path: Path) -> None:
    file, actual = _flip_row_byte(backup)
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "br_parquet.cli",
            "--input",
            str(backup.root),
            "--output",
            str(out),
            "--sst-concurrency",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 5, done.stderr
    assert file.name in done.stderr
    assert "v.t" in done.stderr
    assert _figures(file) in done.stderr
    assert _figures(actual) in done.stderr
    stem = Path(file.name).name.removesuffix(".sst")
    leftovers = [p for p in out.rglob("*") if p.is_file() and stem in str(p)]
    assert leftovers == []
    # Other tasks may have finished; none of their objects came from the tampered file.
    for parquet in out.rglob("*.parquet"):
        assert pq.read_metadata(parquet).num_rows > 0
        assert stem not in parquet.name


# --- `--verify tables` ------------------------------------------------------------------


def _index_files(info: BackupInfo) -> list[brpb_pb2.File]:
    return [d.file for d in info.data_files if d.file.start_key[9:11] == b"_i"]


def test_tables_checks_every_table_and_its_index_files(backup: BackupInfo, tmp_path: Path) -> None:
    assert _index_files(backup)
    result = _export(backup, tmp_path / "out", verify="tables")
    assert result.verified_tables == 2
    assert result.scan_stats["unverifiable_tables"] == 0
    assert result.verified_files == len(backup.data_files)  # index files too
    assert result.rows_by_table() == {"v.t": 60, "v.u": 2}


def test_tables_catches_a_data_file_missing_from_backupmeta(
    backup: BackupInfo, tmp_path: Path
) -> None:
    gone = {_target(backup).name, _target(backup, "default").name}
    meta = brpb_pb2.BackupMeta.FromString((backup.root / "backupmeta").read_bytes())
    kept = [f for f in meta.files if f.name not in gone]
    del meta.files[:]
    meta.files.extend(kept)
    (backup.root / "backupmeta").write_bytes(meta.SerializeToString())
    # Each remaining file is intact: only the table checksum notices 20 missing rows.
    assert _export(backup, tmp_path / "files").rows_by_table()["v.t"] == 40
    out = tmp_path / "tables"
    with pytest.raises(VerificationError, match=r"table v\.t.*table checksum") as caught:
        _export(backup, out, verify="tables")
    expected = backup.table_checksums["v.t"]
    assert _figures(expected) in str(caught.value)
    assert not list(out.rglob("*.parquet"))  # checked before any task ran


def test_tables_catches_a_tampered_index_file(backup: BackupInfo, tmp_path: Path) -> None:
    file = _index_files(backup)[0]

    def flip(entries: Entries) -> Entries:
        key, record = entries[0]
        entries[0] = (key, record[:-1] + bytes([record[-1] ^ 0x01]))
        return entries

    _rewrite(backup, file, flip)
    _export(backup, tmp_path / "files")  # index files are not read with `files`
    with pytest.raises(VerificationError) as caught:
        _export(backup, tmp_path / "tables", verify="tables")
    assert caught.value.file == file.name
    assert caught.value.table == "v.t"


def test_tables_without_schema_checksums_are_unverifiable(tmp_path: Path) -> None:
    info = write_backup(tmp_path / "b", _spec(table_checksums=False))
    result = _export(info, tmp_path / "out", verify="tables")
    assert result.verified_tables == 0
    assert result.scan_stats["unverifiable_tables"] == 2


def test_tables_covers_every_partition(tmp_path: Path) -> None:
    spec = BackupSpec(
        [
            DatabaseSpec(
                "p",
                [
                    table(
                        "parted",
                        [("id", "int primary key"), ("v", "text")],
                        partition=PartitionInfo(
                            "range",
                            "id",
                            [
                                PartitionDef("p0", less_than=["10"]),
                                PartitionDef("p1", less_than=["MAXVALUE"]),
                            ],
                        ),
                        partition_rows={"p0": [(1, "a"), (2, LONG)], "p1": [(11, "b")]},
                        indexes=[index("k_v", "v")],
                        index_entries=True,
                    )
                ],
            )
        ],
    )
    info = write_backup(tmp_path / "b", spec)
    p1 = info.tables["p.parted"].partition.definitions[1].id  # type: ignore[union-attr]
    result = _export(info, tmp_path / "out", verify="tables", table_ids=[p1])
    assert result.verified_tables == 1
    assert result.verified_files == len(info.data_files)  # p0's files were checksummed too
    assert result.rows_by_table() == {"p.parted": 1}

"""Hostile input, every class: real-format backups written by `br_parquet.testing`, then
damaged one way per row, exported by the real command line.

Every row checks the exit code; that stderr carries exactly one error line, naming the
file, key (hex) or column and what was expected, and no traceback; that the damaged SST
left no Parquet object and no checkpoint entry while the SST finished before it kept a
valid object; and that once the backup is repaired, the same command resumes and
finishes the export.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from br_parquet._native import SstReader, SstScan, TableDecoder
from br_parquet.api import open_backup
from br_parquet.cli import inspect_main
from br_parquet.cli import main as cli_main
from br_parquet.errors import SstDecodeError, TableInfoError
from br_parquet.naming import sst_stem
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage_url import parse_location
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
from br_parquet.testing.codec import encode_varint
from br_parquet.testing.datum import DatumFlag
from br_parquet.testing.keys import index_key, record_key, sst_key
from br_parquet.testing.rowcodec import encode_row_v1, encode_row_v2
from br_parquet.testing.sst import write_sst
from br_parquet.testing.writecf import WriteType, encode_write

PROG = "br-parquet-export"
TABLE_ID = 100  # the writer's first table ID
ROWS = 6
LONG_ROW = 5  # its value lives in the default-CF file
START_TS = 445_063_000_000_000_000


def _backup(root: Path, meta_version: int) -> None:
    """shop.items, 6 rows in two regions (handles 1-3 and 4-6); row 5 is long."""
    write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "shop",
                    [
                        table(
                            "items",
                            [
                                ("id", "int primary key"),
                                ("name", "varchar(20)"),
                                ("note", "varchar(400)"),
                            ],
                            rows=[
                                (i, f"n{i}", "x" * (300 if i == LONG_ROW else 3))
                                for i in range(1, ROWS + 1)
                            ],
                            split_at=[4],
                        )
                    ],
                )
            ],
            meta_version=meta_version,  # type: ignore[arg-type]
            seed=7,
        ),
    )


UNCHECKED = 0
"""A v1 backup whose data files have no recorded sha256 and size (as very old BR wrote
them): damage to an SST must then be caught by RocksDB or the decoder, and repairing
the SST leaves backupmeta, and so the checkpoint's configuration, as it was."""


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The undamaged backups: v1 (files and schemas inline), v2 (child meta files) and
    `UNCHECKED`."""
    base = tmp_path_factory.mktemp("originals")
    for version in (1, 2):
        _backup(base / f"v{version}", version)
    unchecked = base / "unchecked"
    shutil.copytree(base / "v1", unchecked)
    meta = _meta(unchecked)
    for f in meta.files:
        f.ClearField("sha256")
        f.ClearField("size")
    (unchecked / "backupmeta").write_bytes(meta.SerializeToString())
    return {1: base / "v1", 2: base / "v2", UNCHECKED: unchecked}


# --- editing a backup ------------------------------------------------------------------------


def _meta(root: Path) -> brpb.BackupMeta:
    meta = brpb.BackupMeta()
    meta.ParseFromString((root / "backupmeta").read_bytes())
    return meta


def _data_files(root: Path) -> list[brpb.File]:
    files = list(_meta(root).files)
    for child in sorted(root.glob("backupmeta.datafile.*")):
        meta_file = brpb.MetaFile()
        meta_file.ParseFromString(child.read_bytes())
        files.extend(meta_file.data_files)
    return files


def _write_sst_names(root: Path) -> list[str]:
    return sorted(f.name for f in _data_files(root) if f.cf == "write")


def _bad_sst(root: Path) -> str:
    """The write-CF SST of the second region: the one the SST rows damage."""
    return _write_sst_names(root)[1]


def _file(root: Path, cf: str, index: int = 1) -> brpb.File:
    """The `index`-th data file of column family `cf`, by name (1: the second region's)."""
    return sorted((f for f in _data_files(root) if f.cf == cf), key=lambda f: f.name)[index]


Entries = list[tuple[bytes, bytes]]


def _rewrite_sst(root: Path, f: brpb.File, edit: Callable[[Entries], Entries]) -> None:
    """Rewrites SST `f` with `edit(entries)` through the project's SST writer."""
    path = root / f.name
    entries = edit([(bytes(k), bytes(v)) for k, v in SstReader(path).entries()])
    write_sst(path, sorted(entries), whole_key_filtering=f.cf == "default")


def _commit_ts(entries: Entries) -> int:
    return (1 << 64) - 1 - int.from_bytes(entries[0][0][-8:], "big")


def _set_row(handle: int, value: bytes) -> Callable[[Path], None]:
    """The write-CF record of `handle` (second region) with `value` as its short value."""

    def damage(root: Path) -> None:
        def edit(entries: Entries) -> Entries:
            key = sst_key(record_key(TABLE_ID, handle), _commit_ts(entries))
            record = encode_write(WriteType.PUT, START_TS, short_value=value)
            return [(k, record if k == key else v) for k, v in entries]

        _rewrite_sst(root, _file(root, "write"), edit)

    return damage


def _add_write_entry(
    raw_key: bytes | None, value: bytes, *, key: bytes | None = None
) -> Callable[[Path], None]:
    """Adds one entry to the second region's write-CF SST (`key` as given, else the data
    key of `raw_key`)."""

    def damage(root: Path) -> None:
        def edit(entries: Entries) -> Entries:
            full = key if key is not None else sst_key(raw_key or b"", _commit_ts(entries))
            return [*entries, (full, value)]

        _rewrite_sst(root, _file(root, "write"), edit)

    return damage


def _edit_column(column: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """Edits column `column` of shop.items' TableInfo JSON in the (v1) backupmeta."""

    def damage(root: Path) -> None:
        meta = _meta(root)
        for schema in meta.schemas:
            info = json.loads(schema.table)
            for col in info["cols"]:
                if col["name"]["O"] == column:
                    change(col)
            schema.table = json.dumps(info).encode()
        (root / "backupmeta").write_bytes(meta.SerializeToString())

    return damage


def _set_type(**values: int) -> Callable[[dict[str, Any]], None]:
    def change(col: dict[str, Any]) -> None:
        col["type"].update(values)

    return change


def _flip_block_byte(root: Path) -> None:
    """Flips a byte inside the first data block (which starts at offset 0): in an
    `UNCHECKED` backup only RocksDB's block checksum can catch it."""
    name = _bad_sst(root)
    data = bytearray((root / name).read_bytes())
    data[20] ^= 0xFF
    (root / name).write_bytes(bytes(data))


def _replace_file(
    name_of: Callable[[Path], str], content: Callable[[bytes], bytes]
) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        name = name_of(root)
        (root / name).write_bytes(content((root / name).read_bytes()))

    return damage


def _child_meta(root: Path) -> Path:
    return next(root.glob("backupmeta.datafile.*"))


def _meta_file_as_meta(root: Path) -> None:
    """A v2 child MetaFile where the BackupMeta should be."""
    (root / "backupmeta").write_bytes(_child_meta(root).read_bytes())


def _flip_child_byte(root: Path) -> None:
    data = bytearray(_child_meta(root).read_bytes())
    data[len(data) // 2] ^= 0x01
    _child_meta(root).write_bytes(bytes(data))


def _row_v2_offset_beyond_value() -> bytes:
    row = bytearray(encode_row_v2({2: b"n4", 3: b"abc"}))
    # Header (6 bytes), two 1-byte ids, then the 2-byte end offsets: the last says 999.
    row[10:12] = (999).to_bytes(2, "little")
    return bytes(row)


def _row_v1_datum_longer_than_value() -> bytes:
    # `name` as compact bytes claiming 100 bytes, with 3 present.
    lying = bytes([DatumFlag.COMPACT_BYTES]) + encode_varint(100) + b"n4!"
    return encode_row_v1([(2, lying)])


def _drop_default_value(root: Path) -> None:
    """The default-CF value of the long row moves to another start_ts: the write record
    points at a key the default-CF file does not have."""

    def edit(entries: Entries) -> Entries:
        return [(k[:-8] + (1).to_bytes(8, "big"), v) for k, v in entries]

    _rewrite_sst(root, _file(root, "default", index=0), edit)  # only region 2 has one


# --- the rows --------------------------------------------------------------------------------

SST_ROW = "sst"
"""The damage is in the second region's SST: the first region's object must survive."""
META_ROW = "meta"
"""The damage stops the run before any SST is exported."""


@dataclass(frozen=True)
class Case:
    id: str
    damage: Callable[[Path], None] | None
    code: int
    words: tuple[str, ...]
    scope: str = META_ROW
    meta_version: int = 1
    flags: tuple[str, ...] = ()
    names_bad_sst: bool = False
    key: Callable[[Path], bytes] | None = None
    """The SST key the line must name (as hex), when the damage is at one key."""
    subprocess: bool = False


def _key_of(raw: bytes) -> Callable[[Path], bytes]:
    def key(root: Path) -> bytes:
        entries = [(bytes(k), bytes(v)) for k, v in SstReader(root / _bad_sst(root)).entries()]
        return sst_key(raw, _commit_ts(entries))

    return key


_RANDOM_KEY = random.Random(11).randbytes(24)
_UNKNOWN_TYPE = encode_write(WriteType.PUT, START_TS, short_value=b"x").replace(b"P", b"X", 1)

CASES = [
    # backupmeta
    Case(
        "meta-truncated",
        _replace_file(lambda r: "backupmeta", lambda b: b[: len(b) // 2]),
        3,
        ("backupmeta", "truncated or damaged"),
    ),
    Case(
        "meta-garbage",
        _replace_file(lambda r: "backupmeta", lambda b: b"not a backup\n" * 40),
        3,
        ("backupmeta", "not ciphertext either", "damaged or not a backupmeta"),
        subprocess=True,
    ),
    Case(
        "meta-random-bytes-read-as-encrypted",
        _replace_file(lambda r: "backupmeta", lambda b: random.Random(3).randbytes(len(b))),
        2,
        ("backupmeta", "most likely encrypted", "--crypter.method"),
    ),
    Case(
        "meta-is-a-storage-backend",
        _replace_file(
            lambda r: "backupmeta",
            lambda b: brpb.StorageBackend(
                local=brpb.Local(path="/data/backup")
            ).SerializeToString(),
        ),
        3,
        ("backupmeta", "not a BackupMeta", "no cluster_id"),
    ),
    Case(
        "meta-is-a-meta-file",
        _meta_file_as_meta,
        3,
        ("backupmeta", "does not decode as a BackupMeta", "not a backupmeta"),
        meta_version=2,
    ),
    Case(
        "child-meta-bad-sha256",
        _flip_child_byte,
        3,
        ("sha256 mismatch", "meta file 'backupmeta.datafile.000000001'"),
        meta_version=2,
    ),
    Case(
        "child-meta-bad-size",
        _replace_file(lambda r: _child_meta(r).name, lambda b: b + b"\0"),
        3,
        ("backupmeta.datafile.000000001", "bytes, but backupmeta records"),
        meta_version=2,
    ),
    Case(
        "child-meta-missing",
        lambda r: _child_meta(r).unlink(),
        3,
        ("backupmeta.datafile.000000001", "listed in backupmeta but missing"),
        meta_version=2,
    ),
    # data SST files
    Case(
        "sst-missing",
        lambda r: (r / _bad_sst(r)).unlink(),
        3,
        ("not found", "backupmeta lists it as a data file"),
        scope=SST_ROW,
        names_bad_sst=True,
    ),
    Case(
        "sst-truncated",
        _replace_file(_bad_sst, lambda b: b[: len(b) // 2]),
        3,
        ("size mismatch", "expected"),
        scope=SST_ROW,
        names_bad_sst=True,
    ),
    Case(
        "sst-zero-bytes",
        _replace_file(_bad_sst, lambda b: b""),
        3,
        ("not a readable RocksDB SST",),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
    ),
    Case(
        "sst-not-rocksdb",
        _replace_file(_bad_sst, lambda b: b"%PDF-1.7\n" * 300),
        3,
        ("not a readable RocksDB SST", "magic"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        subprocess=True,
    ),
    Case(
        "sst-bad-block-checksum",
        _flip_block_byte,
        3,
        ("not a readable RocksDB SST", "checksum mismatch"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
    ),
    # SST content
    Case(
        "key-random-bytes",
        _add_write_entry(None, b"P\x01", key=_RANDOM_KEY),
        3,
        ("not a TiKV data key", "expected 'z' + memcomparable raw key"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=lambda r: _RANDOM_KEY,
    ),
    Case(
        "key-of-another-table",
        _add_write_entry(
            record_key(TABLE_ID + 7, 1), encode_write(WriteType.PUT, START_TS, short_value=b"\x80")
        ),
        3,
        ("outside the file's range", "expected every key of the file inside it"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=_key_of(record_key(TABLE_ID + 7, 1)),
    ),
    Case(
        "key-before-the-file-range",
        _add_write_entry(
            record_key(TABLE_ID, 1), encode_write(WriteType.PUT, START_TS, short_value=b"\x80")
        ),
        3,
        ("outside the file's range",),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=_key_of(record_key(TABLE_ID, 1)),
    ),
    Case(
        "key-with-clustered-handle-in-int-handle-table",
        _add_write_entry(
            record_key(TABLE_ID, 4) + b"\x01",
            encode_write(WriteType.PUT, START_TS, short_value=encode_row_v2({2: b"n"})),
        ),
        3,
        ("clustered (common) handle", "table items has integer handles"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=_key_of(record_key(TABLE_ID, 4) + b"\x01"),
    ),
    Case(
        "write-record-unknown-type",
        _add_write_entry(record_key(TABLE_ID, 7), _UNKNOWN_TYPE),
        3,
        ("unknown write type byte 0x58", "expected a Put (P)"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=_key_of(record_key(TABLE_ID, 7)),
    ),
    Case(
        "row-v2-column-count-beyond-value",
        _set_row(4, bytes([0x80, 0, 200, 0, 0, 0, 1, 2])),
        3,
        ("not a valid row (format v2)", "truncated"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=_key_of(record_key(TABLE_ID, 4)),
    ),
    Case(
        "row-v2-offset-beyond-value",
        _set_row(4, _row_v2_offset_beyond_value()),
        3,
        ("not a valid row (format v2)",),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=_key_of(record_key(TABLE_ID, 4)),
        subprocess=True,
    ),
    Case(
        "row-v1-datum-longer-than-value",
        _set_row(4, _row_v1_datum_longer_than_value()),
        3,
        ("not a valid row (format v1)", "truncated datum: needs 103 bytes, 6 available"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=_key_of(record_key(TABLE_ID, 4)),
    ),
    Case(
        "default-cf-value-missing",
        _drop_default_value,
        3,
        ("Put record without a short value", "default-CF file", "which is not there"),
        scope=SST_ROW,
        meta_version=UNCHECKED,
        names_bad_sst=True,
        key=_key_of(record_key(TABLE_ID, LONG_ROW)),
    ),
    # TableInfo
    Case(
        "tableinfo-unknown-type-code",
        _edit_column("name", _set_type(Tp=0xEE)),
        3,
        ("TableInfo of table shop.items (id 100)", "column name", "unsupported type code 238"),
        subprocess=True,
    ),
    Case(
        "tableinfo-missing-field",
        _edit_column("name", lambda c: c.pop("type")),
        3,
        ("TableInfo of table shop.items (id 100)", "column name", "missing field `type`"),
    ),
    Case(
        "tableinfo-duplicate-column-id",
        _edit_column("note", lambda c: c.update(id=2)),
        3,
        ("column note", "column id 2 is also the id of column name"),
    ),
    Case(
        "tableinfo-absurd-flen",
        _edit_column("name", _set_type(Flen=2**40)),
        3,
        ("column name", "length (flen) 1099511627776 outside"),
    ),
    Case(
        "tableinfo-decimal-precision-1000",
        _edit_column("note", _set_type(Tp=0xF6, Flen=1000, Decimal=2)),
        3,
        ("column note", "DECIMAL precision 1000 outside 1..=65"),
    ),
    # command line
    Case(
        "filter-syntax",
        None,
        2,
        ("stray characters after table pattern",),
        flags=("--filter", "shop.items.x"),
    ),
    Case(
        "storage-url",
        None,
        2,
        ("invalid storage 'ftp://x/y'", "expected a local path"),
        flags=("--output", "ftp://x/y"),
    ),
    Case(
        "storage-base64",
        None,
        2,
        ("invalid storage '<base64 value", "not standard base64"),
        flags=("--output-storage-base64", "!!!"),
    ),
]


def _export(
    case: Case, backup: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    argv = ["--input", str(backup), "--sst-concurrency", "1", "--no-progress"]
    if "--output" not in case.flags and "--output-storage-base64" not in case.flags:
        argv += ["--output", str(out)]
    argv += case.flags
    if case.subprocess:
        done = subprocess.run(
            [sys.executable, "-m", "br_parquet.cli", *argv], capture_output=True, text=True
        )
        return done.returncode, done.stderr
    capsys.readouterr()
    code = cli_main(argv)
    return code, capsys.readouterr().err


def _error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith(f"{PROG}: error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return errors[0]


def _checkpoint_mentions(out: Path, sst: str) -> bool:
    checkpoint = out / "parquet" / "_checkpoint"
    return any(sst in p.read_text(errors="replace") for p in checkpoint.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(
    case: Case, originals: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup, out = tmp_path / "backup", tmp_path / "out"
    shutil.copytree(originals[case.meta_version], backup)
    good_sst, bad_sst = _write_sst_names(backup)
    if case.damage is not None:
        case.damage(backup)
    code, stderr = _export(case, backup, out, capsys)

    line = _error_line(stderr)
    assert code == case.code, stderr
    for word in case.words:
        assert word in line, line
    if case.names_bad_sst:
        assert bad_sst in line, line
    if case.key is not None:
        assert f"key {case.key(backup).hex()}" in line, line

    objects = sorted(out.rglob("*.parquet"))
    if case.scope == SST_ROW:
        # The first SST finished before the damaged one: its object stays, complete.
        assert [p.name for p in objects] == [f"{sst_stem(good_sst).rsplit('/', 1)[-1]}.parquet"]
        assert pq.read_table(objects[0]).column("id").to_pylist() == [1, 2, 3]
        assert _checkpoint_mentions(out, good_sst)
    else:
        assert objects == []
    assert not any(sst_stem(bad_sst) in p.name for p in objects)
    assert not _checkpoint_mentions(out, bad_sst)

    if case.damage is not None:
        # Repaired, the same command resumes and completes the export.
        shutil.rmtree(backup)
        shutil.copytree(originals[case.meta_version], backup)
        code = cli_main(
            [
                "--input",
                str(backup),
                "--output",
                str(out),
                "--sst-concurrency",
                "1",
                "--no-progress",
            ]
        )
        printed = capsys.readouterr().out
        assert code == 0, printed
        reused = 1 if case.scope == SST_ROW else 0
        assert f"objects: {reused} reused" in printed, printed
        ids = sorted(i for p in out.rglob("*.parquet") for i in pq.read_table(p)["id"].to_pylist())
        assert ids == list(range(1, ROWS + 1))


def test_json_logs_carry_the_error_as_one_json_line(
    originals: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(originals[UNCHECKED], backup)
    _flip_block_byte(backup)
    code = cli_main(
        [
            "--input",
            str(backup),
            "--output",
            str(tmp_path / "out"),
            "--sst-concurrency",
            "1",
            "--log-format",
            "json",
        ]
    )
    assert code == 3
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    errors = [d for d in lines if d["msg"].startswith(f"{PROG}: error:")]
    assert len(errors) == 1 and errors[0]["level"] == "error"
    assert errors[0]["msg"].startswith(f"{PROG}: error: {_bad_sst(backup)}: not a readable")
    assert "exception" not in errors[0]


def test_debug_level_adds_the_traceback(
    originals: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(originals[UNCHECKED], backup)
    _flip_block_byte(backup)
    code = cli_main(
        [
            "--input",
            str(backup),
            "--output",
            str(tmp_path / "out"),
            "--log-level",
            "debug",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3
    assert "Traceback" in err and "SstReadError" in err
    assert err.rstrip().splitlines()[-1].startswith(f"{PROG}: error: ")


# --- every unknown write-CF tag, through the native scan ----------------------------------


def _scan_error(tmp_path: Path, entries: Entries) -> SstDecodeError:
    path = tmp_path / "w.sst"
    write_sst(path, sorted(entries), whole_key_filtering=False)
    decoder = TableDecoder(
        json.dumps(
            {
                "id": TABLE_ID,
                "name": {"O": "t", "L": "t"},
                "pk_is_handle": True,
                "cols": [
                    {
                        "id": 1,
                        "name": {"O": "id", "L": "id"},
                        "offset": 0,
                        "state": 5,
                        "type": {"Tp": 3, "Flag": 3, "Flen": 11, "Decimal": 0},
                    }
                ],
            }
        ).encode(),
        "compat",
    )
    with pytest.raises(SstDecodeError) as info:
        list(SstScan(path, [decoder], batch_rows=8, name="w.sst"))
    return info.value


def test_every_unknown_write_type_byte_is_an_error(tmp_path: Path) -> None:
    key = sst_key(record_key(TABLE_ID, 1), START_TS + 5)
    for byte in sorted(set(range(256)) - set(b"PDLR")):
        value = bytes([byte]) + encode_write(WriteType.PUT, START_TS, short_value=b"\x80")[1:]
        error = _scan_error(tmp_path, [(key, value)])
        assert (error.sst, error.key, error.column) == ("w.sst", key.hex(), None)
        assert f"unknown write type byte {byte:#04x}" in error.reason


def test_every_unknown_write_field_tag_is_an_error(tmp_path: Path) -> None:
    key = sst_key(record_key(TABLE_ID, 1), START_TS + 5)
    known = encode_write(WriteType.PUT, START_TS, short_value=b"\x80")
    for tag in sorted(set(range(256)) - set(b"vRFlS")):
        error = _scan_error(tmp_path, [(key, known + bytes([tag]))])
        assert f"unknown write-CF field tag {tag:#04x}" in error.reason, error.reason
        assert error.key == key.hex()


def test_index_entries_in_a_data_file_are_skipped_and_counted(tmp_path: Path) -> None:
    """Index entries are expected in data files (BR's ranges), so they are no error."""
    path = tmp_path / "w.sst"
    index = sst_key(index_key(TABLE_ID, 1, b"\x03" + b"\x80" * 8), START_TS + 5)
    write_sst(path, [(index, encode_write(WriteType.PUT, START_TS, short_value=b"0"))])
    scan = SstScan(path, [], batch_rows=8, name="w.sst")
    assert list(scan) == []
    assert scan.stats()["index_kvs"] == 1


# --- other entry points ------------------------------------------------------------------------


def test_api_and_inspect_name_the_bad_table(
    originals: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(originals[1], backup)
    _edit_column("name", _set_type(Tp=0xEE))(backup)
    with open_backup(parse_location(str(backup))) as opened:
        (items,) = opened.tables()  # listed, so a notebook can see it is there
        with pytest.raises(TableInfoError) as info:
            items.columns  # noqa: B018
    error = info.value
    assert (error.db, error.table, error.table_id, error.column) == ("shop", "items", 100, "name")
    assert inspect_main(["--input", str(backup)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("br-parquet inspect: error: TableInfo of table shop.items (id 100)")


def test_a_bad_table_outside_the_filter_does_not_stop_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    from br_parquet.testing.smoke import smoke_backup

    backup = tmp_path / "backup"
    write_backup(backup, replace(smoke_backup(), meta_version=1))
    meta = _meta(backup)
    bad = next(s for s in meta.schemas if s.table)
    info = json.loads(bad.table)
    info["cols"][0]["type"]["Tp"] = 0xEE
    bad.table = json.dumps(info).encode()
    (backup / "backupmeta").write_bytes(meta.SerializeToString())
    db = json.loads(bad.db)["db_name"]["O"]
    name = f"{db}.{info['name']['O']}"

    out = tmp_path / "out"
    flags = ["--input", str(backup), "--output", str(out), "--no-progress"]
    assert cli_main([*flags, "--filter", "*.*", "--filter", f"!{name}"]) == 0
    written = {p.parent.name for p in out.rglob("*.parquet") if "_checkpoint" not in p.parts}
    assert written and info["name"]["O"] not in written
    capsys.readouterr()

    assert cli_main([*flags, "--filter", name]) == 3
    err = capsys.readouterr().err
    assert f"TableInfo of table {name} (id {info['id']})" in err
    assert "unsupported type code 238" in err

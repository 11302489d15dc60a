"""One error hierarchy: every class's exit code, `exit_code_of` for any exception, errors
raised by the native core as `BrParquetError`s with their SST, key and column, errors
that survive pickling (process pools), and the command line's one error line."""

from __future__ import annotations

import inspect
import json
import pickle
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from br_parquet import errors
from br_parquet._native import SstReader, SstScan, TableDecoder, write_sst
from br_parquet.cli import FailureReport, inspect_main
from br_parquet.cli import main as cli_main
from br_parquet.errors import (
    BackupMetaError,
    BrParquetError,
    CheckpointMismatchError,
    ChecksumMismatchError,
    CipherConfigError,
    EncryptedMetaError,
    FilterError,
    IcebergConfigError,
    IcebergError,
    IcebergTableConflictError,
    InternalError,
    Interrupted,
    InvalidStorageUrlError,
    MissingInputError,
    NameCollisionError,
    NoTablesSelectedError,
    ObjectNotFoundError,
    SizeMismatchError,
    SstDecodeError,
    SstReadError,
    StorageError,
    TableInfoError,
    TableNotFoundError,
    UnknownTableIdsError,
    UnsupportedBackupError,
    UnsupportedStorageError,
    UsageError,
    VerificationError,
    exit_code_of,
    message_of,
)
from br_parquet.testing.keys import record_key, sst_key
from br_parquet.testing.writecf import WriteType, encode_write

CONTRACT = {0, 1, 2, 3, 4, 5, 130, 143}

EXAMPLES: list[tuple[BaseException, int]] = [
    (UsageError("bad flag"), 2),
    (FilterError("<cmdline>", 1, "stray characters"), 2),
    (InvalidStorageUrlError("ftp://x", "unknown scheme"), 2),
    (UnsupportedStorageError("hdfs://x", "not supported"), 2),
    (CipherConfigError("unknown method"), 2),
    (EncryptedMetaError("backupmeta", "encrypted"), 2),
    (NoTablesSelectedError(["a.*"], [], ["b.c"]), 2),
    (UnknownTableIdsError([9]), 2),
    (TableNotFoundError("a.b", ["c.d"]), 2),
    (CheckpointMismatchError("m.json", directory="d", changes=["x"]), 2),
    (BackupMetaError("backupmeta", "truncated"), 3),
    (UnsupportedBackupError("backupmeta", "RawKV"), 3),
    (ChecksumMismatchError("f", expected=b"\1", actual=b"\2"), 3),
    (SizeMismatchError("f.sst", expected=10, actual=5), 3),
    (MissingInputError("f.sst", location="local:///b"), 3),
    (SstReadError("f.sst", "Corruption: bad magic"), 3),
    (SstDecodeError("f.sst", "truncated", "7a74", "c"), 3),
    (TableInfoError("t", "unsupported type", 5, "c", "db"), 3),
    (NameCollisionError("two tables share a folder"), 3),
    (IcebergConfigError("sqlite:///c.db", "cannot open it"), 2),
    (IcebergTableConflictError("sqlite:///c.db", "holds a newer backup", table="ns.t"), 2),
    (IcebergError("rest+http://h", "ConnectionError: refused"), 4),
    (errors.ExecutorError("cannot reach the Dask scheduler at tcp://h:8786: refused"), 4),
    (StorageError("PUT failed", name="x"), 4),
    (ObjectNotFoundError("x"), 4),
    (OSError(28, "No space left on device"), 4),
    (PermissionError(13, "Permission denied"), 4),
    (VerificationError("f.sst", "a.b", "rows", expected="2", actual="1"), 5),
    (Interrupted("SIGINT"), 130),
    (Interrupted("SIGTERM"), 143),
    (KeyboardInterrupt(), 130),
    (InternalError("internal error (KeyError: 'x')"), 1),
    (ValueError("a bug"), 1),
    (KeyError("x"), 1),
]


@pytest.mark.parametrize(
    ("error", "code"), EXAMPLES, ids=[f"{type(e).__name__}-{c}" for e, c in EXAMPLES]
)
def test_exit_code_of(error: BaseException, code: int) -> None:
    assert exit_code_of(error) == code


def test_every_error_class_has_a_code_of_the_contract() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, BrParquetError)
    ]
    assert len(classes) > 20
    for cls in classes:
        assert isinstance(cls.exit_code, int) and cls.exit_code in CONTRACT, cls
    assert Interrupted.exit_code == 130
    examples = {type(e) for e, _ in EXAMPLES}
    assert {c for c in classes if c.__module__ == errors.__name__} - examples <= {
        BrParquetError,
        errors.InputError,
        errors.ExportError,
        errors.CheckpointError,
        errors.SstError,
    }


@pytest.mark.parametrize(
    "error",
    [e for e, _ in EXAMPLES if isinstance(e, BrParquetError)],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_pickling(error: BrParquetError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    assert exit_code_of(copy) == exit_code_of(error)


def test_message_of_is_one_line_and_names_internal_errors() -> None:
    assert message_of(StorageError("GET failed:\n  timeout\n")) == "GET failed: timeout"
    text = message_of(ZeroDivisionError("division by zero"))
    assert text.startswith("internal error (ZeroDivisionError: division by zero)")
    assert "--log-level debug" in text


# --- errors raised by the native core ---------------------------------------------------------

TABLE_JSON = {
    "id": 42,
    "name": {"O": "t", "L": "t"},
    "pk_is_handle": True,
    "cols": [
        {
            "id": 1,
            "name": {"O": "id", "L": "id"},
            "offset": 0,
            "state": 5,
            "type": {"Tp": 3, "Flag": 3, "Flen": 11, "Decimal": 0},
        },
        {
            "id": 2,
            "name": {"O": "v", "L": "v"},
            "offset": 1,
            "state": 5,
            "type": {"Tp": 3, "Flag": 0, "Flen": 11, "Decimal": 0},
        },
    ],
}


def test_table_decoder_raises_table_info_error() -> None:
    info = json.loads(json.dumps(TABLE_JSON))
    info["cols"][1]["type"]["Tp"] = 0xEE
    with pytest.raises(TableInfoError) as raised:
        TableDecoder(json.dumps(info).encode(), "typed")
    error = raised.value
    assert isinstance(error, BrParquetError) and exit_code_of(error) == 3
    assert (error.table, error.table_id, error.column, error.db) == ("t", 42, "v", None)
    assert "unsupported type code 238" in error.reason
    assert str(error.in_db("shop")).startswith("TableInfo of table shop.t (id 42): column v: ")
    with pytest.raises(TableInfoError, match="not valid JSON") as raised:
        TableDecoder(b"{", "compat")
    assert (raised.value.table, raised.value.table_id) == ("", None)


def test_sst_reader_raises_sst_read_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sst"
    path.write_bytes(b"\0" * 4096)
    with pytest.raises(SstReadError) as raised:
        SstReader(path)
    assert raised.value.sst == str(path)
    assert raised.value.key is None
    assert "Corruption" in raised.value.reason


def _bad_row_sst(directory: Path) -> tuple[Path, bytes]:
    key = sst_key(record_key(42, 1), 1000)
    path = directory / "w.sst"
    write_sst(path, [(key, encode_write(WriteType.PUT, 990, short_value=b"\x80\x00\x05"))])
    return path, key


def scan_bad_row(directory: str) -> None:
    """Runs in a worker process: the scan's error must cross back intact."""
    path, _ = _bad_row_sst(Path(directory))
    decoder = TableDecoder(json.dumps(TABLE_JSON).encode(), "compat")
    list(SstScan(path, [decoder], batch_rows=4, name="1/2_write.sst"))


def test_sst_scan_error_carries_sst_key_and_reason(tmp_path: Path) -> None:
    _, key = _bad_row_sst(tmp_path)
    with pytest.raises(SstDecodeError) as raised:
        scan_bad_row(str(tmp_path))
    error = raised.value
    assert (error.sst, error.key, error.column) == ("1/2_write.sst", key.hex(), None)
    assert "not a valid row (format v2)" in error.reason
    assert str(error) == f"1/2_write.sst: key {key.hex()}: {error.reason}"
    # Tasks may run in a process pool: the error reaches the parent whole.
    with ProcessPoolExecutor(1) as pool, pytest.raises(SstDecodeError) as crossed:
        pool.submit(scan_bad_row, str(tmp_path)).result()
    assert vars(crossed.value) == vars(error)


# --- the command line ---------------------------------------------------------------------------


def _one_error_line(err: str, prog: str = "br-parquet-export") -> str:
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


def test_unexpected_exceptions_are_internal_errors(capsys: pytest.CaptureFixture[str]) -> None:
    settings: dict[str, int] = {}
    try:
        settings["missing"]
    except KeyError as e:
        bug = e
    report = FailureReport("br-parquet-export", "info", "text", None)
    assert report(bug) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("br-parquet-export: error: internal error (KeyError: 'missing')")
    debug = FailureReport("br-parquet-export", "debug", "text", None)
    assert debug(bug) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "KeyError" in err
    assert err.rstrip().splitlines()[-1] == line


def test_usage_errors_of_argparse_stay_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(["--no-such-flag"])
    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("flags", "code", "words"),
    [
        (["--crypter.method", "aes256-ctr", "--crypter.key", "zz"], 2, "--crypter"),
        (["--crypter.method", "rot13"], 2, "rot13"),
        (["--log-file", "/proc/no-such-dir/run.log"], 4, "cannot write the log file"),
    ],
    ids=["crypter-key", "crypter-method", "log-file"],
)
def test_option_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], code: int, words: str
) -> None:
    argv = ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *flags]
    assert cli_main(argv) == code
    assert words in _one_error_line(capsys.readouterr().err)


def test_a_missing_backup_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--input", str(tmp_path / "none"), "--output", str(tmp_path / "o")]) == 3
    line = _one_error_line(capsys.readouterr().err)
    assert re.search(r"error: backupmeta: not found in local://", line), line
    assert inspect_main(["--input", str(tmp_path / "none")]) == 3
    _one_error_line(capsys.readouterr().err, "br-parquet inspect")

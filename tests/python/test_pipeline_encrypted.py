"""An encrypted backup (BR `--crypter.*`): metadata and SSTs AES-CTR encrypted,
each SST with its own IV in `File.cipher_iv`, `File.sha256` over the stored bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from br_parquet.cli import main as cli_main
from br_parquet.crypto import AES256_CTR, Cipher
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

KEY = bytes(range(32))


def encrypt_backup(root: Path) -> None:
    cipher = Cipher(AES256_CTR, KEY)
    meta = brpb.BackupMeta()
    meta.ParseFromString((root / "backupmeta").read_bytes())
    for f in meta.files:
        path = root / f.name
        iv = os.urandom(16)
        stored = cipher.encrypt(path.read_bytes(), iv)
        path.write_bytes(stored)
        f.cipher_iv = iv
        f.sha256 = hashlib.sha256(stored).digest()
        f.size = len(stored)
    iv = os.urandom(16)
    (root / "backupmeta").write_bytes(iv + cipher.encrypt(meta.SerializeToString(), iv))


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    root = tmp_path / "backup"
    long_note = "n" * 400  # a default-CF value, so both CF files are encrypted
    write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "secret",
                    [
                        table(
                            "t",
                            [("id", "int primary key"), ("note", "text")],
                            rows=[(1, "a"), (2, long_note)],
                        )
                    ],
                )
            ],
            meta_version=1,
        ),
    )
    encrypt_backup(root)
    return root


def test_encrypted_backup_exports_with_the_key(backup: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = cli_main(
        [
            "--input",
            str(backup),
            "--output",
            str(out),
            "--crypter.method",
            "aes256-ctr",
            "--crypter.key",
            KEY.hex(),
        ]
    )
    assert status == 0
    rows = [r for f in sorted(out.rglob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert sorted((r["id"], r["note"]) for r in rows) == [(1, "a"), (2, "n" * 400)]


def test_encrypted_backup_without_key_is_refused(
    backup: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli_main(["--input", str(backup), "--output", str(tmp_path / "out")])
    assert status != 0
    assert "--crypter" in capsys.readouterr().err


def test_wrong_key_is_an_error(backup: Path, tmp_path: Path) -> None:
    status = cli_main(
        [
            "--input",
            str(backup),
            "--output",
            str(tmp_path / "out"),
            "--crypter.method",
            "aes256-ctr",
            "--crypter.key",
            "42" * 32,
        ]
    )
    assert status != 0
    assert not list((tmp_path / "out").rglob("*.parquet")) if (tmp_path / "out").exists() else True

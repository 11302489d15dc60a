"""An encrypted backup (BR `--crypter.*`): metadata and SSTs AES-CTR encrypted,
each SST with its own IV in `File.cipher_iv`, `File.sha256` over the stored bytes.

The test backups are encrypted here with the `cryptography` AES-CTR primitives
directly, not with `br_parquet.crypto`, so the code under test decrypts bytes it did
not produce. What is encrypted, and what each sha256 covers, follows
shared/docs/formats/br-metadata.md §2.3, §2.4 and §3.5:

- `backupmeta`: IV (16 bytes) ‖ AES-CTR ciphertext of the protobuf;
- child meta files (v2): ciphertext only, IV in the pointer's `cipher_iv`, the
  pointer's `sha256` and `size` of the plaintext;
- SSTs: ciphertext, IV in `File.cipher_iv`, `File.sha256` of the stored bytes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher as AesCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes

from br_parquet.cli import main as cli_main
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

KEY = bytes(range(32))
KEYS = {"aes128-ctr": bytes(range(16)), "aes192-ctr": bytes(range(24)), "aes256-ctr": KEY}
LONG_NOTE = "n" * 400  # a default-CF value, so both CF files are encrypted
EXPECTED_ROWS = [(1, "a"), (2, LONG_NOTE)]


def aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-CTR with `iv` as the initial 128-bit big-endian counter block (BR's cipher)."""
    encryptor = AesCipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def _encrypt_sst(root: Path, f: brpb.File, key: bytes) -> None:
    path = root / f.name
    iv = os.urandom(16)
    stored = aes_ctr(key, iv, path.read_bytes())
    path.write_bytes(stored)
    f.cipher_iv = iv
    f.sha256 = hashlib.sha256(stored).digest()
    f.size = len(stored)


def _meta_file_fields(message: brpb.BackupMeta | brpb.MetaFile) -> list[brpb.MetaFile]:
    """Every MetaFile-typed field of a BackupMeta (its v2 indexes)."""
    return [value for _, value in message.ListFields() if isinstance(value, brpb.MetaFile)]


def _encrypt_index(root: Path, index: brpb.MetaFile, key: bytes) -> None:
    """Encrypts, depth first, the SSTs and child meta files an index points to."""
    for f in index.data_files:
        _encrypt_sst(root, f, key)
    for pointer in index.meta_files:
        path = root / pointer.name
        child = brpb.MetaFile()
        child.ParseFromString(path.read_bytes())
        _encrypt_index(root, child, key)
        plain = child.SerializeToString()
        iv = os.urandom(16)
        path.write_bytes(aes_ctr(key, iv, plain))
        pointer.cipher_iv = iv
        pointer.sha256 = hashlib.sha256(plain).digest()
        pointer.size = len(plain)


def encrypt_backup(root: Path, *, key: bytes = KEY) -> None:
    """Encrypts the plaintext backup at `root` in place as BR/TiKV would with `key`
    (AES-128/192/256-CTR by its length), v1 (files inline) or v2 (child meta files)."""
    meta = brpb.BackupMeta()
    meta.ParseFromString((root / "backupmeta").read_bytes())
    for f in meta.files:
        _encrypt_sst(root, f, key)
    for index in _meta_file_fields(meta):
        _encrypt_index(root, index, key)
    iv = os.urandom(16)
    (root / "backupmeta").write_bytes(iv + aes_ctr(key, iv, meta.SerializeToString()))


def _write_plain(root: Path, meta_version: int) -> list[Path]:
    info = write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "secret",
                    [
                        table(
                            "t",
                            [("id", "int primary key"), ("note", "text")],
                            rows=[(1, "a"), (2, LONG_NOTE)],
                        )
                    ],
                )
            ],
            meta_version=meta_version,  # type: ignore[arg-type]
        ),
    )
    assert len(info.data_files) == 2  # write and default CF
    assert bool(info.meta_files) == (meta_version == 2)
    return [root / d.file.name for d in info.data_files] + list(info.meta_files)


def _export(source: str, out: Path, method: str, key: bytes) -> int:
    return cli_main(
        [
            *("--input", source, "--output", str(out)),
            *("--crypter.method", method, "--crypter.key", key.hex()),
        ]
    )


def _rows(out: Path) -> list[tuple[int, str]]:
    files = sorted(out.rglob("*.parquet"))
    assert files
    return sorted((r["id"], r["note"]) for f in files for r in pq.read_table(f).to_pylist())


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    root = tmp_path / "backup"
    _write_plain(root, 1)
    encrypt_backup(root)
    return root


def test_aes_ctr_helper_matches_tidbs_test_vectors() -> None:
    # TiDB util/encrypt tests (br-metadata.md §2.4): AES-128 and AES-192 in CTR mode.
    iv = b"1234567890123456"
    assert aes_ctr(b"1234567890123456", iv, b"pingcap123").hex().upper() == "0515A36BBF3DE0DBE9DD"
    assert aes_ctr(b"123456789012345678901234", iv, b"pingcap").hex().upper() == "45A57592449893"


@pytest.mark.parametrize("meta_version", [1, 2])
@pytest.mark.parametrize("method", sorted(KEYS))
def test_encrypted_backup_exports_with_the_key(
    tmp_path: Path, method: str, meta_version: int
) -> None:
    root = tmp_path / "backup"
    plain_files = {p: p.read_bytes() for p in _write_plain(root, meta_version)}
    plain_meta = (root / "backupmeta").read_bytes()
    encrypt_backup(root, key=KEYS[method])
    # Everything was really encrypted: no stored file is its plaintext any more.
    assert (root / "backupmeta").read_bytes()[16:] != plain_meta
    for path, plain in plain_files.items():
        stored = path.read_bytes()
        assert len(stored) == len(plain) and stored != plain, path.name
    assert _export(str(root), tmp_path / "out", method, KEYS[method]) == 0
    assert _rows(tmp_path / "out") == EXPECTED_ROWS


@pytest.mark.s3
@pytest.mark.parametrize("meta_version", [1, 2])
def test_encrypted_backup_on_s3_exports_with_the_key(
    tmp_path: Path, s3_url: str, meta_version: int
) -> None:
    root = tmp_path / "backup"
    _write_plain(root, meta_version)
    encrypt_backup(root)
    storage = Storage.from_url(s3_url)
    uploaded = [p for p in sorted(root.rglob("*")) if p.is_file()]
    assert len(uploaded) == (4 if meta_version == 1 else 6)  # + backup.lock, meta files
    for path in uploaded:
        storage.put_bytes(path.relative_to(root).as_posix(), path.read_bytes())
    assert _export(s3_url, tmp_path / "out", "aes256-ctr", KEY) == 0
    assert _rows(tmp_path / "out") == EXPECTED_ROWS


def test_encrypted_backup_without_key_is_refused(
    backup: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli_main(["--input", str(backup), "--output", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert (
        "error: backupmeta: does not decode as a BackupMeta protobuf, so it is most likely "
        "encrypted (or damaged): pass --crypter.method (aes128-ctr|aes192-ctr|aes256-ctr) and "
        "--crypter.key or --crypter.key-file with the key the backup was taken with"
    ) in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("method", "key"),
    [("aes256-ctr", bytes([0x42]) * 32), ("aes128-ctr", KEY[:16])],
    ids=["wrong-key", "wrong-method"],
)
def test_wrong_key_is_an_error(
    backup: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str, key: bytes
) -> None:
    status = _export(str(backup), tmp_path / "out", method, key)
    assert status == 2
    err = capsys.readouterr().err
    assert (
        f"error: backupmeta: does not decrypt to a BackupMeta with --crypter.method {method} "
        "and the given key: the key or the method is not the one the backup was taken with"
    ) in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.parquet"))

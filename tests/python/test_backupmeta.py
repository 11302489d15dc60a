"""Loading backupmeta: real BR metadata (shared fixtures) and synthetic v1/v2 backups."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from br_parquet.backupmeta import BackupMeta, decode_backupmeta, load_backupmeta
from br_parquet.crypto import AES256_CTR, Cipher, cipher_from_options
from br_parquet.errors import (
    BackupMetaError,
    ChecksumMismatchError,
    EncryptedMetaError,
    UnsupportedBackupError,
    exit_code_of,
)
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage import Storage
from br_parquet.testing import DBInfo, table_info
from br_parquet.testing.ddl import ACTION_TRUNCATE_TABLE, truncate_table_job
from br_parquet.testing.schema import go_json

KEY_0X42 = Cipher(AES256_CTR, b"\x42" * 32)
TPCC_TABLES = {
    "customer",
    "district",
    "history",
    "item",
    "new_order",
    "order_line",
    "orders",
    "stock",
    "warehouse",
}


@pytest.fixture
def real(shared_fixtures: Path) -> Path:
    """The real third-party BR/TiDB files under `<repo>/../shared/fixtures/real`."""
    path = shared_fixtures / "real"
    if not path.is_dir():
        pytest.skip(f"real fixtures not found at {path}")
    return path


def _copy_backup(source: Path, target: Path, rename: dict[str, str] | None = None) -> Storage:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        destination = target / (rename or {}).get(entry.name, entry.name)
        shutil.copyfile(entry, destination)
        os.chmod(destination, 0o644)
    return Storage.from_url(str(target))


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# --- real BR metadata ------------------------------------------------------------------------


def test_v1_full_schema(real: Path, tmp_path: Path) -> None:
    source = real / "tidb-br-show-testdata" / "full-schema.meta"
    root = tmp_path / "backup"
    root.mkdir()
    shutil.copyfile(source, root / "backupmeta")
    meta = load_backupmeta(Storage.from_url(str(root)))
    assert meta.meta_version == 0
    assert meta.cluster_id == 7211076907329653533
    assert meta.end_version == 440689413714870273
    assert meta.start_version == 0 and not meta.is_incremental
    assert meta.cluster_version == '"7.1.0-alpha"\n'
    assert meta.br_version.startswith("BR\nRelease Version: v6.7.0-alpha-305-g4a9212a209-dirty")
    assert meta.new_collations_enabled == "True"
    assert meta.api_version == 0
    assert meta.content_digest == hashlib.sha256(source.read_bytes()).digest()
    assert meta.data_files == []
    assert meta.ddls == []
    assert {s.table_name for s in meta.schemas} == TPCC_TABLES
    assert {(s.db_name, s.stored_db_name, s.db_id) for s in meta.schemas} == {("tpcc", "tpcc", 82)}
    warehouse = next(s for s in meta.schemas if s.table_name == "warehouse")
    assert warehouse.table_info is not None and warehouse.table_info["pk_is_handle"] is True
    assert warehouse.table_id == warehouse.table_info["id"]


def test_v2_schema_index(real: Path) -> None:
    meta = load_backupmeta(Storage.from_url(str(real / "tidb-br-show-testdata" / "v2")))
    assert meta.meta_version == 1
    assert meta.end_version == 440691270926467074
    assert len(meta.schemas) == 500
    assert {s.table_name for s in meta.schemas} == {f"test{i}" for i in range(1, 501)}
    assert {s.db_name for s in meta.schemas} == {"test"}
    assert meta.data_files == []


def test_v2_encrypted(real: Path) -> None:
    storage = Storage.from_url(str(real / "tidb-br-show-testdata" / "v2-enc"))
    with pytest.raises(EncryptedMetaError, match=r"--crypter\.method") as info:
        load_backupmeta(storage)
    assert info.value.path == "backupmeta"
    assert "--crypter.key" in str(info.value)

    meta = load_backupmeta(storage, cipher=cipher_from_options("aes256-ctr", key="42" * 32))
    assert meta.end_version == 440718381550141444
    assert {s.table_name for s in meta.schemas} == TPCC_TABLES
    raw = (real / "tidb-br-show-testdata" / "v2-enc" / "backupmeta").read_bytes()
    assert meta.content_digest == hashlib.sha256(raw).digest()

    with pytest.raises(EncryptedMetaError, match="key or the method is not the one"):
        load_backupmeta(storage, cipher=Cipher(AES256_CTR, b"\x41" * 32))


def test_key_for_a_plaintext_backup_is_refused(real: Path) -> None:
    storage = Storage.from_url(str(real / "tidb-br-show-testdata" / "v2"))
    with pytest.raises(
        BackupMetaError, match=r"is not encrypted, but --crypter\.method aes256-ctr"
    ):
        load_backupmeta(storage, cipher=KEY_0X42)


@pytest.mark.parametrize(("folder", "cipher"), [("v2", None), ("v2-enc", KEY_0X42)])
def test_flipped_byte_in_child_meta_file(
    real: Path, tmp_path: Path, folder: str, cipher: Cipher | None
) -> None:
    storage = _copy_backup(real / "tidb-br-show-testdata" / folder, tmp_path / folder)
    child = tmp_path / folder / "backupmeta.schema.000000001"
    _flip_byte(child, 1000)
    with pytest.raises(ChecksumMismatchError) as info:
        load_backupmeta(storage, cipher=cipher)
    assert info.value.name == "backupmeta.schema.000000001"
    assert "backupmeta.schema.000000001" in str(info.value)
    assert info.value.expected != info.value.actual


def test_truncated_and_missing_child(real: Path, tmp_path: Path) -> None:
    storage = _copy_backup(real / "tidb-br-show-testdata" / "v2", tmp_path / "v2")
    child = tmp_path / "v2" / "backupmeta.schema.000000001"
    child.write_bytes(child.read_bytes()[:-10])
    with pytest.raises(
        BackupMetaError, match="is 671344 bytes, but backupmeta records 671354"
    ) as e:
        load_backupmeta(storage)
    assert e.value.path == "backupmeta.schema.000000001"
    child.unlink()
    with pytest.raises(BackupMetaError, match="listed in backupmeta but missing") as e:
        load_backupmeta(storage)
    assert e.value.path == "backupmeta.schema.000000001"


def test_ebs_snapshot_metadata_is_rejected(real: Path) -> None:
    storage = Storage.from_url(str(real / "tidb-br-ebs-backupmeta"))
    with pytest.raises(UnsupportedBackupError, match=r"EBS volume-snapshot .*aws-ebs"):
        load_backupmeta(storage)


# --- `br debug decode` JSON of real backupmetas -----------------------------------------------


def _file_from_json(entry: dict[str, Any]) -> brpb.File:
    return brpb.File(
        name=entry.get("name", ""),
        sha256=bytes.fromhex(entry.get("sha256", "")),
        start_key=bytes.fromhex(entry.get("start_key", "")),
        end_key=bytes.fromhex(entry.get("end_key", "")),
        start_version=entry.get("start_version", 0),
        end_version=entry.get("end_version", 0),
        crc64xor=entry.get("crc64xor", 0),
        total_kvs=entry.get("total_kvs", 0),
        total_bytes=entry.get("total_bytes", 0),
        cf=entry.get("cf", ""),
        size=entry.get("size", 0),
        cipher_iv=base64.b64decode(entry.get("cipher_iv", "")),
    )


def _backupmeta_from_json(document: dict[str, Any]) -> bytes:
    """Re-encode `br debug decode` output (bytes as hex / base64, JSON inline) as protobuf."""
    meta = brpb.BackupMeta(
        cluster_id=document.get("cluster_id", 0),
        cluster_version=document.get("cluster_version", ""),
        start_version=document.get("start_version", 0),
        end_version=document.get("end_version", 0),
        br_version=document.get("br_version", ""),
        is_raw_kv=document.get("is_raw_kv", False),
        new_collations_enabled=document.get("new_collations_enabled", ""),
        files=[_file_from_json(f) for f in document.get("files", [])],
        raw_ranges=[brpb.RawRange(cf=r.get("cf", "")) for r in document.get("raw_ranges", [])],
    )
    if "ddls" in document:
        meta.ddls = json.dumps(document["ddls"]).encode()
    for schema in document.get("schemas", []):
        meta.schemas.append(
            brpb.Schema(
                db=json.dumps(schema["db"]).encode(),
                table=json.dumps(schema["table"]).encode() if "table" in schema else b"",
                crc64xor=schema.get("crc64xor", 0),
                total_kvs=schema.get("total_kvs", 0),
                total_bytes=schema.get("total_bytes", 0),
            )
        )
    return meta.SerializeToString()


def _storage_with_json_meta(real: Path, tmp_path: Path, name: str) -> Storage:
    document = json.loads((real / "tidb-br-json-test" / name).read_text())
    storage = Storage.from_url(str(tmp_path / "backup"))
    storage.put_bytes("backupmeta", _backupmeta_from_json(document))
    return storage


def test_json_clustered_write_sst(real: Path, tmp_path: Path) -> None:
    storage = _storage_with_json_meta(
        real, tmp_path, "testMetaJSONs_0_v5.0.0_clustered_write_sst.json"
    )
    meta = load_backupmeta(storage)
    assert [(f.cf, f.total_kvs, f.size) for f in meta.data_files] == [("write", 1, 1423)]
    assert meta.data_files[0].start_key.hex() == "7480000000000000365f720000000000000000"
    (schema,) = meta.schemas
    assert (schema.db_name, schema.table_name, schema.table_id) == ("test", "test", 54)
    assert schema.table_info is not None and schema.table_info["is_common_handle"] is True
    assert schema.has_checksum and schema.total_kvs == 1


def test_json_rawkv_is_rejected(real: Path, tmp_path: Path) -> None:
    storage = _storage_with_json_meta(real, tmp_path, "testMetaJSONs_1_v5.0.0_rawkv.json")
    with pytest.raises(UnsupportedBackupError, match="RawKV"):
        load_backupmeta(storage)


def test_json_db_only_schema(real: Path, tmp_path: Path) -> None:
    storage = _storage_with_json_meta(
        real, tmp_path, "testMetaJSONs_2_v6.1.0_encrypted_db_only.json"
    )
    meta = load_backupmeta(storage)
    (schema,) = meta.schemas
    assert (schema.db_name, schema.table_name, schema.table_info, schema.table_id) == (
        "test",
        None,
        None,
        None,
    )
    assert not schema.has_checksum
    assert len(meta.data_files[0].cipher_iv) == 16
    assert meta.new_collations_enabled == "True"


def test_json_backupmeta_file_is_rejected(real: Path, tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path))
    text = real / "tidb-br-json-test" / "testMetaJSONs_0_v5.0.0_clustered_write_sst.json"
    storage.put_bytes("backupmeta", text.read_bytes())
    with pytest.raises(BackupMetaError, match="br debug encode"):
        load_backupmeta(storage)


# --- synthetic backups -------------------------------------------------------------------------


def _db_json(name: str, db_id: int = 1) -> bytes:
    return json.dumps({"id": db_id, "db_name": {"O": name, "L": name.lower()}}).encode()


def _table_json(name: str, table_id: int) -> bytes:
    return json.dumps({"id": table_id, "name": {"O": name, "L": name.lower()}}).encode()


def _data_file(name: str) -> brpb.File:
    return brpb.File(name=name, sha256=hashlib.sha256(name.encode()).digest(), cf="write")


def _base_meta(**fields: Any) -> brpb.BackupMeta:
    return brpb.BackupMeta(**{"cluster_id": 42, "end_version": 100, "ddls": b"[]", **fields})


class _Writer:
    """Writes child meta files the way BR does (plaintext sha256, optional encryption)."""

    def __init__(self, storage: Storage, cipher: Cipher | None = None) -> None:
        self.storage = storage
        self.cipher = cipher
        self.sequence = 0

    def child(self, kind: str, content: brpb.MetaFile) -> brpb.File:
        self.sequence += 1
        name = f"backupmeta.{kind}.{self.sequence:09d}"
        plain = content.SerializeToString()
        pointer = brpb.File(name=name, sha256=hashlib.sha256(plain).digest(), size=len(plain))
        stored = plain
        if self.cipher is not None:
            pointer.cipher_iv = os.urandom(16)
            stored = self.cipher.encrypt(plain, pointer.cipher_iv)
        self.storage.put_bytes(name, stored)
        return pointer

    def backupmeta(self, meta: brpb.BackupMeta) -> None:
        raw = meta.SerializeToString()
        if self.cipher is not None:
            iv = os.urandom(16)
            raw = iv + self.cipher.encrypt(raw, iv)
        self.storage.put_bytes("backupmeta", raw)


@pytest.mark.parametrize("cipher", [None, KEY_0X42], ids=["plaintext", "aes256-ctr"])
def test_v1_and_v2_lists_are_merged(tmp_path: Path, cipher: Cipher | None) -> None:
    storage = Storage.from_url(str(tmp_path / "b"))
    writer = _Writer(storage, cipher)
    ddl_leaf = writer.child("ddl", brpb.MetaFile(ddls=[b'{"id": 7, "type": 3}', b'{"id": 8}']))
    data_a = writer.child("datafile", brpb.MetaFile(data_files=[_data_file("1/a_write.sst")]))
    data_b = writer.child(
        "datafile",
        brpb.MetaFile(data_files=[_data_file("1/b_write.sst"), _data_file("1/b_default.sst")]),
    )
    # An intermediate index level: BR's reader walks any depth.
    data_index = writer.child("datafile", brpb.MetaFile(meta_files=[data_b]))
    schema_leaf = writer.child(
        "schema",
        brpb.MetaFile(
            schemas=[
                brpb.Schema(
                    db=_db_json("__TiDB_BR_Temporary_mysql", 3), table=_table_json("user", 9)
                ),
                brpb.Schema(db=_db_json("__TiDB_BR_Temporary_sys", 4)),
                brpb.Schema(db=_db_json("__TiDB_BR_Temporary_other", 5)),
            ]
        ),
    )
    meta = _base_meta(
        version=1,
        start_version=50,
        files=[_data_file("1/inline_write.sst")],
        schemas=[brpb.Schema(db=_db_json("app"), table=_table_json("T1", 70), total_kvs=3)],
        file_index=brpb.MetaFile(meta_files=[data_a, data_index]),
        schema_index=brpb.MetaFile(meta_files=[schema_leaf]),
        ddl_indexes=brpb.MetaFile(meta_files=[ddl_leaf]),
    )
    writer.backupmeta(meta)
    loaded = load_backupmeta(storage, cipher=cipher)
    assert [f.name for f in loaded.data_files] == [
        "1/inline_write.sst",
        "1/a_write.sst",
        "1/b_write.sst",
        "1/b_default.sst",
    ]
    assert [(s.db_name, s.stored_db_name, s.table_name) for s in loaded.schemas] == [
        ("app", "app", "T1"),
        ("mysql", "__TiDB_BR_Temporary_mysql", "user"),
        ("sys", "__TiDB_BR_Temporary_sys", None),
        ("__TiDB_BR_Temporary_other", "__TiDB_BR_Temporary_other", None),
    ]
    assert loaded.ddls == [{"id": 7, "type": 3}, {"id": 8}]
    assert loaded.is_incremental


def test_inline_index_leaf_is_used_directly(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path))
    meta = _base_meta(version=1, file_index=brpb.MetaFile(data_files=[_data_file("1/x_write.sst")]))
    storage.put_bytes("backupmeta", meta.SerializeToString())
    assert [f.name for f in load_backupmeta(storage).data_files] == ["1/x_write.sst"]


def test_v1_ddls_are_a_json_array(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path))
    meta = _base_meta(ddls=b'[{"id": 1}, {"id": 2}]')
    storage.put_bytes("backupmeta", meta.SerializeToString())
    assert load_backupmeta(storage).ddls == [{"id": 1}, {"id": 2}]


def test_encrypted_child_without_cipher(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path))
    plain_writer, secret_writer = _Writer(storage), _Writer(storage, KEY_0X42)
    pointer = secret_writer.child("schema", brpb.MetaFile(schemas=[brpb.Schema(db=_db_json("d"))]))
    plain_writer.backupmeta(_base_meta(version=1, schema_index=brpb.MetaFile(meta_files=[pointer])))
    with pytest.raises(EncryptedMetaError, match="cipher_iv") as info:
        load_backupmeta(storage)
    assert info.value.path == pointer.name


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"is_raw_kv": True}, "RawKV backup"),
        ({"is_txn_kv": True}, "TxnKV backup"),
        ({"mode": brpb.FILE}, r"file-copy backup \(mode=FILE\)"),
    ],
)
def test_unsupported_kinds(tmp_path: Path, fields: dict[str, Any], reason: str) -> None:
    storage = Storage.from_url(str(tmp_path))
    storage.put_bytes("backupmeta", _base_meta(**fields).SerializeToString())
    with pytest.raises(UnsupportedBackupError, match=reason):
        load_backupmeta(storage)


def test_garbage_is_reported_as_encrypted(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path))
    storage.put_bytes("backupmeta", os.urandom(400))
    with pytest.raises(EncryptedMetaError, match="most likely encrypted"):
        load_backupmeta(storage)
    # Parses, but a BR-written backupmeta always has a cluster ID and a backup TS.
    storage.put_bytes("backupmeta", brpb.BackupMeta(cluster_version="x").SerializeToString())
    with pytest.raises(BackupMetaError, match="not a BackupMeta") as info:
        load_backupmeta(storage)
    assert not isinstance(info.value, EncryptedMetaError)
    with pytest.raises(BackupMetaError, match="too short"):
        decode_backupmeta(b"0123456789", cipher=KEY_0X42)


def test_missing_backupmeta(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path / "empty"))
    with pytest.raises(BackupMetaError, match=r"not found in local://.*finished BR") as info:
        load_backupmeta(storage)
    assert info.value.path == "backupmeta"
    storage.put_bytes("_meta/repo.json", b"{}")
    with pytest.raises(BackupMetaError, match="backup repository"):
        load_backupmeta(storage)


def test_unknown_fields_are_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    storage = Storage.from_url(str(tmp_path))
    # Field 22 (db_maps, PITR) is known and skipped; field 40 is new.
    raw = _base_meta().SerializeToString() + b"\xb2\x01\x00" + b"\xc0\x02\x01"
    storage.put_bytes("backupmeta", raw)
    with caplog.at_level(logging.WARNING, logger="br_parquet.backupmeta"):
        meta = load_backupmeta(storage)
    assert isinstance(meta, BackupMeta)
    assert "[40]" in caplog.text


# --- DDL jobs of incremental backups -----------------------------------------------------------


def _truncate_job() -> dict[str, Any]:
    old = table_info(100, "logs", [("id", "bigint primary key"), ("msg", "varchar(50)")])
    new = replace(old, id=107)
    return truncate_table_job(
        108, DBInfo(1, "shop"), old.id, new, schema_version=61, start_ts=1000, finished_ts=1500
    )


@pytest.mark.parametrize("cipher", [None, KEY_0X42], ids=["plaintext", "aes256-ctr"])
def test_v2_ddl_jobs_are_read_from_their_meta_files(tmp_path: Path, cipher: Cipher | None) -> None:
    storage = Storage.from_url(str(tmp_path))
    writer = _Writer(storage, cipher)
    job = _truncate_job()
    first = writer.child("ddl", brpb.MetaFile(ddls=[go_json(job)]))
    second = writer.child("ddl", brpb.MetaFile(ddls=[b'{"id": 109, "type": 4, "table_id": 103}']))
    # BR leaves `ddls` at `[]` in a v2 backupmeta; the jobs are in the index only.
    meta = _base_meta(
        version=1, start_version=50, ddl_indexes=brpb.MetaFile(meta_files=[first, second])
    )
    writer.backupmeta(meta)
    loaded = load_backupmeta(storage, cipher=cipher)
    assert loaded.ddls == [job, {"id": 109, "type": 4, "table_id": 103}]
    truncate, drop = loaded.ddl_jobs
    assert (truncate.id, truncate.type, truncate.table_id, truncate.schema_name) == (
        108,
        ACTION_TRUNCATE_TABLE,
        100,
        "shop",
    )
    assert truncate.table_info is not None and truncate.table_info["id"] == 107
    assert (truncate.schema_version, truncate.finished_ts, truncate.state) == (61, 1500, 6)
    assert truncate.query == "TRUNCATE TABLE `logs`"
    assert (drop.type, drop.table_id, drop.table_info, drop.schema_version) == (4, 103, None, 0)
    assert [(m.index, m.name) for m in loaded.meta_files] == [
        ("ddl_indexes", first.name),
        ("ddl_indexes", second.name),
    ]


def test_v1_ddls_hold_whole_jobs(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path))
    job = _truncate_job()
    storage.put_bytes("backupmeta", _base_meta(ddls=b"[" + go_json(job) + b"]").SerializeToString())
    loaded = load_backupmeta(storage)
    assert loaded.ddls == [job]
    assert [(j.id, j.table_id) for j in loaded.ddl_jobs] == [(108, 100)]


def test_damaged_ddl_meta_file(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path))
    writer = _Writer(storage)
    pointer = writer.child("ddl", brpb.MetaFile(ddls=[go_json(_truncate_job())]))
    writer.backupmeta(_base_meta(version=1, ddl_indexes=brpb.MetaFile(meta_files=[pointer])))
    _flip_byte(tmp_path / pointer.name, 40)
    with pytest.raises(ChecksumMismatchError) as info:
        load_backupmeta(storage)
    assert info.value.name == pointer.name and pointer.name in str(info.value)
    assert exit_code_of(info.value) == 3


@pytest.mark.parametrize(
    ("ddls", "reason"),
    [
        (b'{"id": 1}', r"DDL job #2 that is not valid JSON .*expected one model\.Job JSON object"),
        (b"[1, 2]", r"DDL job #2 that is a JSON array; expected a model\.Job object"),
        (b'{"id": "7", "type": 3}', r"DDL job #2 whose id is '7'; expected an integer"),
        (b'{"id": 7, "query": 5}', r"DDL job #2 whose query is 5; expected a string"),
        (
            b'{"id": 7, "binlog": []}',
            r"DDL job #2 whose binlog is a JSON array; expected an object",
        ),
        (b'{"type": 3}', r"DDL job #2 without an id"),
    ],
)
def test_malformed_v2_ddl_job(tmp_path: Path, ddls: bytes, reason: str) -> None:
    storage = Storage.from_url(str(tmp_path))
    writer = _Writer(storage)
    bad = ddls if ddls != b'{"id": 1}' else b'{"id": 1'
    pointer = writer.child("ddl", brpb.MetaFile(ddls=[b'{"id": 1}', bad]))
    writer.backupmeta(_base_meta(version=1, ddl_indexes=brpb.MetaFile(meta_files=[pointer])))
    with pytest.raises(BackupMetaError, match=reason) as info:
        load_backupmeta(storage)
    assert info.value.path == pointer.name
    assert exit_code_of(info.value) == 3


@pytest.mark.parametrize(
    ("ddls", "reason"),
    [
        (b"[{", r"ddls that are not valid JSON .*expected a JSON array of DDL jobs"),
        (b'{"id": 1}', r"ddls that are a JSON object; expected a JSON array of DDL jobs"),
        (b'[{"id": 1}, "drop"]', r"DDL job #2 that is a JSON string; expected a model\.Job"),
    ],
)
def test_malformed_v1_ddls(tmp_path: Path, ddls: bytes, reason: str) -> None:
    storage = Storage.from_url(str(tmp_path))
    storage.put_bytes("backupmeta", _base_meta(ddls=ddls).SerializeToString())
    with pytest.raises(BackupMetaError, match=reason) as info:
        load_backupmeta(storage)
    assert info.value.path == "backupmeta"

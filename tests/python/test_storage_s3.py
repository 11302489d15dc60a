"""`Storage` against a real S3-compatible server (moto) on loopback."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from br_parquet.errors import ChecksumMismatchError, ObjectNotFoundError
from br_parquet.storage import STREAM_CHUNK_SIZE, ObjectInfo, Storage

pytestmark = pytest.mark.s3

# Fail fast instead of retrying for minutes if the local server misbehaves.
CLIENT_OPTIONS = {"connect_timeout": "5s", "timeout": "60s", "read_timeout": "30s"}
RETRY_CONFIG = {"max_retries": 2, "retry_timeout": timedelta(seconds=20)}


def _storage(url: str, **kwargs: object) -> Storage:
    return Storage.from_url(url, client_options=CLIENT_OPTIONS, retry_config=RETRY_CONFIG, **kwargs)


def _bucket_root(endpoint: str, bucket: str, credentials: tuple[str, str]) -> Storage:
    key, secret = credentials
    return _storage(
        f"s3://{bucket}?endpoint={endpoint}/&access-key={key}&secret-access-key={secret}"
        "&region=us-east-1"
    )


def test_put_get_list(
    s3_url: str, s3_endpoint: str, s3_bucket: str, s3_credentials: tuple[str, str]
) -> None:
    storage = _storage(s3_url)
    storage.put_bytes("backupmeta", b"meta")
    storage.put_bytes("1/1_2_3_write.sst", b"sst-bytes")
    storage.put_bytes("backupmeta.schema.000000001", b"schema")
    # Names are joined to the prefix with `/`, as BR does.
    root = _bucket_root(s3_endpoint, s3_bucket, s3_credentials)
    assert root.get_bytes("backup/root/1/1_2_3_write.sst") == b"sst-bytes"
    assert storage.get_bytes("backupmeta") == b"meta"
    assert storage.size("1/1_2_3_write.sst") == 9
    assert storage.exists("backupmeta")
    assert not storage.exists("backup.lock")
    assert storage.list() == [
        ObjectInfo("1/1_2_3_write.sst", 9),
        ObjectInfo("backupmeta", 4),
        ObjectInfo("backupmeta.schema.000000001", 6),
    ]
    assert [o.name for o in storage.list("backupmeta.")] == ["backupmeta.schema.000000001"]
    assert [o.name for o in storage.list("1/")] == ["1/1_2_3_write.sst"]
    storage.delete("backupmeta")
    storage.delete("backupmeta")
    assert not storage.exists("backupmeta")
    with pytest.raises(ObjectNotFoundError) as info:
        storage.get_bytes("backupmeta")
    assert info.value.name == "backupmeta"
    assert s3_bucket in str(info.value)


def test_multipart_upload_and_streamed_download(s3_url: str, tmp_path: Path) -> None:
    storage = _storage(s3_url)
    data = os.urandom(12 * 1024 * 1024 + 17)  # above the multipart part size
    assert len(data) > STREAM_CHUNK_SIZE
    source = tmp_path / "part.parquet"
    source.write_bytes(data)
    storage.put_file("out/db/t/part.parquet", source)
    assert storage.size("out/db/t/part.parquet") == len(data)
    digest = hashlib.sha256(data).digest()
    target = tmp_path / "download" / "part.parquet"
    assert (
        storage.download_to(
            "out/db/t/part.parquet", target, expected_sha256=digest, expected_size=len(data)
        )
        == digest
    )
    assert target.read_bytes() == data


def test_download_checksum_mismatch(s3_url: str, tmp_path: Path) -> None:
    storage = _storage(s3_url)
    storage.put_bytes("1/a_default.sst", b"not what backupmeta says")
    with pytest.raises(ChecksumMismatchError) as info:
        storage.download_to("1/a_default.sst", tmp_path / "a.sst", expected_sha256=b"\x01" * 32)
    assert info.value.name == "1/a_default.sst"
    assert not (tmp_path / "a.sst").exists()
    assert os.listdir(tmp_path) == []


def test_credentials_from_environment(
    s3_endpoint: str,
    s3_bucket: str,
    s3_credentials: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_credentials[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_credentials[1])
    url = f"s3://{s3_bucket}/env?endpoint={s3_endpoint}&region=us-east-1"
    storage = _storage(url)
    storage.put_bytes("x", b"1")
    assert storage.get_bytes("x") == b"1"


def test_root_of_bucket(s3_endpoint: str, s3_bucket: str, s3_credentials: tuple[str, str]) -> None:
    storage = _bucket_root(s3_endpoint, s3_bucket, s3_credentials)
    storage.put_bytes("top", b"t")
    storage.put_bytes("a/b", b"ab")
    assert [o.name for o in storage.list()] == ["a/b", "top"]
    assert [o.name for o in storage.list("a/")] == ["a/b"]


def test_sha256_and_partial_uploads(s3_url: str) -> None:
    storage = _storage(s3_url)
    data = os.urandom(1000)
    storage.put_bytes("o/x.parquet", data)
    assert storage.sha256("o/x.parquet") == (hashlib.sha256(data).digest(), 1000)
    # Object stores never publish an unfinished upload: nothing to remove.
    assert storage.discard_partial_uploads("o/") == []

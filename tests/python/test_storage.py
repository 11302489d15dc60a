"""`Storage` on local disk, and the backends it refuses."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import obstore
import pytest
from obstore.exceptions import GenericError

from br_parquet.errors import (
    ChecksumMismatchError,
    ObjectNotFoundError,
    StorageError,
    UnsupportedStorageError,
)
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage import STREAM_CHUNK_SIZE, ObjectInfo, Storage


@pytest.fixture
def local(tmp_path: Path) -> Storage:
    return Storage.from_url(f"local://{tmp_path}/root")


def test_round_trip(local: Storage, tmp_path: Path) -> None:
    local.put_bytes("a/b.txt", b"hello")  # creates the root directory on first write
    assert (tmp_path / "root" / "a" / "b.txt").read_bytes() == b"hello"
    assert local.get_bytes("a/b.txt") == b"hello"
    assert local.size("a/b.txt") == 5
    assert local.exists("a/b.txt")
    assert not local.exists("a/c.txt")
    local.put_bytes("a/b.txt", b"replaced")
    assert local.get_bytes("a/b.txt") == b"replaced"
    local.delete("a/b.txt")
    local.delete("a/b.txt")  # deleting a missing object is fine
    assert not local.exists("a/b.txt")


def test_missing_root_reads_as_not_found(local: Storage) -> None:
    with pytest.raises(ObjectNotFoundError, match="does not exist") as info:
        local.get_bytes("backupmeta")
    assert info.value.name == "backupmeta"
    assert local.list() == []
    assert not local.exists("backupmeta")
    local.delete("backupmeta")


def test_list_uses_string_prefixes(local: Storage) -> None:
    for name in [
        "backupmeta",
        "backupmeta.schema.000000002",
        "backupmeta.datafile.000000001",
        "1/1_2_3_default.sst",
        "1/1_2_3_write.sst",
        "10/x.sst",
        "backup.lock",
    ]:
        local.put_bytes(name, name.encode())
    assert [o.name for o in local.list()] == sorted(
        [
            "backupmeta",
            "backupmeta.schema.000000002",
            "backupmeta.datafile.000000001",
            "1/1_2_3_default.sst",
            "1/1_2_3_write.sst",
            "10/x.sst",
            "backup.lock",
        ]
    )
    assert local.list("backupmeta.") == [
        ObjectInfo("backupmeta.datafile.000000001", 29),
        ObjectInfo("backupmeta.schema.000000002", 27),
    ]
    assert [o.name for o in local.list("1/")] == ["1/1_2_3_default.sst", "1/1_2_3_write.sst"]
    assert [o.name for o in local.list("1/1_2_3_w")] == ["1/1_2_3_write.sst"]
    assert local.list("nothing") == []


def test_get_missing_object(local: Storage) -> None:
    local.put_bytes("x", b"1")
    with pytest.raises(ObjectNotFoundError) as info:
        local.get_bytes("backupmeta")
    assert info.value.name == "backupmeta"
    assert "local://" in str(info.value)
    with pytest.raises(ObjectNotFoundError):
        local.size("nope")


def test_invalid_object_names(local: Storage) -> None:
    local.put_bytes("x", b"1")
    for name in ["../escape", "a//b"]:
        with pytest.raises(StorageError, match="invalid object name"):
            local.get_bytes(name)


def test_put_file_and_download(local: Storage, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    data = os.urandom(3 * STREAM_CHUNK_SIZE + 123)
    source.write_bytes(data)
    local.put_file("dir/big.bin", source)
    digest = hashlib.sha256(data).digest()
    target = tmp_path / "out" / "big.bin"
    assert local.download_to("dir/big.bin", target, expected_sha256=digest) == digest
    assert target.read_bytes() == data
    assert sorted(os.listdir(target.parent)) == ["big.bin"]


def test_download_checksum_mismatch(local: Storage, tmp_path: Path) -> None:
    local.put_bytes("1/x_write.sst", b"payload")
    target = tmp_path / "dl" / "x.sst"
    wrong = bytes(32)
    with pytest.raises(ChecksumMismatchError) as info:
        local.download_to("1/x_write.sst", target, expected_sha256=wrong)
    actual = hashlib.sha256(b"payload").digest()
    assert info.value.name == "1/x_write.sst"
    assert (info.value.expected, info.value.actual) == (wrong, actual)
    assert wrong.hex() in str(info.value) and actual.hex() in str(info.value)
    assert "1/x_write.sst" in str(info.value)
    assert os.listdir(target.parent) == []  # neither the target nor a partial file remain


def test_download_size_mismatch_and_missing(local: Storage, tmp_path: Path) -> None:
    local.put_bytes("x", b"12345")
    with pytest.raises(StorageError, match="expected 4 bytes, got 5"):
        local.download_to("x", tmp_path / "x", expected_size=4)
    with pytest.raises(ObjectNotFoundError):
        local.download_to("y", tmp_path / "y")
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "y").exists()


def test_download_resumes_after_a_broken_stream(
    local: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * STREAM_CHUNK_SIZE)
    local.put_bytes("big", data)
    real_get = obstore.get
    calls: list[dict[str, Any] | None] = []

    class BrokenResult:
        def __init__(self, inner: Any) -> None:
            self.meta = inner.meta
            self._inner = inner

        def stream(self, min_chunk_size: int) -> Any:
            chunks = self._inner.stream(min_chunk_size=min_chunk_size)
            yield next(chunks)
            raise GenericError("connection reset by peer")

    def flaky_get(store: Any, path: str, *, options: Any = None) -> Any:
        calls.append(options)
        result = real_get(store, path, options=options)
        return BrokenResult(result) if len(calls) == 1 else result

    monkeypatch.setattr(obstore, "get", flaky_get)
    digest = local.download_to(
        "big", tmp_path / "big", expected_sha256=hashlib.sha256(data).digest()
    )
    assert digest == hashlib.sha256(data).digest()
    assert (tmp_path / "big").read_bytes() == data
    assert calls[0] is None
    assert calls[1] is not None and calls[1]["range"] == {"offset": STREAM_CHUNK_SIZE}
    assert "if_match" in calls[1]


def test_local_put_is_atomic_for_readers(local: Storage, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    size = 64 * 1024 * 1024
    source.write_bytes(b"\xab" * size)
    final = tmp_path / "root" / "out.parquet"
    local.put_bytes("warmup", b"")  # create the root directory
    seen_sizes: set[int] = set()  # sizes of the final name seen while uploading
    staged_sizes: set[int] = set()  # sizes of the staging file (`out.parquet#<n>`) seen
    polls = 0
    started = threading.Event()
    done = threading.Event()

    def watch() -> None:
        nonlocal polls
        while not done.is_set():
            polls += 1
            with contextlib.suppress(FileNotFoundError):
                seen_sizes.add(final.stat().st_size)
            for staged in final.parent.glob("out.parquet#*"):
                with contextlib.suppress(FileNotFoundError):
                    staged_sizes.add(staged.stat().st_size)
            started.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert started.wait(timeout=10)
    try:
        local.put_file("out.parquet", source)
    finally:
        done.set()
        watcher.join(timeout=10)
    # The watcher really sampled during the upload: it saw the staging file being written
    # (so it cannot pass on an empty set of samples) ...
    assert polls > 1
    assert staged_sizes, f"no sample of the staging file in {polls} polls"
    # ... and never the final name with anything but the whole content.
    assert seen_sizes <= {size}
    assert final.stat().st_size == size
    assert not list(final.parent.glob("out.parquet#*"))
    assert [o.name for o in local.list()] == ["out.parquet", "warmup"]


@pytest.mark.slow
def test_streaming_memory_is_bounded(tmp_path: Path) -> None:
    """Upload and download a 256 MiB file in a fresh process; peak RSS must stay far below it."""
    script = textwrap.dedent(
        """
        import os, resource, sys
        from br_parquet.storage import Storage
        root, source, target = sys.argv[1:4]
        with open(source, "wb") as f:
            for _ in range(256):
                f.write(os.urandom(1024 * 1024))
        storage = Storage.from_url(root)
        storage.put_bytes("warmup", b"x")
        storage.get_bytes("warmup")
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        storage.put_file("big.bin", source)
        storage.download_to("big.bin", target)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((peak - base) // 1024)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(tmp_path / "root"),
            str(tmp_path / "src"),
            str(tmp_path / "dst"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    )
    growth_mib = int(result.stdout.strip())
    assert growth_mib < 128, f"peak RSS grew by {growth_mib} MiB for a 256 MiB transfer"


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        (brpb.StorageBackend(noop=brpb.Noop()), "noop"),
        (brpb.StorageBackend(hdfs=brpb.HDFS(remote="hdfs://nn/x")), "HDFS is not supported"),
        (
            brpb.StorageBackend(cloud_dynamic=brpb.CloudDynamic(provider_name="aws")),
            "CloudDynamic backend is no longer supported",
        ),
        (brpb.StorageBackend(), "names no backend"),
        (brpb.StorageBackend(local=brpb.Local(path="")), "empty path"),
        (
            brpb.StorageBackend(s3=brpb.S3(bucket="b", profile="dev")),
            "profiles .* are not supported",
        ),
        (
            brpb.StorageBackend(s3=brpb.S3(bucket="b", endpoint="http://h", role_arn="arn:r")),
            "web identity token",
        ),
        (
            brpb.StorageBackend(
                gcs=brpb.GCS(bucket="b", credentials_blob='{"type": "authorized_user"}')
            ),
            "'authorized_user' are not supported",
        ),
    ],
)
def test_rejected_backends(backend: brpb.StorageBackend, reason: str) -> None:
    with pytest.raises(UnsupportedStorageError, match=reason):
        Storage(backend, environ={})


def test_invalid_prefix_is_a_storage_error() -> None:
    backend = brpb.StorageBackend(s3=brpb.S3(bucket="b", prefix="a//b", endpoint="http://h"))
    with pytest.raises(StorageError, match="cannot configure storage s3://b/a//b"):
        Storage(backend)


def test_cloud_backends_build_without_network() -> None:
    s3 = Storage.from_url(
        "s3://bucket/p?endpoint=https://minio.example:9000&force-path-style=false"
        "&access-key=AK&secret-access-key=SK&region=r1&storage-class=GLACIER_IR"
    )
    assert repr(s3) == "Storage('s3://bucket/p')"
    gcs = Storage(brpb.StorageBackend(gcs=brpb.GCS(bucket="b", endpoint="http://127.0.0.1:1")))
    assert gcs.location == "gcs://b"
    azure = Storage(
        brpb.StorageBackend(
            azure_blob_storage=brpb.AzureBlobStorage(
                bucket="c", account_name="acct", access_sig="?sv=1", encryption_scope="s"
            )
        ),
        environ={},
    )
    with pytest.raises(UnsupportedStorageError, match="encryption scope"):
        azure.put_bytes("x", b"1")


def test_sha256_streams_the_object(local: Storage) -> None:
    data = os.urandom(STREAM_CHUNK_SIZE + 12345)  # more than one chunk
    local.put_bytes("big.bin", data)
    assert local.sha256("big.bin") == (hashlib.sha256(data).digest(), len(data))
    local.put_bytes("empty", b"")
    assert local.sha256("empty") == (hashlib.sha256(b"").digest(), 0)
    with pytest.raises(ObjectNotFoundError):
        local.sha256("missing")


def test_discard_partial_uploads_removes_staging_files_only(local: Storage, tmp_path: Path) -> None:
    local.put_bytes("out/db/t/a.parquet", b"a")
    local.put_bytes("other/x.parquet", b"x")
    root = tmp_path / "root"
    staged = [root / "out/db/t/a.parquet#1", root / "out/db/t/b.parquet#12"]
    kept = [root / "out/db/t/c#draft", root / "out/db/t/d#", root / "other/x.parquet#1"]
    for path in staged + kept:
        path.write_bytes(b"partial")
    # Listings already hide staging files; other readers of the directory would not.
    assert [o.name for o in local.list("out/")] == [
        "out/db/t/a.parquet",
        "out/db/t/c#draft",
        "out/db/t/d#",
    ]
    assert local.discard_partial_uploads("out/") == [
        "out/db/t/a.parquet#1",
        "out/db/t/b.parquet#12",
    ]
    assert not any(p.exists() for p in staged)
    assert all(p.exists() for p in kept)
    assert local.get_bytes("out/db/t/a.parquet") == b"a"
    assert local.discard_partial_uploads("out/") == []
    assert Storage.from_url(f"local://{tmp_path}/absent").discard_partial_uploads("") == []

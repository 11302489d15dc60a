"""Storage URL and `--*-storage-base64` parsing, checked against BR's rules (br-metadata.md §4)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from br_parquet.errors import InvalidStorageUrlError
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage_url import (
    decode_storage_base64,
    describe_backend,
    encode_storage_base64,
    parse_storage_url,
    redact_url,
)

# --- §4.3 base64 examples ----------------------------------------------------------------

BASE64_EXAMPLES = [
    ("Eg4KDC9kYXRhL2JhY2t1cA==", brpb.StorageBackend(local=brpb.Local(path="/data/backup"))),
    (
        "GhIaBmJ1Y2tldCIGcHJlZml4UAE=",
        brpb.StorageBackend(s3=brpb.S3(bucket="bucket", prefix="prefix", force_path_style=True)),
    ),
    ("CgA=", brpb.StorageBackend(noop=brpb.Noop())),
]


@pytest.mark.parametrize(("text", "backend"), BASE64_EXAMPLES)
def test_base64_examples(text: str, backend: brpb.StorageBackend) -> None:
    assert decode_storage_base64(text) == backend
    assert encode_storage_base64(backend) == text


@pytest.mark.parametrize("decorate", [lambda t: t + "\n", lambda t: f"  {t}\t\n", str.rstrip])
def test_base64_whitespace_and_padding(decorate: object) -> None:
    assert callable(decorate)
    text = "Eg4KDC9kYXRhL2JhY2t1cA=="
    expected = brpb.StorageBackend(local=brpb.Local(path="/data/backup"))
    assert decode_storage_base64(decorate(text)) == expected
    assert decode_storage_base64(decorate(text.rstrip("="))) == expected


def test_base64ify_of_parsed_url_round_trips() -> None:
    backend = parse_storage_url("s3://bucket/prefix")
    assert encode_storage_base64(backend) == "GhIaBmJ1Y2tldCIGcHJlZml4UAE="
    assert encode_storage_base64(parse_storage_url("local:///data/backup")) == BASE64_EXAMPLES[0][0]
    assert encode_storage_base64(parse_storage_url("noop://")) == "CgA="


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty value"),
        ("   \n", "empty value"),
        ("not base64!", "not standard base64"),
        ("Eg4K-C9k", "not standard base64"),  # URL-safe alphabet is not accepted
        ("Eg4KD", "not standard base64"),  # impossible length
        (base64.b64encode(b"hello world").decode(), "not a serialized StorageBackend"),
        (base64.b64encode(b"\x08\x01").decode(), "names no backend"),
    ],
)
def test_base64_garbage(text: str, reason: str) -> None:
    with pytest.raises(InvalidStorageUrlError, match=reason):
        decode_storage_base64(text)


def test_base64_error_does_not_echo_the_value() -> None:
    secret = encode_storage_base64(parse_storage_url("s3://b/p?access-key=AK&secret-access-key=SK"))
    with pytest.raises(InvalidStorageUrlError) as info:
        decode_storage_base64(secret[:-6] + "!!!!!!")
    assert secret[:10] not in str(info.value)


# --- local ----------------------------------------------------------------------------------


def test_local_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_storage_url("/data/backup").local.path == "/data/backup"
    assert parse_storage_url("/data//backup/../x/").local.path == "/data/x"
    assert parse_storage_url("rel/dir").local.path == str(tmp_path / "rel" / "dir")
    assert parse_storage_url("a+b").local.path == str(tmp_path / "a+b")
    assert parse_storage_url("local:///data/x/").local.path == "/data/x/"
    assert parse_storage_url("file:///data/a%20b").local.path == "/data/a b"
    assert parse_storage_url("LOCAL:///data/x").local.path == "/data/x"
    # Go's url.Parse takes `data` as the host and drops it.
    assert parse_storage_url("local://data/x").local.path == "/x"
    assert parse_storage_url("local:///data/x?y=1#frag").local.path == "/data/x"


def test_hdfs_and_noop() -> None:
    url = "hdfs://namenode:8020/backup+x"
    assert parse_storage_url(url) == brpb.StorageBackend(hdfs=brpb.HDFS(remote=url))
    assert parse_storage_url("noop://") == brpb.StorageBackend(noop=brpb.Noop())


# --- s3 ---------------------------------------------------------------------------------------


def test_s3_full_url() -> None:
    backend = parse_storage_url(
        "s3://bucket/some/prefix/?endpoint=http://127.0.0.1:9000/&Force_Path_Style=false"
        "&access_key=AKID&SECRET-ACCESS-KEY=a+b/c=&session-token=tok&region=us-west-2"
        "&region=ignored&storage-class=STANDARD_IA&sse=aws:kms&sse-kms-key-id=k1&acl=private"
        "&provider=ceph&role-arn=arn:aws:iam::1:role/r&external-id=ext&unknown=1"
    )
    assert backend == brpb.StorageBackend(
        s3=brpb.S3(
            bucket="bucket",
            prefix="some/prefix",
            endpoint="http://127.0.0.1:9000",
            region="us-west-2",
            access_key="AKID",
            secret_access_key="a+b/c=",  # `+` survives: BR escapes it before parsing
            session_token="tok",
            force_path_style=False,
            storage_class="STANDARD_IA",
            sse="aws:kms",
            sse_kms_key_id="k1",
            acl="private",
            provider="ceph",
            role_arn="arn:aws:iam::1:role/r",
            external_id="ext",
        )
    )


def test_s3_defaults() -> None:
    s3 = parse_storage_url("s3://bucket").s3
    assert (s3.bucket, s3.prefix, s3.force_path_style, s3.region) == ("bucket", "", True, "")
    assert parse_storage_url("S3://bucket//a//").s3.prefix == "a"


def test_s3_endpoint_trailing_slash_trimmed_once() -> None:
    assert parse_storage_url("s3://b?endpoint=https://h//").s3.endpoint == "https://h/"


@pytest.mark.parametrize(
    ("query", "path_style"),
    [
        ("", True),
        ("?force-path-style=false", False),
        ("?force-path-style=F", False),
        ("?force-path-style=0", False),
        ("?force-path-style=no", True),  # not a Go bool: ignored, default stays
        ("?force-path-style=tRuE", True),
        ("?provider=alibaba", False),
        ("?provider=netease", False),
        ("?provider=tencent", False),
        ("?provider=alibaba&force-path-style=true", False),
        ("?use-accelerate-endpoint=1", False),
        ("?provider=aws", False),
        ("?endpoint=https://s3.us-west-2.amazonaws.com", False),
        ("?role-arn=arn:aws:iam::1:role/r", False),
        ("?provider=aws&force_path_style=true", True),  # explicit setting wins for AWS
        ("?provider=minio&endpoint=http://minio:9000", True),
    ],
)
def test_s3_path_style(query: str, path_style: bool) -> None:
    assert parse_storage_url(f"s3://bucket/p{query}").s3.force_path_style is path_style


def test_ks3_sets_provider() -> None:
    s3 = parse_storage_url("ks3://bucket/p").s3
    assert (s3.bucket, s3.prefix, s3.provider) == ("bucket", "p", "ks3-sdk")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("s3:///prefix", "please specify the bucket for s3"),
        ("s3://b?endpoint=minio:9000", "host not found in endpoint"),
        ("s3://b?endpoint=/just/path", "scheme not found in endpoint"),
        ("s3://b?endpoint=127.0.0.1:9000", "first path segment in URL cannot contain colon"),
        ("s3://b?access-key=AK", "secret_access_key not found"),
        ("s3://b?secret-access-key=SK", "access_key not found"),
        ("s3://b:port/x", "invalid port"),
        ("gcs:///x", "please specify the bucket for gcs"),
        ("azure:///x", "please specify the bucket for azblob"),
        ("ftp://host/x", "storage ftp not support yet"),
        ("", "empty store is not allowed"),
        ("local:///bad%zzescape", "invalid URL escape"),
        ("local:///a\x01b", "invalid control character"),
        ("://x", "missing protocol scheme"),
    ],
)
def test_invalid_urls(url: str, reason: str) -> None:
    with pytest.raises(InvalidStorageUrlError, match=reason):
        parse_storage_url(url)


def test_profile_allows_missing_secret() -> None:
    s3 = parse_storage_url("s3://b?profile=dev&access-key=AK").s3
    assert (s3.profile, s3.access_key) == ("dev", "AK")


def test_errors_redact_credentials() -> None:
    with pytest.raises(InvalidStorageUrlError) as info:
        parse_storage_url("s3://b?endpoint=nohost:1&access-key=AKSECRET&secret_access_key=SKSECRET")
    assert "AKSECRET" not in str(info.value)
    assert "SKSECRET" not in str(info.value)
    assert redact_url("s3://b/p?access-key=A&region=r&Session_Token=T#f") == (
        "s3://b/p?access-key=redacted&region=r&Session_Token=redacted#f"
    )


# --- gcs / azure -------------------------------------------------------------------------------


def test_gcs(tmp_path: Path) -> None:
    credentials = tmp_path / "sa.json"
    credentials.write_text('{"type": "service_account"}')
    backend = parse_storage_url(
        f"gs://bucket/a/b/?endpoint=https://storage.example/&storage_class=NEARLINE"
        f"&predefined-acl=private&credentials-file={credentials}"
    )
    assert backend == brpb.StorageBackend(
        gcs=brpb.GCS(
            bucket="bucket",
            prefix="a/b",
            endpoint="https://storage.example/",
            storage_class="NEARLINE",
            predefined_acl="private",
            credentials_blob='{"type": "service_account"}',
        )
    )
    assert parse_storage_url("gcs://bucket").gcs == brpb.GCS(bucket="bucket")
    with pytest.raises(InvalidStorageUrlError, match="cannot read GCS credentials-file"):
        parse_storage_url(f"gcs://bucket?credentials-file={tmp_path / 'missing.json'}")


def test_azure() -> None:
    backend = parse_storage_url(
        "azure://container/pre/fix?account-name=acct&account_key=a+b==&access-tier=Cool"
        "&sas-token=%3Fsv%3D2020&encryption-scope=scope&endpoint=https://acct.blob.example",
        environ={},
    )
    assert backend == brpb.StorageBackend(
        azure_blob_storage=brpb.AzureBlobStorage(
            bucket="container",
            prefix="pre/fix",
            endpoint="https://acct.blob.example",
            storage_class="Cool",
            account_name="acct",
            shared_key="a+b==",
            access_sig="?sv=2020",
            encryption_scope="scope",
        )
    )
    assert parse_storage_url("azblob://c", environ={}).azure_blob_storage.bucket == "c"


def test_azure_encryption_key_from_url_or_environment() -> None:
    key = "k" * 32
    expected = brpb.AzureCustomerKey(
        encryption_key=base64.b64encode(key.encode()).decode(),
        encryption_key_sha256=base64.b64encode(hashlib.sha256(key.encode()).digest()).decode(),
    )
    from_url = parse_storage_url(f"azure://c?encryption-key={key}", environ={})
    assert from_url.azure_blob_storage.encryption_key == expected
    from_env = parse_storage_url("azure://c", environ={"AZURE_ENCRYPTION_KEY": key})
    assert from_env.azure_blob_storage.encryption_key == expected
    assert not parse_storage_url("azure://c", environ={}).azure_blob_storage.HasField(
        "encryption_key"
    )


def test_describe_backend_has_no_secrets() -> None:
    backend = parse_storage_url("s3://b/p/q?access-key=AK&secret-access-key=SK")
    assert describe_backend(backend) == "s3://b/p/q"
    assert describe_backend(parse_storage_url("/data/x")) == "local:///data/x"
    assert describe_backend(parse_storage_url("gcs://b")) == "gcs://b"
    assert describe_backend(brpb.StorageBackend()) == "<no storage backend>"


def test_environment_is_not_read_by_default_for_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
    assert parse_storage_url("s3://b").s3.access_key == ""
    assert os.environ["AWS_ACCESS_KEY_ID"] == "ENVKEY"

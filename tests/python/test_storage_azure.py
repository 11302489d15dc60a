"""Azure Blob Storage: no emulator can be installed here, so these tests check what an
Azure URL or base64 `AzureBlobStorage` backend becomes — the account, container, prefix,
endpoint and credentials that obstore's `AzureStore` is built with (read back from the
store itself) — following BR's rules: a SAS token, else the account key, else from the
environment a service principal, else `AZURE_STORAGE_KEY`."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from br_parquet.errors import UnsupportedStorageError, exit_code_of
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage import Storage, StorageSettings
from br_parquet.storage_url import decode_storage_base64, encode_storage_base64, parse_storage_url

ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1"
ACCOUNT_KEY = base64.b64encode(b"account-key-bytes").decode()
SAS = "sv=2023-01-03&ss=b&srt=co&sp=rwl&se=2030-01-01T00:00:00Z&sig=c2lnbmF0dXJl"
PRINCIPAL = {
    "AZURE_CLIENT_ID": "client-id",
    "AZURE_TENANT_ID": "tenant-id",
    "AZURE_CLIENT_SECRET": "client-secret",
}


def built(location: str | brpb.StorageBackend, environ: dict[str, str] | None = None) -> Any:
    backend = parse_storage_url(location) if isinstance(location, str) else location
    return Storage(backend, environ=environ or {}).store_config()


def test_account_key_from_the_url() -> None:
    config = built(
        f"azure://backups/full/2024?account-name=acct&account-key={ACCOUNT_KEY}&endpoint={ENDPOINT}"
    )
    assert config["kind"] == "azure"
    assert (config["bucket"], config["prefix"]) == ("backups", "full/2024")
    assert config["config"] == {
        "account_name": "acct",
        "account_key": ACCOUNT_KEY,
        "endpoint": ENDPOINT,
    }
    assert config["client_options"]["allow_http"] == "true"


def test_sas_token_comes_first() -> None:
    """A SAS token wins over the URL's account key and any key in the environment; its
    leading `?` (as the Azure portal copies it) is dropped."""
    config = built(
        f"azblob://backups?account-name=acct&sas-token=?{SAS.replace('&', '%26')}"
        f"&account-key={ACCOUNT_KEY}",
        {"AZURE_STORAGE_KEY": "ZW52", **PRINCIPAL},
    )
    assert config["bucket"] == "backups" and config["prefix"] is None
    assert config["config"] == {"account_name": "acct", "sas_key": SAS}
    assert "allow_http" not in config["client_options"]  # default endpoint: HTTPS


def test_account_and_key_from_the_environment() -> None:
    config = built(
        "azure://c/p", {"AZURE_STORAGE_ACCOUNT": "envacct", "AZURE_STORAGE_KEY": ACCOUNT_KEY}
    )
    assert config["config"] == {"account_name": "envacct", "account_key": ACCOUNT_KEY}


def test_service_principal_comes_before_the_storage_key() -> None:
    config = built("azure://c/p?account-name=acct", {"AZURE_STORAGE_KEY": ACCOUNT_KEY, **PRINCIPAL})
    assert config["config"] == {
        "account_name": "acct",
        "client_id": "client-id",
        "tenant_id": "tenant-id",
        "client_secret": "client-secret",
    }
    # An incomplete service principal is not one.
    partial = {"AZURE_STORAGE_KEY": ACCOUNT_KEY, "AZURE_CLIENT_ID": "client-id"}
    config = built("azure://c/p?account-name=acct", partial)
    assert config["config"] == {"account_name": "acct", "account_key": ACCOUNT_KEY}


def test_no_credentials_leaves_the_choice_to_obstore() -> None:
    """Without key, SAS or service principal obstore uses managed identity, as BR falls back
    to Azure's default credential chain."""
    assert built("azure://c/p?account-name=acct")["config"] == {"account_name": "acct"}


def test_an_account_name_is_required() -> None:
    with pytest.raises(UnsupportedStorageError) as info:
        built(f"azure://c/p?account-key={ACCOUNT_KEY}")
    assert "account-name" in str(info.value) and "AZURE_STORAGE_ACCOUNT" in str(info.value)
    assert exit_code_of(info.value) == 2
    assert ACCOUNT_KEY not in str(info.value)


def test_base64_backend_maps_like_the_url() -> None:
    """The `--*-storage-base64` form (`br operator base64ify`) gives the same store as the
    URL it was made from."""
    url = (
        f"azure://backups/full?account-name=acct&account-key={ACCOUNT_KEY}&endpoint={ENDPOINT}"
        "&access-tier=Cool"
    )
    decoded = decode_storage_base64(encode_storage_base64(parse_storage_url(url)))
    assert decoded.azure_blob_storage.storage_class == "Cool"
    assert built(decoded) == built(url)
    backend = brpb.StorageBackend(
        azure_blob_storage=brpb.AzureBlobStorage(
            bucket="backups", prefix="/full/", account_name="acct", access_sig="?" + SAS
        )
    )
    config = built(decode_storage_base64(encode_storage_base64(backend)))
    assert (config["bucket"], config["prefix"]) == ("backups", "full")
    assert config["config"] == {"account_name": "acct", "sas_key": SAS}


def test_customer_provided_key_and_encryption_scope() -> None:
    """`encryption-key` (or AZURE_ENCRYPTION_KEY) is sent as the customer-provided key;
    an encryption scope cannot be applied by obstore, so writes are refused up front."""
    key = "k" * 32
    backend = parse_storage_url(
        f"azure://c/p?account-name=acct&sas-token={SAS.replace('&', '%26')}&encryption-key={key}"
    )
    assert built(backend)["config"]["encryption_key"] == base64.b64encode(key.encode()).decode()
    assert backend.azure_blob_storage.encryption_key.encryption_key_sha256 == (
        base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()
    )
    scoped = Storage(
        parse_storage_url("azure://c/p?account-name=acct&encryption-scope=scope1"), environ={}
    )
    with pytest.raises(UnsupportedStorageError) as info:
        scoped.put_bytes("x", b"1")
    assert "encryption scope 'scope1'" in str(info.value)


def test_retry_and_timeout_settings_reach_the_azure_client() -> None:
    settings = StorageSettings(max_retries=4, retry_timeout=30, connect_timeout=3, timeout=60)
    storage = Storage(
        parse_storage_url(f"azure://c/p?account-name=acct&account-key={ACCOUNT_KEY}"),
        settings=settings,
        environ={},
    )
    config = storage.store_config()
    assert config["retry_config"]["max_retries"] == 4
    assert config["retry_config"]["retry_timeout"].total_seconds() == 30
    assert config["client_options"]["connect_timeout"] == "3s"
    assert config["client_options"]["timeout"] == "1m"
    assert ACCOUNT_KEY not in repr(storage) and ACCOUNT_KEY not in storage.location

"""Object storage for backups and outputs: a `StorageBackend` made usable through obstore.

`Storage` wraps one obstore store (local disk, S3, GCS or Azure Blob) rooted at the
backend's prefix; every object name is relative to that root, joined with `/` as BR
does. Reads of large objects stream in bounded chunks, uploads of large files are
multipart, and every write is atomic from a reader's point of view (object stores
publish an object only when its upload completes; the local store writes a staging
file and renames it).

Failures of object stores are retried at two levels (`StorageSettings`): obstore retries
each HTTP request (5xx answers, S3 `SlowDown`, dropped connections, timeouts) with
exponential backoff, and `Storage` repeats a whole operation that failed in a way the
client does not retry itself, such as a connection reset while a listing or an upload's
answer is read; an interrupted download resumes from the last byte received. What still
fails becomes a `StorageError` naming the object and the storage.
"""

from __future__ import annotations

import builtins
import hashlib
import http.client
import json
import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

import obstore
from obstore.exceptions import (
    AlreadyExistsError,
    InvalidPathError,
    NotFoundError,
    NotModifiedError,
    NotSupportedError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
    UnknownConfigurationKeyError,
)
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import AzureStore, GCSStore, LocalStore, S3Store

from .errors import (
    ChecksumMismatchError,
    ObjectNotFoundError,
    SizeMismatchError,
    StorageError,
    UnsupportedStorageError,
)
from .naming import contained_path
from .proto import brpb_pb2 as brpb
from .storage_url import describe_backend, parse_storage_url

if TYPE_CHECKING:
    from obstore import Attributes, GetOptions, PutResult
    from obstore.store import AzureConfig, ClientConfig, GCSConfig, RetryConfig, S3Config

    _Store = LocalStore | S3Store | GCSStore | AzureStore

_log = logging.getLogger(__name__)

STREAM_CHUNK_SIZE = 8 * 1024 * 1024
"""Size of the pieces `download_to` and `put_file` move at a time."""

UPLOAD_CONCURRENCY = 4
"""Parts of one multipart upload in flight at once (memory is about this times the part size)."""

_MAX_PARTS = 9_000  # S3 allows 10 000 parts per upload; keep a margin
_REGION_PROBE_TIMEOUT_SECONDS = 10.0
_MAX_MESSAGE_CHARS = 600
_T = TypeVar("_T")

# Errors no repetition can cure: retrying them only delays the failure.
_PERMANENT_ERRORS: tuple[type[ObstoreError], ...] = (
    AlreadyExistsError,
    InvalidPathError,
    NotFoundError,
    NotModifiedError,
    NotSupportedError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
    UnknownConfigurationKeyError,
)
# A 4xx answer is the request's fault (408 and 429 are retried by the client itself).
_CLIENT_ERROR_STATUS = re.compile(r"status code: 4\d\d\b")
# obstore says "after N retries, max_retries: M" once it has spent retries on a request.
_CLIENT_RETRIED = "max_retries:"
_MISSING_BUCKET = ("NoSuchBucket", "ContainerNotFound", "The specified bucket does not exist")
_AZURE_PRINCIPAL_VARIABLES = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET")
_GOOGLE_CREDENTIAL_VARIABLES = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
)
# A service-account key that makes obstore send requests without fetching a token.
_ANONYMOUS_GCS_KEY = json.dumps(
    {
        "type": "service_account",
        "disable_oauth": True,
        "client_email": "",
        "private_key": "",
        "private_key_id": "",
    }
)


@dataclass(frozen=True)
class StorageSettings:
    """Retries and timeouts of object-store requests (S3, GCS, Azure; reads and writes).

    Durations are in seconds. `ExportOptions` carries them as the `--storage-*` flags.

    >>> StorageSettings(max_retries=3).retry_config()["max_retries"]
    3
    """

    max_retries: int = 10
    """Retries of one request, and of one operation that failed in a way the client does
    not retry (a transfer broken while its body or answer is read)."""
    retry_timeout: float = 180.0
    """No new attempt of a request or operation starts later than this after its first."""
    retry_backoff: float = 0.1
    """The first wait between attempts; each further wait doubles, up to `retry_max_backoff`."""
    retry_max_backoff: float = 15.0
    connect_timeout: float = 10.0
    timeout: float = 3600.0
    """One whole request, body included: it must fit the largest object's transfer."""
    read_timeout: float = 120.0
    """No byte for this long fails the request (a stalled connection)."""

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ValueError(f"max_retries must be an integer, got {self.max_retries!r}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")
        for name in (
            "retry_timeout",
            "retry_backoff",
            "retry_max_backoff",
            "connect_timeout",
            "timeout",
            "read_timeout",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number of seconds, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.retry_max_backoff < self.retry_backoff:
            raise ValueError(
                f"retry_max_backoff must be at least retry_backoff ({self.retry_backoff}), "
                f"got {self.retry_max_backoff}"
            )

    def client_options(self) -> ClientConfig:
        """obstore's HTTP client timeouts."""
        return {
            "connect_timeout": timedelta(seconds=self.connect_timeout),
            "timeout": timedelta(seconds=self.timeout),
            "read_timeout": timedelta(seconds=self.read_timeout),
        }

    def retry_config(self) -> RetryConfig:
        """obstore's per-request retry policy."""
        return {
            "max_retries": self.max_retries,
            "retry_timeout": timedelta(seconds=self.retry_timeout),
            "backoff": {
                "init_backoff": timedelta(seconds=self.retry_backoff),
                "max_backoff": timedelta(seconds=self.retry_max_backoff),
                "base": 2,
            },
        }

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failed attempt of an operation."""
        return float(min(self.retry_max_backoff, self.retry_backoff * 2 ** (failures - 1)))


DEFAULT_CLIENT_OPTIONS: ClientConfig = StorageSettings().client_options()


class Sink(Protocol):
    """Where `Storage.stream_to` writes: anything with a binary `write`."""

    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: its name relative to the storage root and its size in bytes."""

    name: str
    size: int
    e_tag: str | None = field(default=None, compare=False)
    """The store's ETag (on local disk obstore derives it from inode, mtime and size)."""


def _first_line(error: BaseException) -> str:
    """obstore messages append a multi-line debug dump and may quote a whole XML error
    body; keep the human part, on one line, of bounded length."""
    text = " ".join(str(error).split("\n\nDebug source:", 1)[0].split())
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[: _MAX_MESSAGE_CHARS - 1] + "…"
    return text or type(error).__name__


_STATUS = re.compile(r"status code: (\d{3}[^:]*)")
_ERROR_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_RETRIES = re.compile(r"after (\d+) retries")
_KIND_OF_FAILURE: tuple[tuple[type[ObstoreError], str], ...] = (
    (PermissionDeniedError, "permission denied"),
    (UnauthenticatedError, "not authenticated (check the credentials)"),
    (PreconditionError, "the object changed meanwhile"),
)


def _reason(error: BaseException) -> str:
    """Why a storage operation failed, short: for an HTTP answer its kind, status, the
    store's error code and the retries spent (obstore's message repeats the object name
    and URL, which the caller's message already gives); anything else as obstore says it."""
    text = _first_line(error)
    status = _STATUS.search(text)
    if not isinstance(error, ObstoreError) or status is None:
        return text
    kind = next((k for cls, k in _KIND_OF_FAILURE if isinstance(error, cls)), "")
    details = [f"HTTP {status.group(1).strip()}"]
    code = _ERROR_CODE.search(str(error))
    if code:
        details.append(code.group(1))
    retries = _RETRIES.search(text)
    if retries:
        details.append(f"after {retries.group(1)} retries")
    summary = ", ".join(details)
    return f"{kind} ({summary})" if kind else summary


def _retryable(error: ObstoreError) -> bool:
    """Whether repeating the operation may succeed: not a permanent error, and not one
    whose request obstore already retried until its budget ran out."""
    if isinstance(error, _PERMANENT_ERRORS):
        return False
    text = _first_line(error)
    return _CLIENT_RETRIED not in text and not _CLIENT_ERROR_STATUS.search(text)


class Storage:
    """Objects under one `StorageBackend` root (local directory, S3/GCS/Azure prefix)."""

    def __init__(
        self,
        backend: brpb.StorageBackend,
        *,
        settings: StorageSettings | None = None,
        client_options: ClientConfig | None = None,
        retry_config: RetryConfig | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Build the store for `backend`.

        `settings` are the retries and timeouts of cloud stores; `client_options`
        overrides obstore client settings on top of them (timeouts, proxies…) and
        `retry_config` replaces their per-request retry policy. `environ` (default
        `os.environ`) is where credentials and regions missing from the backend are
        looked up.
        """
        self.backend = backend
        self.location = describe_backend(backend)
        self.settings = settings or StorageSettings()
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._client_options: ClientConfig = {
            **self.settings.client_options(),
            **(client_options or {}),
        }
        self._retry_config: RetryConfig = retry_config or self.settings.retry_config()
        self._attributes: Attributes = {}
        self._write_blocker: str | None = None
        self._local_root: Path | None = None
        self._store: _Store | None = None

        kind = backend.WhichOneof("backend")
        try:
            if kind == "local":
                self._init_local(backend.local)
            elif kind == "s3":
                self._store = self._build_s3(backend.s3)
            elif kind == "gcs":
                self._store = self._build_gcs(backend.gcs)
            elif kind == "azure_blob_storage":
                self._store = self._build_azure(backend.azure_blob_storage)
        except (ValueError, ObstoreError) as e:
            raise StorageError(
                f"cannot configure storage {self.location}: {_first_line(e)}",
                location=self.location,
            ) from e
        if kind in ("local", "s3", "gcs", "azure_blob_storage"):
            return
        if kind == "noop":
            raise UnsupportedStorageError(
                self.location, "noop:// discards everything written and holds no backup"
            )
        elif kind == "hdfs":
            raise UnsupportedStorageError(
                self.location,
                "HDFS is not supported; copy the backup to local disk or an object store",
            )
        elif kind == "cloud_dynamic":
            raise UnsupportedStorageError(
                self.location,
                "the CloudDynamic backend is no longer supported by TiKV/BR; "
                "use an s3://, gcs:// or azure:// URL",
            )
        else:
            raise UnsupportedStorageError(self.location, "the StorageBackend names no backend")

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Storage:
        """`Storage(parse_storage_url(url))`: a BR storage URL or local path."""
        return cls(parse_storage_url(url), **kwargs)

    def __repr__(self) -> str:
        return f"Storage({self.location!r})"

    # --- construction ------------------------------------------------------------------

    def _init_local(self, local: brpb.Local) -> None:
        if not local.path:
            raise UnsupportedStorageError(self.location, "the local backend has an empty path")
        self._local_root = Path(os.path.abspath(local.path))
        if self._local_root.is_dir():
            self._store = LocalStore(self._local_root)

    def _build_s3(self, s3: brpb.S3) -> S3Store:
        if not s3.bucket:
            raise UnsupportedStorageError(self.location, "the S3 backend has no bucket")
        if s3.profile:
            raise UnsupportedStorageError(
                self.location,
                f"AWS shared-config profiles (profile={s3.profile!r}) are not supported; "
                "export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) "
                "or put access-key / secret-access-key in the URL",
            )
        config: S3Config = {}
        client: ClientConfig = {**self._client_options}
        if s3.role_arn:
            if not self._environ.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
                raise UnsupportedStorageError(
                    self.location,
                    f"role-arn={s3.role_arn!r} needs a web identity token "
                    "(AWS_WEB_IDENTITY_TOKEN_FILE); for other role assumptions obtain "
                    "temporary credentials first and export them as AWS_* variables",
                )
            config["role_arn"] = s3.role_arn
        if s3.endpoint:
            endpoint = s3.endpoint
            if not s3.force_path_style:
                endpoint = _virtual_host_endpoint(endpoint, s3.bucket)
            config["endpoint"] = endpoint
            if endpoint.startswith("http://"):
                client["allow_http"] = True
        config["virtual_hosted_style_request"] = not s3.force_path_style
        if s3.region:
            config["region"] = s3.region
        elif not s3.endpoint and not (
            self._environ.get("AWS_REGION") or self._environ.get("AWS_DEFAULT_REGION")
        ):
            region = _probe_aws_bucket_region(s3.bucket)
            if region:
                config["region"] = region
        if s3.access_key:
            config["access_key_id"] = s3.access_key
            config["secret_access_key"] = s3.secret_access_key
            if s3.session_token:
                config["session_token"] = s3.session_token
        if s3.sse:
            config["server_side_encryption"] = s3.sse
            if s3.sse_kms_key_id:
                config["sse_kms_key_id"] = s3.sse_kms_key_id
        if s3.object_lock_enabled:
            # Object-locked buckets reject uploads without an integrity checksum.
            config["checksum_algorithm"] = "SHA256"
        if s3.storage_class:
            self._attributes["Storage-Class"] = s3.storage_class
        if s3.acl:
            _log.warning("S3 canned ACL %r is not applied to uploaded objects", s3.acl)
        return S3Store(
            s3.bucket,
            prefix=s3.prefix.strip("/") or None,
            config=config,
            client_options=client,
            retry_config=self._retry_config,
        )

    def _build_gcs(self, gcs: brpb.GCS) -> GCSStore:
        if not gcs.bucket:
            raise UnsupportedStorageError(self.location, "the GCS backend has no bucket")
        config: GCSConfig = {}
        client: ClientConfig = {**self._client_options}
        if gcs.credentials_blob:
            kind = _credentials_type(gcs.credentials_blob)
            if kind != "service_account":
                raise UnsupportedStorageError(
                    self.location,
                    f"GCS credentials of type {kind!r} are not supported; give a "
                    "service-account key (credentials-file) or use "
                    "GOOGLE_APPLICATION_CREDENTIALS",
                )
            config["service_account_key"] = gcs.credentials_blob
        elif gcs.endpoint.startswith("http://") and not any(
            self._environ.get(v) for v in _GOOGLE_CREDENTIAL_VARIABLES
        ):
            # GCS itself is HTTPS only: a plain-HTTP endpoint is an emulator (fake-gcs-server
            # and the like), which takes requests without an OAuth token.
            config["service_account_key"] = _ANONYMOUS_GCS_KEY
        if gcs.endpoint:
            base_url = gcs.endpoint.rstrip("/").removesuffix("/storage/v1")
            config["base_url"] = base_url
            if base_url.startswith("http://"):
                client["allow_http"] = True
        if gcs.storage_class:
            self._attributes["Storage-Class"] = gcs.storage_class
        if gcs.predefined_acl:
            _log.warning(
                "GCS predefined ACL %r is not applied to uploaded objects", gcs.predefined_acl
            )
        return GCSStore(
            gcs.bucket,
            prefix=gcs.prefix.strip("/") or None,
            config=config,
            client_options=client,
            retry_config=self._retry_config,
        )

    def _build_azure(self, azure: brpb.AzureBlobStorage) -> AzureStore:
        if not azure.bucket:
            raise UnsupportedStorageError(self.location, "the Azure backend has no container")
        config: AzureConfig = {}
        client: ClientConfig = {**self._client_options}
        env = self._environ
        account = azure.account_name or env.get("AZURE_STORAGE_ACCOUNT", "")
        if not account:
            raise UnsupportedStorageError(
                self.location,
                "no storage account: give account-name in the URL or set AZURE_STORAGE_ACCOUNT",
            )
        config["account_name"] = account
        # BR's order: a SAS token, the account key, then from the environment a service
        # principal (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET) and
        # AZURE_STORAGE_KEY; with none of them obstore tries managed identity.
        principal = [env.get(v, "") for v in _AZURE_PRINCIPAL_VARIABLES]
        if azure.access_sig:
            config["sas_key"] = azure.access_sig.removeprefix("?")
        elif azure.shared_key:
            config["account_key"] = azure.shared_key
        elif all(principal):
            config["client_id"], config["tenant_id"], config["client_secret"] = principal
        elif env.get("AZURE_STORAGE_KEY"):
            config["account_key"] = env["AZURE_STORAGE_KEY"]
        if azure.endpoint:
            config["endpoint"] = azure.endpoint.rstrip("/")
            if azure.endpoint.startswith("http://"):
                client["allow_http"] = True
        if azure.HasField("encryption_key") and azure.encryption_key.encryption_key:
            config["encryption_key"] = azure.encryption_key.encryption_key
        if azure.encryption_scope:
            self._write_blocker = (
                f"Azure encryption scope {azure.encryption_scope!r} cannot be applied to "
                "uploads; write to a container without encryption-scope"
            )
        if azure.storage_class:
            self._attributes["Storage-Class"] = azure.storage_class
        return AzureStore(
            azure.bucket,
            prefix=azure.prefix.strip("/") or None,
            config=config,
            client_options=client,
            retry_config=self._retry_config,
        )

    def store_config(self) -> dict[str, Any]:
        """What the object store was built with, as obstore holds it: `kind`, `bucket`
        (S3/GCS bucket or Azure container), `prefix`, `config` (endpoint, credentials…),
        `client_options` and `retry_config`; `{"kind": "local", "path": …}` for local disk.
        It holds credentials: for checks, never for logs.
        """
        store = self._store
        if self._local_root is not None or store is None or isinstance(store, LocalStore):
            return {"kind": "local", "path": str(self._local_root)}
        kind = {S3Store: "s3", GCSStore: "gcs", AzureStore: "azure"}[type(store)]
        config: dict[str, Any] = dict(store.config)
        bucket = config.pop({"s3": "bucket", "gcs": "bucket", "azure": "container_name"}[kind])
        return {
            "kind": kind,
            "bucket": bucket,
            "prefix": store.prefix,
            "config": config,
            "client_options": store.client_options,
            "retry_config": store.retry_config,
        }

    # --- helpers -------------------------------------------------------------------------

    def _existing_store(self) -> _Store | None:
        """The store, or None while a local root directory does not exist yet."""
        if self._store is None:
            assert self._local_root is not None
            if self._local_root.is_dir():
                self._store = LocalStore(self._local_root)
        return self._store

    def _reader(self, name: str) -> _Store:
        self.local_file(name)  # a local store refuses names that lead outside its root
        store = self._existing_store()
        if store is None:
            raise ObjectNotFoundError(
                name, location=self.location, detail=f"directory {self._local_root} does not exist"
            )
        return store

    def _writer(self, name: str) -> _Store:
        self.local_file(name)  # a local store refuses names that lead outside its root
        if self._write_blocker is not None:
            raise UnsupportedStorageError(self.location, self._write_blocker)
        if self._store is None:
            assert self._local_root is not None
            try:
                self._local_root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(
                    f"cannot create directory {self._local_root} for {name!r}: {e}",
                    name=name,
                    location=self.location,
                ) from e
            self._store = LocalStore(self._local_root)
        return self._store

    @contextmanager
    def _translate(self, action: str, name: str | None) -> Iterator[None]:
        """Turn obstore/OS failures into StorageError subclasses that name the object."""
        try:
            yield
        except FileNotFoundError as e:
            if any(marker in str(e) for marker in _MISSING_BUCKET):
                raise StorageError(
                    f"{action} {name!r} in {self.location} failed: the bucket (or container) "
                    f"does not exist ({_reason(e)})",
                    name=name,
                    location=self.location,
                ) from e
            raise ObjectNotFoundError(name or "", location=self.location) from e
        except ValueError as e:
            raise StorageError(
                f"invalid object name {name!r} in {self.location}: {_first_line(e)}",
                name=name,
                location=self.location,
            ) from e
        except (ObstoreError, OSError) as e:
            subject = f" {name!r}" if name is not None else ""
            raise StorageError(
                f"{action}{subject} in {self.location} failed: {_reason(e)}",
                name=name,
                location=self.location,
            ) from e

    def _call(self, action: str, name: str | None, operation: Callable[[], _T]) -> _T:
        """Run one storage operation, repeating it (with backoff, within the settings'
        attempts and time) when it failed in a way that another attempt may cure.
        Failures become StorageError subclasses that name the object."""
        failures = 0
        started = time.monotonic()
        with self._translate(action, name):
            while True:
                try:
                    return operation()
                except ObstoreError as e:
                    failures += 1
                    # Local disk fails for reasons another attempt does not cure.
                    local = self._local_root is not None
                    delay = None if local else self._retry_delay(e, failures, started)
                    if delay is None:
                        raise
                    _log.warning(
                        "%s %r in %s failed (%s); attempt %d of %d in %.2fs",
                        action,
                        name,
                        self.location,
                        _first_line(e),
                        failures + 1,
                        self.settings.max_retries + 1,
                        delay,
                    )
                    time.sleep(delay)

    def _retry_delay(self, error: ObstoreError, failures: int, started: float) -> float | None:
        """Seconds to wait before attempt `failures + 1`, or None to give up."""
        if not _retryable(error):
            return None
        if failures > self.settings.max_retries:
            return None
        delay = self.settings.backoff(failures)
        if time.monotonic() + delay - started > self.settings.retry_timeout:
            return None
        return delay

    # --- operations ----------------------------------------------------------------------

    def get_bytes(self, name: str) -> bytes:
        """The whole content of object `name` (for small objects such as metadata)."""
        store = self._reader(name)
        return self._call("reading", name, lambda: obstore.get(store, name).bytes().to_bytes())

    def put_bytes(self, name: str, data: bytes) -> None:
        """Write `data` as object `name`, replacing it atomically if it exists."""
        store = self._writer(name)
        self._call(
            "writing",
            name,
            lambda: obstore.put(
                store,
                name,
                data,
                attributes=self._attributes or None,
                chunk_size=STREAM_CHUNK_SIZE,
                max_concurrency=UPLOAD_CONCURRENCY,
            ),
        )

    def put_file(self, name: str, local_path: str | os.PathLike[str]) -> PutResult:
        """Upload local file `local_path` as object `name`, streamed; multipart when large.
        Returns the new object's ETag (and version, where the store has versions).

        Memory stays around `UPLOAD_CONCURRENCY` times the part size; the part size grows above
        `STREAM_CHUNK_SIZE` only for files too large for S3's part-count limit.
        """
        source = Path(local_path)
        try:
            size = source.stat().st_size
        except OSError as e:
            raise StorageError(
                f"cannot upload {source} as {name!r}: {e}", name=name, location=self.location
            ) from e
        part_size = max(STREAM_CHUNK_SIZE, math.ceil(size / _MAX_PARTS))
        store = self._writer(name)
        # A failed multipart upload is started over; its parts are discarded by the store.
        return self._call(
            "uploading",
            name,
            lambda: obstore.put(
                store,
                name,
                source,
                attributes=self._attributes or None,
                chunk_size=part_size,
                max_concurrency=UPLOAD_CONCURRENCY,
            ),
        )

    def staging_file(self, name: str) -> Path | None:
        """On local disk, a new path next to object `name` (its folder created) where its
        content can be written and then published with `publish_staged`, without a copy:
        `{name}#{digits}`, a staging name that listings skip and `discard_partial_uploads`
        removes. None for object stores: upload a local file with `put_file` instead."""
        destination = self.local_file(name)
        if destination is None:
            return None
        self._writer(name)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(
                f"cannot create {destination.parent} for {name!r}: {e}",
                name=name,
                location=self.location,
            ) from e
        return destination.with_name(f"{destination.name}#{uuid.uuid4().int}")

    def publish_staged(self, name: str, staged: str | os.PathLike[str]) -> PutResult:
        """Renames `staged` (a complete file from `staging_file(name)`) to object `name`,
        atomically replacing it; returns the ETag a listing shows for it."""
        destination = self.local_file(name)
        if destination is None:
            raise ValueError(f"{self.location} is not on local disk: upload {name!r} instead")
        store = self._writer(name)
        try:
            os.replace(staged, destination)
        except OSError as e:
            raise StorageError(
                f"cannot move {staged} to {name!r} in {self.location}: {e}",
                name=name,
                location=self.location,
            ) from e
        meta = self._call("inspecting", name, lambda: obstore.head(store, name))
        return {"e_tag": meta["e_tag"], "version": meta["version"]}

    def list(self, prefix: str = "") -> builtins.list[ObjectInfo]:
        """Objects whose name starts with `prefix` (a plain string prefix), sorted by name.

        The listing is recursive below the last `/` of `prefix`.
        """
        directory = prefix[: prefix.rfind("/") + 1].strip("/")
        store = self._existing_store()
        if store is None:
            return []

        def listing() -> builtins.list[ObjectInfo]:
            found: builtins.list[ObjectInfo] = []
            for chunk in obstore.list(store, directory or None, chunk_size=1000):
                for meta in chunk:
                    if meta["path"].startswith(prefix):
                        found.append(ObjectInfo(meta["path"], meta["size"], meta["e_tag"]))
            return found

        found = self._call("listing", prefix, listing)
        found.sort(key=lambda info: info.name)
        return found

    def exists(self, name: str) -> bool:
        """Whether object `name` exists."""
        try:
            self.size(name)
        except ObjectNotFoundError:
            return False
        return True

    def size(self, name: str) -> int:
        """Size in bytes of object `name`."""
        store = self._reader(name)
        return self._call("inspecting", name, lambda: int(obstore.head(store, name)["size"]))

    def delete(self, name: str) -> None:
        """Delete object `name`; deleting a missing object is not an error."""
        self.local_file(name)  # a local store refuses names that lead outside its root
        store = self._existing_store()
        if store is None:
            return
        with suppress(ObjectNotFoundError):
            self._call("deleting", name, lambda: obstore.delete(store, name))

    def download_to(
        self,
        name: str,
        local_path: str | os.PathLike[str],
        *,
        expected_sha256: bytes | None = None,
        expected_size: int | None = None,
    ) -> bytes:
        """Stream object `name` into `local_path`; return the SHA-256 of its bytes.

        The content is written to a temporary file next to `local_path` in chunks of
        about `STREAM_CHUNK_SIZE` and hashed on the way; `local_path` appears (atomically
        replaced) only when the size and digest match the expectations given. A broken
        transfer resumes from the last byte received, pinned to the same object version.
        """
        destination = Path(local_path)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(
                f"cannot create {destination.parent} to download {name!r}: {e}",
                name=name,
                location=self.location,
            ) from e
        partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.part")
        store = self._reader(name)
        try:
            with open(partial, "wb") as out:
                digest, received = self._stream_into(store, name, out)
            if expected_size is not None and received != expected_size:
                raise SizeMismatchError(
                    name, expected=expected_size, actual=received, location=self.location
                )
            if expected_sha256 is not None and digest != expected_sha256:
                raise ChecksumMismatchError(
                    name, expected=expected_sha256, actual=digest, what="object"
                )
            os.replace(partial, destination)
        except OSError as e:
            raise StorageError(
                f"cannot write {destination} while downloading {name!r}: {e}",
                name=name,
                location=self.location,
            ) from e
        finally:
            partial.unlink(missing_ok=True)
        return digest

    def local_file(self, name: str) -> Path | None:
        """The file holding object `name` when this storage is a local directory, so that
        it can be read in place; None for object stores."""
        if self._local_root is None:
            return None
        path = contained_path(self._local_root, name)
        if path is None:
            raise StorageError(
                f"invalid object name {name!r}: it leads outside {self.location}",
                name=name,
                location=self.location,
            )
        return path

    def stream_to(self, name: str, out: Sink) -> tuple[bytes, int]:
        """Stream object `name` into `out` in bounded chunks; return its SHA-256 and size.
        A broken transfer resumes from the last byte received, pinned to the same version."""
        return self._stream_into(self._reader(name), name, out)

    def sha256(self, name: str) -> tuple[bytes, int]:
        """The SHA-256 and size of object `name`, streamed in bounded chunks (nothing kept)."""
        store = self._reader(name)
        return self._stream_into(store, name, _Discard())

    def discard_partial_uploads(self, prefix: str) -> builtins.list[str]:
        """Remove what killed uploads left below `prefix`; return the removed names.

        A local upload goes to a staging file `{name}#{n}` that is renamed into place when
        complete; a process killed meanwhile leaves that file behind. Listings already skip
        such files, but other readers of the directory (Spark, pyarrow datasets…) would
        not. Object stores never publish an unfinished upload, so there is nothing to do
        there (their incomplete multipart uploads are aborted by a bucket lifecycle rule).
        Only call this while no other process writes below `prefix`.
        """
        if self._local_root is None:
            return []
        directory = prefix[: prefix.rfind("/") + 1].strip("/")
        base = self._local_root / directory if directory else self._local_root
        removed: builtins.list[str] = []
        if not base.is_dir():
            return removed
        for dirpath, _dirnames, filenames in os.walk(base):
            for filename in filenames:
                _, sep, suffix = filename.rpartition("#")
                if not (sep and suffix.isdigit() and suffix.isascii()):
                    continue
                path = Path(dirpath) / filename
                name = path.relative_to(self._local_root).as_posix()
                if not name.startswith(prefix):
                    continue
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                except OSError as e:
                    raise StorageError(
                        f"cannot remove the partial upload {name!r} in {self.location}: {e}",
                        name=name,
                        location=self.location,
                    ) from e
                removed.append(name)
        removed.sort()
        return removed

    def _stream_into(self, store: _Store, name: str, out: Any) -> tuple[bytes, int]:
        """Stream object `name` into `out`, hashing it. A transfer that breaks resumes with
        a range request from the last byte received, pinned to the object's ETag (a
        changed object fails with a precondition error instead of mixing versions)."""
        hasher = hashlib.sha256()
        received = 0
        total: int | None = None
        e_tag: str | None = None
        failures = 0
        started = time.monotonic()
        with self._translate("downloading", name):
            while True:
                options: GetOptions = {}
                if received:
                    options["range"] = {"offset": received}
                    if e_tag:
                        options["if_match"] = e_tag
                try:
                    result = obstore.get(store, name, options=options or None)
                    if total is None:
                        total = int(result.meta["size"])
                        e_tag = result.meta["e_tag"]
                    for chunk in result.stream(min_chunk_size=STREAM_CHUNK_SIZE):
                        out.write(chunk)
                        hasher.update(chunk)
                        received += len(chunk)
                    return hasher.digest(), received
                except ObstoreError as e:
                    if total is not None and received >= total:
                        # Every byte arrived; the caller checks size and digest.
                        return hasher.digest(), received
                    failures += 1
                    delay = self._retry_delay(e, failures, started)
                    if delay is None:
                        raise
                    _log.warning(
                        "download of %r from %s interrupted at byte %d (%s); resuming in %.2fs",
                        name,
                        self.location,
                        received,
                        _first_line(e),
                        delay,
                    )
                    time.sleep(delay)


class _Discard:
    """A write-only sink for `_stream_into` when only the digest is wanted."""

    def write(self, data: bytes) -> int:
        return len(data)


def _virtual_host_endpoint(endpoint: str, bucket: str) -> str:
    """`https://host:port/path` → `https://bucket.host:port/path` (virtual-hosted style)."""
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        return endpoint
    return f"{scheme}://{bucket}.{rest}"


def _probe_aws_bucket_region(bucket: str) -> str | None:
    """Ask AWS S3 which region holds `bucket` (BR does the same); None when unknown.

    S3 answers any HEAD on a bucket, even an unauthorized one, with `x-amz-bucket-region`.
    """
    connection = http.client.HTTPSConnection(
        "s3.amazonaws.com", timeout=_REGION_PROBE_TIMEOUT_SECONDS
    )
    try:
        connection.request("HEAD", "/" + quote(bucket, safe=""))
        region = connection.getresponse().getheader("x-amz-bucket-region")
    except (OSError, http.client.HTTPException) as e:
        _log.warning("could not determine the region of S3 bucket %r: %s", bucket, e)
        return None
    finally:
        connection.close()
    return region or None


def _credentials_type(blob: str) -> str:
    try:
        parsed = json.loads(blob)
    except ValueError:
        return "unparsable JSON"
    if not isinstance(parsed, dict):
        return "non-object JSON"
    return str(parsed.get("type", "unknown"))


_shared: dict[tuple[bytes, StorageSettings], Storage] = {}
_shared_lock = threading.Lock()


def shared_storage(
    backend: brpb.StorageBackend, settings: StorageSettings | None = None
) -> Storage:
    """The process's `Storage` of `backend` with `settings`, built once (clients keep
    their connections)."""
    key = (backend.SerializeToString(deterministic=True), settings or StorageSettings())
    with _shared_lock:
        storage = _shared.get(key)
        if storage is None:
            storage = _shared[key] = Storage(backend, settings=key[1])
        return storage

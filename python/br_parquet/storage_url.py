"""BR storage URLs and `--*-storage-base64` values → `StorageBackend` protobufs.

`parse_storage_url` follows BR's parser (TiDB `pkg/objstore/parse.go`, formerly
`br/pkg/storage/parse.go`) rule for rule, including the quirks of Go's `net/url`:
`+` is rewritten to `%2B` first, the scheme is case-insensitive, `local://data/x`
drops `data`, query keys are lower-cased with `_` → `-`, only the first value of a key
counts, and booleans follow Go's `strconv.ParseBool` (unparsable values are ignored).
`decode_storage_base64` reads the output of `br operator base64ify`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from google.protobuf.message import DecodeError

from .errors import InvalidStorageUrlError
from .gobool import parse_go_bool
from .proto import brpb_pb2 as brpb

KS3_PROVIDER = "ks3-sdk"
_AWS_DOMAIN = "amazonaws.com"
_VIRTUAL_HOST_PROVIDERS = frozenset({"alibaba", "netease", "tencent"})
_SECRET_QUERY_KEYS = frozenset(
    {
        "access-key",
        "secret-access-key",
        "session-token",
        "account-key",
        "sas-token",
        "encryption-key",
    }
)

# --- Go net/url, the parts BR relies on ------------------------------------------------


@dataclass(frozen=True)
class _GoUrl:
    scheme: str
    opaque: str
    host: str
    path: str
    raw_query: str


_HEX = "0123456789abcdefABCDEF"
# Characters Go accepts unescaped in a host name (besides letters and digits).
_HOST_CHARS = frozenset("-_.~!$&'()*+,;=:[]<>\"")


def _unescape(s: str, *, host: bool = False, query: bool = False) -> str:
    """Go's `unescape`: %XX → byte; `+` → space in query components; errors like Go."""
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "%":
            seq = s[i : i + 3]
            if len(seq) < 3 or seq[1] not in _HEX or seq[2] not in _HEX:
                raise ValueError(f"invalid URL escape {seq!r}")
            if host and int(seq[1], 16) < 8 and seq != "%25":
                raise ValueError(f"invalid URL escape {seq!r}")
            out.append(int(seq[1:], 16))
            i += 3
            continue
        if query and c == "+":
            out.append(0x20)
        else:
            if host and c < "\x80" and not (c.isalnum() or c in _HOST_CHARS):
                raise ValueError(f"invalid character {c!r} in host name")
            out += c.encode("utf-8")
        i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{s!r} does not decode to UTF-8 text") from None


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and (c.isdigit() or c in "+-."):
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    return port[0] == ":" and all("0" <= c <= "9" for c in port[1:])


def _parse_host(host: str) -> str:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        if not _valid_optional_port(host[end + 1 :]):
            raise ValueError(f"invalid port {host[end + 1 :]!r} after host")
    else:
        colon = host.rfind(":")
        if colon >= 0 and not _valid_optional_port(host[colon:]):
            raise ValueError(f"invalid port {host[colon:]!r} after host")
    return _unescape(host, host=True)


def _parse_go_url(raw: str) -> _GoUrl:
    """The subset of Go's `url.Parse` BR's storage parser depends on."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise ValueError("invalid control character in URL")
    raw, _, fragment = raw.partition("#")
    _unescape(fragment)
    scheme, rest = _get_scheme(raw)
    scheme = scheme.lower()
    if rest.endswith("?") and rest.count("?") == 1:
        rest, raw_query = rest[:-1], ""
    else:
        rest, _, raw_query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return _GoUrl(scheme, rest, "", "", raw_query)
        if ":" in rest.partition("/")[0]:
            raise ValueError("first path segment in URL cannot contain colon")
    host = ""
    if (scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        host = _parse_host(authority.rpartition("@")[2])
    return _GoUrl(scheme, "", host, _unescape(rest), raw_query)


def _parse_query(raw_query: str) -> dict[str, str]:
    """Go's `url.ParseQuery` reduced to BR's use: first value per key, bad pairs skipped."""
    first: dict[str, str] = {}
    for pair in raw_query.split("&"):
        if pair == "" or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        try:
            key, value = _unescape(key, query=True), _unescape(value, query=True)
        except ValueError:
            continue
        first.setdefault(key, value)
    return first


def _go_clean(path: str) -> str:
    """Go's `filepath.Clean` for absolute POSIX paths."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


# --- options, mapped from query parameters by their BR names --------------------------


def _options_from_query(
    query: Mapping[str, str], strings: tuple[str, ...], bools: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, bool], set[str]]:
    """Apply query parameters as BR's `ExtractQueryParameters` does.

    Returns the string options, the boolean options, and the normalized keys seen.
    """
    str_opts: dict[str, str] = {}
    bool_opts: dict[str, bool] = {}
    seen: set[str] = set()
    for key, value in query.items():
        name = key.replace("_", "-").lower()
        seen.add(name)
        if name in strings:
            str_opts[name] = value
        elif name in bools:
            parsed = parse_go_bool(value)
            if parsed is not None:
                bool_opts[name] = parsed
    return str_opts, bool_opts, seen


_S3_STRING_OPTIONS = (
    "endpoint",
    "region",
    "storage-class",
    "sse",
    "sse-kms-key-id",
    "acl",
    "access-key",
    "secret-access-key",
    "session-token",
    "provider",
    "role-arn",
    "external-id",
    "profile",
)
_S3_BOOL_OPTIONS = ("force-path-style", "use-accelerate-endpoint", "object-lock-enabled")
_GCS_STRING_OPTIONS = ("endpoint", "storage-class", "predefined-acl", "credentials-file")
_AZURE_STRING_OPTIONS = (
    "endpoint",
    "account-name",
    "account-key",
    "access-tier",
    "sas-token",
    "encryption-scope",
    "encryption-key",
)


def _s3_backend(url: _GoUrl, raw: str, fail: Callable[[str], InvalidStorageUrlError]) -> brpb.S3:
    if not url.host:
        raise fail(f"please specify the bucket for s3 in {redact_url(raw)}")
    opts, flags, _ = _options_from_query(
        _parse_query(url.raw_query), _S3_STRING_OPTIONS, _S3_BOOL_OPTIONS
    )
    force_path_style = flags.get("force-path-style", True)
    provider = opts.get("provider", "")
    endpoint = opts.get("endpoint", "")
    mentions_path_style = "force-path-style" in raw or "force_path_style" in raw
    aws_virtual_host = not mentions_path_style and (
        provider == "aws" or _AWS_DOMAIN in endpoint or bool(opts.get("role-arn"))
    )
    if (
        provider in _VIRTUAL_HOST_PROVIDERS
        or flags.get("use-accelerate-endpoint")
        or (aws_virtual_host)
    ):
        force_path_style = False
    if endpoint:
        try:
            parsed = _parse_go_url(endpoint)
        except ValueError as e:
            raise fail(f"invalid endpoint {endpoint!r}: {e}") from None
        if not parsed.scheme:
            raise fail(f"scheme not found in endpoint {endpoint!r} (expected e.g. https://host)")
        if not parsed.host:
            raise fail(f"host not found in endpoint {endpoint!r} (expected e.g. https://host)")
    access_key = opts.get("access-key", "")
    secret_key = opts.get("secret-access-key", "")
    if not opts.get("profile"):
        if not access_key and secret_key:
            raise fail("access_key not found: secret-access-key needs access-key")
        if access_key and not secret_key:
            raise fail("secret_access_key not found: access-key needs secret-access-key")
    return brpb.S3(
        bucket=url.host,
        prefix=url.path.strip("/"),
        endpoint=endpoint.removesuffix("/"),
        region=opts.get("region", ""),
        storage_class=opts.get("storage-class", ""),
        sse=opts.get("sse", ""),
        sse_kms_key_id=opts.get("sse-kms-key-id", ""),
        acl=opts.get("acl", ""),
        access_key=access_key,
        secret_access_key=secret_key,
        session_token=opts.get("session-token", ""),
        force_path_style=force_path_style,
        role_arn=opts.get("role-arn", ""),
        external_id=opts.get("external-id", ""),
        provider=KS3_PROVIDER if url.scheme == "ks3" else provider,
        profile=opts.get("profile", ""),
    )


def _gcs_backend(url: _GoUrl, raw: str, fail: Callable[[str], InvalidStorageUrlError]) -> brpb.GCS:
    if not url.host:
        raise fail(f"please specify the bucket for gcs in {redact_url(raw)}")
    opts, _, _ = _options_from_query(_parse_query(url.raw_query), _GCS_STRING_OPTIONS, ())
    gcs = brpb.GCS(
        bucket=url.host,
        prefix=url.path.strip("/"),
        endpoint=opts.get("endpoint", ""),
        storage_class=opts.get("storage-class", ""),
        predefined_acl=opts.get("predefined-acl", ""),
    )
    credentials_file = opts.get("credentials-file", "")
    if credentials_file:
        try:
            with open(credentials_file, encoding="utf-8") as f:
                gcs.credentials_blob = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise fail(f"cannot read GCS credentials-file {credentials_file!r}: {e}") from None
    return gcs


def _azure_backend(
    url: _GoUrl,
    raw: str,
    fail: Callable[[str], InvalidStorageUrlError],
    environ: Mapping[str, str],
) -> brpb.AzureBlobStorage:
    if not url.host:
        raise fail(f"please specify the bucket for azblob in {redact_url(raw)}")
    opts, _, _ = _options_from_query(_parse_query(url.raw_query), _AZURE_STRING_OPTIONS, ())
    azure = brpb.AzureBlobStorage(
        bucket=url.host,
        prefix=url.path.strip("/"),
        endpoint=opts.get("endpoint", ""),
        storage_class=opts.get("access-tier", ""),
        account_name=opts.get("account-name", ""),
        shared_key=opts.get("account-key", ""),
        access_sig=opts.get("sas-token", ""),
        encryption_scope=opts.get("encryption-scope", ""),
    )
    key = opts.get("encryption-key", "") or environ.get("AZURE_ENCRYPTION_KEY", "")
    if key:
        key_bytes = key.encode("utf-8")
        azure.encryption_key.encryption_key = base64.b64encode(key_bytes).decode("ascii")
        azure.encryption_key.encryption_key_sha256 = base64.b64encode(
            hashlib.sha256(key_bytes).digest()
        ).decode("ascii")
    return azure


# --- public API -------------------------------------------------------------------------


def parse_storage_url(url: str, *, environ: Mapping[str, str] | None = None) -> brpb.StorageBackend:
    """Turn a BR storage URL (`-s/--storage`) into the `StorageBackend` BR would build.

    `environ` (default `os.environ`) supplies `AZURE_ENCRYPTION_KEY`, which BR reads
    while parsing an Azure URL.
    """
    env = os.environ if environ is None else environ

    def fail(reason: str) -> InvalidStorageUrlError:
        return InvalidStorageUrlError(redact_url(url), reason)

    if url == "":
        raise fail(
            "empty store is not allowed; expected a path or a URL such as s3://bucket/prefix"
        )
    try:
        parsed = _parse_go_url(url.replace("+", "%2B"))
    except ValueError as e:
        raise fail(str(e)) from None

    scheme = parsed.scheme
    if scheme == "":
        return brpb.StorageBackend(local=brpb.Local(path=_go_clean(os.path.join(os.getcwd(), url))))
    if scheme in ("local", "file"):
        return brpb.StorageBackend(local=brpb.Local(path=parsed.path))
    if scheme == "hdfs":
        return brpb.StorageBackend(hdfs=brpb.HDFS(remote=url))
    if scheme == "noop":
        return brpb.StorageBackend(noop=brpb.Noop())
    if scheme in ("s3", "ks3"):
        return brpb.StorageBackend(s3=_s3_backend(parsed, url, fail))
    if scheme in ("gs", "gcs"):
        return brpb.StorageBackend(gcs=_gcs_backend(parsed, url, fail))
    if scheme in ("azure", "azblob"):
        return brpb.StorageBackend(azure_blob_storage=_azure_backend(parsed, url, fail, env))
    raise fail(
        f"storage {scheme} not support yet; expected a local path or one of "
        "local://, file://, s3://, ks3://, gcs://, gs://, azure://, azblob://, hdfs://, noop://"
    )


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_MIN_BASE64_LOCATION = 8  # shorter strings are names of local folders, not backends


def decode_storage_base64(text: str) -> brpb.StorageBackend:
    """Decode a `--*-storage-base64` value (the output of `br operator base64ify`).

    Surrounding whitespace is ignored; padded and unpadded standard base64 are accepted.
    """

    def fail(reason: str) -> InvalidStorageUrlError:
        # The value may encode credentials, so only its length is shown.
        return InvalidStorageUrlError(f"<base64 value, {len(text.strip())} characters>", reason)

    compact = text.strip()
    if not compact:
        raise fail("empty value; expected the output of `br operator base64ify -s <storage>`")
    unpadded = compact.rstrip("=")
    if not _BASE64_TEXT.fullmatch(compact) or len(unpadded) % 4 == 1:
        raise fail("not standard base64 (alphabet A-Z a-z 0-9 + /, optional = padding)")
    try:
        raw = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except binascii.Error as e:
        raise fail(f"not standard base64: {e}") from None
    backend = brpb.StorageBackend()
    try:
        backend.ParseFromString(raw)
    except DecodeError:
        raise fail("the decoded bytes are not a serialized StorageBackend protobuf") from None
    if backend.WhichOneof("backend") is None:
        raise fail("the decoded StorageBackend names no backend (local, s3, gcs, azure, ...)")
    return backend


def encode_storage_base64(backend: brpb.StorageBackend) -> str:
    """The `br operator base64ify` form of `backend`: padded standard base64, no newline."""
    return base64.b64encode(backend.SerializeToString()).decode("ascii")


def redact_url(url: str) -> str:
    """`url` with credential query parameters (keys, secrets, tokens) replaced by `redacted`."""
    head, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = query.partition("#")
    parts = []
    for pair in query.split("&"):
        key, eq, _ = pair.partition("=")
        if eq and key.replace("_", "-").lower() in _SECRET_QUERY_KEYS:
            parts.append(f"{key}=redacted")
        else:
            parts.append(pair)
    return f"{head}?{'&'.join(parts)}{hash_sep}{fragment}"


def describe_backend(backend: brpb.StorageBackend) -> str:
    """A short URL-like description of `backend` without any credentials, for messages."""
    kind = backend.WhichOneof("backend")
    if kind == "local":
        return f"local://{backend.local.path}"
    if kind == "s3":
        return _bucket_url("s3", backend.s3.bucket, backend.s3.prefix)
    if kind == "gcs":
        return _bucket_url("gcs", backend.gcs.bucket, backend.gcs.prefix)
    if kind == "azure_blob_storage":
        azure = backend.azure_blob_storage
        return _bucket_url("azure", azure.bucket, azure.prefix)
    if kind == "hdfs":
        return redact_url(backend.hdfs.remote)
    if kind == "noop":
        return "noop://"
    if kind == "cloud_dynamic":
        cloud = backend.cloud_dynamic
        return _bucket_url(cloud.provider_name or "cloud", cloud.bucket.bucket, cloud.bucket.prefix)
    return "<no storage backend>"


def _bucket_url(scheme: str, bucket: str, prefix: str) -> str:
    path = quote(prefix.strip("/"), safe="/")
    return f"{scheme}://{bucket}/{path}" if path else f"{scheme}://{bucket}"


def parse_location(location: str | os.PathLike[str] | brpb.StorageBackend) -> brpb.StorageBackend:
    """A backup or output location as the API takes it: a `StorageBackend`, a storage
    URL (`s3://…`, `local://…`, `gcs://…`, `azure://…`), a local path, or the base64 of a
    `StorageBackend` (`br operator base64ify`).

    A string without `://` that is not an existing path and decodes as base64 to a
    `StorageBackend` naming a backend is taken as base64; any other is a local path.
    """
    if isinstance(location, brpb.StorageBackend):
        return location
    text = os.fspath(location)
    looks_encoded = len(text.strip()) >= _MIN_BASE64_LOCATION and _BASE64_TEXT.fullmatch(
        text.strip()
    )
    if "://" not in text and not os.path.exists(text) and looks_encoded:
        try:
            return decode_storage_base64(text)
        except InvalidStorageUrlError:
            pass
    return parse_storage_url(text)

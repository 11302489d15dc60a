"""Secrets never reach a log line, an error, the summary or the metrics: `Redactor`
replaces every secret of the run (storage credentials however they were given, the
crypter key) with `****`."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from .crypto import Cipher
from .proto import brpb_pb2 as brpb

MASK = "****"
_MIN_SECRET = 4  # shorter strings would mask ordinary text


def backend_secrets(backend: brpb.StorageBackend) -> set[str]:
    """The credentials a `StorageBackend` carries (from base64, a URL query or a file)."""
    found: set[str] = set()
    kind = backend.WhichOneof("backend")
    if kind == "s3":
        s3 = backend.s3
        found |= {s3.secret_access_key, s3.session_token}
    elif kind == "gcs":
        blob = backend.gcs.credentials_blob
        found.add(blob)
        found |= _json_secrets(blob)
    elif kind == "azure_blob_storage":
        azure = backend.azure_blob_storage
        found |= {azure.shared_key, azure.access_sig, azure.encryption_key.encryption_key}
    return {s for s in found if len(s) >= _MIN_SECRET}


def _json_secrets(blob: str) -> set[str]:
    """The values of a service-account JSON that are secret (its private key, mostly)."""
    try:
        document = json.loads(blob)
    except ValueError:
        return set()
    if not isinstance(document, dict):
        return set()
    keys = ("private_key", "private_key_id", "client_secret", "refresh_token")
    out = {str(document[k]) for k in keys if document.get(k)}
    # A PEM key also shows up line by line, or with its newlines escaped.
    for value in list(out):
        out |= {line for line in value.splitlines() if len(line) >= 16}
        out.add(value.replace("\n", "\\n"))
    return out


_SECRET_PROPERTY_WORDS = ("secret", "token", "credential", "password", "key")


def catalog_secrets(uri: str | None, properties: Iterable[tuple[str, str]]) -> set[str]:
    """The password of an Iceberg catalog URI (`postgresql://user:PASSWORD@host/db`) and the
    values of its secret-looking properties (`token`, `credential`, `s3.secret-access-key`,
    …)."""
    found: set[str] = set()
    if uri:
        from urllib.parse import unquote, urlsplit

        try:
            password = urlsplit(uri.removeprefix("rest+")).password
        except ValueError:
            password = None
        if password:
            found |= {password, unquote(password)}
    for key, value in properties:
        if any(word in key.lower() for word in _SECRET_PROPERTY_WORDS):
            found.add(value)
            # `credential` is `client_id:client_secret`: its parts show up alone too.
            found |= set(value.split(":"))
    return {s for s in found if len(s) >= _MIN_SECRET}


def cipher_secrets(cipher: Cipher | None) -> set[str]:
    if cipher is None:
        return set()
    raw = cipher.key
    return {raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()}


class Redactor:
    """Masks the given secrets, also in their URL-encoded forms."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for s in secrets:
            if len(s) >= _MIN_SECRET:
                forms |= {s, quote(s, safe=""), quote_plus(s)}
        # Longest first, so that no secret is half-masked by a shorter one inside it.
        self._secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self) -> logging.Filter:
        """A logging filter that masks secrets in every record's message and arguments."""
        redact = self

        class _Mask(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                record.msg = redact(record.getMessage())
                record.args = None
                fields = getattr(record, "fields", None)
                if isinstance(fields, dict):
                    record.fields = {
                        k: redact(v) if isinstance(v, str) else v for k, v in fields.items()
                    }
                return True

        return _Mask()

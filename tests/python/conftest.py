"""Shared pytest fixtures. Each group below belongs to one area; add new groups, keep them apart."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

# Iceberg fixtures (REST catalog server, DuckDB with iceberg): imported, since pytest refuses
# `pytest_plugins` in a conftest below the rootdir.
from iceberg_fixtures import (  # noqa: F401
    duckdb_iceberg,
    duckdb_iceberg_connect,
    iceberg_s3_properties,
    rest_catalog_server,
    rest_catalog_server_s3,
)

# --- S3-compatible test server (moto) on loopback, for tests marked `s3` ------------------

S3_ACCESS_KEY = "br-parquet-test-key"
S3_SECRET_KEY = "br-parquet-test-secret"
_S3_START_TIMEOUT_SECONDS = 30.0
_S3_STOP_TIMEOUT_SECONDS = 10.0


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _s3_server_answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`http://127.0.0.1:<port>` of a moto S3 server that lives for the whole session."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.skip("moto[server] is not installed (pip install 'moto[server]')")
    port = _free_loopback_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + _S3_START_TIMEOUT_SECONDS
        while not _s3_server_answers(endpoint):
            if process.poll() is not None:
                pytest.fail(f"moto server exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                pytest.fail(f"moto server did not answer within {_S3_START_TIMEOUT_SECONDS}s")
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=_S3_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_S3_STOP_TIMEOUT_SECONDS)


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the test server."""
    name = f"br-parquet-{uuid.uuid4().hex[:16]}"
    request = urllib.request.Request(f"{s3_endpoint}/{name}", method="PUT")
    with urllib.request.urlopen(request, timeout=10.0) as response:
        assert response.status == 200, f"creating bucket {name}: HTTP {response.status}"
    return name


@pytest.fixture
def s3_credentials() -> tuple[str, str]:
    """(access key, secret key) for the test server, which accepts any."""
    return S3_ACCESS_KEY, S3_SECRET_KEY


@pytest.fixture
def s3_url(s3_endpoint: str, s3_bucket: str) -> str:
    """A BR storage URL for prefix `backup/root` of a fresh bucket, with static keys."""
    return (
        f"s3://{s3_bucket}/backup/root?endpoint={s3_endpoint}&force-path-style=true"
        f"&access-key={S3_ACCESS_KEY}&secret-access-key={S3_SECRET_KEY}&region=us-east-1"
    )


# --- ../shared beside the checkout: real fixtures and codec vectors ------------------------

SHARED_DIR = Path(__file__).resolve().parents[2].parent / "shared"
SHARED_FIXTURES = SHARED_DIR / "fixtures"


def _on_ci() -> bool:
    return os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """`../shared/fixtures` beside the checkout. When it is absent, tests using it skip on
    a local run (and the terminal summary counts them) and fail under CI (`CI=true`)."""
    if not SHARED_FIXTURES.is_dir():
        message = (
            f"shared fixtures not found at {SHARED_FIXTURES}; CI places shared/ beside the checkout"
        )
        if _on_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return SHARED_FIXTURES


def _skipped_for_missing_shared(report: pytest.TestReport) -> bool:
    """Whether a skip names a path under ../shared: the fixture above and the tests that
    check a ../shared path themselves (`pytest.skip(f"{path} not found")`, `skipif`)."""
    longrepr = report.longrepr
    # A skip's longrepr is (path, line, "Skipped: <reason>").
    return report.skipped and isinstance(longrepr, tuple) and str(SHARED_DIR) in str(longrepr[-1])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if _on_ci() and _skipped_for_missing_shared(report):
        assert isinstance(report.longrepr, tuple)
        report.outcome = "failed"
        report.longrepr = f"CI=true and ../shared is missing: {report.longrepr[-1]}"
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    count = sum(
        1
        for report in terminalreporter.stats.get("skipped", [])
        if _skipped_for_missing_shared(report)
    )
    if count:
        terminalreporter.write_sep(
            "!",
            f"{count} test(s) SKIPPED because ../shared is missing ({SHARED_DIR}); "
            "they checked nothing. CI (CI=true) fails instead of skipping.",
            red=True,
            bold=True,
        )

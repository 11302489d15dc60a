"""Exports S3 → S3 through a fault-injecting proxy (`faultproxy`) in front of a moto server
on loopback: transient faults (5xx answers, `SlowDown`, connections reset mid-body, slow
and hanging answers, the server going down and coming back) are retried and the output is
byte for byte that of a clean run; permanent ones (access denied, retries exhausted, a
missing bucket) stop the export with exit code 4 and one error line, the checkpoint
holding only finished SSTs, and the next run resumes to the clean run's output.

The moto server runs in this process (`ThreadedMotoServer`), so its objects live in
moto's in-process backend and survive a stop and restart of the server.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultPlan, FaultProxy

import br_parquet
from br_parquet.api import run_export
from br_parquet.errors import StorageError, exit_code_of
from br_parquet.events import CheckpointLoaded
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

pytestmark = pytest.mark.s3

KEY, SECRET = "fault-test-key", "fault-test-secret"
INPUT_BUCKET = "fault-input"
OUTPUT_BUCKET = "fault-output"
PREFIX = "parquet"
CHECKPOINT = f"{PREFIX}/_checkpoint/"
LONG_NOTE = "n" * 300  # long values go to default-CF SSTs: two downloads per task

# Small backoffs keep the retries fast; the request timeout is far above what a request
# to the loopback server takes, except where a test lowers it.
FAST_RETRIES: dict[str, Any] = {
    "storage_max_retries": 8,
    "storage_retry_backoff": 0.01,
    "storage_retry_max_backoff": 0.1,
    "storage_retry_timeout": 30.0,
    "storage_timeout": 20.0,
    "sst_concurrency": 2,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """moto's threaded S3 server on a fixed loopback port, which can be stopped and started
    again; its objects stay in moto's in-process backend meanwhile."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = _free_port()
        self._server_type = ThreadedMotoServer
        self._server: Any = None
        self.starts = 0

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = self._server_type(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.starts += 1

    def stop(self) -> None:
        self._server.stop()
        # ThreadedMotoServer.stop leaves the socket bound: close it, or connections queue
        # unanswered instead of being refused, and the port cannot be bound again.
        self._server._server.server_close()


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = MotoServer()
    server.start()
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        request = urllib.request.Request(f"{server.endpoint}/{bucket}", method="PUT")
        with urllib.request.urlopen(request, timeout=10):
            pass
    yield server
    server.stop()


def url(endpoint: str, bucket: str, prefix: str) -> str:
    return (
        f"s3://{bucket}/{prefix}?endpoint={endpoint}&force-path-style=true"
        f"&access-key={KEY}&secret-access-key={SECRET}&region=us-east-1"
    )


@pytest.fixture(scope="module")
def backup(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The backup's prefix in the input bucket: 5 SST tasks (8 SST files) of two tables."""
    root = tmp_path_factory.mktemp("faults") / "backup"
    a_rows = [(i, f"name-{i}", LONG_NOTE if i % 5 == 0 else "short") for i in range(1, 61)]
    write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "faults",
                    [
                        table(
                            "a",
                            [("id", "int primary key"), ("name", "varchar(40)"), ("note", "text")],
                            rows=a_rows,
                            split_at=[21, 41],
                        ),
                        table(
                            "b",
                            [("id", "bigint primary key"), ("v", "double")],
                            rows=[(i, i / 7) for i in range(1, 41)],
                            split_at=[21],
                        ),
                    ],
                )
            ]
        ),
    )
    storage = Storage.from_url(url(moto.endpoint, INPUT_BUCKET, "backup"))
    for path in sorted(root.rglob("*")):
        if path.is_file():
            storage.put_file(path.relative_to(root).as_posix(), path)
    return "backup"


def checkpoint_state(
    moto: MotoServer, backup: str, name: str
) -> tuple[CheckpointLoaded, list[Any]]:
    """What a dry run finds in the checkpoint (read-only, every finished object read back
    and checked against its recorded SHA-256): the load event and the reused objects."""
    events: list[Any] = []
    result = run_export(
        url(moto.endpoint, INPUT_BUCKET, backup),
        url(moto.endpoint, OUTPUT_BUCKET, name),
        br_parquet.ExportOptions(dry_run=True, checkpoint_verify="sha256", **FAST_RETRIES),
        listeners=[events.append],
    )
    (loaded,) = [e for e in events if isinstance(e, CheckpointLoaded)]
    return loaded, [o for o in result.objects if o.reused]


@dataclass
class Snapshot:
    objects: dict[str, str]
    """{Parquet object name: SHA-256 of its bytes}, every object of the output."""
    checkpoint: dict[str, str]
    """{object name: SHA-256} of the objects the checkpoint records as finished (its
    documents also hold finish times and a file layout of their own, so not compared)."""


def snapshot(moto: MotoServer, backup: str, name: str) -> Snapshot:
    storage = Storage.from_url(url(moto.endpoint, OUTPUT_BUCKET, name))
    objects = {
        info.name: hashlib.sha256(storage.get_bytes(info.name)).hexdigest()
        for info in storage.list(PREFIX + "/")
        if not info.name.startswith(CHECKPOINT)
    }
    if not objects:
        return Snapshot(objects, {})
    loaded, reused = checkpoint_state(moto, backup, name)
    assert loaded.rejected_entries == 0 and loaded.redo_objects == 0, loaded
    return Snapshot(objects, {o.path: o.sha256 for o in reused})


def export(proxy: FaultProxy, backup: str, name: str, **settings: Any) -> br_parquet.ExportResult:
    """An export through the proxy, input and output both on it."""
    return br_parquet.export(
        url(proxy.endpoint, INPUT_BUCKET, backup),
        url(proxy.endpoint, OUTPUT_BUCKET, name),
        **{**FAST_RETRIES, **settings},
    )


@pytest.fixture(scope="module")
def clean(moto: MotoServer, backup: str) -> Snapshot:
    """The output of an export through the proxy without any fault."""
    with FaultProxy(moto.address) as proxy:
        result = export(proxy, backup, "clean")
        assert proxy.injected == {}
    assert result.rows_by_table() == {"faults.a": 60, "faults.b": 40}
    found = snapshot(moto, backup, "clean")
    assert len(found.objects) == 5
    assert found.checkpoint == found.objects
    return found


TRANSIENT = [
    # (test id, plan, the fault counter that must be non-zero, settings)
    ("status500", FaultPlan("status500", every=3), "status500", {}),
    # A fraction of the requests, drawn from a seeded generator (its first draw hits).
    ("status500-seeded", FaultPlan("status500", rate=0.25, seed=1), "status500", {}),
    ("status503", FaultPlan("status503", every=3), "status503", {}),
    ("slowdown", FaultPlan("slowdown", every=3), "slowdown", {}),
    (
        "reset-get-mid-body",
        FaultPlan("reset", every=2, methods=frozenset({"GET"})),
        "reset-mid-body",
        {},
    ),
    (
        "reset-writes",
        FaultPlan("reset", every=2, methods=frozenset({"PUT", "POST"})),
        "reset-before-answer",
        {},
    ),
    ("slow-below-timeout", FaultPlan("slow", every=3, delay=0.2), "slow", {}),
    (
        "hang-above-timeout",
        FaultPlan("hang", every=10, delay=10.0),
        "hang",
        {"storage_timeout": 1.0},
    ),
]


@pytest.mark.parametrize(
    ("plan", "counter", "settings"),
    [pytest.param(plan, counter, settings, id=id) for id, plan, counter, settings in TRANSIENT],
)
def test_transient_faults_leave_the_output_of_a_clean_run(
    moto: MotoServer,
    backup: str,
    clean: Snapshot,
    request: pytest.FixtureRequest,
    plan: FaultPlan,
    counter: str,
    settings: dict[str, Any],
) -> None:
    name = f"transient-{request.node.callspec.id}"
    with FaultProxy(moto.address, plan) as proxy:
        result = export(proxy, backup, name, **settings)
        assert proxy.injected[counter] >= 1, proxy.injected
    assert result.objects_written == 5
    assert snapshot(moto, backup, name) == clean


def test_large_object_survives_resets(moto: MotoServer, tmp_path: Path) -> None:
    """A 12 MiB object — a multipart upload of two parts, a download of several chunks —
    through connections reset before the upload requests are answered and in the middle
    of every other download's body."""
    data = os.urandom(12 * 1024 * 1024 + 5)
    source = tmp_path / "big.parquet"
    source.write_bytes(data)
    digest = hashlib.sha256(data).digest()
    with FaultProxy(moto.address, FaultPlan("reset", every=2)) as proxy:
        storage = Storage.from_url(
            url(proxy.endpoint, OUTPUT_BUCKET, "large"),
            settings=br_parquet.ExportOptions(**FAST_RETRIES).storage,
        )
        storage.put_file("big.parquet", source)
        target = tmp_path / "copy" / "big.parquet"
        assert storage.download_to("big.parquet", target, expected_sha256=digest) == digest
        assert proxy.injected["reset-before-answer"] >= 1
        assert proxy.injected["reset-mid-body"] >= 1
    assert target.read_bytes() == data


def test_server_down_and_back_mid_run(moto: MotoServer, backup: str, clean: Snapshot) -> None:
    """At the 12th request the proxy stops accepting connections, cuts the open ones and
    stops the moto server; a second later both are back (the objects kept in moto's
    backend). The clients retry refused connections meanwhile: 30 retries of at least
    50 ms each outlast the outage."""
    starts = moto.starts
    with FaultProxy(
        moto.address,
        FaultPlan(outage_at=12),
        outage_seconds=1.0,
        stop_upstream=moto.stop,
        start_upstream=moto.start,
    ) as proxy:
        result = export(
            proxy,
            backup,
            "outage",
            storage_max_retries=30,
            storage_retry_backoff=0.05,
            storage_retry_max_backoff=0.2,
        )
        assert proxy.restored is not None
        proxy.restored.join()
        assert proxy.injected["outage"] == 1
        assert proxy.requests > 12  # work went on after the outage
    assert moto.starts == starts + 1
    assert result.objects_written == 5
    assert snapshot(moto, backup, "outage") == clean


def _cli(
    proxy: FaultProxy, backup: str, name: str, concurrency: int = 2
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "br_parquet.cli",
        "--input", url(proxy.endpoint, INPUT_BUCKET, backup),
        "--output", url(proxy.endpoint, OUTPUT_BUCKET, name),
        "--storage-max-retries", "2",
        "--storage-retry-backoff", "10ms",
        "--storage-retry-max-backoff", "50ms",
        "--sst-concurrency", str(concurrency),
        "--no-progress",
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_access_denied_stops_cleanly_and_the_next_run_resumes(
    moto: MotoServer, backup: str, clean: Snapshot
) -> None:
    name = "denied"
    # One task at a time: the first task's object and entry are written before the second
    # task's object, after which every write is refused (its entry included).
    with FaultProxy(moto.address, FaultPlan(deny_writes_after=2)) as proxy:
        run = _cli(proxy, backup, name, concurrency=1)
        assert proxy.injected["deny"] >= 1
    assert run.returncode == 4, run.stderr
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, run.stderr
    assert errors[0].startswith("br-parquet-export: error: ")
    assert f"s3://{OUTPUT_BUCKET}/{name}" in errors[0]
    assert "AccessDenied" in errors[0] or "permission" in errors[0].lower()
    assert "Traceback" not in run.stderr
    assert KEY not in run.stderr and SECRET not in run.stderr

    # The checkpoint is intact and records only objects that are there, whole: none of its
    # entries is rejected or points at a missing or different object.
    after_failure = snapshot(moto, backup, name)
    assert 0 < len(after_failure.checkpoint) < 5
    for path, sha256 in after_failure.checkpoint.items():
        assert after_failure.objects[path] == clean.objects[path] == sha256
    reused = after_failure.checkpoint

    with FaultProxy(moto.address) as proxy:
        result = export(proxy, backup, name)
    assert result.objects_reused == len(reused)
    assert result.objects_written == 5 - len(reused)
    assert snapshot(moto, backup, name) == clean


def test_retries_exhausted_is_a_storage_error(moto: MotoServer, backup: str) -> None:
    """Every PUT answers 503: the first write (the checkpoint's `meta.json`) fails after
    its retries, and the export with a StorageError naming that object and the storage,
    before any Parquet object is written."""
    plan = FaultPlan("status503", every=1, methods=frozenset({"PUT"}))
    name = "exhausted"
    with FaultProxy(moto.address, plan) as proxy, pytest.raises(StorageError) as info:
        export(proxy, backup, name, storage_max_retries=2)
    assert proxy.injected["status503"] == 3  # the request and its 2 retries
    error = info.value
    assert exit_code_of(error) == 4
    assert error.location == f"s3://{OUTPUT_BUCKET}/{name}"
    assert error.name is not None and error.name in str(error)
    assert "503" in str(error) and "\n" not in str(error)
    assert snapshot(moto, backup, name).objects == {}


def test_missing_bucket_is_a_storage_error(moto: MotoServer, backup: str) -> None:
    with FaultProxy(moto.address) as proxy, pytest.raises(StorageError) as info:
        br_parquet.export(
            url(proxy.endpoint, INPUT_BUCKET, backup),
            url(proxy.endpoint, "no-such-bucket", "out"),
            **FAST_RETRIES,
        )
    assert exit_code_of(info.value) == 4
    assert "does not exist" in str(info.value)
    assert "s3://no-such-bucket/out" in str(info.value)


def test_storage_flags_reach_the_stores(moto: MotoServer, backup: str, tmp_path: Path) -> None:
    """The --storage-* settings become each store's obstore client and retry settings."""
    options = br_parquet.ExportOptions(
        storage_max_retries=3,
        storage_retry_timeout=12.0,
        storage_retry_backoff=0.25,
        storage_retry_max_backoff=2.0,
        storage_connect_timeout=4.0,
        storage_timeout=45.0,
        storage_read_timeout=30.0,
    )
    storage = Storage.from_url(url(moto.endpoint, INPUT_BUCKET, backup), settings=options.storage)
    built = storage.store_config()
    retry = built["retry_config"]
    assert retry["max_retries"] == 3
    assert retry["retry_timeout"].total_seconds() == 12.0
    assert retry["backoff"]["init_backoff"].total_seconds() == 0.25
    assert retry["backoff"]["max_backoff"].total_seconds() == 2.0
    client = built["client_options"]
    assert {k: client[k] for k in ("connect_timeout", "timeout", "read_timeout")} == {
        "connect_timeout": "4s",
        "timeout": "45s",
        "read_timeout": "30s",
    }

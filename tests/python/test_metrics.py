"""Prometheus metrics of an export: scraped over HTTP while a (slowed) run lasts, written
as a node-exporter textfile, pushed to a Pushgateway at the end, on failure too."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from br_parquet import ExportOptions, job
from br_parquet.crashpoints import DELAY_ENV, _delay_seconds
from br_parquet.errors import BrParquetError
from br_parquet.events import DownloadStarted, Planned, RunFinished, TaskCompleted, TaskFailed
from br_parquet.metrics import (
    BUCKETS,
    SST_EVENTS,
    STAGES,
    ExportMetrics,
    parse_addr,
    redact_pushgateway,
)
from br_parquet.storage_url import parse_storage_url
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

TASKS = 12
ROWS = 120
P = "tikv_br_parquet_"
COUNTERS = (
    "rows_emitted",
    "output_bytes",
    "input_bytes",
    "objects_written",
    "objects_reused",
    "rows_reused",
    "output_bytes_reused",
)
GAUGES = ("ssts_planned", "ssts_done", "tasks_in_flight")
EXPOSED = {
    f"{P}sst_events_total",
    *(f"{P}{c}_total" for c in COUNTERS),
    *(f"{P}{g}" for g in GAUGES),
    f"{P}stage_duration_seconds_bucket",
    f"{P}stage_duration_seconds_count",
    f"{P}stage_duration_seconds_sum",
}
"""Every sample name exposed: nothing else (no `_created` series)."""

Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def backup(root: Path) -> Path:
    rows = [(i, f"v{i}") for i in range(ROWS)]
    spec = table("t", [("id", "int primary key"), ("s", "varchar(8)")], rows=rows)
    spec.split_at = list(range(ROWS // TASKS, ROWS, ROWS // TASKS))
    write_backup(root, BackupSpec([DatabaseSpec("db", [spec])]))
    return root


def parse(text: str) -> Values:
    """Sample (name, sorted labels) → value, through prometheus-client's own parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(values: Values, name: str, **labels: str) -> float:
    return values[(P + name, tuple(sorted(labels.items())))]


def event(values: Values, name: str) -> float:
    return value(values, "sst_events_total", event=name)


def check_names(values: Values) -> None:
    assert {name for name, _ in values} == EXPOSED
    assert {dict(k)["event"] for n, k in values if n == f"{P}sst_events_total"} == set(SST_EVENTS)
    stages = {dict(k)["stage"] for n, k in values if n.startswith(f"{P}stage_duration")}
    assert stages == set(STAGES)
    les = {dict(k)["le"] for n, k in values if n == f"{P}stage_duration_seconds_bucket"}
    assert les == {str(float(b)) for b in BUCKETS} | {"+Inf"}


def check_final(values: Values, summary: dict[str, int]) -> None:
    """The counters of a finished first run equal the run's own figures."""
    check_names(values)
    tasks = summary["tasks"]
    assert tasks == TASKS
    for name in ("downloaded", "converted", "uploaded", "completed"):
        assert event(values, name) == tasks, name
    assert event(values, "skipped_checkpoint") == event(values, "failed") == 0
    assert value(values, "rows_emitted_total") == summary["rows"] == ROWS
    assert value(values, "output_bytes_total") == summary["bytes"] > 0
    assert value(values, "input_bytes_total") == summary["input_bytes"] > 0
    assert value(values, "objects_written_total") == tasks  # one table: an object a task
    for reused in ("objects_reused", "rows_reused", "output_bytes_reused"):
        assert value(values, f"{reused}_total") == 0, reused
    assert value(values, "ssts_planned") == value(values, "ssts_done") == tasks
    assert value(values, "tasks_in_flight") == 0
    for stage in STAGES:
        assert value(values, "stage_duration_seconds_count", stage=stage) == tasks, stage
        assert value(values, "stage_duration_seconds_bucket", stage=stage, le="+Inf") == tasks
        assert value(values, "stage_duration_seconds_sum", stage=stage) >= 0
    assert value(values, "stage_duration_seconds_sum", stage="convert") > 0


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The exporting process: serves /metrics on a port of its choice (reported in a file),
# writes the textfile, prints the run's figures, and closes when its stdin does.
CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from br_parquet import ExportOptions, job
    from br_parquet.metrics import ExportMetrics
    from br_parquet.storage_url import parse_storage_url

    backup, out, port_file, textfile = sys.argv[1:]
    metrics = ExportMetrics(addr="127.0.0.1:0", textfile=textfile)
    metrics.interval = 0.05
    metrics.start()
    Path(port_file + ".tmp").write_text(str(metrics.port))
    Path(port_file + ".tmp").rename(port_file)
    result = job.export(
        parse_storage_url(backup),
        parse_storage_url(out),
        ExportOptions(sst_concurrency=2),
        listeners=[metrics],
    )
    summary = dict(
        tasks=result.tasks,
        rows=result.rows_written,
        bytes=result.bytes_written,
        input_bytes=result.input_bytes,
    )
    print(json.dumps(summary), flush=True)
    sys.stdin.read()
    metrics.close()
    """
)


def test_scraped_while_the_run_lasts(tmp_path: Path) -> None:
    root = backup(tmp_path / "b")
    port_file = tmp_path / "port"
    textfile = tmp_path / "metrics" / "export.prom"
    textfile.parent.mkdir()
    env = {**os.environ, DELAY_ENV: "250"}
    args = [str(root), str(tmp_path / "out"), str(port_file), str(textfile)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "the exporter never reported its port"
            time.sleep(0.02)
        port = int(port_file.read_text())

        # Mid-run: some tasks done, some in flight.
        while True:
            assert time.monotonic() < deadline, "no task completed in time"
            mid = parse(scrape(port))
            if event(mid, "completed") > 0:
                break
            time.sleep(0.02)
        check_names(mid)
        completed = event(mid, "completed")
        assert 0 < completed < TASKS
        assert value(mid, "ssts_planned") == TASKS
        assert value(mid, "ssts_done") == completed
        assert value(mid, "tasks_in_flight") >= 1
        assert event(mid, "downloaded") == event(mid, "converted") == event(mid, "uploaded")
        assert event(mid, "downloaded") >= completed
        assert event(mid, "skipped_checkpoint") == event(mid, "failed") == 0
        assert 0 < value(mid, "rows_emitted_total") < ROWS
        assert value(mid, "input_bytes_total") > 0
        assert value(mid, "stage_duration_seconds_count", stage="download") >= completed
        assert textfile.exists()  # written from the start, rewritten as the run goes
        check_names(parse(textfile.read_text()))

        # The end: the figures the run reports, served until close() and in the textfile.
        assert child.stdout is not None
        summary = json.loads(child.stdout.readline())
        final = parse(scrape(port))
        check_final(final, summary)
        _, err = child.communicate("", timeout=60)
        assert child.returncode == 0, err
        assert parse(textfile.read_text()) == final
        with pytest.raises(OSError):
            scrape(port)  # close() stopped the server
        assert not [p for p in textfile.parent.iterdir() if p != textfile]  # no temp files
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()

    # A rerun finds every task in the checkpoint.
    rerun = ExportMetrics(textfile=str(tmp_path / "rerun.prom"))
    with rerun:
        job.export(
            parse_storage_url(str(root)),
            parse_storage_url(str(tmp_path / "out")),
            ExportOptions(),
            listeners=[rerun],
        )
    again = parse((tmp_path / "rerun.prom").read_text())
    check_names(again)
    assert event(again, "skipped_checkpoint") == TASKS
    assert event(again, "completed") == event(again, "downloaded") == 0
    assert value(again, "ssts_planned") == value(again, "ssts_done") == TASKS
    assert value(again, "rows_emitted_total") == 0


def test_textfile_holds_the_final_values(tmp_path: Path) -> None:
    root = backup(tmp_path / "b")
    path = tmp_path / "export.prom"
    metrics = ExportMetrics(textfile=str(path))
    metrics.start()
    assert parse(path.read_text()) == parse(metrics.text())  # every series from the start
    result = job.export(
        parse_storage_url(str(root)),
        parse_storage_url(str(tmp_path / "out")),
        ExportOptions(sst_concurrency=3),
        listeners=[metrics],
    )
    # RunFinished wrote it: no need to wait for close().
    final = parse(path.read_text())
    summary = dict(
        tasks=result.tasks,
        rows=result.rows_written,
        bytes=result.bytes_written,
        input_bytes=result.input_bytes,
    )
    check_final(final, summary)
    metrics.close()
    metrics.close()  # idempotent
    assert parse(path.read_text()) == final
    assert metrics.registry.get_sample_value(f"{P}rows_emitted_total") == ROWS


class Pushgateway:
    """A fake Pushgateway on loopback recording every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                received.append((self.command, self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST = _record

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def pushgateway() -> Iterator[Pushgateway]:
    gateway = Pushgateway()
    try:
        yield gateway
    finally:
        gateway.close()


def test_a_failed_run_is_pushed(tmp_path: Path, pushgateway: Pushgateway) -> None:
    root = backup(tmp_path / "b")
    victim = sorted(root.rglob("*_write.sst"))[3]
    victim.write_bytes(bytes(victim.stat().st_size))  # sha256 mismatch
    metrics = ExportMetrics(pushgateway=pushgateway.url, job="nightly")
    with metrics, pytest.raises(BrParquetError, match="sha256 mismatch"):
        job.export(
            parse_storage_url(str(root)),
            parse_storage_url(str(tmp_path / "out")),
            ExportOptions(sst_concurrency=2),
            listeners=[metrics],
        )
    [(method, path, _, body)] = pushgateway.requests  # once: on RunFinished, not again
    assert method == "PUT"
    assert path == "/metrics/job/nightly"
    pushed = parse(body.decode())
    check_names(pushed)
    assert event(pushed, "failed") >= 1
    assert event(pushed, "completed") < TASKS
    assert value(pushed, "ssts_planned") == TASKS
    assert value(pushed, "tasks_in_flight") == 0


def test_a_successful_run_is_pushed_with_credentials_never_logged(
    tmp_path: Path, pushgateway: Pushgateway, caplog: pytest.LogCaptureFixture
) -> None:
    root = backup(tmp_path / "b")
    caplog.set_level(logging.INFO, logger="br_parquet.metrics")
    url = pushgateway.url.replace("http://", "http://ci:s3cr%40t@")
    metrics = ExportMetrics(pushgateway=url)
    with metrics:
        result = job.export(
            parse_storage_url(str(root)),
            parse_storage_url(str(tmp_path / "out")),
            ExportOptions(),
            listeners=[metrics],
        )
    [(_, path, headers, body)] = pushgateway.requests
    assert path == "/metrics/job/br_parquet_export"
    expected = "Basic " + base64.b64encode(b"ci:s3cr@t").decode()
    assert headers["Authorization"] == expected
    pushed = parse(body.decode())
    assert event(pushed, "completed") == TASKS
    assert value(pushed, "rows_emitted_total") == result.rows_written
    assert "pushed metrics" in caplog.text
    assert "s3cr" not in caplog.text and "ci:redacted@127.0.0.1" in caplog.text


def test_an_unreachable_pushgateway_does_not_fail_the_export(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = backup(tmp_path / "b")
    metrics = ExportMetrics(pushgateway=f"http://127.0.0.1:{free_port()}")
    with metrics:
        result = job.export(
            parse_storage_url(str(root)),
            parse_storage_url(str(tmp_path / "out")),
            ExportOptions(),
            listeners=[metrics],
        )
    assert result.rows_written == ROWS
    assert "pushing metrics to the Pushgateway" in caplog.text
    assert "failed" in caplog.text
    assert metrics.push() is False  # a direct call reports, never raises


def test_close_pushes_when_the_run_never_finished(pushgateway: Pushgateway) -> None:
    metrics = ExportMetrics(pushgateway=pushgateway.url)
    metrics(Planned(tables=1, tasks=2, input_bytes=10, skipped_files=0))
    metrics.close()
    metrics.close()
    assert len(pushgateway.requests) == 1


def test_in_flight_and_done_follow_the_events() -> None:
    metrics = ExportMetrics()
    get = metrics.registry.get_sample_value
    metrics(DownloadStarted("a", 1))
    metrics(DownloadStarted("b", 1))
    assert get(f"{P}tasks_in_flight") == 2
    metrics(TaskCompleted("a", rows=5, output_bytes=50))
    metrics(TaskFailed("b", RuntimeError("x")))
    assert get(f"{P}tasks_in_flight") == 0
    assert get(f"{P}ssts_done") == 1
    assert get(f"{P}sst_events_total", {"event": "failed"}) == 1
    metrics(DownloadStarted("c", 1))
    metrics(RunFinished(None, RuntimeError("x"), 1.0))
    assert get(f"{P}tasks_in_flight") == 0  # abandoned with the run


def test_own_registry() -> None:
    from prometheus_client import REGISTRY

    first, second = ExportMetrics(), ExportMetrics()  # no duplicate-name clash
    first(TaskCompleted("a", rows=5, output_bytes=50))
    assert second.registry.get_sample_value(f"{P}rows_emitted_total") == 0
    assert REGISTRY.get_sample_value(f"{P}rows_emitted_total") is None


def test_from_options() -> None:
    assert ExportMetrics.from_options(ExportOptions()) is None
    metrics = ExportMetrics.from_options(
        ExportOptions(
            metrics_addr="9100",
            metrics_file="/tmp/x.prom",
            metrics_pushgateway="http://gw:9091",
            metrics_job="j",
        )
    )
    assert metrics is not None
    assert (metrics.host, metrics.port, metrics.textfile) == ("127.0.0.1", 9100, "/tmp/x.prom")
    assert (metrics.pushgateway, metrics.job) == ("http://gw:9091", "j")
    only_push = ExportMetrics.from_options(ExportOptions(metrics_pushgateway="gw:9091"))
    assert only_push is not None and only_push.port is None and only_push.textfile is None


def test_addresses() -> None:
    assert parse_addr("9090") == ("127.0.0.1", 9090)
    assert parse_addr("localhost:9090") == ("localhost", 9090)
    assert parse_addr(":9090") == ("0.0.0.0", 9090)
    assert parse_addr("[::1]:9090") == ("::1", 9090)
    for bad in ("", "host:", "host:port", "70000", "::1:9090", "-1"):
        with pytest.raises(ValueError, match="metrics address"):
            ExportMetrics(addr=bad)


def test_a_port_in_use_fails_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        metrics = ExportMetrics(addr=f"127.0.0.1:{port}")
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            metrics.start()
        metrics.close()


def test_a_bare_port_serves_loopback() -> None:
    metrics = ExportMetrics(addr=str(free_port()))
    with metrics:
        assert metrics.port is not None
        check_names(parse(scrape(metrics.port)))
    with pytest.raises(OSError):
        scrape(metrics.port)


def test_redaction() -> None:
    assert redact_pushgateway("http://u:p@gw:9091") == "http://u:redacted@gw:9091"
    assert redact_pushgateway("gw:9091") == "gw:9091"
    assert redact_pushgateway("http://gw/?access-key=k") == "http://gw/?access-key=redacted"


def test_task_delay_setting() -> None:
    assert _delay_seconds(None) == _delay_seconds("") == 0
    assert _delay_seconds("250") == 0.25
    for bad in ("x", "-1"):
        with pytest.raises(ValueError, match=DELAY_ENV):
            _delay_seconds(bad)

"""Prometheus metrics of an export: a listener on the event stream (see `events`) that
keeps the run's counters, gauges and stage histograms in its own registry, and exposes
them three ways, each optional:

- `addr`: an HTTP server answering `/metrics` while the run lasts, for Prometheus to scrape;
- `textfile`: the node-exporter textfile format, rewritten atomically every `interval`
  seconds and once more at the end;
- `pushgateway`: one push to a Prometheus Pushgateway at the end, on failure too.

>>> from br_parquet.events import Planned
>>> metrics = ExportMetrics()
>>> metrics(Planned(tables=1, tasks=3, input_bytes=100, skipped_files=0))
>>> metrics.registry.get_sample_value("tikv_br_parquet_ssts_planned")
3.0

The metric names follow the original design's `tikv_br_parquet_` prefix. Counters and
histograms carry no `_created` series: an export is one short run, and the exposition
lists exactly the documented names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from urllib.parse import unquote, urlsplit, urlunsplit
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    push_to_gateway,
    start_http_server,
    write_to_textfile,
)
from prometheus_client.exposition import basic_auth_handler, default_handler
from prometheus_client.metrics_core import Metric

from .events import (
    DecodeFinished,
    DownloadFinished,
    DownloadStarted,
    EntryWritten,
    Event,
    Planned,
    ResumedFromCheckpoint,
    RunFinished,
    SkippedFromCheckpoint,
    TaskCompleted,
    TaskFailed,
    UploadFinished,
)
from .options import ExportOptions
from .storage_url import redact_url
from .written import WrittenObject

log = logging.getLogger("br_parquet.metrics")

PREFIX = "tikv_br_parquet"
SST_EVENTS = ("downloaded", "converted", "uploaded", "completed", "skipped_checkpoint", "failed")
"""The values of the `event` label of `tikv_br_parquet_sst_events_total`."""
STAGES = ("download", "convert", "upload", "checkpoint")
"""The values of the `stage` label of `tikv_br_parquet_stage_duration_seconds`."""
BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
    300,
    600,
)
"""Stage duration buckets, in seconds: 1 ms to 10 min (and +Inf)."""
DEFAULT_JOB = "br_parquet_export"
DEFAULT_HOST = "127.0.0.1"


class ExportMetrics:
    """The Prometheus metrics of one export run, and their exposure.

    Pass it to `job.export(..., listeners=[metrics])`; call `start()` before the run
    (to serve `/metrics` and start the textfile writer) and `close()` after it (or use
    it as a context manager). The final textfile write and the Pushgateway push happen
    on `RunFinished`, or in `close()` if the run never got that far.
    """

    def __init__(
        self,
        *,
        addr: str | None = None,
        textfile: str | None = None,
        pushgateway: str | None = None,
        job: str = DEFAULT_JOB,
    ) -> None:
        if not job:
            raise ValueError("the Pushgateway job name must not be empty")
        self.addr = addr
        self.host: str | None = None
        self.port: int | None = None
        """The HTTP port; after `start()` the bound one (useful with port 0)."""
        if addr is not None:
            self.host, self.port = parse_addr(addr)
        self.textfile = textfile
        self.pushgateway = pushgateway
        self._push_url, self._push_auth = (
            _split_credentials(pushgateway) if pushgateway else ("", None)
        )
        self.job = job
        self.interval = 5.0
        """Seconds between two textfile writes while the run lasts."""
        self.push_timeout = 10.0

        self.registry = CollectorRegistry()
        r = self.registry
        self.sst_events = Counter(
            f"{PREFIX}_sst_events",
            "SST task events: downloaded, converted, uploaded, completed (one per write-CF "
            "data file exported), skipped_checkpoint (finished by an earlier run), failed",
            ["event"],
            registry=r,
        )
        for name in SST_EVENTS:
            self.sst_events.labels(name)
        self.rows_emitted = Counter(
            f"{PREFIX}_rows_emitted", "Rows of the Parquet objects written", registry=r
        )
        self.output_bytes = Counter(
            f"{PREFIX}_output_bytes", "Bytes of the Parquet objects written", registry=r
        )
        self.input_bytes = Counter(
            f"{PREFIX}_input_bytes", "Bytes of SST files downloaded", registry=r
        )
        self.objects_written = Counter(
            f"{PREFIX}_objects_written", "Parquet objects written", registry=r
        )
        # What an earlier run finished: with the written ones, the whole output.
        self.objects_reused = Counter(
            f"{PREFIX}_objects_reused",
            "Parquet objects finished by an earlier run, reused",
            registry=r,
        )
        self.rows_reused = Counter(
            f"{PREFIX}_rows_reused", "Rows of the Parquet objects reused", registry=r
        )
        self.output_bytes_reused = Counter(
            f"{PREFIX}_output_bytes_reused", "Bytes of the Parquet objects reused", registry=r
        )
        self.stage_duration = Histogram(
            f"{PREFIX}_stage_duration_seconds",
            "Time of one SST task's stage: download, convert (decode and write Parquet), "
            "upload, checkpoint (write its checkpoint entries)",
            ["stage"],
            buckets=BUCKETS,
            registry=r,
        )
        for stage in STAGES:
            self.stage_duration.labels(stage)
        self.ssts_planned = Gauge(
            f"{PREFIX}_ssts_planned", "SST tasks in the plan of the run", registry=r
        )
        self.ssts_done = Gauge(
            f"{PREFIX}_ssts_done",
            "SST tasks done: completed by this run or skipped as finished by an earlier one",
            registry=r,
        )
        self.tasks_in_flight = Gauge(
            f"{PREFIX}_tasks_in_flight", "SST tasks started and not yet finished", registry=r
        )

        self._exposed = _WithoutCreated(r)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._server: WSGIServer | None = None
        self._server_thread: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._started = False
        self._closed = False
        self._pushed = False

    @classmethod
    def from_options(cls, options: ExportOptions) -> ExportMetrics | None:
        """The metrics `options` ask for; None when they ask for none."""
        if not (options.metrics_addr or options.metrics_file or options.metrics_pushgateway):
            return None
        return cls(
            addr=options.metrics_addr or None,
            textfile=options.metrics_file or None,
            pushgateway=options.metrics_pushgateway or None,
            job=options.metrics_job,
        )

    # --- the listener ----------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        match event:
            case Planned():
                self.ssts_planned.set(event.tasks)
            case SkippedFromCheckpoint():
                self.sst_events.labels("skipped_checkpoint").inc()
                self.ssts_done.inc()
                self._reused(event.objects)
            case ResumedFromCheckpoint():
                # Not done: its `TaskCompleted` comes when this run finishes it.
                self._reused(event.objects)
            case DownloadStarted():
                self.tasks_in_flight.inc()
            case DownloadFinished():
                self.sst_events.labels("downloaded").inc()
                self.input_bytes.inc(event.input_bytes)
                self.stage_duration.labels("download").observe(event.seconds)
            case DecodeFinished():
                self.sst_events.labels("converted").inc()
                self.stage_duration.labels("convert").observe(event.seconds)
            case UploadFinished():
                self.sst_events.labels("uploaded").inc()
                self.objects_written.inc(len(event.objects))
                self.stage_duration.labels("upload").observe(event.seconds)
            case EntryWritten():
                self.stage_duration.labels("checkpoint").observe(event.seconds)
            case TaskCompleted():
                self.sst_events.labels("completed").inc()
                self.rows_emitted.inc(event.rows)
                self.output_bytes.inc(event.output_bytes)
                self.ssts_done.inc()
                self.tasks_in_flight.dec()
            case TaskFailed():
                self.sst_events.labels("failed").inc()
                self.tasks_in_flight.dec()
            case RunFinished():
                # Tasks still in flight when another failed are abandoned with the run.
                self.tasks_in_flight.set(0)
                self._finish()
            case _:
                pass

    def _reused(self, objects: tuple[WrittenObject, ...]) -> None:
        self.objects_reused.inc(len(objects))
        self.rows_reused.inc(sum(o.rows for o in objects))
        self.output_bytes_reused.inc(sum(o.size for o in objects))

    # --- exposure --------------------------------------------------------------------

    def start(self) -> None:
        """Starts serving `/metrics` (with `addr`) and writing the textfile (with
        `textfile`, first write now). Raises `OSError` if either cannot be done; a
        second call does nothing."""
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
            if self.textfile is not None:
                self.write_textfile()  # a bad path fails here, before the run
                self._writer = threading.Thread(
                    target=self._write_periodically, name="metrics-textfile", daemon=True
                )
                self._writer.start()
            if self.host is not None and self.port is not None:
                try:
                    server, thread = start_http_server(self.port, self.host, registry=self._exposed)
                except OSError as e:
                    self._stop_writer()
                    raise OSError(
                        e.errno, f"cannot serve metrics on {self.addr}: {e.strerror or e}"
                    ) from e
                self._server, self._server_thread = server, thread
                self.port = server.server_port
                log.info(
                    "serving Prometheus metrics at http://%s/metrics",
                    _host_port(self.host, self.port),
                )

    def close(self) -> None:
        """Stops the textfile writer and the HTTP server; writes the textfile a last
        time, and pushes if `RunFinished` has not. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop_writer()
            server, thread = self._server, self._server_thread
            self._server = self._server_thread = None
        self._finish()
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ExportMetrics:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def text(self) -> str:
        """The metrics in the Prometheus text format, as served and written."""
        return generate_latest(self._exposed).decode()

    def write_textfile(self) -> None:
        """Writes the textfile now (atomically: a temporary file renamed over it)."""
        if self.textfile is None:
            return
        with self._write_lock:
            write_to_textfile(self.textfile, self._exposed)

    def push(self) -> bool:
        """Pushes to the Pushgateway now (replacing the job's metrics there); a failure
        is logged, never raised. True if pushed."""
        if not self.pushgateway:
            return False
        shown = redact_pushgateway(self.pushgateway)
        try:
            push_to_gateway(
                self._push_url,
                job=self.job,
                registry=self._exposed,
                timeout=self.push_timeout,
                handler=self._push_handler,
            )
        except Exception as e:
            message = str(e).replace(self._push_url, shown).replace(self.pushgateway, shown)
            log.warning("pushing metrics to the Pushgateway %s failed: %s", shown, message)
            return False
        log.info("pushed metrics to the Pushgateway %s (job %s)", shown, self.job)
        return True

    def _push_handler(
        self,
        url: str,
        method: str,
        timeout: float | None,
        headers: list[tuple[str, str]],
        data: bytes,
    ) -> Callable[[], None]:
        if self._push_auth is None:
            handle: Callable[[], None] = default_handler(url, method, timeout, headers, data)
            return handle
        username, password = self._push_auth
        handle = basic_auth_handler(url, method, timeout, headers, data, username, password)
        return handle

    def _finish(self) -> None:
        """The end of the run: the last textfile write and the one push."""
        if self.textfile is not None:
            try:
                self.write_textfile()
            except OSError as e:
                log.warning("writing the metrics textfile %s failed: %s", self.textfile, e)
        with self._lock:
            if self._pushed:
                return
            self._pushed = True
        self.push()

    def _write_periodically(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.write_textfile()
            except OSError as e:
                log.warning("writing the metrics textfile %s failed: %s", self.textfile, e)

    def _stop_writer(self) -> None:
        self._stop.set()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join(timeout=5)


class _WithoutCreated:
    """The registry's metrics without the `_created` samples of counters and histograms."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        for family in self.registry.collect():
            kept = Metric(family.name, family.documentation, family.type, family.unit)
            kept.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield kept


def parse_addr(addr: str) -> tuple[str, int]:
    """`[HOST:]PORT` → (host, port). A bare port binds 127.0.0.1, an empty host
    (`:PORT`) every interface; an IPv6 host goes in brackets, `[::1]:9090`.

    >>> parse_addr("9090"), parse_addr("0.0.0.0:9090"), parse_addr("[::1]:0")
    (('127.0.0.1', 9090), ('0.0.0.0', 9090), ('::1', 0))
    """
    text = addr.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host = DEFAULT_HOST
    elif not host:
        host = "0.0.0.0"
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"metrics address {addr!r}: put an IPv6 host in brackets, [::1]:9090")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"metrics address {addr!r}: expected [HOST:]PORT") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"metrics address {addr!r}: port {port} is out of range")
    return host, port


def redact_pushgateway(url: str) -> str:
    """`url` without its password (user info) or credential query parameters, for logs.

    >>> redact_pushgateway("https://ci:s3cret@push.example:9091/")
    'https://ci:redacted@push.example:9091/'
    """
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        url = urlunsplit(parts._replace(netloc=f"{parts.username}:redacted@{host}"))
    return redact_url(url)


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(the URL without user info, (user, password) or None) of a Pushgateway URL."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit(parts._replace(netloc=host))
    return bare, (unquote(parts.username), unquote(parts.password or ""))


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

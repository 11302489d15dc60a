"""Where an export's time goes, measured on a backup in one process and one run
(`br-parquet bench`, `benches/suite.py`).

For the SSTs of the selected tables (write and default CF):

- `read`: their bytes read once from the backup's storage (a download to a temporary
  folder for object stores, a plain read for local files, which may come from the page
  cache);
- `sst_dump`: `sst_dump --command=check` on every file, RocksDB's own tool, an outside
  reference for the reader (when `sst_dump` is on PATH);
- `raw scan`: every KV through `SstReader.scan`, nothing decoded: the floor for reading;
- `decode`: `SstScan` → Arrow batches on one thread, with checksums as the export
  computes them, per type mapping;
- `write`: the same batches written by pyarrow alone with the export's Parquet settings,
  per compression: the floor for writing. Each SST's batches are decoded (timed), then
  written (timed separately), then dropped, so memory is one region's batches;
- `export`: `br-parquet-export` in a subprocess, from the backup's storage to a local
  folder with default flags, at each worker count (`--sst-concurrency`), with the
  subprocess's peak RSS (its `ru_maxrss`).

`BenchReport` holds the figures; `ratios` and `bottleneck` say what they mean.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ._native import SstReader, SstScan, TableDecoder
from .backupmeta import BackupMeta, load_backupmeta
from .errors import (
    BrParquetError,
    MissingInputError,
    NoTablesSelectedError,
    ObjectNotFoundError,
    StorageError,
    UsageError,
)
from .interrupt import make_temp_dir, remove_temp_dir
from .options import DEFAULT_ROW_GROUP_SIZE, DEFAULT_TYPE_MAPPING, TYPE_MAPPINGS, TypeMapping
from .parquet_writer import CODECS, ParquetOptions
from .plan import SstTask, plan_tasks
from .proto import brpb_pb2 as brpb
from .storage import Storage
from .storage_url import describe_backend, encode_storage_base64, parse_location
from .table_filter import TableFilter
from .tables import DEFAULT_FILTER, Table, backup_tables, find_table, select_tables

__all__ = [
    "BASE_RSS_BUDGET",
    "DECODE_TARGETS",
    "EXPORT_OVERHEAD_TARGET",
    "MIB",
    "RSS_PER_WORKER",
    "TWO_WORKER_SPEEDUP_TARGET",
    "BenchConfig",
    "BenchExportError",
    "BenchReport",
    "ExportRun",
    "Figure",
    "Ratio",
    "Row",
    "ScanFigure",
    "bottleneck",
    "default_workers",
    "export_command",
    "figures",
    "ratios",
    "render_text",
    "rss_budget",
    "run_benchmark",
]

MIB = 1 << 20
BASE_RSS_BUDGET = 256 * MIB
RSS_PER_WORKER = 192 * MIB
DECODE_TARGETS: dict[str, float] = {"typed": 1.5, "compat": 1.8}
"""Decode time / raw scan time at most this, per type mapping."""
EXPORT_OVERHEAD_TARGET = 1.15
"""Export time at one worker / (decode + write) at most this."""
TWO_WORKER_SPEEDUP_TARGET = 1.85
"""Export time at one worker / at two workers at least this."""
_READ_CHUNK = 4 * MIB
_IO_BOUND_MARGIN = 1.25
"""Storage reads at most this much faster than the export: the storage sets the pace."""


def default_workers() -> tuple[int, ...]:
    """1 and 2 workers, and the CPU count where there are more cores."""
    cpus = os.cpu_count() or 1
    return (1, 2, cpus) if cpus > 2 else (1, 2)


def rss_budget(workers: int) -> int:
    """The peak RSS an export of `workers` SST tasks at once should stay under."""
    return BASE_RSS_BUDGET + RSS_PER_WORKER * workers


@dataclass(frozen=True)
class BenchConfig:
    """What to measure. Type mappings and compressions default to the export's."""

    tables: tuple[str, ...] = ()
    """`db.table` names (case-insensitive); empty: every table but the system schemas."""
    type_mappings: tuple[TypeMapping, ...] = (DEFAULT_TYPE_MAPPING,)
    compressions: tuple[str, ...] = ("snappy",)
    workers: tuple[int, ...] = field(default_factory=default_workers)
    """`--sst-concurrency` of each export run, for every type mapping and compression."""
    sst_dump: bool = True
    decode: bool = True
    write: bool = True
    """Needs `decode`."""
    export: bool = True
    one_cpu: bool = True
    """Also run the one-worker export on one CPU, where there are more: the targets of
    export overhead and of scaling compare with it (see `ExportRun.one_cpu`)."""
    workdir: str | None = None
    """Where fetched SSTs and Parquet output go (default: the system temp folder)."""
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE

    def __post_init__(self) -> None:
        if not self.type_mappings:
            raise UsageError("give at least one type mapping")
        for mapping in self.type_mappings:
            if mapping not in TYPE_MAPPINGS:
                raise UsageError(
                    f"unknown type mapping {mapping!r}; expected {' or '.join(TYPE_MAPPINGS)}"
                )
        if not self.compressions:
            raise UsageError("give at least one compression")
        for codec in self.compressions:
            if codec not in CODECS:
                raise UsageError(
                    f"unknown compression {codec!r}; expected one of {', '.join(CODECS)}"
                )
        if self.export and not self.workers:
            raise UsageError("give at least one worker count")
        if any(w < 1 for w in self.workers):
            raise UsageError(f"worker counts must be positive, got {list(self.workers)}")
        if self.write and not self.decode:
            raise UsageError("the write figure needs the decode step")

    @property
    def parquet(self) -> dict[str, ParquetOptions]:
        return {c: ParquetOptions(self.row_group_size, c) for c in self.compressions}


@dataclass(frozen=True)
class ScanFigure:
    """The raw scan (or `sst_dump`) of the SST files."""

    seconds: float
    kvs: int = 0
    key_bytes: int = 0
    value_bytes: int = 0


@dataclass(frozen=True)
class Figure:
    """One timed step over the selected SSTs."""

    seconds: float
    rows: int
    output_bytes: int = 0
    """Parquet bytes written (write and export)."""


@dataclass(frozen=True)
class ExportRun:
    """One `br-parquet-export` subprocess."""

    type_mapping: str
    compression: str
    workers: int
    seconds: float
    """The export's own wall time (its summary's `seconds`: from loading the backupmeta
    to the last checkpoint entry), which the ratios use."""
    process_seconds: float
    """Wall time of the subprocess, the interpreter's start and imports included."""
    rows: int
    output_bytes: int
    peak_rss: int
    """Bytes; `ru_maxrss` of the subprocess."""
    stages: dict[str, float]
    """Seconds per stage summed over the tasks (the summary's `stages`)."""
    command: tuple[str, ...]
    one_cpu: bool = False
    """Run on one CPU only (its affinity set to one CPU): the export's own threads, such
    as the decoding that runs ahead of the writer, then share one core, so its time is
    comparable with decode + write measured on one thread and with one core per worker."""

    @property
    def label(self) -> str:
        cpus = " on 1 CPU" if self.one_cpu else ""
        return f"{self.type_mapping} {self.compression} x{self.workers}{cpus}"


@dataclass
class BenchReport:
    """Every figure of one run; `ratios(report)` and `bottleneck(report)` read them."""

    location: str
    remote: bool
    tables: list[str]
    sst_tasks: int
    sst_files: int
    input_bytes: int
    """Bytes of the selected SST files (write and default CF)."""
    cpus: int
    config: BenchConfig
    read: Figure | None = None
    sst_dump: ScanFigure | None = None
    sst_dump_note: str = ""
    raw_scan: ScanFigure | None = None
    decode: dict[str, Figure] = field(default_factory=dict)
    """Per type mapping."""
    write: dict[str, Figure] = field(default_factory=dict)
    """Per `{type mapping}/{compression}`."""
    exports: list[ExportRun] = field(default_factory=list)
    rows: int = 0
    """Rows decoded (the selected tables' rows in the backup), else rows exported."""
    notes: list[str] = field(default_factory=list)

    def export(
        self, mapping: str, compression: str, workers: int, *, one_cpu: bool = False
    ) -> ExportRun | None:
        wanted = (mapping, compression, workers, one_cpu)
        for run in self.exports:
            if (run.type_mapping, run.compression, run.workers, run.one_cpu) == wanted:
                return run
        return None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["config"] = asdict(self.config)
        data["ratios"] = [asdict(r) for r in ratios(self)]
        data["bottleneck"] = bottleneck(self)
        finite: dict[str, Any] = _finite(data)
        return finite


def _finite(value: Any) -> Any:
    """`value` with infinite floats (a ratio over a zero time) as None, for JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# --- measuring ---------------------------------------------------------------------------

Progress = Callable[[str], None]


def run_benchmark(
    location: str | os.PathLike[str] | brpb.StorageBackend,
    config: BenchConfig | None = None,
    *,
    progress: Progress | None = None,
) -> BenchReport:
    """Measures the backup at `location` (a storage URL, a local path or a
    `StorageBackend`); `progress` receives a line as each step starts."""
    config = config or BenchConfig()
    say = progress or (lambda _line: None)
    backend = parse_location(location)
    storage = Storage(backend)
    meta = load_backupmeta(storage)
    tables = _selected(meta, config.tables)
    tasks = plan_tasks(meta.data_files, tables).tasks
    if not tasks:
        names = ", ".join(t.qualified_name for t in tables)
        raise UsageError(f"nothing to measure: the backup holds no data files of {names}")
    files = [f for task in tasks for f in (task.write, task.default) if f is not None]
    report = BenchReport(
        location=describe_backend(backend),
        remote=storage.local_file(files[0].name) is None,
        tables=[t.qualified_name for t in tables],
        sst_tasks=len(tasks),
        sst_files=len(files),
        input_bytes=sum(f.size for f in files),
        cpus=os.cpu_count() or 1,
        config=config,
    )
    size = f"{report.input_bytes / MIB:,.1f} MiB"
    tmp = make_temp_dir("bench", config.workdir)
    try:
        say(f"reading {len(files)} SST files ({size}) from {report.location}")
        paths, report.read = _read(storage, files, tmp / "sst")
        local = [(paths[t.write.name], paths[t.default.name] if t.default else None) for t in tasks]
        if config.sst_dump:
            say(f"sst_dump --command=check of {len(files)} SST files")
            report.sst_dump, report.sst_dump_note = _sst_dump(list(paths.values()))
        say(f"raw scan of {len(files)} SST files")
        report.raw_scan = _raw_scan(list(paths.values()))
        if config.decode:
            for mapping in config.type_mappings:
                what = "decode and write" if config.write else "decode"
                say(f"{what} ({mapping}) of {len(tasks)} SST tasks on one thread")
                decoded, written = _decode(tasks, local, tables, mapping, config, tmp)
                report.decode[mapping] = decoded
                for codec, figure in written.items():
                    report.write[f"{mapping}/{codec}"] = figure
            report.rows = next(iter(report.decode.values())).rows
        if config.export:
            for mapping, codec in itertools.product(config.type_mappings, config.compressions):
                for workers in config.workers:
                    say(f"export ({mapping}, {codec}) at --sst-concurrency {workers}")
                    run = _export(backend, tables, config, mapping, codec, workers, tmp)
                    report.exports.append(run)
                    if workers == 1 and config.one_cpu and _one_cpu() is not None:
                        say(f"export ({mapping}, {codec}) at --sst-concurrency 1 on one CPU")
                        run = _export(backend, tables, config, mapping, codec, 1, tmp, one_cpu=True)
                        report.exports.append(run)
            if not config.decode:
                report.rows = report.exports[0].rows
        _check_rows(report)
    finally:
        remove_temp_dir(tmp)
    return report


def _selected(meta: BackupMeta, names: Sequence[str]) -> list[Table]:
    """The tables named (each must exist), or those the export selects by default."""
    if not names:
        return select_tables(meta, TableFilter.parse(DEFAULT_FILTER))
    every = backup_tables(meta)
    tables: list[Table] = []
    for name in names:
        table = find_table(every, name)
        if table.problem is not None:
            raise table.problem
        if table not in tables:
            tables.append(table)
    if not tables:
        raise NoTablesSelectedError(list(names), [], [t.qualified_name for t in every])
    return tables


def _read(storage: Storage, files: list[brpb.File], folder: Path) -> tuple[dict[str, str], Figure]:
    """Every file's bytes, read once: local files in place, others downloaded into
    `folder` (checked against their size and SHA-256). Returns the local paths by name."""
    paths: dict[str, str] = {}
    buffer = bytearray(_READ_CHUNK)
    began = time.perf_counter()
    for n, f in enumerate(files):
        in_place = storage.local_file(f.name)
        if in_place is not None:
            _read_file(storage, f.name, in_place, buffer)
            paths[f.name] = str(in_place)
            continue
        target = folder / f"{n}_{Path(f.name).name}"
        try:
            storage.download_to(
                f.name,
                target,
                expected_sha256=bytes(f.sha256) or None,
                expected_size=f.size or None,
            )
        except ObjectNotFoundError as e:
            # A file the backupmeta lists is missing: the backup is incomplete.
            raise MissingInputError(f.name, location=storage.location) from e
        paths[f.name] = str(target)
    return paths, Figure(time.perf_counter() - began, rows=0)


def _read_file(storage: Storage, name: str, path: Path, buffer: bytearray) -> None:
    try:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buffer):
                pass
    except FileNotFoundError:
        raise MissingInputError(name, location=storage.location) from None
    except OSError as e:
        raise StorageError(f"cannot read {path}: {e}", name=name, location=storage.location) from e


def _sst_dump(paths: list[str]) -> tuple[ScanFigure | None, str]:
    tool = shutil.which("sst_dump")
    if tool is None:
        return None, "sst_dump is not on PATH (Debian/Ubuntu: apt install rocksdb-tools)"
    began = time.perf_counter()
    for path in paths:
        done = subprocess.run(
            [tool, "--command=check", f"--file={path}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            last = lines[-1] if lines else f"exit code {done.returncode}"
            return None, f"sst_dump could not check {path}: {last}"
    return ScanFigure(time.perf_counter() - began), ""


def _raw_scan(paths: list[str]) -> ScanFigure:
    kvs = key_bytes = value_bytes = 0
    began = time.perf_counter()
    for path in paths:
        n, kb, vb = SstReader(path).scan()
        kvs += n
        key_bytes += kb
        value_bytes += vb
    return ScanFigure(time.perf_counter() - began, kvs, key_bytes, value_bytes)


def _decode(
    tasks: Sequence[SstTask],
    local: Sequence[tuple[str, str | None]],
    tables: Sequence[Table],
    mapping: TypeMapping,
    config: BenchConfig,
    tmp: Path,
) -> tuple[Figure, dict[str, Figure]]:
    """Decodes every task (timed), then writes its batches once per compression (timed
    apart); one task's batches at a time are held."""
    decoders = [t.decoder(mapping) for t in tables]
    parquet = config.parquet
    batch_rows = next(iter(parquet.values())).write_batch_size
    decode_seconds = 0.0
    rows = 0
    write_seconds = dict.fromkeys(parquet, 0.0)
    written = dict.fromkeys(parquet, 0)
    out = tmp / "write"
    out.mkdir(exist_ok=True)
    for task, (write_path, default_path) in zip(tasks, local, strict=True):
        task_decoders = [decoders[i] for i in task.tables]
        began = time.perf_counter()
        scan = SstScan(
            write_path,
            task_decoders,
            default_sst=default_path,
            name=task.name,
            default_name=task.default.name if task.default else None,
            key_range=(bytes(task.write.start_key), bytes(task.write.end_key)),
            batch_rows=batch_rows,
            checksums=True,
        )
        batches = list(scan)
        scan.checksums()
        decode_seconds += time.perf_counter() - began
        rows += sum(b.num_rows for _, b in batches)
        if config.write:
            for codec, options in parquet.items():
                seconds, size = _write(batches, task_decoders, options, out)
                write_seconds[codec] += seconds
                written[codec] += size
        del batches
    decoded = Figure(decode_seconds, rows)
    if not config.write:
        return decoded, {}
    return decoded, {c: Figure(write_seconds[c], rows, written[c]) for c in parquet}


def _write(
    batches: list[tuple[int, pa.RecordBatch]],
    decoders: Sequence[TableDecoder],
    options: ParquetOptions,
    folder: Path,
) -> tuple[float, int]:
    """Writes one task's batches with pyarrow alone, a file per table, with the settings
    of `parquet_writer.ParquetFileWriter` (codec, dictionary, statistics, page index,
    write batch size, row groups of exactly `row_group_size` rows) but none of its own
    work (hashing): the floor for writing. Returns the seconds and the bytes written; the
    files are removed afterwards."""
    began = time.perf_counter()
    by_table: dict[int, list[pa.RecordBatch]] = {}
    for idx, batch in batches:
        by_table.setdefault(idx, []).append(batch)
    paths = []
    for idx, table_batches in by_table.items():
        path = folder / f"{idx}.parquet"
        schema = decoders[idx].arrow_schema()
        with options.open_writer(str(path), schema) as writer:
            table = pa.Table.from_batches(table_batches, schema=schema)
            writer.write_table(table, row_group_size=options.row_group_size)
        paths.append(path)
    seconds = time.perf_counter() - began
    size = 0
    for path in paths:
        size += path.stat().st_size
        path.unlink()
    return seconds, size


class BenchExportError(BrParquetError):
    """An export the benchmark ran failed; carries the export's own exit code."""

    def __init__(self, command: str, code: int, line: str) -> None:
        self.exit_code = code if code > 0 else 1
        super().__init__(f"{command} failed with exit code {code}: {line}")


def export_command() -> list[str]:
    """`br-parquet-export` of this installation (beside the interpreter), else the
    module run by this interpreter."""
    script = Path(sys.executable).parent / "br-parquet-export"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from br_parquet.cli import main; sys.exit(main())"]


def _export(
    backend: brpb.StorageBackend,
    tables: Sequence[Table],
    config: BenchConfig,
    mapping: str,
    codec: str,
    workers: int,
    tmp: Path,
    *,
    one_cpu: bool = False,
) -> ExportRun:
    name = f"{mapping}-{codec}-{workers}{'-1cpu' if one_cpu else ''}"
    run_dir = tmp / f"export-{name}"
    summary = tmp / f"summary-{name}.json"
    stderr_path = tmp / f"export-{name}.log"
    cpu = _one_cpu() if one_cpu else None
    if backend.WhichOneof("backend") == "local":
        source = ["--input", backend.local.path]
        shown_source = source
    else:
        source = ["--input-storage-base64", encode_storage_base64(backend)]
        shown_source = ["--input-storage-base64", "<the backup's StorageBackend>"]
    selection: list[str] = []
    if config.tables:
        ids = sorted({t.table_id for t in tables})
        selection = ["--filter", "*.*", "--table-ids", ",".join(map(str, ids))]
    settings = [
        "--output",
        str(run_dir),
        "--sst-concurrency",
        str(workers),
        "--type-mapping",
        mapping,
        "--compression",
        codec,
        *selection,
    ]
    quiet = ["--no-progress", "--log-level", "warning", "--summary-json", str(summary)]
    argv = [*export_command(), *source, *settings, *quiet]
    pinned = () if cpu is None else ("taskset", "-c", str(cpu))
    shown = (*pinned, "br-parquet-export", *shown_source, *settings)
    try:
        code, seconds, peak_rss = _run_measured(argv, stderr_path, tmp / "peak-rss", cpu)
        if code != 0:
            lines = stderr_path.read_text(errors="replace").strip().splitlines()
            raise BenchExportError(" ".join(shown), code, lines[-1] if lines else "no message")
        data = json.loads(summary.read_text())
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    delta = data["delta"]
    return ExportRun(
        type_mapping=mapping,
        compression=codec,
        workers=workers,
        seconds=float(data["seconds"]),
        process_seconds=seconds,
        rows=int(delta["rows"]),
        output_bytes=int(delta["bytes_out"]),
        peak_rss=peak_rss,
        stages={name: float(s["seconds"]) for name, s in data["stages"].items()},
        command=shown,
        one_cpu=cpu is not None,
    )


def _one_cpu() -> int | None:
    """A CPU this process may run on, where it may run on more than one."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # no CPU affinity on this platform
        return None
    return cpus[0] if len(cpus) > 1 else None


# A process's `ru_maxrss` counts the high-water mark of the memory it was started from
# (exec keeps it), so a child of this large process would report this process's peak.
# The export is therefore started by a small spawner, which reports its child's.
# With a CPU given, the spawner confines itself to it first, and the export inherits that.
_SPAWNER = """\
import os, subprocess, sys
if sys.argv[2]:
    os.sched_setaffinity(0, {int(sys.argv[2])})
child = subprocess.Popen(sys.argv[3:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def _run_measured(
    argv: list[str], stderr_path: Path, rss_path: Path, cpu: int | None = None
) -> tuple[int, float, int]:
    """Runs `argv` (stderr to `stderr_path`), on CPU `cpu` alone if given; returns its exit
    code, wall seconds and peak RSS in bytes."""
    rss_path.unlink(missing_ok=True)
    pin = "" if cpu is None else str(cpu)
    with open(stderr_path, "wb") as err:
        began = time.perf_counter()
        spawner = subprocess.Popen(
            [sys.executable, "-I", "-c", _SPAWNER, str(rss_path), pin, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # one process group, so that both can be stopped
        )
        try:
            code = spawner.wait()
        except BaseException:  # interrupted: the export must not outlive the benchmark
            os.killpg(spawner.pid, signal.SIGKILL)
            spawner.wait()
            raise
        seconds = time.perf_counter() - began
    try:
        peak_kib = int(rss_path.read_text())  # `ru_maxrss` is in KiB on Linux
    except (OSError, ValueError):
        peak_kib = 0
    return code, seconds, peak_kib * 1024


def _check_rows(report: BenchReport) -> None:
    """Every step saw the same rows: a difference is a bug in what was measured."""
    counts = {f"decode {m}": f.rows for m, f in report.decode.items()}
    counts |= {f"export {r.label}": r.rows for r in report.exports}
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{k}: {v}" for k, v in counts.items())
        report.notes.append(f"the steps counted different rows ({shown})")


# --- reading the figures -----------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A ratio of two figures of the report, with its target where there is one."""

    name: str
    value: float
    target: str = ""
    met: bool | None = None


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def ratios(report: BenchReport) -> list[Ratio]:
    out: list[Ratio] = []
    raw = report.raw_scan
    if raw is not None and report.sst_dump is not None:
        out.append(Ratio("raw scan / sst_dump check", _div(raw.seconds, report.sst_dump.seconds)))
    if raw is not None:
        for mapping, figure in report.decode.items():
            limit = DECODE_TARGETS[mapping]
            value = _div(figure.seconds, raw.seconds)
            out.append(Ratio(f"decode {mapping} / raw scan", value, f"<= {limit}", value <= limit))
    # Decode + write are timed on one thread: the export at one worker compares with them
    # on one CPU, where it was also run so (else on all CPUs). So does scaling: one
    # worker per CPU.
    for key, written in report.write.items():
        mapping, codec = key.split("/")
        decoded = report.decode.get(mapping)
        if decoded is None:
            continue
        floor = decoded.seconds + written.seconds
        pinned = report.export(mapping, codec, 1, one_cpu=True)
        free = report.export(mapping, codec, 1)
        if pinned is not None:
            value = _div(pinned.seconds, floor)
            out.append(
                Ratio(
                    f"export x1 / (decode + write), {mapping} {codec}, on 1 CPU",
                    value,
                    f"<= {EXPORT_OVERHEAD_TARGET}",
                    value <= EXPORT_OVERHEAD_TARGET,
                )
            )
        if free is not None:
            value = _div(free.seconds, floor)
            if pinned is not None:
                name = f"export x1 on {report.cpus} CPUs / (decode + write), {mapping} {codec}"
                out.append(Ratio(name, value))
            else:
                out.append(
                    Ratio(
                        f"export x1 / (decode + write), {mapping} {codec}",
                        value,
                        f"<= {EXPORT_OVERHEAD_TARGET}",
                        value <= EXPORT_OVERHEAD_TARGET,
                    )
                )
    for run in report.exports:
        if run.workers == 1:
            continue
        pinned = report.export(run.type_mapping, run.compression, 1, one_cpu=True)
        free = report.export(run.type_mapping, run.compression, 1)
        one = pinned or free
        if one is None:
            continue
        value = _div(one.seconds, run.seconds)
        target, met = "", None
        if run.workers == 2:
            target, met = f">= {TWO_WORKER_SPEEDUP_TARGET}", value >= TWO_WORKER_SPEEDUP_TARGET
        where = ", one worker on 1 CPU" if pinned is not None else ""
        out.append(
            Ratio(
                f"export x1 / x{run.workers}, {run.type_mapping} {run.compression}{where}",
                value,
                target,
                met,
            )
        )
        if pinned is not None and free is not None:
            out.append(
                Ratio(
                    f"export x1 on {report.cpus} CPUs / x{run.workers}, "
                    f"{run.type_mapping} {run.compression}",
                    _div(free.seconds, run.seconds),
                )
            )
    for run in report.exports:
        value = run.peak_rss / rss_budget(run.workers)
        out.append(
            Ratio(
                f"peak RSS / (256 MiB + 192 MiB x {run.workers}), {run.label}",
                value,
                "<= 1",
                value <= 1,
            )
        )
    return out


def bottleneck(report: BenchReport) -> list[str]:
    """Whether the machine looks I/O-bound or CPU-bound, and why, in a few lines."""
    lines: list[str] = []
    mib = report.input_bytes / MIB
    read = report.read
    best = max(report.exports, key=lambda r: _div(mib, r.seconds), default=None)
    if read is None or best is None:
        return lines
    read_rate = _div(mib, read.seconds)
    best_rate = _div(mib, best.seconds)
    where = "downloading them" if report.remote else "reading the local files"
    if read_rate <= best_rate * _IO_BOUND_MARGIN:
        lines.append(
            f"I/O-bound: {where} runs at {read_rate:,.1f} MiB/s, hardly faster than the "
            f"export at its best ({best_rate:,.1f} MiB/s with {_workers(best.workers)}): "
            "faster storage or network, not more CPU or workers, would speed it up."
        )
    else:
        cached = "" if report.remote else " (maybe from the page cache)"
        lines.append(
            f"CPU-bound: {where} runs at {read_rate:,.1f} MiB/s{cached}, the export at its "
            f"best at {best_rate:,.1f} MiB/s ({_workers(best.workers)}, {report.cpus} CPUs): "
            "the time goes to decoding and writing."
        )
        lines.extend(_scaling(report))
    raw = report.raw_scan
    for mapping, decoded in report.decode.items():
        for key, written in report.write.items():
            if not key.startswith(mapping + "/"):
                continue
            total = decoded.seconds + written.seconds
            scan = f"{_div(raw.seconds, decoded.seconds):.0%}" if raw is not None else "?"
            lines.append(
                f"  {mapping} {key.split('/')[1]}: of decode + write ({total:.1f} s on one "
                f"thread), decoding takes {_div(decoded.seconds, total):.0%} (a raw scan of "
                f"the SSTs alone takes {scan} of the decode's time) and writing Parquet "
                f"{_div(written.seconds, total):.0%}."
            )
    return lines


def _workers(n: int) -> str:
    return f"{n} worker" if n == 1 else f"{n} workers"


def _scaling(report: BenchReport) -> list[str]:
    """Whether more workers made the exports faster, on the cores there are."""
    lines = []
    for run in report.exports:
        one = report.export(run.type_mapping, run.compression, 1, one_cpu=True)
        one = one or report.export(run.type_mapping, run.compression, 1)
        if one is None or run.workers == 1 or run.workers > report.cpus:
            continue
        speedup = _div(one.seconds, run.seconds)
        if speedup < 0.8 * run.workers:
            lines.append(
                f"  {run.type_mapping} {run.compression}: {_workers(run.workers)} are "
                f"{speedup:.2f} times as fast as one, on {report.cpus} CPUs: the workers "
                "wait on each other (or one worker already keeps several cores busy, or "
                "other processes take the CPUs)."
            )
    return lines


# --- rendering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A line of the figures table."""

    step: str
    seconds: float
    rows_per_second: float | None
    mib_per_second: float
    extra: str = ""


def figures(report: BenchReport) -> list[Row]:
    mib = report.input_bytes / MIB
    rows: list[Row] = []

    def add(step: str, seconds: float, rows_done: int | None, extra: str = "") -> None:
        rate = _div(rows_done, seconds) if rows_done else None
        rows.append(Row(step, seconds, rate, _div(mib, seconds), extra))

    if report.read is not None:
        what = "download" if report.remote else "read local files"
        add(f"read SST bytes ({what})", report.read.seconds, None)
    if report.sst_dump is not None:
        add("sst_dump --command=check", report.sst_dump.seconds, None)
    raw = report.raw_scan
    if raw is not None:
        per_kv = _div(raw.kvs, raw.seconds)
        add("raw scan (SstReader.scan)", raw.seconds, None, f"{per_kv / 1e6:,.2f} M KV/s")
    for mapping, decoded in report.decode.items():
        add(f"decode {mapping} (1 thread)", decoded.seconds, decoded.rows)
    for key, written in report.write.items():
        mapping, codec = key.split("/")
        add(
            f"write {mapping} {codec} (1 thread)",
            written.seconds,
            written.rows,
            f"{written.output_bytes / MIB:,.1f} MiB Parquet",
        )
    for run in report.exports:
        budget = rss_budget(run.workers)
        add(
            f"export {run.label}",
            run.seconds,
            run.rows,
            f"peak RSS {run.peak_rss / MIB:,.0f} MiB (budget {budget / MIB:,.0f}), "
            f"process {run.process_seconds:,.2f} s",
        )
    return rows


def render_text(report: BenchReport) -> str:
    """The report as the command line prints it."""
    head = (
        f"backup   {report.location} ({'remote' if report.remote else 'local'})\n"
        f"tables   {', '.join(report.tables)}\n"
        f"input    {report.sst_tasks} SST tasks, {report.sst_files} SST files, "
        f"{report.input_bytes / MIB:,.1f} MiB, {report.rows:,} rows\n"
        f"machine  {report.cpus} CPUs\n"
    )
    table = [("step", "seconds", "rows/s", "MiB/s SST", "")]
    for row in figures(report):
        rate = "" if row.rows_per_second is None else f"{row.rows_per_second:,.0f}"
        table.append(
            (row.step, f"{row.seconds:,.2f}", rate, f"{row.mib_per_second:,.1f}", row.extra)
        )
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    lines = []
    for line in table:
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:4], widths[1:], strict=True)
        ]
        lines.append("  ".join([*cells, line[4]]).rstrip())
    out = [head, *lines, ""]
    if report.sst_dump_note:
        out.append(f"note: {report.sst_dump_note}")
    out.extend(f"note: {n}" for n in report.notes)
    found = ratios(report)
    if found:
        out.append("ratios")
        width = max(len(r.name) for r in found)
        for r in found:
            verdict = "" if r.met is None else ("  met" if r.met else "  not met")
            target = f"  (target {r.target})" if r.target else ""
            out.append(f"  {r.name.ljust(width)}  {r.value:6.2f}{target}{verdict}")
    verdict_lines = bottleneck(report)
    if verdict_lines:
        out.extend(["", *verdict_lines])
    return "\n".join(out) + "\n"

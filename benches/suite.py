"""The benchmark suite of `make bench`: every figure from one run, written to
`benches/RESULTS.md`.

    python benches/suite.py [--quick | --scale F] [--region-mib 96] [--output PATH]
                            [--cache-dir DIR] [--jobs N] [--no-extras]

1. Generates (or reuses, see `benches/datagen.py`) three backups of the 12-column table
   `bench.t12` in TiKV-sized regions (~96 MiB of KV data each): 1 GiB of LZ4 SSTs, 1 GiB
   of zstd SSTs and 4 GiB of zstd SSTs.
2. Measures each with `br_parquet.benchmark` (what `br-parquet bench` runs): on both
   1 GiB backups the read, `sst_dump --command=check`, the raw scan, decode (typed and
   compat), write (snappy and zstd) and whole exports in each combination at 1 and 2
   workers (and the CPU count where there are more cores), with peak RSS; on the 4 GiB
   backup the raw scan, decode (typed) and exports (typed, snappy), whose RSS must stay
   within 10 % of the 1 GiB zstd backup's.
3. Runs the benchmarks of other paths, each in a subprocess, and keeps their output:
   `scan_projection.py` (`Backup.scan` of 2 of 12 columns), `scan_memory.py` (peak RSS of
   `Backup.scan`), `plan_resume.py` (planning and resuming at 10^5 and 10^6 data files).
4. Writes the machine, the commands, the generation parameters, every figure and the
   targets (met or not) as Markdown.

`--quick` scales the backups down 16 times (64, 64 and 256 MiB, in 16 MiB regions) and
skips step 3: a check of the whole suite in a few minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datagen
import pyarrow

from br_parquet import _native
from br_parquet.benchmark import (
    DECODE_TARGETS,
    EXPORT_OVERHEAD_TARGET,
    TWO_WORKER_SPEEDUP_TARGET,
    BenchConfig,
    BenchReport,
    bottleneck,
    default_workers,
    figures,
    ratios,
    run_benchmark,
)

BENCHES = Path(__file__).resolve().parent
ROOT = BENCHES.parent
MIB = 1 << 20
GIB = 1 << 30
RSS_GROWTH_TARGET = 0.10
"""Peak RSS of an export of the 4 GiB backup within this of the 1 GiB backup's."""
QUICK_SCALE = 1 / 16
QUICK_REGION_MIB = 16.0
EXTRAS = (
    "scan_projection.py",
    "scan_memory.py",
    "plan_resume.py",
    "chain_memory.py",
    "dask_executor.py",
)


@dataclass(frozen=True)
class Case:
    """One backup of the suite and what is measured on it."""

    gib: float
    compression: str
    full: bool
    """Both type mappings, both output compressions, sst_dump and write; else the raw
    scan, typed decode and typed snappy exports only."""

    def label(self, scale: float) -> str:
        size = self.gib * scale
        shown = f"{size:g} GiB" if size >= 1 else f"{size * 1024:g} MiB"
        return f"{shown} {self.compression}"


CASES = (Case(1, "lz4", full=True), Case(1, "zstd", full=True), Case(4, "zstd", full=False))
SMALL, LARGE = CASES[1], CASES[2]
"""The backups whose export RSS is compared (typed, snappy)."""


def config_of(case: Case) -> BenchConfig:
    if case.full:
        return BenchConfig(
            type_mappings=("typed", "compat"),
            compressions=("snappy", "zstd"),
            workers=default_workers(),
        )
    return BenchConfig(
        type_mappings=("typed",),
        compressions=("snappy",),
        workers=default_workers(),
        sst_dump=False,
        write=False,
    )


class Clock:
    """Prints progress lines with the time since the suite started."""

    def __init__(self) -> None:
        self.began = time.monotonic()

    def say(self, line: str) -> None:
        elapsed = int(time.monotonic() - self.began)
        print(f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {line}", file=sys.stderr, flush=True)


# --- the machine ---------------------------------------------------------------------------


def _first(path: str, key: str) -> str:
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(":" if ":" in line else "=")
                if name.strip() == key:
                    return value.strip().strip('"')
    except OSError:
        pass
    return "unknown"


def _command_output(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cargo_lock_version(crate: str) -> str:
    lock = ROOT / "Cargo.lock"
    try:
        lines = lock.read_text().splitlines()
    except OSError:
        return "unknown"
    for i, line in enumerate(lines):
        if line == f'name = "{crate}"' and i + 1 < len(lines):
            return lines[i + 1].split('"')[1]
    return "unknown"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages: other work on the machine skews times."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _num(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def machine() -> list[tuple[str, str]]:
    mem_kib = _first("/proc/meminfo", "MemTotal").split()[0]
    ram = f"{int(mem_kib) / (1 << 20):.1f} GiB" if mem_kib.isdigit() else "unknown"
    librocksdb = _cargo_lock_version("librocksdb-sys")
    rocksdb = librocksdb.split("+")[1] if "+" in librocksdb else librocksdb
    commit = _command_output(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"])
    dirty = _command_output(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked=no"])
    sst_dump = _command_output(["dpkg-query", "-W", "-f=${Version}", "rocksdb-tools"])
    return [
        ("CPU", _first("/proc/cpuinfo", "model name")),
        ("cores", str(os.cpu_count())),
        ("RAM", ram),
        ("OS", f"{_first('/etc/os-release', 'PRETTY_NAME')}, Linux {platform.release()}"),
        ("Python", platform.python_version()),
        ("pyarrow", pyarrow.__version__),
        ("RocksDB (bundled, librocksdb-sys)", f"{rocksdb} ({librocksdb})"),
        ("sst_dump (rocksdb-tools)", sst_dump or "not installed"),
        ("br-parquet", _native.__version__),
        ("commit", (commit or "unknown") + (" with local changes" if dirty else "")),
    ]


def machine_table(load_at_start: str) -> list[str]:
    rows = [
        *machine(),
        (
            "load average (1, 5, 15 min) when the measures start; at the end",
            f"{load_at_start}; {load_average()}",
        ),
    ]
    return table(["", ""], rows, right=2)


# --- Markdown ------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 1) -> list[str]:
    """A Markdown table; columns from `right` on are right-aligned."""
    align = ["---" if i < right else "---:" for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}" if value != float("inf") else "∞"


def figures_table(report: BenchReport) -> list[str]:
    rows = [
        [
            f.step,
            fmt(f.seconds),
            "" if f.rows_per_second is None else f"{f.rows_per_second:,.0f}",
            fmt(f.mib_per_second, 1),
            f.extra,
        ]
        for f in figures(report)
    ]
    return table(["step", "seconds", "rows/s", "MiB/s of SST", ""], rows)


def stages_table(report: BenchReport) -> list[str]:
    """Each export's stage times (seconds summed over its SST tasks, from its summary)."""
    names = list(dict.fromkeys(name for run in report.exports for name in run.stages))
    rows = [
        [
            run.label,
            *(fmt(run.stages.get(name, 0.0)) for name in names),
            fmt(run.seconds),
        ]
        for run in report.exports
    ]
    return table(["export", *names, "wall"], rows)


def ratios_table(report: BenchReport) -> list[str]:
    rows = [
        [r.name, fmt(r.value), r.target, "" if r.met is None else ("met" if r.met else "not met")]
        for r in ratios(report)
    ]
    return table(["ratio", "value", "target", ""], rows, right=1)


@dataclass(frozen=True)
class Target:
    what: str
    measured: str
    met: bool | None


def targets(reports: dict[str, BenchReport], scale: float) -> list[Target]:
    """The issue's targets, each with its worst measured value over the suite."""
    found: list[Target] = []

    def worst(prefix: str, higher_is_worse: bool) -> tuple[str, bool | None]:
        values = [
            (r.value, f"{label}: {r.name}", r.met)
            for label, report in reports.items()
            for r in ratios(report)
            if r.name.startswith(prefix)
        ]
        if not values:
            return "not measured", None
        value, where, _ = max(values) if higher_is_worse else min(values)
        met = all(m for _, _, m in values)
        return f"{fmt(value)} (worst of {len(values)}; {where})", met

    for mapping, limit in DECODE_TARGETS.items():
        measured, met = worst(f"decode {mapping} / raw scan", True)
        found.append(Target(f"decode {mapping} ≤ {limit} x raw scan", measured, met))
    measured, met = worst("export x1 / (decode + write)", True)
    found.append(
        Target(f"export at 1 worker ≤ {EXPORT_OVERHEAD_TARGET} x (decode + write)", measured, met)
    )
    measured, met = worst("export x1 / x2", False)
    found.append(
        Target(f"export at 2 workers ≥ {TWO_WORKER_SPEEDUP_TARGET} x 1 worker", measured, met)
    )
    measured, met = worst("peak RSS", True)
    found.append(Target("export peak RSS ≤ 256 MiB + 192 MiB x workers", measured, met))
    small_label, large_label = SMALL.label(scale), LARGE.label(scale)
    small, large = reports.get(small_label), reports.get(large_label)
    if small is not None and large is not None:
        parts: list[str] = []
        oks: list[bool] = []
        for run in large.exports:
            base = small.export(run.type_mapping, run.compression, run.workers, one_cpu=run.one_cpu)
            if base is None:
                continue
            growth = run.peak_rss / base.peak_rss - 1
            oks.append(abs(growth) <= RSS_GROWTH_TARGET)
            parts.append(
                f"x{run.workers}{' on 1 CPU' if run.one_cpu else ''}: "
                f"{base.peak_rss / MIB:,.0f} → {run.peak_rss / MIB:,.0f} MiB "
                f"({growth:+.1%})"
            )
        found.append(
            Target(
                f"peak RSS of the {large_label} backup within 10 % of the {small_label} "
                "backup's (typed, snappy)",
                "; ".join(parts) or "not measured",
                all(oks) if oks else None,
            )
        )
    return found


def describe_generated(gen: datagen.Generated) -> str:
    params = gen.params
    return (
        f"{params.compression} SSTs, target {params.sst_bytes / GIB:g} GiB; "
        f"{gen.sst_bytes / MIB:,.1f} MiB of SST in {len(gen.regions)} regions of "
        f"{params.region_kv_bytes / MIB:g} MiB of KV data; {gen.rows:,} rows, "
        f"{gen.default_rows / gen.rows:.0%} with their value in the default CF; seed "
        f"{params.seed}; generated in {gen.seconds:,.0f} s (cached in `{gen.root}`)"
    )


def datagen_command(case: Case, scale: float, region_mib: float) -> str:
    return (
        f"python benches/datagen.py --sst-gib {case.gib * scale:g} "
        f"--compression {case.compression} --region-mib {region_mib:g}"
    )


def bench_command(root: Path, config: BenchConfig) -> str:
    argv = ["br-parquet", "bench", "--input", str(root)]
    for mapping in config.type_mappings:
        argv += ["--type-mapping", mapping]
    for codec in config.compressions:
        argv += ["--compression", codec]
    argv += ["--workers", ",".join(map(str, config.workers))]
    return shlex.join(argv)


def write_results(
    path: Path,
    *,
    argv: Sequence[str],
    began: dt.datetime,
    seconds: float,
    scale: float,
    region_mib: float,
    generated: dict[str, datagen.Generated],
    reports: dict[str, BenchReport],
    extras: list[tuple[str, str, float]],
    load_at_start: str,
) -> None:
    out = [
        "# Benchmark results",
        "",
        f"Written by `{shlex.join(['python', 'benches/suite.py', *argv])}` (what `make bench` "
        f"runs), started {began:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} minutes. Every figure "
        "comes from this one run; on a shared machine absolute times vary, the ratios less.",
        "",
    ]
    busy = [float(x) for x in (load_at_start.split()[0], load_average().split()[0]) if _num(x)]
    if busy and max(busy) >= (os.cpu_count() or 1):
        out += [
            f"**The machine was busy** (1-minute load average {max(busy):g} on "
            f"{os.cpu_count()} cores, see below): other processes took CPU time from the "
            "measured steps at random, so these figures, the ratios included, are unreliable.",
            "",
        ]
    if scale != 1:
        out += [f"**Scaled run** (`--scale {scale:g}`): backups {scale:g} x the full size.", ""]
    out += ["## Machine", "", *machine_table(load_at_start), ""]
    out += ["## Targets", "", *table(
        ["target", "measured", ""],
        [
            [t.what, t.measured, "" if t.met is None else ("met" if t.met else "**not met**")]
            for t in targets(reports, scale)
        ],
        right=3,
    ), ""]  # fmt: skip
    out += [
        "## How it is measured",
        "",
        "Each backup is measured by `br_parquet.benchmark.run_benchmark` in this process "
        "(the same as `br-parquet bench`), one step after the other:",
        "",
        "- **read**: every SST file of the table read once (the first read of this run; it "
        "may come from the page cache);",
        "- **sst_dump**: `sst_dump --command=check --file=<sst>` on every file, RocksDB's own "
        "tool, as an outside reference for the reader;",
        "- **raw scan**: every KV of every SST (write and default CF) through "
        "`SstReader(path).scan()`, nothing decoded;",
        "- **decode**: `SstScan` of each region's write-CF and default-CF SSTs into Arrow "
        "batches on one thread, with checksums (as the export computes them);",
        "- **write**: each region's decoded batches written again by pyarrow alone with the "
        "export's settings (8192-row row groups, dictionary, statistics, page index; "
        "without the hashing the export's writer adds), timed apart from the decode;",
        "- **export**: `br-parquet-export --input <backup> --output <tmp> --sst-concurrency N "
        "--type-mapping M --compression C` in a subprocess (defaults otherwise: "
        "verification by checksums, checkpoint on); its time is the export's own wall time "
        "from its summary (from loading the backupmeta to the last checkpoint entry), the "
        "process time with the interpreter's start is shown beside it; peak RSS is the "
        "subprocess's `ru_maxrss` (started by a small spawner, so that it does not count "
        "the high-water mark of this process's memory).",
        "",
        "MiB/s are of SST input (2^20 bytes).",
        "",
    ]
    for case in CASES:
        label = case.label(scale)
        report = reports.get(label)
        gen = generated.get(label)
        if report is None or gen is None:
            continue
        out += [f"## {label}", "", describe_generated(gen), ""]
        out += [
            "```sh",
            datagen_command(case, scale, region_mib),
            bench_command(gen.root, report.config),
            "```",
            "",
        ]
        out += [*figures_table(report), ""]
        notes = [report.sst_dump_note, *report.notes]
        out += [f"Note: {n}" for n in notes if n] + ([""] if any(notes) else [])
        if report.exports:
            out += [
                "Export stages (seconds summed over the SST tasks, from each export's summary):",
                "",
                *stages_table(report),
                "",
            ]
        out += [*ratios_table(report), ""]
        out += [line.strip() for line in bottleneck(report)] + [""]
        commands = [" ".join(shlex.quote(a) for a in run.command) for run in report.exports]
        if commands:
            out += ["Exports run:", "", "```sh", *commands, "```", ""]
    for name, text, took in extras:
        out += [f"## `{name}`", "", f"{took:,.0f} s.", "", "```text", text.rstrip(), "```", ""]
    path.write_text("\n".join(out).rstrip("\n") + "\n")


def run_extra(name: str, clock: Clock) -> tuple[str, str, float]:
    """Runs `benches/{name}`, echoing its output as it comes; returns its command, output
    and seconds."""
    clock.say(f"running benches/{name}")
    began = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(BENCHES / name)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its lines as they come
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            print(f"    {line}", end="", file=sys.stderr, flush=True)
            lines.append(line)
    if child.returncode != 0:
        lines.append(f"\n(exit code {child.returncode})\n")
    return f"python benches/{name}", "".join(lines), time.monotonic() - began


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="1/16 of the sizes, no extras")
    size.add_argument("--scale", type=float, default=1.0, help="multiply the backup sizes")
    parser.add_argument("--region-mib", type=float, default=None, help="default 96 (quick: 16)")
    parser.add_argument("--output", type=Path, default=BENCHES / "RESULTS.md")
    parser.add_argument("--cache-dir", type=Path, default=None, help="generated backups")
    parser.add_argument("--jobs", type=int, default=None, help="generator processes")
    parser.add_argument("--no-extras", action="store_true", help="skip the other benchmarks")
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(args_list)
    scale = QUICK_SCALE if args.quick else args.scale
    region_mib = args.region_mib or (QUICK_REGION_MIB if args.quick else datagen.DEFAULT_REGION_MIB)
    clock = Clock()
    began = dt.datetime.now(dt.UTC)

    generated: dict[str, datagen.Generated] = {}
    for case in CASES:
        params = datagen.Params.for_gib(
            case.gib * scale,
            region_kv_bytes=round(region_mib * MIB),
            compression=case.compression,
        )
        label = case.label(scale)
        clock.say(f"{label}: generating or reusing ({datagen_command(case, scale, region_mib)})")
        generated[label] = gen = datagen.ensure_backup(
            params, cache_dir=args.cache_dir, jobs=args.jobs, progress=True
        )
        clock.say(f"{label}: {describe_generated(gen)}")

    load_at_start = load_average()
    reports: dict[str, BenchReport] = {}
    for case in CASES:
        label = case.label(scale)
        gen = generated[label]

        def say(line: str, label: str = label) -> None:
            clock.say(f"{label}: {line}")

        report = run_benchmark(str(gen.root), config_of(case), progress=say)
        if report.rows != gen.rows:
            report.notes.append(f"decoded {report.rows:,} rows, the generator wrote {gen.rows:,}")
        reports[label] = report
        for t in targets({label: report}, scale):
            if t.met is not None:
                clock.say(f"{label}: {t.what}: {t.measured}: {'met' if t.met else 'not met'}")

    extras = [] if args.quick or args.no_extras else [run_extra(n, clock) for n in EXTRAS]
    seconds = time.monotonic() - clock.began
    write_results(
        args.output,
        argv=args_list,
        began=began,
        seconds=seconds,
        scale=scale,
        region_mib=region_mib,
        generated=generated,
        reports=reports,
        extras=extras,
        load_at_start=load_at_start,
    )
    clock.say(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command lines. `br-parquet-export` (`main`) is the export: it parses flags (derived
from `ExportOptions`), calls `br_parquet.export`, and prints the result. `br-parquet`
(`br_parquet_main`) has subcommands: `export` (the same flags), `inspect` (what a
backup holds, see `inspection`) and `bench` (where an export's time goes, see
`benchmark`)."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from . import benchmark, runlog
from .api import open_backup, run_export, run_redactor
from .crypto import Cipher, cipher_from_options
from .errors import EncryptedMetaError, Interrupted, exit_code_of, message_of
from .events import Listener
from .gobool import ACCEPTED, parse_go_bool
from .inspection import encrypted_json, encrypted_text, inspect_backup, render_text
from .interrupt import as_interrupted, exit_if_aborted, stop_on_signals
from .options import (
    DEFAULT_TYPE_MAPPING,
    TYPE_MAPPINGS,
    ExportOptions,
    Flag,
    flag_fields,
    parse_positive,
)
from .parquet_writer import CODECS
from .progress import ProgressBar
from .proto import brpb_pb2 as brpb
from .result import ExportResult
from .runlog import LOG_FORMATS, LOG_LEVELS, StageLog
from .storage_url import decode_storage_base64, describe_backend, parse_storage_url
from .summary import RunSummary, iceberg_line
from .table_filter import TableFilter
from .tables import DEFAULT_FILTER

_TABLE_WIDTH = 100


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse` with its `ValueError` turned into argparse's usage error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = parse.__name__
    return convert


def _go_bool(text: str) -> bool:
    value = parse_go_bool(text)
    if value is None:
        raise ValueError(f"expected {ACCEPTED}, got {text!r}")
    return value


def _add_setting(group: argparse._ArgumentGroup, name: str, flag: Flag, default: Any) -> None:
    option = flag.name or "--" + name.replace("_", "-")
    common: dict[str, Any] = {"dest": name, "help": flag.help}
    if flag.kind == "switch":
        group.add_argument(option, action="store_true", **common)
        return
    if flag.metavar:
        common["metavar"] = flag.metavar
    if flag.kind == "append":
        group.add_argument(option, action="append", default=[], **common)
    elif flag.kind == "bool":
        group.add_argument(
            option, type=_argument_type(_go_bool), nargs="?", const=True, default=default, **common
        )
    else:
        kind = _argument_type(flag.parse) if flag.parse else str
        choices = list(flag.choices) if flag.choices else None
        group.add_argument(option, type=kind, choices=choices, default=default, **common)


def build_parser(prog: str = "br-parquet-export") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Export a TiDB BR backup (backupmeta + SSTs) into Parquet files.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    src = p.add_argument_group(
        "storage (base64 of a StorageBackend as `br operator base64ify` prints it, or a URL)"
    )
    src.add_argument(
        "--input-storage-base64",
        metavar="B64",
        action="append",
        help="base64 of the serialized StorageBackend of the BR backup (repeat for a chain)",
    )
    src.add_argument(
        "--output-storage-base64",
        metavar="B64",
        help="base64 of the serialized StorageBackend for the Parquet output",
    )
    src.add_argument(
        "--input",
        metavar="URL",
        action="append",
        help="the BR backup as a storage URL (local:///path, s3://bucket/prefix?…, "
        "gcs://, azure://) or a local path; repeat for a chain: the full backup, then its "
        "incrementals, oldest first",
    )
    src.add_argument("--output", metavar="URL", help="the output storage as a URL or local path")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, flag, default in flag_fields():
        if flag.group not in groups:
            groups[flag.group] = p.add_argument_group(flag.group)
        _add_setting(groups[flag.group], name, flag, default)
    observe = groups["observability"]
    observe.add_argument(
        "--log-level", default="info", choices=list(LOG_LEVELS), help="log verbosity"
    )
    observe.add_argument(
        "--log-format",
        default="text",
        choices=list(LOG_FORMATS),
        help="text: human-readable lines; json: one JSON object per line, and nothing else "
        "on stderr",
    )
    observe.add_argument("--log-file", metavar="PATH", help="write the log to PATH, not stderr")
    observe.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it shows only when stderr is a terminal and logs are text)",
    )
    enc = p.add_argument_group("encrypted backups (BR --crypter.*)")
    enc.add_argument(
        "--crypter.method",
        dest="crypter_method",
        default="plaintext",
        help="plaintext | aes128-ctr | aes192-ctr | aes256-ctr",
    )
    enc.add_argument("--crypter.key", dest="crypter_key", metavar="HEX", help="hex key")
    enc.add_argument(
        "--crypter.key-file",
        dest="crypter_key_file",
        metavar="PATH",
        help="file holding the hex key",
    )
    return p


def _backend(
    b64: str | None, url: str | None, what: str, parser: argparse.ArgumentParser
) -> brpb.StorageBackend:
    if b64 and url:
        parser.error(f"give --{what}-storage-base64 or --{what}, not both")
    if b64:
        return decode_storage_base64(b64)
    if url:
        return parse_storage_url(url)
    parser.error(f"--{what}-storage-base64 (or --{what} URL) is required")


def _sources(
    b64: list[str] | None, urls: list[str] | None, parser: argparse.ArgumentParser
) -> brpb.StorageBackend | tuple[brpb.StorageBackend, ...]:
    """The input backup, or the chain of backups (in the order given)."""
    if b64 and urls:
        parser.error("give --input-storage-base64 or --input, not both")
    if b64:
        backends = tuple(decode_storage_base64(b) for b in b64)
    elif urls:
        backends = tuple(parse_storage_url(u) for u in urls)
    else:
        parser.error("--input-storage-base64 (or --input URL) is required")
    return backends[0] if len(backends) == 1 else backends


def options_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ExportOptions:
    settings = {name: getattr(args, name) for name, _, _ in flag_fields()}
    try:
        return ExportOptions(
            **settings,
            crypter=cipher_from_options(
                args.crypter_method, key=args.crypter_key, key_file=args.crypter_key_file
            ),
        )
    except ValueError as e:
        flags = {
            name: flag.name or "--" + name.replace("_", "-") for name, flag, _ in flag_fields()
        }
        # One pass over whole words: a flag put in is never rewritten by a later name.
        names = "|".join(sorted(map(re.escape, flags), key=len, reverse=True))
        parser.error(re.sub(rf"\b({names})\b", lambda m: flags[m.group(1)], str(e)))


def print_summary(result: ExportResult) -> None:
    if result.tasks == 0:
        # A schema-only backup, or tables that were empty when it was taken.
        print("nothing to export: the backup holds no data files for the selected tables")
    print(
        f"exported {result.rows_written} rows into {result.files_written} Parquet files "
        f"({result.bytes_written} bytes) from {result.tasks} SST tasks "
        f"in {result.seconds:.2f}s"
    )
    source = f"checkpoint {result.checkpoint}" if result.checkpoint else "checkpoint off"
    print(f"  objects: {result.objects_reused} reused ({source}), {result.objects_written} written")
    for table, rows in result.rows_by_table().items():
        print(f"  {table}: {rows} rows")
    stats = result.scan_stats
    print(
        f"  skipped: {stats['index_kvs']} index entries, {result.skipped_files} data files "
        f"outside the selection, {stats['deletes']} delete records"
    )
    print(
        f"  verified: {result.verified_files} data files against their checksums "
        f"({result.unverifiable_files} without one), {result.verified_tables} tables"
    )
    if stats["zero_dates_nulled"]:
        print(f"  zero_dates_nulled: {stats['zero_dates_nulled']}")
    for original, normalised in result.renamed().items():
        print(f"  name {original!r} → {normalised}")
    if result.manifest:
        print(f"  iceberg manifest: {result.manifest}")
    for commit in result.commits:
        print(f"  {iceberg_line(commit.to_json())}")


def print_plan(result: ExportResult) -> None:
    """What a dry run found: the work left, and what the checkpoint already holds."""
    to_download = sum(t.input_bytes for t in result.to_do)
    print(
        f"dry run: nothing was written. {len(result.tables)} tables, {result.tasks} SST tasks "
        f"({result.skipped_files} data files outside the selection)"
    )
    print(f"  to do: {len(result.to_do)} SST tasks, {to_download} bytes to download")
    print(f"  reused from the checkpoint: {result.objects_reused} objects")
    for table in result.tables:
        print(f"  table {table.qualified_name} (id {table.table_id})")
    for task in result.to_do:
        print(f"  download {task.sst} ({task.input_bytes} bytes)")
        for path in task.objects:
            print(f"    write {path}")
    if not result.to_do and result.tasks:
        print("  nothing to do: every SST task is finished")
    for commit in result.commits:
        print(f"  commit Iceberg table {commit.identifier}")


def main(argv: Sequence[str] | None = None, *, prog: str = "br-parquet-export") -> int:
    """The export command. SIGINT and SIGTERM stop it after the SST tasks in flight, with
    the checkpoint consistent (exit code 130 / 143); a second signal aborts at once."""
    with stop_on_signals() as stop:
        try:
            return _export_main(argv, prog=prog)
        except KeyboardInterrupt as e:  # a signal outside the export (which reports its own)
            signal_name = as_interrupted(e)
            if signal_name is None:
                raise
            error = Interrupted(signal_name)
            print(f"{prog}: error: {error}", file=sys.stderr)
            return error.exit_code
        finally:
            exit_if_aborted(stop)


def _export_main(argv: Sequence[str] | None, *, prog: str) -> int:
    """Parses the flags (argparse exits 2 on a usage error) and runs the export; any
    other failure ends in one error line and the exit code of its kind."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    report = FailureReport(prog, args.log_level, args.log_format, args.log_file)
    try:
        handler = runlog.configure(level=args.log_level, fmt=args.log_format, file=args.log_file)
    except OSError as e:  # the log file cannot be opened: nowhere to log but stderr
        print(f"{prog}: error: cannot write the log file: {e}", file=sys.stderr)
        return exit_code_of(e)
    try:
        return _run_export(args, parser, report, handler)
    except Exception as e:
        return report(e)


class FailureReport:
    """Says what failed in one line, `{prog}: error: {message}` (a JSON log line under
    `--log-format json`; on stderr too when logs go to a file), with the traceback only at
    `--log-level debug`, and gives the exit code of the failure's kind. `redact` masks
    the run's secrets once they are known."""

    def __init__(self, prog: str, level: str, fmt: str, log_file: str | None) -> None:
        self.prog = prog
        self.debug = level == "debug"
        self.json = fmt == "json"
        self.log_file = log_file
        self.redact: Callable[[str], str] = str

    def __call__(self, error: Exception) -> int:
        line = f"{self.prog}: error: {self.redact(message_of(error))}"
        if self.json or self.log_file:
            logging.getLogger("br_parquet.run").error(line, exc_info=error if self.debug else None)
        if not self.json or self.log_file:
            if self.debug and not self.log_file:
                traceback.print_exception(error, file=sys.stderr)
            print(line, file=sys.stderr)
        return exit_code_of(error)


def _run_export(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    report: FailureReport,
    handler: logging.Handler,
) -> int:
    source = _sources(args.input_storage_base64, args.input, parser)
    target = _backend(args.output_storage_base64, args.output, "output", parser)
    options = options_from_args(args, parser)
    redact = run_redactor(source, target, options)
    report.redact = redact
    handler = runlog.configure(
        level=args.log_level, fmt=args.log_format, file=args.log_file, redact=redact
    )
    summary = RunSummary(redact=redact)
    listeners: list[Listener] = [StageLog(), summary]
    bar = None
    if not args.log_file and ProgressBar.enabled(
        sys.stderr, no_progress=args.no_progress, log_format=args.log_format
    ):
        # Log lines print above the bar instead of through it.
        bar = ProgressBar()
        handler = runlog.configure(
            level=args.log_level, fmt=args.log_format, redact=redact, handler=bar.handler()
        )
        listeners.append(bar)
    try:
        result = run_export(source, target, options, listeners=listeners)
    except Exception as e:
        if bar is not None:
            bar.stop()  # the error line goes below the bar's final state
            bar = None
        code = report(e)
        _render(summary)
        return code
    finally:
        if bar is not None:
            bar.stop()
        handler.flush()
    if result.dry_run:
        print_plan(result)
        return 0
    print_summary(result)
    _render(summary)
    return 0


def _render(summary: RunSummary) -> None:
    """The delta table of the run, on stdout (stderr carries the logs)."""
    summary.render(Console(file=sys.stdout, width=_TABLE_WIDTH))


# --- br-parquet: subcommands ----------------------------------------------------------------

_INSPECT_PROG = "br-parquet inspect"


def _add_backup_source(p: argparse.ArgumentParser) -> None:
    """`--input` or `--input-storage-base64`, one of them required."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", metavar="URL", help="the BR backup as a storage URL or local path")
    src.add_argument(
        "--input-storage-base64",
        metavar="B64",
        help="base64 of the serialized StorageBackend of the BR backup",
    )


def build_inspect_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=_INSPECT_PROG,
        description="Show what a TiDB BR backup holds (versions, meta files, encryption, and "
        "per table its IDs, SSTs, checksums and column types), from its metadata only.",
    )
    _add_backup_source(p)
    p.add_argument(
        "--filter",
        dest="filters",
        metavar="RULE",
        action="append",
        default=[],
        help="BR table-filter rule (repeatable; `!` excludes, `@file` reads rules from a "
        "file); default: every table but the system schemas",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--log-level",
        default="info",
        choices=list(LOG_LEVELS),
        help="debug: print the traceback of an error",
    )
    enc = p.add_argument_group("encrypted backups (BR --crypter.*)")
    enc.add_argument(
        "--crypter.method",
        dest="crypter_method",
        default="plaintext",
        help="plaintext | aes128-ctr | aes192-ctr | aes256-ctr",
    )
    enc.add_argument("--crypter.key", dest="crypter_key", metavar="HEX", help="hex key")
    enc.add_argument(
        "--crypter.key-file", dest="crypter_key_file", metavar="PATH", help="file holding the key"
    )
    return p


def inspect_main(argv: Sequence[str] | None = None) -> int:
    """`br-parquet inspect`: 0 with the report on stdout; otherwise one error line and
    the exit code of its kind (for an encrypted backup without `--crypter.*`, after
    saying what is known)."""
    args = build_inspect_parser().parse_args(argv)
    failed = FailureReport(_INSPECT_PROG, args.log_level, "text", None)
    backend: brpb.StorageBackend | None = None
    crypter: Cipher | None = None
    try:
        rules = TableFilter.parse(args.filters or DEFAULT_FILTER)  # syntax errors first
        crypter = cipher_from_options(
            args.crypter_method, key=args.crypter_key, key_file=args.crypter_key_file
        )
        if args.input_storage_base64:
            backend = decode_storage_base64(args.input_storage_base64)
        else:
            backend = parse_storage_url(args.input)
        with open_backup(backend, crypter=crypter) as backup:
            report = inspect_backup(backup, rules.sources)
    except EncryptedMetaError as e:
        if crypter is None and backend is not None:
            # Operators expect what is known (encrypted, which flags) rather than only an error.
            location = describe_backend(backend)
            if args.json:
                print(json.dumps(encrypted_json(location, str(e)), indent=2))
            else:
                print(encrypted_text(location), end="")
        return failed(e)
    except Exception as e:
        return failed(e)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_text(report), end="")
    return 0


_BENCH_PROG = "br-parquet bench"


def _worker_counts(text: str) -> tuple[int, ...]:
    return tuple(parse_positive(part) for part in text.split(",") if part.strip())


def build_bench_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=_BENCH_PROG,
        description="Measure, on a backup, the steps of an export: reading the SSTs, "
        "RocksDB's raw scan (and sst_dump), decoding, writing Parquet, and whole exports at "
        "1, 2 and the CPU count of workers with their peak RSS; print the figures, the "
        "ratios between them, and whether the machine is I/O-bound or CPU-bound.",
    )
    _add_backup_source(p)
    p.add_argument(
        "--table",
        dest="tables",
        metavar="DB.T",
        action="append",
        default=[],
        help="a table to measure (repeatable); default: every table but the system schemas",
    )
    p.add_argument(
        "--type-mapping",
        dest="type_mappings",
        action="append",
        choices=list(TYPE_MAPPINGS),
        help=f"type mapping to measure (repeatable); default: {DEFAULT_TYPE_MAPPING}, the export's",
    )
    p.add_argument(
        "--compression",
        dest="compressions",
        action="append",
        choices=list(CODECS),
        help="Parquet compression to measure (repeatable); default: snappy, the export's",
    )
    p.add_argument(
        "--workers",
        type=_argument_type(_worker_counts),
        metavar="N,N",
        help="--sst-concurrency of the exports; default: "
        + ",".join(map(str, benchmark.default_workers())),
    )
    p.add_argument("--no-export", action="store_true", help="measure no whole export")
    p.add_argument(
        "--workdir",
        metavar="DIR",
        help="where downloaded SSTs and Parquet output go (default: the temp folder)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--log-level",
        default="info",
        choices=list(LOG_LEVELS),
        help="debug: print the traceback of an error",
    )
    return p


def bench_main(argv: Sequence[str] | None = None) -> int:
    """`br-parquet bench`: 0 with the report on stdout (progress on stderr); otherwise one
    error line and the exit code of its kind."""
    args = build_bench_parser().parse_args(argv)
    failed = FailureReport(_BENCH_PROG, args.log_level, "text", None)
    try:
        if args.input_storage_base64:
            backend = decode_storage_base64(args.input_storage_base64)
        else:
            backend = parse_storage_url(args.input)
        failed.redact = run_redactor(backend, brpb.StorageBackend(), ExportOptions())
        config = benchmark.BenchConfig(
            tables=tuple(args.tables),
            type_mappings=tuple(dict.fromkeys(args.type_mappings or [DEFAULT_TYPE_MAPPING])),
            compressions=tuple(dict.fromkeys(args.compressions or ["snappy"])),
            workers=args.workers or benchmark.default_workers(),
            export=not args.no_export,
            workdir=args.workdir,
        )
        report = benchmark.run_benchmark(
            backend, config, progress=lambda line: print(f"{line} ...", file=sys.stderr)
        )
    except KeyboardInterrupt:
        return failed(Interrupted("SIGINT"))
    except Exception as e:
        return failed(e)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(benchmark.render_text(report), end="")
    return 0


_COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "export": (lambda argv: main(argv, prog="br-parquet export"), "export a backup into Parquet"),
    "inspect": (inspect_main, "show what a backup holds"),
    "bench": (bench_main, "measure where an export's time goes on a backup"),
}


def br_parquet_main(argv: Sequence[str] | None = None) -> int:
    """`br-parquet COMMAND ...`: each command parses its own flags."""
    args = list(sys.argv[1:] if argv is None else argv)
    usage = f"usage: br-parquet {{{','.join(_COMMANDS)}}} ...\n\n" + "".join(
        f"  {name:<9} {about}\n" for name, (_, about) in _COMMANDS.items()
    )
    if args and args[0] in ("-h", "--help"):
        print(usage, end="")
        return 0
    if not args or args[0] not in _COMMANDS:
        given = f"unknown command {args[0]!r}" if args else "a command is required"
        print(f"{usage}br-parquet: error: {given}", file=sys.stderr)
        return 2
    command, _ = _COMMANDS[args[0]]
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())

"""`br-parquet-export`: the command line of the export. It parses flags (derived from
`ExportOptions`), calls `br_parquet.export`, and prints the result."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .api import run_export
from .crypto import cipher_from_options
from .errors import BrParquetError
from .gobool import ACCEPTED, parse_go_bool
from .options import ExportOptions, Flag, flag_fields
from .proto import brpb_pb2 as brpb
from .result import ExportResult
from .storage_url import decode_storage_base64, parse_storage_url

_LOG_LEVELS = ("debug", "info", "warning", "error")


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="br-parquet-export",
        description="Export a TiDB BR backup (backupmeta + SSTs) into Parquet files.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    src = p.add_argument_group(
        "storage (base64 of a StorageBackend as `br operator base64ify` prints it, or a URL)"
    )
    src.add_argument(
        "--input-storage-base64",
        metavar="B64",
        help="base64 of the serialized StorageBackend of the BR backup",
    )
    src.add_argument(
        "--output-storage-base64",
        metavar="B64",
        help="base64 of the serialized StorageBackend for the Parquet output",
    )
    src.add_argument(
        "--input",
        metavar="URL",
        help="the BR backup as a storage URL (local:///path, s3://bucket/prefix?…, "
        "gcs://, azure://) or a local path",
    )
    src.add_argument("--output", metavar="URL", help="the output storage as a URL or local path")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, flag, default in flag_fields():
        if flag.group not in groups:
            groups[flag.group] = p.add_argument_group(flag.group)
        _add_setting(groups[flag.group], name, flag, default)
    groups["execution"].add_argument(
        "--log-level", default="info", choices=list(_LOG_LEVELS), help="log verbosity"
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
        message = str(e)
        # Longest first, so that no field name is replaced inside another.
        for name, flag, _ in sorted(flag_fields(), key=lambda f: -len(f[0])):
            message = message.replace(name, flag.name or "--" + name.replace("_", "-"))
        parser.error(message)


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
    if stats["zero_dates_nulled"]:
        print(f"  zero_dates_nulled: {stats['zero_dates_nulled']}")
    for original, normalised in result.renamed().items():
        print(f"  name {original!r} → {normalised}")
    if result.manifest:
        print(f"  iceberg manifest: {result.manifest}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        source = _backend(args.input_storage_base64, args.input, "input", parser)
        target = _backend(args.output_storage_base64, args.output, "output", parser)
        result = run_export(source, target, options_from_args(args, parser))
    except BrParquetError as e:
        print(f"br-parquet-export: error: {e}", file=sys.stderr)
        return 1
    print_summary(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

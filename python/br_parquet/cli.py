"""`br-parquet-export`: the command line of the export job."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .checkpoint import VERIFY_MODES
from .crypto import cipher_from_options
from .errors import BrParquetError
from .iceberg_manifest import ManifestLocation
from .job import ExportOptions, ExportSummary, export
from .parquet_writer import CODECS
from .proto import brpb_pb2 as brpb
from .storage_url import decode_storage_base64, parse_storage_url


def _table_ids(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integer table IDs, got {text!r}"
        ) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _go_bool(text: str) -> bool:
    """A boolean as Go's strconv.ParseBool reads it (what the tikv-ctl design's flags take)."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(
        f"expected true or false (or 1, 0, t, f, TRUE, FALSE, True, False), got {text!r}"
    )


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
    out = p.add_argument_group("output")
    out.add_argument(
        "--output-prefix",
        default="parquet",
        help="prefix of every object written under the output storage",
    )
    out.add_argument(
        "--row-group-size", type=_positive, default=8192, help="rows per Parquet row group"
    )
    out.add_argument(
        "--compression", choices=list(CODECS), default="snappy", help="Parquet compression codec"
    )
    out.add_argument(
        "--type-mapping",
        choices=["compat", "typed"],
        default="compat",
        help="compat: the original string-heavy mapping; typed: native Parquet logical types",
    )
    sel = p.add_argument_group("selection")
    sel.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="RULE",
        help="BR table-filter rule (repeatable; `!` excludes, `@file` reads rules "
        "from a file); default: every table outside the system schemas",
    )
    sel.add_argument(
        "--table-ids",
        type=_table_ids,
        default=[],
        metavar="ID,ID",
        help="comma-separated physical table IDs (a table's or a partition's)",
    )
    run = p.add_argument_group("execution")
    run.add_argument(
        "--sst-concurrency",
        type=_positive,
        default=os.cpu_count() or 1,
        help="SST files exported concurrently (default: CPU count)",
    )
    run.add_argument(
        "--use-checkpoint",
        type=_go_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="resume from and record progress in {output-prefix}/_checkpoint/; "
        "--use-checkpoint=false ignores checkpoint data (neither read nor written)",
    )
    run.add_argument(
        "--checkpoint-verify",
        choices=list(VERIFY_MODES),
        default="sha256",
        help="how objects finished by an earlier run are checked before they are reused: "
        "sha256 reads each back; size only compares sizes (catches deleted and truncated "
        "objects, not same-size damage)",
    )
    run.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity",
    )
    ice = p.add_argument_group("Iceberg JSON manifest")
    ice.add_argument(
        "--write-iceberg-manifest",
        action="store_true",
        help="write a JSON manifest of every Parquet file (with its source SST facts) to "
        "{warehouse}/{namespace}/{table}/metadata/{manifest-prefix}_{end_version}_0.json",
    )
    ice.add_argument(
        "--iceberg-warehouse", metavar="PATH", help="warehouse folder in the output storage"
    )
    ice.add_argument("--iceberg-namespace", metavar="NS", help="namespace (dots make folders)")
    ice.add_argument("--iceberg-table", metavar="NAME", help="Iceberg table name")
    ice.add_argument(
        "--iceberg-manifest-prefix",
        default="manifest",
        metavar="PREFIX",
        help="file name prefix of the manifest",
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


def _iceberg(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ManifestLocation | None:
    given = {
        "--iceberg-warehouse": args.iceberg_warehouse,
        "--iceberg-namespace": args.iceberg_namespace,
        "--iceberg-table": args.iceberg_table,
    }
    if not args.write_iceberg_manifest:
        if any(given.values()):
            parser.error("--iceberg-* flags need --write-iceberg-manifest")
        return None
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        parser.error(f"--write-iceberg-manifest needs {', '.join(missing)}")
    return ManifestLocation(
        args.iceberg_warehouse,
        args.iceberg_namespace,
        args.iceberg_table,
        args.iceberg_manifest_prefix,
    )


def options_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ExportOptions:
    return ExportOptions(
        iceberg=_iceberg(args, parser),
        input=_backend(args.input_storage_base64, args.input, "input", parser),
        output=_backend(args.output_storage_base64, args.output, "output", parser),
        output_prefix=args.output_prefix,
        row_group_size=args.row_group_size,
        sst_concurrency=args.sst_concurrency,
        compression=args.compression,
        filters=tuple(args.filter),
        table_ids=tuple(args.table_ids),
        type_mapping=args.type_mapping,
        use_checkpoint=args.use_checkpoint,
        checkpoint_verify=args.checkpoint_verify,
        cipher=cipher_from_options(
            args.crypter_method, key=args.crypter_key, key_file=args.crypter_key_file
        ),
    )


def print_summary(summary: ExportSummary) -> None:
    if summary.tasks == 0:
        # A schema-only backup, or tables that were empty when it was taken.
        print("nothing to export: the backup holds no data files for the selected tables")
    print(
        f"exported {summary.rows_written} rows into {summary.files_written} Parquet files "
        f"({summary.bytes_written} bytes) from {summary.tasks} SST tasks "
        f"in {summary.seconds:.2f}s"
    )
    source = f"checkpoint {summary.checkpoint}" if summary.checkpoint else "checkpoint off"
    print(
        f"  objects: {summary.objects_reused} reused ({source}), {summary.objects_written} written"
    )
    for table, rows in summary.rows_by_table().items():
        print(f"  {table}: {rows} rows")
    stats = summary.scan_stats
    print(
        f"  skipped: {stats['index_kvs']} index entries, {summary.skipped_files} data files "
        f"outside the selection, {stats['deletes']} delete records"
    )
    if stats["zero_dates_nulled"]:
        print(f"  zero_dates_nulled: {stats['zero_dates_nulled']}")
    for original, normalised in summary.renamed().items():
        print(f"  name {original!r} → {normalised}")
    if summary.manifest:
        print(f"  iceberg manifest: {summary.manifest}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        summary = export(options_from_args(args, parser))
    except BrParquetError as e:
        print(f"br-parquet-export: error: {e}", file=sys.stderr)
        return 1
    print_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

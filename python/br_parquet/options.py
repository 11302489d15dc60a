"""The settings of an export: the one place where each setting, its default and its
validation live.

`ExportOptions` is a frozen, picklable value. The command line derives its flags from
the fields' `Flag` metadata (`cli.py`), and the Python API's keyword arguments from the
fields themselves (`with_options`), so neither repeats a name, a default or a check.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from .checkpoint import VERIFY_MODES, Verify
from .crypto import Cipher
from .parquet_writer import CODECS, ParquetOptions
from .storage import StorageSettings

Verification = Literal["files", "tables", "none"]
VERIFICATIONS: tuple[Verification, ...] = ("files", "tables", "none")
"""`files`: each data file's TiKV checksum and the row counts; `tables`: also each table's
`Schema` checksum against all its files, downloading its index files; `none`: no check."""

TypeMapping = Literal["compat", "typed"]
TYPE_MAPPINGS: tuple[TypeMapping, ...] = ("compat", "typed")
"""`compat`: the original design's string-heavy mapping; `typed`: native Arrow types."""

DEFAULT_TYPE_MAPPING: TypeMapping = "compat"
DEFAULT_NAMESPACE = "default"
"""The Iceberg namespace of committed tables when `--iceberg-namespace` is not given."""
DEFAULT_WAREHOUSE = "iceberg"
"""The warehouse folder in the output storage when `--iceberg-warehouse` is not given."""
DEFAULT_ROW_GROUP_SIZE = 8192
"""Rows per Parquet row group, and rows per decoded batch of `Backup.scan`."""


def default_concurrency() -> int:
    """SST tasks in flight by default: one per CPU."""
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Flag:
    """How a setting appears on the command line."""

    help: str
    group: str
    name: str = ""
    """The flag, `--` + the field name with `-` for `_` when empty."""
    metavar: str | None = None
    kind: Literal["value", "append", "bool", "switch"] = "value"
    """`append`: repeatable; `bool`: takes an optional Go boolean; `switch`: no value."""
    parse: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None


def _flag(help: str, group: str, **kwargs: Any) -> dict[str, Flag]:
    return {"flag": Flag(help, group, **kwargs)}


def parse_positive(text: str) -> int:
    """A positive integer, as a flag value."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"expected a positive integer, got {value}")
    return value


def parse_count(text: str) -> int:
    """A non-negative integer, as a flag value."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise ValueError(f"expected a non-negative integer, got {value}")
    return value


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_seconds(text: str) -> float:
    """A positive duration, as a flag value: seconds (`2.5`) or with a unit (`500ms`,
    `30s`, `2m`, `1h`).

    >>> parse_seconds("500ms"), parse_seconds("2m"), parse_seconds("1.5")
    (0.5, 120.0, 1.5)
    """
    stripped = text.strip()
    number, scale = stripped, 1.0
    for unit in sorted(_DURATION_UNITS, key=len, reverse=True):
        if stripped.endswith(unit):
            number, scale = stripped[: -len(unit)], _DURATION_UNITS[unit]
            break
    try:
        value = float(number) * scale
    except ValueError:
        raise ValueError(
            f"expected a duration such as 30, 2.5s, 500ms or 2m, got {text!r}"
        ) from None
    if not (value > 0 and value != float("inf")):
        raise ValueError(f"expected a positive duration, got {text!r}")
    return value


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


def parse_size(text: str) -> int:
    """A positive byte size, as a flag value: bytes (`1000000`) or with a unit, binary
    (`512KiB`, `256MiB`, `1GiB`, `1TiB`) or decimal (`500KB`, `1GB`); any case.

    >>> parse_size("256MiB"), parse_size("1GiB"), parse_size("1000000"), parse_size("1.5KB")
    (268435456, 1073741824, 1000000, 1500)
    """
    match = _SIZE.fullmatch(text)
    scale = _SIZE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or scale is None:
        raise ValueError(
            f"expected a size such as 256MiB, 1GiB, 512KiB or 1000000 (bytes), got {text!r}"
        )
    value = int(float(match.group(1)) * scale)
    if value < 1:
        raise ValueError(f"expected a size of at least 1 byte, got {text!r}")
    return value


def parse_table_ids(text: str) -> tuple[int, ...]:
    """Comma-separated integer table IDs, as a flag value."""
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ValueError(f"expected comma-separated integer table IDs, got {text!r}") from None


_OUTPUT = "output"
_SELECTION = "selection"
_EXECUTION = "execution"
_MANIFEST = "Iceberg JSON manifest"
_CATALOG = "Iceberg catalog (also takes --iceberg-warehouse, --iceberg-namespace, --iceberg-table)"
_OBSERVE = "observability"
_STORAGE = "storage requests (S3, GCS, Azure: reads and writes)"
_DISTRIBUTED = "distributed execution (needs br-parquet[dask] for --executor dask)"
Executor = Literal["local", "dask"]
EXECUTORS: tuple[Executor, ...] = ("local", "dask")
"""`local`: threads of this process; `dask`: the workers of a Dask cluster."""
DEFAULT_TASK_RETRIES = 2
_DEFAULT_STORAGE = StorageSettings()


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """Every setting of an export. Invalid values raise `ValueError` on construction.

    >>> ExportOptions(type_mapping="typed", filters=("shop.*",)).row_group_size
    8192
    """

    output_prefix: str = field(
        default="parquet",
        metadata=_flag("prefix of every object written under the output storage", _OUTPUT),
    )
    row_group_size: int = field(
        default=DEFAULT_ROW_GROUP_SIZE,
        metadata=_flag("rows per Parquet row group", _OUTPUT, parse=parse_positive),
    )
    compression: str = field(
        default="snappy",
        metadata=_flag(
            "Parquet compression codec (lz4 and lz4raw both write LZ4_RAW)",
            _OUTPUT,
            choices=tuple(CODECS),
        ),
    )
    type_mapping: TypeMapping = field(
        default=DEFAULT_TYPE_MAPPING,
        metadata=_flag(
            "compat: the original string-heavy mapping; typed: native Parquet logical types",
            _OUTPUT,
            choices=TYPE_MAPPINGS,
        ),
    )
    emit_deletes: bool = field(
        default=False,
        metadata=_flag(
            "keep the Delete records of incremental backups as tombstone rows: a "
            "_tidb_op column (put | delete), the handle set and the other columns NULL "
            "(without it deletes are counted and skipped)",
            _OUTPUT,
            kind="switch",
        ),
    )
    with_commit_ts: bool = field(
        default=False,
        metadata=_flag(
            "add _tidb_commit_ts, the commit ts of each row's write record (int64)",
            _OUTPUT,
            kind="switch",
        ),
    )
    target_file_size: int | str | None = field(
        default=None,
        metadata=_flag(
            "write each table's rows of consecutive SSTs (in key order) into files of about "
            "SIZE (256MiB, 1GiB, 512KiB, bytes), closed only between SSTs, named "
            "{first_sst}__{last_sst}.parquet; default: one file per SST (one backup only, "
            "not a chain)",
            _OUTPUT,
            metavar="SIZE",
            parse=parse_size,
        ),
    )
    filters: Sequence[str] = field(
        default=(),
        metadata=_flag(
            "BR table-filter rule (repeatable; `!` excludes, `@file` reads rules from a "
            "file); default: every table outside the system schemas",
            _SELECTION,
            name="--filter",
            metavar="RULE",
            kind="append",
        ),
    )
    table_ids: Sequence[int] = field(
        default=(),
        metadata=_flag(
            "comma-separated physical table IDs (a table's or a partition's)",
            _SELECTION,
            metavar="ID,ID",
            parse=parse_table_ids,
        ),
    )
    sst_concurrency: int = field(
        default_factory=default_concurrency,
        metadata=_flag(
            "SST files exported concurrently (default: the CPU count, here %(default)s)",
            _EXECUTION,
            parse=parse_positive,
        ),
    )
    use_checkpoint: bool = field(
        default=True,
        metadata=_flag(
            "resume from and record progress in {output-prefix}/_checkpoint/; "
            "--use-checkpoint=false ignores checkpoint data (neither read nor written)",
            _EXECUTION,
            metavar="BOOL",
            kind="bool",
        ),
    )
    checkpoint_verify: Verify = field(
        default="etag",
        metadata=_flag(
            "how objects finished by an earlier run are checked before they are reused: "
            "etag compares each object's size and ETag with its entry in one listing "
            "(reading back only objects whose ETag changed); sha256 reads each back; size "
            "only compares sizes (catches deleted and truncated objects, not same-size "
            "replacements)",
            _EXECUTION,
            choices=VERIFY_MODES,
        ),
    )
    verify: Verification = field(
        default="files",
        metadata=_flag(
            "files: check every data file against the checksum the backup records for it "
            "(File.crc64xor, total_kvs, total_bytes) and that every decoded row reaches "
            "Parquet, before anything of it is uploaded; tables: also check each table's "
            "checksum (Schema.crc64xor, total_kvs, total_bytes) against all its files, "
            "downloading its index files too, before any task runs; none: skip both",
            _EXECUTION,
            choices=VERIFICATIONS,
        ),
    )
    write_iceberg_manifest: bool = field(
        default=False,
        metadata=_flag(
            "write a JSON manifest of every Parquet file (with its source SST facts) to "
            "{warehouse}/{namespace}/{table}/metadata/{manifest-prefix}_{end_version}_0.json",
            _MANIFEST,
            kind="switch",
        ),
    )
    iceberg_warehouse: str | None = field(
        default=None,
        metadata=_flag(
            "warehouse folder in the output storage, or a URL on it (with --iceberg-catalog "
            f"the default is {DEFAULT_WAREHOUSE!r})",
            _MANIFEST,
            metavar="PATH",
        ),
    )
    iceberg_namespace: str | None = field(
        default=None,
        metadata=_flag(
            "namespace (dots make folders and namespace levels; with --iceberg-catalog the "
            f"default is {DEFAULT_NAMESPACE!r})",
            _MANIFEST,
            metavar="NS",
        ),
    )
    iceberg_table: str | None = field(
        default=None,
        metadata=_flag(
            "Iceberg table name (for --iceberg-catalog: when exactly one table is exported)",
            _MANIFEST,
            metavar="NAME",
        ),
    )
    iceberg_manifest_prefix: str = field(
        default="manifest",
        metadata=_flag("file name prefix of the manifest", _MANIFEST, metavar="PREFIX"),
    )
    catalog: str | None = field(
        default=None,
        metadata=_flag(
            "commit each exported table to this Iceberg catalog: sqlite:///PATH/catalog.db "
            "(created if missing), any SQLAlchemy URL, or rest+http(s)://HOST[/PATH] for a "
            "REST catalog; tables are {namespace}.{db}__{table} at "
            "{warehouse}/{namespace}/{table} (needs br-parquet[iceberg])",
            _CATALOG,
            name="--iceberg-catalog",
            metavar="URI",
        ),
    )
    catalog_properties: Sequence[tuple[str, str]] = field(
        default=(),
        repr=False,  # may hold credentials
        metadata=_flag(
            "a pyiceberg catalog property such as token=…, credential=…, warehouse=… (repeatable)",
            _CATALOG,
            name="--iceberg-catalog-property",
            metavar="KEY=VALUE",
            kind="append",
        ),
    )
    metrics_addr: str | None = field(
        default=None,
        metadata=_flag(
            "serve Prometheus metrics at http://[HOST:]PORT/metrics while the run lasts "
            "(a bare port binds 127.0.0.1)",
            _OBSERVE,
            metavar="[HOST:]PORT",
        ),
    )
    metrics_file: str | None = field(
        default=None,
        metadata=_flag(
            "write the metrics in the node-exporter textfile format to PATH, atomically, "
            "every few seconds and at the end",
            _OBSERVE,
            metavar="PATH",
        ),
    )
    metrics_pushgateway: str | None = field(
        default=None,
        metadata=_flag(
            "push the metrics to this Prometheus Pushgateway at the end (on failure too)",
            _OBSERVE,
            metavar="URL",
        ),
    )
    metrics_job: str = field(
        default="br_parquet_export",
        metadata=_flag("the Pushgateway job name", _OBSERVE, metavar="NAME"),
    )
    summary_json: str | None = field(
        default=None,
        metadata=_flag(
            "write the end-of-run summary (with the error on failure) as JSON to PATH",
            _OBSERVE,
            metavar="PATH",
        ),
    )
    dry_run: bool = field(
        default=False,
        metadata=_flag(
            "plan and load the checkpoint, print what would be done, write nothing",
            _EXECUTION,
            kind="switch",
        ),
    )
    storage_max_retries: int = field(
        default=_DEFAULT_STORAGE.max_retries,
        metadata=_flag(
            "retries of a failed request (5xx, SlowDown, dropped connection, timeout), and of "
            "a transfer broken mid-body, with exponential backoff; 0 disables them",
            _STORAGE,
            metavar="N",
            parse=parse_count,
        ),
    )
    storage_retry_timeout: float = field(
        default=_DEFAULT_STORAGE.retry_timeout,
        metadata=_flag(
            "no retry starts later than this many seconds after the first attempt",
            _STORAGE,
            metavar="SECONDS",
            parse=parse_seconds,
        ),
    )
    storage_retry_backoff: float = field(
        default=_DEFAULT_STORAGE.retry_backoff,
        metadata=_flag(
            "seconds before the first retry; each further wait doubles",
            _STORAGE,
            metavar="SECONDS",
            parse=parse_seconds,
        ),
    )
    storage_retry_max_backoff: float = field(
        default=_DEFAULT_STORAGE.retry_max_backoff,
        metadata=_flag(
            "the longest wait between retries, in seconds",
            _STORAGE,
            metavar="SECONDS",
            parse=parse_seconds,
        ),
    )
    storage_connect_timeout: float = field(
        default=_DEFAULT_STORAGE.connect_timeout,
        metadata=_flag(
            "seconds to establish a connection", _STORAGE, metavar="SECONDS", parse=parse_seconds
        ),
    )
    storage_timeout: float = field(
        default=_DEFAULT_STORAGE.timeout,
        metadata=_flag(
            "seconds for one whole request, body included (must fit the largest transfer)",
            _STORAGE,
            metavar="SECONDS",
            parse=parse_seconds,
        ),
    )
    storage_read_timeout: float = field(
        default=_DEFAULT_STORAGE.read_timeout,
        metadata=_flag(
            "seconds without a byte received before a request counts as stalled",
            _STORAGE,
            metavar="SECONDS",
            parse=parse_seconds,
        ),
    )
    executor: Executor = field(
        default="local",
        metadata=_flag(
            "where SST tasks run: local (threads of this process) or dask (a Dask cluster: "
            "the one at --scheduler, else a local cluster of worker processes on 127.0.0.1)",
            _DISTRIBUTED,
            choices=EXECUTORS,
        ),
    )
    scheduler: str | None = field(
        default=None,
        metadata=_flag(
            "address of a running Dask scheduler (tcp://HOST:8786, or a scheduler file path); "
            "without it --executor dask starts a local cluster of --sst-concurrency worker "
            "threads",
            _DISTRIBUTED,
            metavar="ADDR",
        ),
    )
    worker_threads: int = field(
        default=1,
        metadata=_flag(
            "threads per worker process of the local Dask cluster (workers of a --scheduler "
            "cluster are sized by `dask worker --nthreads`)",
            _DISTRIBUTED,
            metavar="N",
            parse=parse_positive,
        ),
    )
    worker_memory: int | str | None = field(
        default=None,
        metadata=_flag(
            "memory limit of each worker process of the local Dask cluster (4GiB, …; default: "
            "the RAM shared among them); Dask restarts a worker that exceeds it and its tasks "
            "run again",
            _DISTRIBUTED,
            metavar="SIZE",
            parse=parse_size,
        ),
    )
    task_retries: int = field(
        default=DEFAULT_TASK_RETRIES,
        metadata=_flag(
            "runs of a failed SST task on Dask beyond the first, after a storage failure or "
            "an unexpected error (bad input and failed verification are not retried); a "
            "task whose worker dies runs again elsewhere",
            _DISTRIBUTED,
            metavar="N",
            parse=parse_count,
        ),
    )
    executor_send_keys: bool = field(
        default=False,
        metadata=_flag(
            "send the crypter key and the storage credentials given with --input/--output to "
            "the Dask workers in each task; without it workers find storage credentials in "
            "their own environment, and an encrypted backup is refused",
            _DISTRIBUTED,
            kind="switch",
        ),
    )
    crypter: Cipher | None = None
    """The backup's `--crypter.*` method and key; None for a plaintext backup."""

    def __post_init__(self) -> None:
        # Sequences are stored as tuples: the value stays hashable and frozen.
        object.__setattr__(self, "filters", _strings("filters", self.filters))
        object.__setattr__(self, "table_ids", _ints("table_ids", self.table_ids))
        hidden = [p for p in self.output_prefix.split("/") if p.startswith(("_", "."))]
        if hidden:
            raise ValueError(
                f"output_prefix {self.output_prefix!r} has a folder starting with "
                f"{hidden[0][0]!r}, which Spark, Hive, Trino and pyarrow.dataset treat as hidden"
            )
        if self.type_mapping not in TYPE_MAPPINGS:
            raise ValueError(
                f"type mapping must be one of {', '.join(TYPE_MAPPINGS)}, got {self.type_mapping!r}"
            )
        size = self.target_file_size
        if isinstance(size, str):
            object.__setattr__(self, "target_file_size", parse_size(size))
        elif size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
            raise ValueError(
                f"target_file_size must be a positive number of bytes or a size such as "
                f"'256MiB', got {size!r}"
            )
        self._check_executor()
        if self.sst_concurrency < 1:
            raise ValueError(f"sst concurrency must be at least 1, got {self.sst_concurrency}")
        ParquetOptions(self.row_group_size, self.compression)  # validates both
        if self.checkpoint_verify not in VERIFY_MODES:
            raise ValueError(
                f"checkpoint verification must be one of {', '.join(VERIFY_MODES)}, "
                f"got {self.checkpoint_verify!r}"
            )
        if self.verify not in VERIFICATIONS:
            raise ValueError(
                f"verify must be one of {', '.join(VERIFICATIONS)}, got {self.verify!r}"
            )
        try:
            self.storage  # noqa: B018 (builds it to validate it)
        except ValueError as e:
            # StorageSettings names its fields without the `storage_` of ours.
            names = "|".join(f.name for f in fields(StorageSettings))
            raise ValueError(re.sub(rf"\b({names})\b", r"storage_\1", str(e))) from None
        object.__setattr__(
            self, "catalog_properties", _properties("catalog_properties", self.catalog_properties)
        )
        if self.catalog is not None and "://" not in self.catalog:
            raise ValueError(
                f"catalog must be a URI such as sqlite:///path/catalog.db, a SQLAlchemy URL or "
                f"rest+https://host/path, got {self.catalog!r}"
            )
        if self.catalog_properties and self.catalog is None:
            raise ValueError("catalog_properties need a catalog")
        if self.crypter is not None and not isinstance(self.crypter, Cipher):
            raise ValueError(f"crypter must be a br_parquet.Cipher, got {self.crypter!r}")
        self._check_manifest()

    def _check_executor(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(
                f"executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}"
            )
        memory = self.worker_memory
        if isinstance(memory, str):
            object.__setattr__(self, "worker_memory", parse_size(memory))
        elif memory is not None and (
            not isinstance(memory, int) or isinstance(memory, bool) or memory < 1
        ):
            raise ValueError(
                f"worker_memory must be a positive number of bytes or a size such as "
                f"'4GiB', got {memory!r}"
            )
        if self.worker_threads < 1:
            raise ValueError(f"worker_threads must be at least 1, got {self.worker_threads}")
        if self.task_retries < 0:
            raise ValueError(f"task_retries must be 0 or more, got {self.task_retries}")
        if self.executor == "dask":
            if self.scheduler is not None and (
                self.worker_memory is not None or self.worker_threads != 1
            ):
                raise ValueError(
                    "worker_memory and worker_threads size the local Dask cluster; the "
                    "workers of a scheduler are sized where they start (dask worker "
                    "--nthreads N --memory-limit SIZE)"
                )
            return
        given = [
            name
            for name, value in (
                ("scheduler", self.scheduler is not None),
                ("worker_memory", self.worker_memory is not None),
                ("worker_threads", self.worker_threads != 1),
                ("executor_send_keys", self.executor_send_keys),
            )
            if value
        ]
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise ValueError(f"{', '.join(given)} {verb} executor 'dask'")

    def _check_manifest(self) -> None:
        given = {
            "iceberg_warehouse": self.iceberg_warehouse,
            "iceberg_namespace": self.iceberg_namespace,
            "iceberg_table": self.iceberg_table,
        }
        if not self.write_iceberg_manifest:
            if any(given.values()) and self.catalog is None:
                raise ValueError(
                    f"{', '.join(k for k, v in given.items() if v)} need "
                    "write_iceberg_manifest or catalog"
                )
            return
        missing = [k for k, v in given.items() if not v]
        if missing:
            raise ValueError(f"write_iceberg_manifest needs {', '.join(missing)}")

    @property
    def target_bytes(self) -> int | None:
        """`target_file_size` in bytes (a string given is parsed on construction)."""
        size = self.target_file_size
        return size if isinstance(size, int) else None

    @property
    def parquet(self) -> ParquetOptions:
        return ParquetOptions(self.row_group_size, self.compression)

    @property
    def storage(self) -> StorageSettings:
        """The retries and timeouts of object-store requests."""
        return StorageSettings(
            max_retries=self.storage_max_retries,
            retry_timeout=self.storage_retry_timeout,
            retry_backoff=self.storage_retry_backoff,
            retry_max_backoff=self.storage_retry_max_backoff,
            connect_timeout=self.storage_connect_timeout,
            timeout=self.storage_timeout,
            read_timeout=self.storage_read_timeout,
        )


def _strings(name: str, value: Any) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(v, str) for v in items):
        raise ValueError(f"{name} must be strings, got {value!r}")
    return items


def _properties(name: str, value: Any) -> tuple[tuple[str, str], ...]:
    """`{k: v}`, `[(k, v)]` or `["k=v"]` (the command line's form) as sorted pairs."""
    items = value.items() if isinstance(value, Mapping) else value
    pairs: dict[str, str] = {}
    for item in items:
        if isinstance(item, str):
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{name}: expected KEY=VALUE, got {item!r}")
            item = (key.strip(), text)
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise ValueError(f"{name}: expected KEY=VALUE pairs, got {item!r}")
        key, text = item
        if not isinstance(key, str) or not isinstance(text, str):
            raise ValueError(f"{name}: keys and values must be strings, got {item!r}")
        pairs[key] = text
    return tuple(sorted(pairs.items()))


def _ints(name: str, value: Any) -> tuple[int, ...]:
    items = tuple(value)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise ValueError(f"{name} must be integers, got {value!r}")
    return items


def flag_fields() -> list[tuple[str, Flag, Any]]:
    """(field name, flag, default) of every setting that has a command-line flag."""
    out: list[tuple[str, Flag, Any]] = []
    for f in fields(ExportOptions):
        flag = f.metadata.get("flag")
        if flag is None:
            continue
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        out.append((f.name, flag, default))
    return out


_P = ParamSpec("_P")
_R = TypeVar("_R")
_Head = TypeVar("_Head")
_Head2 = TypeVar("_Head2")


def with_options(
    run: Callable[[_Head, _Head2, ExportOptions], _R], *, name: str | None = None
) -> Callable[[Callable[_P, ExportOptions]], Callable[Concatenate[_Head, _Head2, _P], _R]]:
    """Turns `run(a, b, options)` into `f(a, b, **settings)` whose keyword arguments are
    exactly `ExportOptions`' fields: typed for mypy, shown by `help()`, with their
    defaults taken from the one definition."""

    def bind(options: Callable[_P, ExportOptions]) -> Callable[Concatenate[_Head, _Head2, _P], _R]:
        @functools.wraps(run)
        def call(head: _Head, head2: _Head2, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            return run(head, head2, options(*args, **kwargs))

        call.__name__ = name or run.__name__.lstrip("_")
        call.__qualname__ = run.__qualname__.replace(run.__name__, call.__name__)
        own = list(inspect.signature(run).parameters.values())[:2]
        settings = list(inspect.signature(options).parameters.values())
        call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(kind=inspect.Parameter.POSITIONAL_ONLY) for p in own] + settings,
            return_annotation=inspect.signature(run).return_annotation,
        )
        return call

    return bind

"""br-parquet: convert TiDB BR backups into Parquet files, offline.

import br_parquet
summary = br_parquet.export("local:///data/backup", "local:///data/parquet",
                            filters=["shop.*"])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from .checkpoint import Verify
from .crypto import Cipher
from .job import ExportOptions, ExportSummary, WrittenObject
from .job import export as _run
from .proto.brpb_pb2 import StorageBackend
from .storage_url import parse_storage_url

try:
    __version__ = version("br-parquet")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "ExportOptions",
    "ExportSummary",
    "WrittenObject",
    "__version__",
    "export",
]


def _backend(location: str | StorageBackend) -> StorageBackend:
    return location if isinstance(location, StorageBackend) else parse_storage_url(location)


def export(
    input: str | StorageBackend,
    output: str | StorageBackend,
    *,
    output_prefix: str = "parquet",
    filters: Sequence[str] = (),
    table_ids: Sequence[int] = (),
    row_group_size: int = 8192,
    compression: str = "snappy",
    type_mapping: str = "compat",
    sst_concurrency: int | None = None,
    cipher: Cipher | None = None,
    use_checkpoint: bool = True,
    checkpoint_verify: Verify = "sha256",
) -> ExportSummary:
    """Exports the BR backup at `input` into Parquet files under `output`.

    `input`/`output` are BR storage URLs (`local:///path`, `s3://bucket/prefix?…`,
    `gcs://…`, `azure://…`), plain local paths, or `StorageBackend` messages.
    With `use_checkpoint` (the default) an interrupted export resumes where it stopped
    (see `br_parquet.checkpoint`); `checkpoint_verify="size"` skips reading finished
    objects back.
    """
    return _run(
        ExportOptions(
            input=_backend(input),
            output=_backend(output),
            output_prefix=output_prefix,
            row_group_size=row_group_size,
            sst_concurrency=sst_concurrency or os.cpu_count() or 1,
            compression=compression,
            filters=tuple(filters),
            table_ids=tuple(table_ids),
            type_mapping=type_mapping,
            cipher=cipher,
            use_checkpoint=use_checkpoint,
            checkpoint_verify=checkpoint_verify,
        )
    )

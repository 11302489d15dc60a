"""br-parquet: convert TiDB BR backups into Parquet files and Arrow, offline.

import br_parquet

backup = br_parquet.open_backup("s3://backups/full?region=us-east-1")
orders = backup.scan("tpcc.orders", columns=["o_id", "o_entry_d"]).read_all()
result = br_parquet.export("s3://backups/full", "s3://lake/tidb", filters=["tpcc.*"])
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .api import Backup, BackupInfo, Location, export, open_backup, run_export
from .cache import CacheStats
from .crypto import Cipher, cipher_from_options
from .errors import BrParquetError
from .options import ExportOptions
from .result import ExportResult, TableResult
from .tables import Column, Table
from .task import ExportTask, TaskResult, run_task
from .written import WrittenObject

try:
    __version__ = version("br-parquet")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "Backup",
    "BackupInfo",
    "BrParquetError",
    "CacheStats",
    "Cipher",
    "Column",
    "ExportOptions",
    "ExportResult",
    "ExportTask",
    "Location",
    "Table",
    "TableResult",
    "TaskResult",
    "WrittenObject",
    "__version__",
    "cipher_from_options",
    "export",
    "open_backup",
    "run_export",
    "run_task",
]

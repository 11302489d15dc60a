"""`make demo`: writes a sample BR backup, exports it, prints what came out.

The backup holds the original design's smoke tables: `parquet_smoke.group_a`
and `parquet_smoke.group_b` (`id INT PRIMARY KEY, v INT`) in one region SST,
and `parquet_smoke.all_types` (28 columns), exported in both type mappings; the typed
export is also committed as Iceberg tables to a SQLite catalog, which DuckDB then queries.
Last, a chain (a full backup and two incrementals) is exported as of its last backup.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from .api import open_backup
from .cli import inspect_main
from .cli import main as cli_main
from .testing import sample_chain, write_backup, write_chain
from .testing.smoke import smoke_backup

if TYPE_CHECKING:
    import duckdb


def show(output: Path, folder: str) -> None:
    for path in sorted((output / folder).rglob("*.parquet")):
        table = pq.read_table(path)
        print(f"{path.relative_to(output)}:")
        if len(table.schema) > 6:
            print("  schema: " + ", ".join(f"{f.name} {f.type}" for f in table.schema))
        for row in table.to_pylist():
            print(f"  { {k: _short(v) for k, v in row.items()} }")


def _short(value: object) -> object:
    """Long values (default-CF rows) shortened for the screen."""
    if isinstance(value, str | bytes) and len(value) > 40:
        return f"{value[:12]!r}… ({len(value)} long)"
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".demo"))
    args = parser.parse_args(argv)
    workdir: Path = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    backup = workdir / "backup"
    write_backup(backup, smoke_backup())
    print(f"wrote a BR backup to {backup}:")
    for path in sorted(p for p in backup.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(backup)}")
    for mapping in ("compat", "typed"):
        output = workdir / f"output-{mapping}"
        command = [
            "--input",
            f"local://{backup}",
            "--output",
            f"local://{output}",
            "--filter",
            "parquet_smoke.*",
            "--type-mapping",
            mapping,
        ]
        if mapping == "typed":
            command += ["--iceberg-catalog", f"sqlite:///{workdir}/catalog.db"]
        print(f"\n$ br-parquet-export {' '.join(command)}")
        status = cli_main(command)
        if status != 0:
            return status
        print()
        folders = ["group_a", "group_b", "all_types"] if mapping == "compat" else ["all_types"]
        for folder in folders:
            show(output, f"parquet/parquet_smoke/{folder}")
    print(f"\n$ br-parquet inspect --input local://{backup} --filter 'parquet_smoke.group_*'")
    status = inspect_main(["--input", f"local://{backup}", "--filter", "parquet_smoke.group_*"])
    if status != 0:
        return status
    query(backup)
    query_iceberg(workdir)
    return export_chain(workdir)


def export_chain(workdir: Path) -> int:
    """A full backup and two incrementals, exported as one table state; then the second
    incremental alone, with its deletes as tombstones."""
    chain = workdir / "chain"
    write_chain(chain, sample_chain())
    output = workdir / "output-chain"
    inputs = [a for i in range(3) for a in ("--input", f"local://{chain / str(i)}")]
    command = [*inputs, "--output", f"local://{output}", "--type-mapping", "typed"]
    command += ["--filter", "shop.items", "--no-progress", "--log-level", "warning"]
    print(f"\n$ br-parquet-export {' '.join(command)}")
    status = cli_main(command)
    if status != 0:
        return status
    show(output, "parquet/shop/items")
    increment = workdir / "output-increment"
    command = ["--input", f"local://{chain / '2'}", "--output", f"local://{increment}"]
    command += ["--type-mapping", "typed", "--filter", "shop.items", "--emit-deletes"]
    command += ["--with-commit-ts", "--no-progress", "--log-level", "warning"]
    print(f"\n$ br-parquet-export {' '.join(command)}")
    status = cli_main(command)
    if status != 0:
        return status
    show(increment, "parquet/shop/items")
    return 0


def query(backup: Path) -> None:
    """The Python API: DuckDB reads a table straight from the backup's SSTs."""
    import duckdb  # a dev dependency, like the demo itself

    columns = ["id", "c_varchar", "f_decimal"]
    # DuckDB finds the reader by its variable name.
    reader = open_backup(backup).scan("parquet_smoke.all_types", columns=columns)  # noqa: F841
    sql = "select id, c_varchar, f_decimal from reader order by id"
    print(f'\n>>> reader = br_parquet.open_backup("{backup}").scan(')
    print('...     "parquet_smoke.all_types", columns=["id", "c_varchar", "f_decimal"])')
    print(f'>>> duckdb.sql("{sql}")')
    print(duckdb.sql(sql))


def query_iceberg(workdir: Path) -> None:
    """DuckDB reads a committed Iceberg table through its metadata file."""
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog("br_parquet", type="sql", uri=f"sqlite:///{workdir}/catalog.db")
    table = catalog.load_table("default.parquet_smoke__all_types")
    sql = (
        "select id, c_varchar, f_decimal, t_timestamp, e_enum "
        f"from iceberg_scan('{table.metadata_location}') order by id"
    )
    print(f'\n>>> duckdb.sql("{sql}")')
    print(_duckdb_with_iceberg().sql(sql))


def _duckdb_with_iceberg() -> duckdb.DuckDBPyConnection:
    """DuckDB with its iceberg extension: loaded from the `duckdb-extension-avro` and
    `-iceberg` packages when installed (no download), else installed the usual way."""
    import duckdb

    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    for name in ("avro", "iceberg"):  # iceberg needs avro loaded first
        try:
            package = importlib.import_module(f"duckdb_extension_{name}")
        except ImportError:
            con.execute(f"INSTALL {name}")
            con.execute(f"LOAD {name}")
            continue
        assert package.__file__ is not None
        path = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}"
        con.execute(f"LOAD '{path / (name + '.duckdb_extension')}'")
    return con


if __name__ == "__main__":
    sys.exit(main())

"""`--table-ids` (a list, combined with `--filter`, unknown IDs) and row groups larger
than one scan batch (batches are `min(max(row_group_size, 1024), 8192)` rows)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from br_parquet.cli import main as cli_main
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

COLUMNS = [("id", "int primary key"), ("v", "varchar(16)")]


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """Four tables in two databases; (root, {`db.table`: table ID})."""
    root = tmp_path_factory.mktemp("selection") / "backup"
    info = write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "d",
                    [
                        table(name, COLUMNS, rows=[(i, f"{name}-{i}") for i in range(1, 4)])
                        for name in ("t1", "t2", "t3")
                    ],
                ),
                DatabaseSpec("e", [table("t1", COLUMNS, rows=[(1, "e-t1-1")])]),
            ]
        ),
    )
    ids = {name: t.id for name, t in info.tables.items()}
    assert len(set(ids.values())) == 4
    return root, ids


def export(root: Path, out: Path, *flags: str) -> int:
    return cli_main(["--input", str(root), "--output", str(out), *flags])


def exported(out: Path) -> dict[str, list[tuple[int, int, str]]]:
    """{`db.table`: sorted (_tidb_table_id, id, v)} of the Parquet files under `out`."""
    tables: dict[str, list[tuple[int, int, str]]] = {}
    for path in sorted(out.rglob("*.parquet")):
        name = f"{path.parent.parent.name}.{path.parent.name}"
        rows = pq.read_table(path).to_pylist()
        tables.setdefault(name, []).extend((r["_tidb_table_id"], r["id"], r["v"]) for r in rows)
    return {name: sorted(rows) for name, rows in tables.items()}


def expected(ids: dict[str, int], *names: str) -> dict[str, list[tuple[int, int, str]]]:
    out = {}
    for name in names:
        db, t = name.split(".")
        rows = [(1, "e-t1-1")] if db == "e" else [(i, f"{t}-{i}") for i in range(1, 4)]
        out[name] = [(ids[name], i, v) for i, v in rows]
    return out


def test_table_ids_list_selects_exactly_those_tables(
    backup: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    root, ids = backup
    chosen = f"{ids['d.t3']},{ids['d.t1']},{ids['e.t1']}"
    assert export(root, tmp_path / "out", "--table-ids", chosen) == 0
    assert exported(tmp_path / "out") == expected(ids, "d.t1", "d.t3", "e.t1")


def test_table_ids_and_filter_both_apply(
    backup: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    root, ids = backup
    # The filter keeps database d; of the IDs, e.t1's is outside the filter.
    chosen = f"{ids['d.t2']},{ids['e.t1']},{ids['d.t3']}"
    assert export(root, tmp_path / "out", "--filter", "d.*", "--table-ids", chosen) == 0
    assert exported(tmp_path / "out") == expected(ids, "d.t2", "d.t3")


def test_table_ids_outside_the_filter_select_nothing(
    backup: tuple[Path, dict[str, int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, ids = backup
    status = export(root, tmp_path / "out", "--filter", "e.*", "--table-ids", str(ids["d.t1"]))
    assert status == 2
    assert (
        f"br-parquet-export: error: no table matches filter ['e.*'] and table IDs "
        f"[{ids['d.t1']}]; tables in the backup: d.t1, d.t2, d.t3, e.t1\n"
    ) in capsys.readouterr().err
    assert not list((tmp_path / "out").rglob("*.parquet"))


def test_unknown_table_ids_are_an_error_naming_them(
    backup: tuple[Path, dict[str, int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, ids = backup
    unknown = [max(ids.values()) + 1000, max(ids.values()) + 7]
    status = export(
        root, tmp_path / "out", "--filter", "*.*", "--table-ids", ",".join(map(str, unknown))
    )
    assert status == 2
    assert (
        f"br-parquet-export: error: table IDs {sorted(unknown)} are not in the backup "
        "(neither a table's nor a partition's ID); `br-parquet inspect` lists the IDs it holds\n"
    ) in capsys.readouterr().err
    assert not list((tmp_path / "out").rglob("*.parquet"))
    # One unknown ID among known ones is refused too: nothing is silently left out.
    status = export(root, tmp_path / "out", "--table-ids", f"{ids['d.t1']},{unknown[0]}")
    assert status == 2
    assert f"table IDs [{unknown[0]}] are not in the backup" in capsys.readouterr().err
    assert not list((tmp_path / "out").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("rows", "row_group_size", "expected_groups"),
    [
        (20000, 10000, [10000, 10000]),  # batches of 8192: each group spans two batches
        (25000, 10000, [10000, 10000, 5000]),
        (20000, 20000, [20000]),  # three batches (8192 + 8192 + 3616) in one group
    ],
)
def test_row_group_spanning_several_scan_batches(
    tmp_path: Path, rows: int, row_group_size: int, expected_groups: list[int]
) -> None:
    root = tmp_path / "backup"
    write_backup(
        root,
        BackupSpec(
            [DatabaseSpec("db", [table("big", COLUMNS, rows=[(i, f"v{i}") for i in range(rows)])])]
        ),
    )
    out = tmp_path / "out"
    assert export(root, out, "--row-group-size", str(row_group_size)) == 0
    (path,) = out.rglob("*.parquet")
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == expected_groups
    assert meta.num_rows == rows
    got = pq.read_table(path, columns=["id", "v"]).to_pylist()
    assert sorted((r["id"], r["v"]) for r in got) == [(i, f"v{i}") for i in range(rows)]

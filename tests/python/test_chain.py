"""Incremental backups and chains end to end: `br-parquet-export` with several `--input`s
against the table state computed independently from the logical operations
(`br_parquet.testing.chain_state`), each incremental alone with `--emit-deletes`, change
columns, chains with moving regions, a kill and resume, Iceberg commits, and the refusals
of chains that do not follow each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet.crashpoints import ENV as KILL_ENV
from br_parquet.testing import (
    ChainStep,
    chain_state,
    sample_chain,
    step_changes,
    table,
    write_chain,
)

CLI = [sys.executable, "-m", "br_parquet.cli"]
PSEUDO = ("_tidb_table_id", "_tidb_handle", "_tidb_op", "_tidb_commit_ts")


def run(
    inputs: list[Path],
    out: Path,
    *flags: str,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    sources = [a for p in inputs for a in ("--input", str(p))]
    result = subprocess.run(
        [*CLI, *sources, "--output", str(out), "--no-progress", *flags],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def table_rows(out: Path, name: str, prefix: str = "parquet") -> pa.Table | None:
    db, t = name.split(".")
    folder = out / prefix / db / t
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return None
    return pa.concat_tables(pq.read_table(f) for f in files)


def values(t: pa.Table | None) -> list[tuple[Any, ...]]:
    """The rows without the pseudo columns, in handle order."""
    if t is None:
        return []
    ordered = t.sort_by([("_tidb_table_id", "ascending"), ("_tidb_handle", "ascending")])
    names = [n for n in ordered.schema.names if n not in PSEUDO]
    return [tuple(r[n] for n in names) for r in ordered.to_pylist()]


def assert_sorted_files(out: Path) -> None:
    """Every file says it is sorted by (_tidb_table_id, _tidb_handle), and is."""
    files = list(out.rglob("*.parquet"))
    assert files
    for f in files:
        if "_checkpoint" in f.parts:
            continue
        meta = pq.read_metadata(f)
        schema = meta.schema.to_arrow_schema()
        for i in range(meta.num_row_groups):
            sorting = meta.row_group(i).sorting_columns
            assert [schema.names[c.column_index] for c in sorting] == [
                "_tidb_table_id",
                "_tidb_handle",
            ], f
            assert not any(c.descending for c in sorting)
        rows = pq.read_table(f, columns=["_tidb_table_id", "_tidb_handle"]).to_pylist()
        keys = [(r["_tidb_table_id"], r["_tidb_handle"]) for r in rows]
        assert keys == sorted(keys), f


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ChainStep], list[Path]]:
    root = tmp_path_factory.mktemp("chain")
    steps = sample_chain()
    write_chain(root, steps)
    return steps, [root / str(i) for i in range(len(steps))]


@pytest.mark.parametrize("mapping", ["typed", "compat"])
def test_chain_export_is_the_state_as_of_the_last_backup(
    sample: tuple[list[ChainStep], list[Path]], tmp_path: Path, mapping: str
) -> None:
    steps, inputs = sample
    result = run(inputs, tmp_path / "out", "--type-mapping", mapping)
    state = chain_state(steps)
    assert "shop.old" not in state  # dropped in the last increment: not exported
    assert not (tmp_path / "out/parquet/shop/old").exists()
    for name, rows in state.items():
        got = values(table_rows(tmp_path / "out", name))
        if mapping == "typed":
            assert got == [tuple(r) for r in rows], name
        else:
            assert len(got) == len(rows), name
    assert_sorted_files(tmp_path / "out")
    assert "exported" in result.stdout


def test_each_incremental_alone_is_its_change_set(
    sample: tuple[list[ChainStep], list[Path]], tmp_path: Path
) -> None:
    steps, inputs = sample
    for i in range(1, len(steps)):
        out = tmp_path / f"inc{i}"
        run([inputs[i]], out, "--emit-deletes", "--with-commit-ts", "--type-mapping", "typed")
        for name, change in step_changes(steps, i).items():
            t = table_rows(out, name)
            assert t is not None, name
            ops = t.column("_tidb_op").to_pylist()
            puts = t.filter(pa.compute.equal(t.column("_tidb_op"), "put"))
            assert values(puts) == [tuple(r) for r in change.puts], (i, name)
            assert ops.count("delete") == len(change.deletes), (i, name)
            tombstones = t.filter(pa.compute.equal(t.column("_tidb_op"), "delete"))
            if all(isinstance(k, int) for k in change.deletes):
                assert sorted(tombstones.column("_tidb_handle").to_pylist()) == sorted(
                    change.deletes  # type: ignore[type-var]
                )
            for column in tombstones.schema.names:
                if column not in PSEUDO:
                    assert tombstones.column(column).null_count == tombstones.num_rows
            # Every row of one backup carries that backup's commit ts.
            assert len(set(t.column("_tidb_commit_ts").to_pylist())) == 1
        # Without --emit-deletes the deletes are counted and skipped.
        plain = run([inputs[i]], tmp_path / f"plain{i}", "--type-mapping", "typed")
        deletes = sum(len(c.deletes) for c in step_changes(steps, i).values())
        assert f"{deletes} delete records" in plain.stdout


def test_chain_with_emit_deletes_and_commit_ts(
    sample: tuple[list[ChainStep], list[Path]], tmp_path: Path
) -> None:
    steps, inputs = sample
    out = tmp_path / "out"
    run(inputs, out, "--emit-deletes", "--with-commit-ts", "--type-mapping", "typed")
    items = table_rows(out, "shop.items")
    assert items is not None
    names = items.schema.names
    assert names[:4] == ["_tidb_table_id", "_tidb_handle", "_tidb_op", "_tidb_commit_ts"]
    live = items.filter(pa.compute.equal(items.column("_tidb_op"), "put"))
    assert values(live) == [tuple(r) for r in chain_state(steps)["shop.items"]]
    dead = items.filter(pa.compute.equal(items.column("_tidb_op"), "delete"))
    # Deleted in an increment and not put again: 5 (step 1) and 11 (step 2).
    assert sorted(dead.column("_tidb_handle").to_pylist()) == [5, 11]
    # Each row's commit ts is that of the backup its newest version came from.
    by_handle = {r["_tidb_handle"]: r["_tidb_commit_ts"] for r in items.to_pylist()}
    assert by_handle[1] < by_handle[3] < by_handle[2]  # full, increment 1, increment 2


def moving_chain() -> list[ChainStep]:
    """One table of 600 rows whose regions move between backups, so ranges of the
    increments straddle the full backup's regions; updates and deletes everywhere."""
    rows = [(i, f"v{i}", "x" * 300 if i % 50 == 0 else None) for i in range(1, 601)]
    live = (set(range(1, 601)) - set(range(3, 600, 11))) | set(range(1, 700, 7))
    t = table(
        "t",
        [("id", "int primary key"), ("v", "varchar(20)"), ("note", "text")],
        rows=rows,
        split_at=list(range(100, 600, 100)),
    )
    return [
        ChainStep(create=[("db", t)]),
        ChainStep(
            puts={"db.t": [(i, f"w{i}", None) for i in range(1, 700, 7)]},
            deletes={"db.t": list(range(3, 600, 11))},
            splits={"db.t": list(range(50, 700, 130))},
        ),
        ChainStep(
            puts={"db.t": [(i, f"z{i}", "y" * 400) for i in range(3, 300, 22)]},
            deletes={"db.t": [k for k in sorted(live) if k % 13 == 5]},
            splits={"db.t": [333]},
        ),
    ]


@pytest.fixture(scope="module")
def moving(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ChainStep], list[Path]]:
    root = tmp_path_factory.mktemp("moving")
    steps = moving_chain()
    write_chain(root, steps)
    return steps, [root / str(i) for i in range(len(steps))]


def test_ranges_that_straddle_regions_merge_exactly(
    moving: tuple[list[ChainStep], list[Path]], tmp_path: Path
) -> None:
    steps, inputs = moving
    out = tmp_path / "out"
    run(inputs, out, "--type-mapping", "typed", "--sst-concurrency", "2")
    assert values(table_rows(out, "db.t")) == [tuple(r) for r in chain_state(steps)["db.t"]]
    files = sorted(p.name for p in (out / "parquet/db/t").glob("*.parquet"))
    assert len(files) >= 6 and all(f.startswith("t") for f in files)
    assert_sorted_files(out)


def test_kill_then_resume_gives_the_same_chain_output(
    moving: tuple[list[ChainStep], list[Path]], tmp_path: Path
) -> None:
    _, inputs = moving
    whole = tmp_path / "whole"
    run(inputs, whole, "--sst-concurrency", "1")
    out = tmp_path / "out"
    killed = run(
        inputs, out, "--sst-concurrency", "1", env={KILL_ENV: "at-after-upload:3"}, check=False
    )
    assert killed.returncode == -9
    resumed = run(inputs, out, "--sst-concurrency", "1")
    assert "3 reused" in resumed.stdout or "reused" in resumed.stdout
    for f in (whole / "parquet/db/t").glob("*.parquet"):
        assert (out / "parquet/db/t" / f.name).read_bytes() == f.read_bytes()
    assert sorted(p.name for p in (out / "parquet/db/t").glob("*.parquet")) == sorted(
        p.name for p in (whole / "parquet/db/t").glob("*.parquet")
    )


def test_chain_commits_to_iceberg_with_the_chain_versions(
    moving: tuple[list[ChainStep], list[Path]], tmp_path: Path
) -> None:
    pytest.importorskip("pyiceberg", reason="the iceberg extra (pyiceberg) is not installed")
    from pyiceberg.catalog import load_catalog

    steps, inputs = moving
    uri = f"sqlite:///{tmp_path}/c.db"
    summary = tmp_path / "summary.json"
    run(
        inputs,
        tmp_path / "out",
        "--iceberg-catalog",
        uri,
        "--write-iceberg-manifest",
        "--iceberg-warehouse",
        "wh",
        "--iceberg-namespace",
        "lake",
        "--iceberg-table",
        "t",
        "--summary-json",
        str(summary),
    )
    t = load_catalog("br_parquet", type="sql", uri=uri).load_table("lake.t")
    snapshot = t.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    props = snapshot.summary.additional_properties
    with br_parquet.open_backup(str(inputs[-1])) as last:
        end = last.info.end_version
    assert props["tidb.backup.start-version"] == "0"
    assert props["tidb.backup.end-version"] == str(end)
    got = t.scan().to_arrow()
    assert values(got) == [tuple(r) for r in chain_state(steps)["db.t"]]
    manifest = next((tmp_path / "out/wh/lake/t/metadata").glob("manifest_*_0.json"))
    doc = json.loads(manifest.read_text())
    assert doc["snapshot"]["start_version"] == 0
    assert all(f["sources"] for f in doc["files"])


def test_chains_that_do_not_follow_each_other_are_refused(
    sample: tuple[list[ChainStep], list[Path]], tmp_path: Path
) -> None:
    _, inputs = sample
    gap = run([inputs[0], inputs[2]], tmp_path / "gap", check=False)
    assert gap.returncode == 2 and "a gap in the chain" in gap.stderr, gap.stderr
    backwards = run([inputs[1], inputs[0]], tmp_path / "back", check=False)
    assert backwards.returncode == 2 and "must be a full backup" in backwards.stderr
    other = tmp_path / "other"
    write_chain(other, sample_chain()[:2], cluster_id=42)
    foreign = run([inputs[0], other / "1"], tmp_path / "foreign", check=False)
    assert foreign.returncode == 2 and "of cluster 42" in foreign.stderr, foreign.stderr
    tables = run(inputs, tmp_path / "tables", "--verify", "tables", check=False)
    assert tables.returncode == 2 and "--verify tables needs one backup" in tables.stderr
    for r in (gap, backwards, foreign, tables):
        assert "Traceback" not in r.stderr
    for name in ("gap", "back", "foreign", "tables"):
        assert not list((tmp_path / name).rglob("*.parquet"))

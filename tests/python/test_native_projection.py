"""`TableDecoder.project` and `SstScan(handle_range=...)` straight on the SSTs written by
`write_backup`: projected batches hold exactly the full batches' columns, in both type
mappings."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from br_parquet.testing import BackupInfo, BackupSpec, DatabaseSpec, table, write_backup

native = pytest.importorskip("br_parquet._native")

MAPPINGS = ("compat", "typed")
PSEUDO = ["_tidb_table_id", "_tidb_handle"]
BATCH_ROWS = 7
ITEM_IDS = range(-10, 50)
ITEM_COLUMNS = ["id", "name", "price", "born", "note", "qty"]


def item(i: int) -> tuple[object, ...]:
    return (
        i,
        None if i % 5 == 0 else f"name-{i}-é",
        Decimal(f"{i}.{abs(i) % 100:02}"),
        None if i % 7 == 0 else dt.datetime(2024, 1, 1 + abs(i) % 28, i % 24, 30),
        "x" * (300 if i % 11 == 0 else abs(i) % 40),  # some rows go to the default CF
        abs(i) * 3,
    )


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> BackupInfo:
    root = tmp_path_factory.mktemp("projection") / "backup"
    items = table(
        "items",
        [
            ("id", "bigint primary key"),
            ("name", "varchar(64)"),
            ("price", "decimal(10,2)"),
            ("born", "datetime"),
            ("note", "text"),
            ("qty", "int unsigned not null"),
        ],
        rows=[item(i) for i in ITEM_IDS],
        split_at=[0, 20],
    )
    fruit = table(
        "fruit",
        [("n", "int"), ("name", "varchar(64) primary key")],
        rows=[(i, f"f{i:03}") for i in range(25)],
        clustered=True,
    )
    return write_backup(root, BackupSpec([DatabaseSpec("shop", [items, fruit])]))


def decoder(info: BackupInfo, name: str, mapping: str) -> Any:
    return native.TableDecoder(info.tables[f"shop.{name}"].to_json(), mapping)


def scan(info: BackupInfo, dec: Any, **options: Any) -> tuple[pa.Table, Counter[str]]:
    """Every row of `dec`'s table from all its SSTs, and the summed scan stats."""
    batches, stats = [], Counter[str]()
    for f in info.data_files:
        if f.file.cf != "write" or not set(f.physical_ids) & set(dec.physical_ids):
            continue
        default = f.path.with_name(f.path.name.removesuffix("_write.sst") + "_default.sst")
        s = native.SstScan(
            f.path,
            [dec],
            batch_rows=BATCH_ROWS,
            default_sst=default if default.exists() else None,
            **options,
        )
        batches += [b for _, b in s]
        stats.update(s.stats())
    assert all(b.num_rows <= BATCH_ROWS for b in batches)
    return pa.Table.from_batches(batches, schema=dec.arrow_schema()), stats


@pytest.mark.parametrize("mapping", MAPPINGS)
@pytest.mark.parametrize("name", ["items", "fruit"])
def test_projected_columns_equal_the_full_scans(
    backup: BackupInfo, mapping: str, name: str
) -> None:
    dec = decoder(backup, name, mapping)
    full, full_stats = scan(backup, dec)
    assert full.schema.names == [*PSEUDO, *dec.column_names]
    assert dec.project([*PSEUDO, *dec.column_names]).arrow_schema() == dec.arrow_schema()
    columns = dec.column_names
    pk = {"items": "id", "fruit": "name"}[name]
    for projection in [
        list(reversed([*PSEUDO, *columns])),
        columns[1:],
        [columns[-1], "_tidb_handle"],
        ["_tidb_table_id"],
        [pk],  # items: the value is the key's handle, not output here
    ]:
        got, stats = scan(backup, dec.project(projection))
        assert got.schema.names == projection
        assert stats["rows"] == full_stats["rows"] == full.num_rows
        for column in projection:
            assert got.schema.field(column) == full.schema.field(column), column
            assert got.column(column).equals(full.column(column)), column


def test_int_pk_without_handle_comes_from_the_key(backup: BackupInfo) -> None:
    got, _ = scan(backup, decoder(backup, "items", "typed").project(["qty", "id"]))
    assert got.column("id").to_pylist() == list(ITEM_IDS)
    assert got.column("qty").to_pylist() == [abs(i) * 3 for i in ITEM_IDS]


def test_column_names_and_clustered(backup: BackupInfo) -> None:
    items, fruit = decoder(backup, "items", "compat"), decoder(backup, "fruit", "typed")
    assert items.column_names == ITEM_COLUMNS and not items.clustered
    assert fruit.column_names == ["n", "name"] and fruit.clustered
    assert fruit.arrow_schema().field("_tidb_handle").type == pa.binary()
    # A projection keeps the table's facts and projects from the whole table again.
    narrow = items.project(["qty"])
    assert narrow.column_names == ITEM_COLUMNS and narrow.type_mapping == "compat"
    assert (narrow.table_id, narrow.name) == (items.table_id, "items")
    assert narrow.project(["name", "id"]).arrow_schema().names == ["name", "id"]


def test_bad_projections_are_value_errors(backup: BackupInfo) -> None:
    dec = decoder(backup, "items", "compat")
    with pytest.raises(ValueError, match="at least one column"):
        dec.project([])
    with pytest.raises(ValueError, match='"id" is projected twice'):
        dec.project(["id", "name", "id"])
    available = ", ".join([*PSEUDO, *ITEM_COLUMNS])
    with pytest.raises(ValueError, match=f'"nope".*available: {available}$'):
        dec.project(("id", "nope"))
    with pytest.raises(TypeError):
        dec.project("id")  # a str is not a list of names


@pytest.mark.parametrize("mapping", MAPPINGS)
@pytest.mark.parametrize(
    ("lo", "hi"), [(5, 25), (None, 0), (20, None), (None, None), (-10, -9), (100, None)]
)
def test_handle_range_keeps_lo_to_before_hi(
    backup: BackupInfo, mapping: str, lo: int | None, hi: int | None
) -> None:
    dec = decoder(backup, "items", mapping)
    full, _ = scan(backup, dec)
    got, stats = scan(backup, dec, handle_range=(lo, hi))
    want = [i for i in ITEM_IDS if (lo is None or lo <= i) and (hi is None or i < hi)]
    assert got.column("id").to_pylist() == want
    assert got.equals(full.filter(pc.is_in(full.column("id"), pa.array(want))))
    assert (stats["rows"], stats["out_of_range"]) == (len(want), len(ITEM_IDS) - len(want))
    projected, _ = scan(backup, dec.project(["note"]), handle_range=(lo, hi))
    assert projected.column("note").equals(got.column("note"))


def test_handle_range_on_a_clustered_table_is_a_value_error(backup: BackupInfo) -> None:
    with pytest.raises(ValueError, match="table fruit has a clustered"):
        scan(backup, decoder(backup, "fruit", "compat"), handle_range=(None, 3))


def test_batch_rows_and_type_mapping_have_no_default(backup: BackupInfo) -> None:
    with pytest.raises(TypeError, match="type_mapping"):
        native.TableDecoder(backup.tables["shop.items"].to_json())
    write = next(f.path for f in backup.data_files if f.file.cf == "write")
    with pytest.raises(TypeError, match="batch_rows"):
        native.SstScan(write, [decoder(backup, "items", "compat")])

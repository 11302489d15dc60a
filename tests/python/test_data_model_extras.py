"""Vectors, rows with a checksum trailer, and TableInfo in TiDB 5.0's lowercase style."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import br_parquet
from br_parquet._native import TableDecoder
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup


def export(tmp_path: Path, spec: BackupSpec, mapping: str = "compat") -> list[dict[str, object]]:
    write_backup(tmp_path / "b", spec)
    br_parquet.export(str(tmp_path / "b"), str(tmp_path / mapping), type_mapping=mapping)
    files = sorted((tmp_path / mapping).rglob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("id").to_pylist()


@pytest.mark.parametrize("mapping", ["compat", "typed"])
def test_vector_float32(tmp_path: Path, mapping: str) -> None:
    values = [[1.0, 2.5, -0.0], [1e10, 1e-7, 0.1], [3.0, -2.0, 1.5]]
    rows = export(
        tmp_path,
        BackupSpec(
            [
                DatabaseSpec(
                    "db",
                    [
                        table(
                            "v",
                            [("id", "int primary key"), ("emb", "vector(3)")],
                            rows=[(i, v) for i, v in enumerate(values)] + [(3, None)],
                        )
                    ],
                )
            ]
        ),
        mapping,
    )
    got = [r["emb"] for r in rows]
    if mapping == "compat":
        # Go's strconv 'f' format, shortest float32 digits, no exponent.
        assert got == ["[1,2.5,-0]", "[10000000000,0.0000001,0.1]", "[3,-2,1.5]", None]
    else:
        assert got[0] == [1.0, 2.5, -0.0] and got[2] == [3.0, -2.0, 1.5] and got[3] is None
        assert got[1] == pytest.approx([1e10, 1e-7, 0.1], rel=1e-7)


def test_rows_with_a_checksum_trailer(tmp_path: Path) -> None:
    cols = [("id", "int primary key"), ("s", "varchar(10)"), ("d", "decimal(6,2)")]
    rows = [(1, "a", "1.50"), (2, None, "-3.25")]
    with_sum = export(
        tmp_path / "x",
        BackupSpec([DatabaseSpec("db", [table("c", cols, rows=rows, row_checksum=True)])]),
    )
    plain = export(tmp_path / "y", BackupSpec([DatabaseSpec("db", [table("c", cols, rows=rows)])]))
    assert with_sum == plain
    assert [r["d"] for r in plain] == ["1.50", "-3.25"]


def test_lowercase_field_type_keys(shared_fixtures: Path) -> None:
    doc = json.loads(
        (
            shared_fixtures
            / "real/tidb-br-json-test/testMetaJSONs_0_v5.0.0_clustered_write_sst.json"
        ).read_text()
    )
    info = doc["schemas"][0]["table"]
    assert "tp" in info["cols"][0]["type"]  # TiDB 5.0 wrote lowercase keys
    schema = TableDecoder(json.dumps(info).encode(), "typed").arrow_schema()
    assert schema.names == ["_tidb_table_id", "_tidb_handle", "pk"]
    assert schema.field("_tidb_handle").type == pa.binary()  # clustered VARCHAR PK
    assert schema.field("pk").type == pa.string() and not schema.field("pk").nullable

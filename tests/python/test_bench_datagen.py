"""`benches/datagen.py`, the generator of benchmark backups: a small backup it writes
exports to exactly the values `row_values` says it wrote, and holds the same SST entries,
file entries, checksums and schema as the reference writer (`br_parquet.testing`) writes
for those values."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from br_parquet._native import SstReader
from br_parquet.proto import brpb_pb2
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup
from br_parquet.testing.tablecodec import encode_row

BENCHES = Path(__file__).resolve().parents[2] / "benches"
ROWS = 3000
REGION_KV_BYTES = 192 * 1024  # ~700 rows: 5 regions, each with long rows in the default CF


def _load_datagen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("datagen", BENCHES / "datagen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["datagen"] = module  # dataclasses and pickling look the module up
    spec.loader.exec_module(module)
    return module


datagen = _load_datagen()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    params = datagen.Params(rows=ROWS, region_kv_bytes=REGION_KV_BYTES)
    return datagen.ensure_backup(params, cache_dir=tmp_path_factory.mktemp("cache"), jobs=1)


def _meta_part(root: Path, meta: brpb_pb2.BackupMeta, kind: str) -> brpb_pb2.MetaFile:
    index = meta.file_index if kind == "datafile" else meta.schema_index
    (entry,) = index.meta_files
    part = brpb_pb2.MetaFile()
    part.ParseFromString((root / entry.name).read_bytes())
    return part


def _read_meta(root: Path) -> tuple[brpb_pb2.BackupMeta, list[Any], list[Any]]:
    meta = brpb_pb2.BackupMeta()
    meta.ParseFromString((root / "backupmeta").read_bytes())
    files = list(_meta_part(root, meta, "datafile").data_files)
    schemas = list(_meta_part(root, meta, "schema").schemas)
    return meta, files, schemas


def test_layout_and_cache(generated: Any) -> None:
    root = generated.root
    assert generated.rows == ROWS
    assert len(generated.regions) >= 3
    assert all(default is not None for _, default, _ in generated.regions)
    assert 0 < generated.default_rows < ROWS
    assert sum(rows for *_, rows in generated.regions) == ROWS
    for write, default, _ in generated.regions:
        for name in (write, default):
            assert (root / name).is_file()
    again = datagen.ensure_backup(generated.params, cache_dir=root.parent, jobs=1)
    assert again.root == root and again.seconds == generated.seconds  # not regenerated
    _, files, _ = _read_meta(root)
    for f in files:
        stored = (root / f.name).read_bytes()
        assert len(stored) == f.size and hashlib.sha256(stored).digest() == f.sha256


def _export(root: Path, out: Path) -> pa.Table:
    from br_parquet.cli import main

    argv = ["--input", f"local://{root}", "--output", f"local://{out}", "--filter", "bench.*"]
    assert main([*argv, "--type-mapping", "typed"]) == 0
    files = sorted(out.rglob("*.parquet"))
    assert files
    return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("id")


def test_export_reads_back_row_values(generated: Any, tmp_path: Path) -> None:
    got = _export(generated.root, tmp_path / "out")
    names = datagen.COLUMN_NAMES
    assert got.column_names[-len(names) :] == names
    rows = got.to_pylist()
    assert [r["id"] for r in rows] == list(range(1, ROWS + 1))
    json_column = names.index("c_json")
    for row in rows:
        expected = datagen.row_values(row["id"])
        actual = [row[name] for name in names]
        assert json.loads(actual[json_column]) == expected[json_column]
        actual[json_column] = expected[json_column]
        assert tuple(actual) == expected, row["id"]
        assert row["_tidb_handle"] == row["id"]


def test_same_backup_as_the_reference_writer(generated: Any, tmp_path: Path) -> None:
    """The reference writer, given `row_values` of every row and the same region splits,
    writes the same SST entries, `File` entries (but for the SST bytes' hash and size,
    which RocksDB's file properties make unique), schema and checksums."""
    firsts = [1]
    for *_, rows in generated.regions[:-1]:
        firsts.append(firsts[-1] + rows)
    rows = [datagen.row_values(h) for h in range(1, ROWS + 1)]
    t12 = table(datagen.TABLE, datagen.COLUMNS, rows, split_at=firsts[1:])
    spec = BackupSpec(
        [DatabaseSpec(datagen.DATABASE, [t12])],
        seed=generated.params.seed,
        compression=generated.params.compression,
    )
    ref = tmp_path / "ref"
    write_backup(ref, spec)

    meta, files, schemas = _read_meta(generated.root)
    ref_meta, ref_files, ref_schemas = _read_meta(ref)
    for part in (meta, ref_meta):
        part.ClearField("file_index")
        part.ClearField("schema_index")
    assert meta == ref_meta
    assert schemas == ref_schemas
    assert len(files) == len(ref_files) == 2 * len(generated.regions)
    for f, ref_f in zip(files, ref_files, strict=True):
        assert SstReader(generated.root / f.name).entries() == SstReader(ref / f.name).entries()
        for entry in (f, ref_f):
            entry.ClearField("sha256")
            entry.ClearField("size")
        assert f == ref_f


@pytest.mark.parametrize("seed", [1, 7])
def test_encode_kv_matches_the_reference_encoder(seed: int) -> None:
    _, _, info = datagen.bench_table_info()
    handles = [1, 2, 255, 65_536, 10**6 + 3, 123_456_789, 2**40 + 1, 2**62 + 5]
    long_rows = 0
    for handle in handles + list(range(5000, 5200)):
        values = datagen.row_values(handle, seed)
        kv = encode_row(info, values)
        assert datagen.encode_kv(info.id, handle, seed) == (kv.raw_key, kv.value), handle
        long_rows += len(kv.value) > 255
    assert long_rows > 10  # some values go to the default CF

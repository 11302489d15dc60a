"""`write_chain` writes a full backup and incrementals that line up the way BR's do.

The checks read what is on disk: the metadata through the product's `load_backupmeta`,
the SSTs back through `br_parquet._native.SstReader` with keys and write records decoded
here, checksums recomputed with `testing.checksum`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

from br_parquet.backupmeta import BackupMeta, load_backupmeta
from br_parquet.proto import brpb_pb2
from br_parquet.storage import Storage
from br_parquet.testing import (
    BackupInfo,
    ChainStep,
    KvChecksum,
    chain_state,
    step_changes,
    table,
    write_chain,
)
from br_parquet.testing.chain import sample_chain
from br_parquet.testing.ddl import (
    ACTION_ADD_COLUMN,
    ACTION_CREATE_SCHEMA,
    ACTION_CREATE_TABLE,
    ACTION_DROP_TABLE,
    ACTION_TRUNCATE_TABLE,
    JOB_STATE_SYNCED,
)

native = pytest.importorskip("br_parquet._native")

U64 = (1 << 64) - 1
SIGN = 1 << 63


# --- decoding what was written ------------------------------------------------------------


def decode_memcomparable(data: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        group, pad = data[pos : pos + 8], 0xFF - data[pos + 8]
        pos += 9
        if pad == 0:
            out += group
            continue
        assert pos == len(data)
        return bytes(out + group[: 8 - pad])


def split_key(key: bytes) -> tuple[bytes, int]:
    """(raw key, ts) of an SST key `z + memcomparable(raw) + !ts`."""
    assert key[:1] == b"z"
    return decode_memcomparable(key[1:-8]), U64 ^ int.from_bytes(key[-8:], "big")


def parse_write(value: bytes) -> tuple[bytes, int, bytes | None]:
    """(type byte, start_ts, short value or None)."""
    start_ts = shift = 0
    pos = 1
    while True:
        byte = value[pos]
        pos += 1
        start_ts |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    if pos == len(value):
        return value[:1], start_ts, None
    assert value[pos : pos + 1] == b"v" and len(value) == pos + 2 + value[pos + 1]
    return value[:1], start_ts, value[pos + 2 :]


def table_id_of(raw: bytes) -> int:
    assert raw[:1] == b"t"
    return int.from_bytes(raw[1:9], "big") ^ SIGN


def int_handle(raw: bytes) -> int:
    assert raw[9:11] == b"_r" and len(raw) == 19
    return int.from_bytes(raw[11:19], "big") ^ SIGN


class Written:
    """The KVs of one backup: per write-CF record (raw key, commit ts, type, value)."""

    def __init__(self, info: BackupInfo) -> None:
        self.records: list[tuple[bytes, int, bytes, bytes]] = []
        self.file_checksums: dict[str, KvChecksum] = {}
        self.default_cf_files = 0
        by_range: dict[tuple[bytes, bytes], dict[str, brpb_pb2.File]] = defaultdict(dict)
        for data_file in info.data_files:
            f = data_file.file
            by_range[(f.start_key, f.end_key)][f.cf] = f
            stored = data_file.path.read_bytes()
            assert hashlib.sha256(stored).digest() == f.sha256 and len(stored) == f.size
        for pair in by_range.values():
            defaults: dict[tuple[bytes, int], bytes] = {}
            if "default" in pair:
                self.default_cf_files += 1
                self.file_checksums[pair["default"].name] = KvChecksum()
                for key, value in native.SstReader(str(info.root / pair["default"].name)).entries():
                    defaults[split_key(key)] = value
            write = pair["write"]
            self.file_checksums[write.name] = KvChecksum()
            for key, value in native.SstReader(str(info.root / write.name)).entries():
                raw, commit_ts = split_key(key)
                kind, start_ts, short = parse_write(value)
                if kind == b"P" and short is None:
                    row = defaults.pop((raw, start_ts))
                    self.file_checksums[pair["default"].name].update(raw, row)
                else:
                    row = short or b""
                    self.file_checksums[write.name].update(raw, row)
                self.records.append((raw, commit_ts, kind, row))
            assert not defaults, "default-CF entries without a write record"


@pytest.fixture(scope="module", params=[2, 1], ids=["v2", "v1"])
def chain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[BackupInfo]:
    root = tmp_path_factory.mktemp(f"chain_v{request.param}")
    return write_chain(root, sample_chain(), meta_version=request.param, seed=7)


@pytest.fixture(scope="module")
def loaded(chain: list[BackupInfo]) -> list[BackupMeta]:
    return [load_backupmeta(Storage.from_url(str(info.root))) for info in chain]


def table_ids(meta: BackupMeta) -> dict[str, int]:
    return {f"{s.db_name}.{s.table_name}": s.table_id or 0 for s in meta.schemas if s.table_name}


# --- the chain's links -----------------------------------------------------------------------


def test_versions_line_up_from_one_cluster(
    chain: list[BackupInfo], loaded: list[BackupMeta]
) -> None:
    assert loaded[0].start_version == 0 and not loaded[0].is_incremental
    for previous, current in pairwise(loaded):
        assert current.start_version == previous.end_version < current.end_version
        assert current.cluster_id == previous.cluster_id
        assert current.is_incremental
    for info, meta in zip(chain, loaded, strict=True):
        for data_file in info.data_files:
            assert data_file.file.start_version == meta.start_version
            assert data_file.file.end_version == meta.end_version
        # Every write committed inside the backup's window.
        for _, commit_ts, _, _ in Written(info).records:
            assert meta.start_version < commit_ts <= meta.end_version


def test_ids_are_stable_and_a_truncated_table_is_renumbered(loaded: list[BackupMeta]) -> None:
    full, first, second = (table_ids(m) for m in loaded)
    assert set(full) == {"shop.items", "shop.orders", "shop.logs", "shop.old"}
    assert set(first) == set(full) | {"shop.fresh"}
    # Dropped in the second increment: not in its schemas; created there: listed.
    assert set(second) == set(first) - {"shop.old"} | {"audit.events"}
    for name in ("shop.items", "shop.orders"):
        assert full[name] == first[name] == second[name]
    assert first["shop.logs"] != full["shop.logs"]
    assert first["shop.logs"] == second["shop.logs"]
    assert len(set(second.values())) == len(second)
    db_ids = [{s.db_name: s.db_id for s in m.schemas} for m in loaded]
    assert db_ids[0]["shop"] == db_ids[1]["shop"] == db_ids[2]["shop"]


def test_incremental_table_checksums_are_zero_and_file_checksums_real(
    chain: list[BackupInfo], loaded: list[BackupMeta]
) -> None:
    assert all(s.has_checksum for s in loaded[0].schemas)
    for meta in loaded[1:]:
        assert not any(s.has_checksum for s in meta.schemas)
    for info in chain:
        written = Written(info)
        for data_file in info.data_files:
            f = data_file.file
            expected = written.file_checksums[f.name]
            assert (f.crc64xor, f.total_kvs, f.total_bytes) == (
                expected.crc64xor,
                expected.total_kvs,
                expected.total_bytes,
            )
    # The full backup's table checksums cover the same KVs as its files.
    full = Written(chain[0])
    by_table: dict[int, KvChecksum] = defaultdict(KvChecksum)
    for raw, _, kind, value in full.records:
        assert kind == b"P"
        by_table[table_id_of(raw)].update(raw, value)
    for schema in loaded[0].schemas:
        checksum = by_table[schema.table_id or 0]
        assert (schema.crc64xor, schema.total_kvs, schema.total_bytes) == (
            checksum.crc64xor,
            checksum.total_kvs,
            checksum.total_bytes,
        )


def test_each_increment_holds_the_newest_version_of_its_changes(
    chain: list[BackupInfo], loaded: list[BackupMeta]
) -> None:
    steps = sample_chain()
    for index in (1, 2):
        ids = table_ids(loaded[index])
        by_id = {table_id: name for name, table_id in ids.items()}
        written = Written(chain[index])
        assert written.default_cf_files >= 1  # long values of this window
        puts: dict[str, set[object]] = defaultdict(set)
        deletes: dict[str, set[object]] = defaultdict(set)
        seen: set[bytes] = set()
        for raw, _, kind, value in written.records:
            assert raw not in seen  # one version per key
            seen.add(raw)
            name = by_id[table_id_of(raw)]  # only tables that exist at the backup TS
            handle: object = int_handle(raw) if name != "shop.orders" else raw
            if kind == b"D":
                assert value == b""
                deletes[name].add(handle)
            else:
                assert kind == b"P"
                puts[name].add(handle)
        changes = step_changes(steps, index)
        assert set(puts) | set(deletes) == set(changes)
        for name, (put_rows, deleted) in changes.items():
            if name == "shop.orders":
                assert len(puts[name]) == len(put_rows) and len(deletes[name]) == len(deleted)
                continue
            assert puts[name] == {row[0] for row in put_rows}
            assert deletes[name] == set(deleted)
    # The truncated table's old ID and the dropped table are in no later backup.
    full_ids = table_ids(loaded[0])
    later = {table_id_of(raw) for info in chain[1:] for raw, *_ in Written(info).records}
    assert full_ids["shop.logs"] not in later
    assert full_ids["shop.old"] not in later


def test_ddl_jobs_of_each_window(chain: list[BackupInfo], loaded: list[BackupMeta]) -> None:
    full_ids, first_ids = table_ids(loaded[0]), table_ids(loaded[1])
    assert loaded[0].ddls == []
    jobs = loaded[1].ddl_jobs
    assert [(j.type, j.table_name) for j in jobs] == [
        (ACTION_CREATE_TABLE, "fresh"),
        (ACTION_ADD_COLUMN, "items"),
        (ACTION_TRUNCATE_TABLE, "logs"),
    ]
    truncate = jobs[2]
    assert truncate.table_id == full_ids["shop.logs"]
    assert truncate.table_info is not None and truncate.table_info["id"] == first_ids["shop.logs"]
    added = jobs[1].table_info
    assert added is not None and [c["name"]["O"] for c in added["cols"]][-1] == "color"
    jobs2 = loaded[2].ddl_jobs
    assert [(j.type, j.schema_name, j.table_name) for j in jobs2] == [
        (ACTION_CREATE_SCHEMA, "audit", ""),
        (ACTION_CREATE_TABLE, "audit", "events"),
        (ACTION_DROP_TABLE, "shop", "old"),
    ]
    assert jobs2[2].table_id == full_ids["shop.old"]
    all_jobs = jobs + jobs2
    assert [j.id for j in all_jobs] == sorted({j.id for j in all_jobs})
    versions = [j.schema_version for j in all_jobs]
    assert versions == sorted(set(versions))
    for meta in loaded[1:]:
        for job in meta.ddl_jobs:
            assert job.state == JOB_STATE_SYNCED and job.query
            assert meta.start_version < job.finished_ts <= meta.end_version
    for info in chain[1:]:
        if info.backupmeta.version == 1:
            assert info.backupmeta.ddls == b"[]"
            assert info.meta_files[0].name == "backupmeta.ddl.000000001"
            assert info.backupmeta.ddl_indexes.meta_files[0].name == "backupmeta.ddl.000000001"
        else:
            assert info.backupmeta.ddls.startswith(b'[{"id":')
            assert not info.backupmeta.HasField("ddl_indexes")


# --- the oracle ------------------------------------------------------------------------------


def test_chain_state_and_step_changes() -> None:
    steps = sample_chain()
    state = chain_state(steps)
    assert set(state) == {"shop.items", "shop.orders", "shop.logs", "shop.fresh", "audit.events"}
    assert state["shop.logs"] == [(1, "reboot"), (100, "new"), (101, "more")]
    assert state["shop.orders"] == [("eu", 1, 11), ("eu", 2, 20), ("us", 1, 30), ("us", 2, 41)]
    assert state["shop.fresh"] == [(2, "b" * 400)]
    assert state["audit.events"] == [(1, "login")]
    items = {row[0]: row for row in state["shop.items"]}
    assert sorted(items) == [1, 2, 3, 4, 6, 7, 8, 9, 10, 12]
    assert items[2] == (2, "item2 v3", None, "green")  # third version
    assert items[4] == (4, "item4 again", None, None)  # deleted, then inserted again
    assert items[1] == (1, "item1", None, None)  # from the full backup, column added later
    assert chain_state(steps, upto=0)["shop.logs"] == [(1, "boot"), (2, "ready"), (3, "tick")]
    first = step_changes(steps, 1)
    assert first["shop.items"].deletes == [4, 5]
    assert [row[0] for row in first["shop.items"].puts] == [2, 3, 11, 12]
    assert first["shop.logs"] == ([(1, "reboot"), (100, "new")], [])
    assert first["shop.orders"].deletes == [("eu", 1)]
    second = step_changes(steps, 2)
    assert "shop.old" not in second and second["shop.fresh"] == ([], [1])
    assert [row[0] for row in second["shop.items"].puts] == [2, 4, 6]
    assert items[6] == (6, "item6 v2", "b" * 400, "grey")  # short, then long (default CF)


def test_bad_steps_are_refused(tmp_path: Path) -> None:
    items = table("items", [("id", "int primary key"), ("v", "int")], rows=[(1, 1)])
    with pytest.raises(ValueError, match="no row"):
        chain_state([ChainStep(create=[("d", items)]), ChainStep(deletes={"d.items": [2]})])
    with pytest.raises(ValueError, match="only creates tables"):
        chain_state([ChainStep(create=[("d", items)], drop=["d.items"])])
    with pytest.raises(ValueError, match="no such table"):
        chain_state([ChainStep(create=[("d", items)]), ChainStep(truncate=["d.other"])])
    no_pk = table("heap", [("a", "int"), ("b", "int")])
    with pytest.raises(ValueError, match="needs an int PK or a clustered PK"):
        write_chain(tmp_path, [ChainStep(create=[("d", no_pk)])])

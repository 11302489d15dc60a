"""`br_parquet.checkpoint`: config hash, meta.json, entries, their compaction into index
objects, verification on resume, on local disk and on the S3 test server."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from br_parquet import checkpoint as checkpoint_module
from br_parquet.backupmeta import BackupMeta
from br_parquet.checkpoint import (
    FORMAT_VERSION,
    LIST_PAGE,
    BackupIdentity,
    Checkpoint,
    CheckpointConfig,
    Compactor,
    EmptyTaskEntry,
    Verify,
)
from br_parquet.errors import CheckpointError, CheckpointMismatchError, FilterError
from br_parquet.storage import ObjectInfo, Storage
from br_parquet.table_filter import TableFilter
from br_parquet.tables import DEFAULT_FILTER
from br_parquet.written import WrittenObject

PREFIX = "parquet"
TASK_A = "1/10_2_aaaa_write.sst"
TASK_B = "1/11_2_bbbb_write.sst"
TASK_EMPTY = "1/12_2_cccc_write.sst"
A1 = "parquet/shop/orders/1_10_2_aaaa_write.parquet"
A2 = "parquet/shop/items/1_10_2_aaaa_write.parquet"
B1 = "parquet/shop/orders/1_11_2_bbbb_write.parquet"


def backup_meta(digest: bytes = b"\x01" * 32, start: int = 0, end: int = 450) -> BackupMeta:
    return BackupMeta(
        cluster_id=7,
        cluster_version="v7.5.0",
        br_version="BR v7.5.0",
        start_version=start,
        end_version=end,
        api_version=0,
        new_collations_enabled="True",
        meta_version=2,
        content_digest=digest,
        data_files=[],
        schemas=[],
        ddls=[],
    )


def config(meta: BackupMeta | None = None, **changes: Any) -> CheckpointConfig:
    settings: dict[str, Any] = {
        "filters": ["shop.*"],
        "table_ids": [],
        "row_group_size": 8192,
        "compression": "snappy",
        "type_mapping": "compat",
    }
    settings.update(changes)
    settings["rules"] = TableFilter.parse(settings.pop("filters") or DEFAULT_FILTER).rules
    return CheckpointConfig.for_export(meta or backup_meta(), **settings)


def record_entry(
    checkpoint: Checkpoint, *, obj: str, sha256: bytes, **fields: Any
) -> WrittenObject:
    """Records `obj` as the export's tasks do, from the fields of its `WrittenObject`."""
    written = WrittenObject(
        path=obj,
        sha256=sha256.hex() if sha256 else "0" * 64,
        finished_at="2026-01-01T00:00:00.000Z",
        **{**fields, "task_objects": tuple(sorted(fields["task_objects"]))},
    )
    checkpoint.record_object(written)
    return written


IDENTITY = BackupIdentity.of(backup_meta(), "local:///backups/full")


def open_checkpoint(
    storage: Storage,
    cfg: CheckpointConfig | None = None,
    verify: Verify = "etag",
    read_only: bool = False,
) -> Checkpoint:
    return Checkpoint.open(
        storage, PREFIX, cfg or config(), IDENTITY, verify=verify, workers=4, read_only=read_only
    )


def write_object(storage: Storage, name: str, content: bytes) -> tuple[int, bytes]:
    storage.put_bytes(name, content)
    return len(content), hashlib.sha256(content).digest()


def listed_etag(storage: Storage, name: str) -> str | None:
    """The ETag the store lists for object `name` (how a task learns it after an upload)."""
    [info] = [o for o in storage.list(name) if o.name == name]
    return info.e_tag


def finish_task(
    checkpoint: Checkpoint,
    task: str,
    objects: dict[str, bytes],
    *,
    record: int | None = None,
    compactor: Compactor | None = None,
) -> list[WrittenObject]:
    """Upload the task's objects and record the first `record` of them (all by default),
    with their ETags; hand the recorded entries to `compactor` as the export does."""
    names = sorted(objects)
    recorded = []
    for i, name in enumerate(names):
        size, digest = write_object(checkpoint.storage, name, objects[name])
        if record is not None and i >= record:
            continue
        written = record_entry(
            checkpoint,
            obj=name,
            source_sst=task,
            source_default_sst=task.replace("_write", "_default"),
            task_objects=names,
            db="shop",
            table=name.split("/")[2],
            table_id=100 + i,
            rows=10 * (i + 1),
            size=size,
            sha256=digest,
            etag=listed_etag(checkpoint.storage, name),
        )
        recorded.append(written)
    if compactor is not None:
        compactor.add(recorded)
    return recorded


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage.from_url(f"local://{tmp_path}/out")


def three_tasks(storage: Storage) -> Checkpoint:
    checkpoint = open_checkpoint(storage)
    finish_task(checkpoint, TASK_A, {A1: b"orders-a" * 100, A2: b"items-a" * 50})
    finish_task(checkpoint, TASK_B, {B1: b"orders-b" * 70})
    checkpoint.record_empty_task(TASK_EMPTY, None)
    return checkpoint


# --- config hash ----------------------------------------------------------------------------


def test_config_hash_covers_every_setting() -> None:
    base = config()
    assert base.hash == config().hash  # deterministic
    variants = {
        "backup": config(backup_meta(digest=b"\x02" * 32)),
        "start_version": config(backup_meta(start=5)),
        "end_version": config(backup_meta(end=451)),
        "filter": config(filters=["shop.orders"]),
        "table_ids": config(table_ids=[101]),
        "row_group_size": config(row_group_size=1000),
        "compression": config(compression="zstd"),
        "type_mapping": config(type_mapping="typed"),
    }
    hashes = {name: cfg.hash for name, cfg in variants.items()}
    assert base.hash not in hashes.values()
    assert len(set(hashes.values())) == len(hashes)


def test_config_hash_ignores_what_does_not_change_the_output(tmp_path: Path) -> None:
    assert config(table_ids=[3, 1, 3]).hash == config(table_ids=[1, 3]).hash
    assert config(filters=[]).hash == config(filters=list(DEFAULT_FILTER)).hash
    rules = tmp_path / "rules.txt"
    rules.write_text("shop.*\n")
    with_file = config(filters=[f"@{rules}"])
    assert with_file.filters == ("shop.*",)
    assert with_file.hash == config().hash
    rules.write_text("# the shop\n\n  shop.*  \r\n")  # comments, blanks, CRLF
    assert config(filters=[f"@{rules}"]).hash == config().hash


def test_config_hash_reads_filter_files(tmp_path: Path) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("shop.*\n")
    before = config(filters=[f"@{rules}"])
    rules.write_text("shop.*\n!shop.tmp_*\n")
    after = config(filters=[f"@{rules}"])
    assert after.filters == ("shop.*", "!shop.tmp_*")
    assert after.hash != before.hash
    assert after.changes_from(before.settings()) == [
        '--filter (after @file expansion) was ["shop.*"], now ["shop.*", "!shop.tmp_*"]'
    ]
    with pytest.raises(FilterError, match=r"cannot open filter file: open /nonexistent"):
        config(filters=["@/nonexistent"])


def test_changes_name_each_setting() -> None:
    old = config().settings()
    new = config(backup_meta(digest=b"\x02" * 32), compression="zstd", row_group_size=100)
    assert new.changes_from(old) == [
        f'the backup (SHA-256 of its backupmeta) was "{"01" * 32}", now "{"02" * 32}"',
        "--row-group-size was 8192, now 100",
        '--compression was "snappy", now "zstd"',
    ]


# --- meta.json ------------------------------------------------------------------------------


def test_fresh_checkpoint_writes_meta(storage: Storage, tmp_path: Path) -> None:
    checkpoint = open_checkpoint(storage)
    assert checkpoint.status.fresh
    assert checkpoint.directory == "parquet/_checkpoint"
    meta = json.loads((tmp_path / "out/parquet/_checkpoint/meta.json").read_bytes())
    assert meta["format"] == "br-parquet-checkpoint"
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["config_hash"] == config().hash
    assert meta["config"]["filters"] == ["shop.*"]
    assert meta["config"]["compression"] == "snappy"
    assert meta["backup"] == {
        "location": "local:///backups/full",
        "cluster_id": 7,
        "cluster_version": "v7.5.0",
        "br_version": "BR v7.5.0",
        "start_version": 0,
        "end_version": 450,
        "backupmeta_sha256": (b"\x01" * 32).hex(),
    }
    assert meta["created_at"].endswith("Z")
    assert len(meta["checksum"]) == 64
    assert storage.list("parquet/_checkpoint/entries/") == []

    again = open_checkpoint(storage)
    assert not again.status.fresh
    assert again.status.created_at == meta["created_at"]
    assert again.reusable(TASK_A) is None


def test_mismatch_is_refused_naming_the_change(storage: Storage, tmp_path: Path) -> None:
    three_tasks(storage)
    meta_path = tmp_path / "out/parquet/_checkpoint/meta.json"
    before = meta_path.read_bytes()
    cases: list[tuple[CheckpointConfig, str]] = [
        (
            config(filters=["shop.orders"]),
            '--filter .* was \\["shop.\\*"\\], now \\["shop.orders"\\]',
        ),
        (config(compression="zstd"), '--compression was "snappy", now "zstd"'),
        (config(row_group_size=10), "--row-group-size was 8192, now 10"),
        (config(type_mapping="typed"), '--type-mapping was "compat", now "typed"'),
        (config(table_ids=[5]), "--table-ids was \\[\\], now \\[5\\]"),
        (config(backup_meta(digest=b"\x09" * 32)), "the backup \\(SHA-256 of its backupmeta\\)"),
    ]
    for cfg, change in cases:
        with pytest.raises(CheckpointMismatchError, match=change) as info:
            open_checkpoint(storage, cfg)
        message = str(info.value)
        assert message.startswith("parquet/_checkpoint/meta.json: ")
        url = f"{storage.location}/parquet/_checkpoint/"
        assert f"remove the checkpoint directory {url} (objects already" in message
        assert "new --output-prefix" in message
        assert info.value.directory == url
    assert meta_path.read_bytes() == before  # nothing rewritten
    assert open_checkpoint(storage).reusable(TASK_A) is not None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is not JSON"),
        (b'{"format": "br-parquet-checkpoint", "format_ver', "is not JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'{"format": "br-parquet-checkpoint"}', "has no checksum"),
    ],
)
def test_unreadable_meta_is_an_error_naming_the_file(
    storage: Storage, content: bytes, reason: str
) -> None:
    three_tasks(storage)
    storage.put_bytes("parquet/_checkpoint/meta.json", content)
    with pytest.raises(CheckpointError, match=reason) as info:
        open_checkpoint(storage)
    assert info.value.path == "parquet/_checkpoint/meta.json"
    assert "expected the checkpoint meta document br-parquet writes" in str(info.value)
    assert "--use-checkpoint=false" in str(info.value)


def test_edited_meta_is_detected(storage: Storage, tmp_path: Path) -> None:
    open_checkpoint(storage)
    path = tmp_path / "out/parquet/_checkpoint/meta.json"
    meta = json.loads(path.read_bytes())
    meta["config"]["compression"] = "zstd"  # hand edit to dodge the mismatch check
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        open_checkpoint(storage)


def test_newer_format_is_refused(storage: Storage, tmp_path: Path) -> None:
    open_checkpoint(storage)
    path = tmp_path / "out/parquet/_checkpoint/meta.json"
    meta = json.loads(path.read_bytes())
    del meta["checksum"]
    meta["format_version"] = FORMAT_VERSION + 1
    canonical = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    meta["checksum"] = hashlib.sha256(canonical).hexdigest()
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="written by a newer br-parquet"):
        open_checkpoint(storage)


def test_older_format_is_refused(storage: Storage, tmp_path: Path) -> None:
    """Version 1 named some objects differently: resuming could duplicate them."""
    open_checkpoint(storage)
    path = tmp_path / "out/parquet/_checkpoint/meta.json"
    meta = json.loads(path.read_bytes())
    del meta["checksum"]
    meta["format_version"] = 1
    canonical = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    meta["checksum"] = hashlib.sha256(canonical).hexdigest()
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"written by an older br-parquet .* version 1") as e:
        open_checkpoint(storage)
    assert "remove the checkpoint directory" in str(e.value)
    assert FORMAT_VERSION == 3


def reseal(document: dict[str, Any]) -> bytes:
    """`document` (a checkpoint document) with its checksum recomputed, as if written so."""
    body = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return json.dumps({**body, "checksum": hashlib.sha256(canonical.encode()).hexdigest()}).encode()


def test_version_2_checkpoint_is_read_and_upgraded(storage: Storage, tmp_path: Path) -> None:
    """Version 2 had no ETags and no index: its entries are checked by SHA-256 once, then
    recorded with their ETags in an index, and meta.json becomes version 3."""
    three_tasks(storage)
    root = tmp_path / "out/parquet/_checkpoint"
    for path in root.rglob("*.json"):
        document = json.loads(path.read_bytes())
        document["format_version"] = 2
        document.get("object", {}).pop("etag", None)
        path.write_bytes(reseal(document))

    peek = open_checkpoint(storage, read_only=True)  # a dry run upgrades nothing
    assert peek.status.format_version == 2
    assert json.loads((root / "meta.json").read_bytes())["format_version"] == 2

    checkpoint = open_checkpoint(storage)
    status = checkpoint.status
    assert status.format_version == 2
    assert (status.reusable_tasks, status.reusable_objects) == (3, 3)
    assert (status.listed_objects, status.read_objects) == (0, 3)
    meta = json.loads((root / "meta.json").read_bytes())
    assert meta["format_version"] == FORMAT_VERSION == 3
    assert meta["config_hash"] == config().hash
    assert checkpoint_files(tmp_path) == ["index/0000000001.json", "meta.json"]
    index = json.loads((root / "index/0000000001.json").read_bytes())
    assert {o["path"]: o["etag"] for o in index["objects"]} == {
        name: listed_etag(storage, name) for name in (A1, A2, B1)
    }

    again = open_checkpoint(storage)
    assert again.status.format_version == 3
    assert (again.status.listed_objects, again.status.read_objects) == (3, 0)
    assert again.reusable(TASK_EMPTY) == ()


def test_entries_without_meta_are_refused(storage: Storage) -> None:
    three_tasks(storage)
    storage.delete("parquet/_checkpoint/meta.json")
    with pytest.raises(CheckpointError, match=r"is missing although .* holds 4 entries"):
        open_checkpoint(storage)
    assert not storage.exists("parquet/_checkpoint/meta.json")


# --- entries --------------------------------------------------------------------------------


def checkpoint_files(tmp_path: Path) -> list[str]:
    root = tmp_path / "out/parquet/_checkpoint"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_finished_tasks_are_reusable(storage: Storage, tmp_path: Path) -> None:
    first = three_tasks(storage)
    assert checkpoint_files(tmp_path) == [
        "entries/_empty_tasks/1_12_2_cccc_write.json",
        "entries/shop/items/1_10_2_aaaa_write.parquet.json",
        "entries/shop/orders/1_10_2_aaaa_write.parquet.json",
        "entries/shop/orders/1_11_2_bbbb_write.parquet.json",
        "meta.json",
    ]
    entry = json.loads((tmp_path / "out" / first.writer.entry_name(B1)).read_bytes())
    assert set(entry) == {"kind", "format_version", "config_hash", "object", "checksum"}
    assert entry["format_version"] == FORMAT_VERSION
    assert set(entry["object"]) == {
        "path",
        "source_sst",
        "source_default_sst",
        "task_objects",
        "db",
        "table",
        "table_id",
        "rows",
        "size",
        "sha256",
        "finished_at",
        "etag",
    }
    assert entry["object"]["etag"] == listed_etag(storage, B1)

    checkpoint = open_checkpoint(storage)
    entries = checkpoint.reusable(TASK_A)
    assert entries is not None
    assert [e.path for e in entries] == sorted([A1, A2])
    items = entries[0]
    assert items.path == A2
    assert items.source_sst == TASK_A
    assert items.source_default_sst == "1/10_2_aaaa_default.sst"
    assert items.task_objects == (A2, A1)
    assert (items.db, items.table, items.table_id, items.rows) == ("shop", "items", 100, 10)
    assert items.size == 350
    assert items.sha256 == hashlib.sha256(b"items-a" * 50).hexdigest()
    assert items.etag == listed_etag(storage, A2)
    assert checkpoint.reusable(TASK_EMPTY) == ()
    assert checkpoint.reusable("1/99_write.sst") is None
    status = checkpoint.status
    assert (status.reusable_tasks, status.reusable_objects, status.reusable_rows) == (3, 3, 40)
    assert status.entries == 4
    assert (status.entry_documents, status.index_objects) == (4, 0)
    assert status.rejected_entries == status.redo_objects == []
    # Checked by the listing: size and ETag, nothing read back.
    assert (status.listed_objects, status.read_objects) == (3, 0)
    # The entries left by the earlier run were folded into one index.
    assert checkpoint_files(tmp_path) == ["index/0000000001.json", "meta.json"]

    again = open_checkpoint(storage)
    assert (again.status.entry_documents, again.status.index_objects) == (0, 1)
    assert again.reusable(TASK_A) == entries
    assert again.reusable(TASK_EMPTY) == ()
    assert checkpoint_files(tmp_path) == ["index/0000000001.json", "meta.json"]


def test_task_with_a_missing_entry_is_redone(storage: Storage) -> None:
    checkpoint = open_checkpoint(storage)
    finish_task(checkpoint, TASK_A, {A1: b"a1", A2: b"a2"}, record=1)
    again = open_checkpoint(storage)
    assert again.reusable(TASK_A) is None
    assert again.status.entries == 1


def test_entry_of_another_task_generation_is_not_mixed_in(storage: Storage) -> None:
    """Entries whose task_objects disagree leave the task to be redone."""
    checkpoint = open_checkpoint(storage)
    finish_task(checkpoint, TASK_A, {A1: b"a1"})
    finish_task(checkpoint, TASK_A, {A1: b"a1", A2: b"a2"}, record=0)
    size, digest = write_object(storage, A2, b"a2")
    record_entry(
        checkpoint,
        obj=A2,
        source_sst=TASK_A,
        source_default_sst=None,
        task_objects=[A1, A2],
        db="shop",
        table="items",
        table_id=1,
        rows=1,
        size=size,
        sha256=digest,
    )
    assert open_checkpoint(storage).reusable(TASK_A) is None


Damage = Callable[[Path], None]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xff" * 40)


def _edit_rows(path: Path) -> None:
    document = json.loads(path.read_bytes())
    document["object"]["rows"] += 1  # checksum left as it was
    path.write_text(json.dumps(document))


def _other_config(path: Path) -> None:
    document = json.loads(path.read_bytes())
    del document["checksum"]
    document["config_hash"] = "0" * 64
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    document["checksum"] = hashlib.sha256(canonical).hexdigest()
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, "is not JSON"),
        (_empty, "is not JSON"),
        (_garbage, "is not JSON"),
        (_edit_rows, "does not match its checksum"),
        (_other_config, "different config hash"),
    ],
)
def test_damaged_entry_is_ignored_and_its_task_redone(
    storage: Storage, tmp_path: Path, damage: Damage, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = three_tasks(storage)
    entry_path = tmp_path / "out" / checkpoint.writer.entry_name(A1)
    damage(entry_path)
    with caplog.at_level(logging.WARNING, logger="br_parquet.checkpoint"):
        again = open_checkpoint(storage)
    assert again.reusable(TASK_A) is None
    assert again.reusable(TASK_B) is not None
    assert again.reusable(TASK_EMPTY) == ()
    [rejected] = again.status.rejected_entries
    assert rejected.startswith(checkpoint.writer.entry_name(A1) + ": ")
    assert reason in rejected
    assert f"ignoring checkpoint entry {checkpoint.writer.entry_name(A1)}" in caplog.text


def test_entry_copied_to_another_name_is_ignored(storage: Storage) -> None:
    checkpoint = three_tasks(storage)
    storage.put_bytes(
        checkpoint.writer.entry_name(A2), storage.get_bytes(checkpoint.writer.entry_name(A1))
    )  # A1's entry twice, none for A2
    again = open_checkpoint(storage)
    assert again.reusable(TASK_A) is None
    assert "is stored under another name" in again.status.rejected_entries[0]


def test_damaged_empty_task_entry_is_redone(storage: Storage) -> None:
    checkpoint = three_tasks(storage)
    name = checkpoint.writer.empty_task_entry_name(TASK_EMPTY)
    storage.put_bytes(name, storage.get_bytes(name)[:-20])
    assert open_checkpoint(storage).reusable(TASK_EMPTY) is None


# --- compaction into index objects ----------------------------------------------------------


def object_name(i: int) -> str:
    return f"parquet/shop/orders/1_{20 + i}_2_t{i}_write.parquet"


def task_name(i: int) -> str:
    return f"1/{20 + i}_2_t{i}_write.sst"


def test_entries_are_compacted_into_few_indexes(storage: Storage, tmp_path: Path) -> None:
    checkpoint = open_checkpoint(storage)
    assert checkpoint.compactor is not None
    compactor = Compactor(storage, checkpoint.writer, flush_entries=3, merge_at=3, cap=5)
    documents = []
    for i in range(13):
        finish_task(checkpoint, task_name(i), {object_name(i): b"rows-%d" % i}, compactor=compactor)
        documents.append(len([f for f in checkpoint_files(tmp_path) if f.startswith("entries/")]))
    # Never more entry documents than the flush size; indexes 1-3 were merged into 4 (full)
    # and 5, then the 12th entry made 6.
    assert max(documents) < 3
    assert checkpoint_files(tmp_path) == [
        "entries/shop/orders/1_32_2_t12_write.parquet.json",
        "index/0000000004.json",
        "index/0000000005.json",
        "index/0000000006.json",
        "meta.json",
    ]
    assert compactor.pending == 1
    compactor.close()  # 7 holds the 13th; 5, 6 and 7 become 8 (full) and 9
    assert checkpoint_files(tmp_path) == [
        "index/0000000004.json",
        "index/0000000008.json",
        "index/0000000009.json",
        "meta.json",
    ]
    assert compactor.indexes_written == 9
    again = open_checkpoint(storage)
    status = again.status
    assert (status.index_objects, status.entry_documents, status.entries) == (3, 0, 13)
    assert (status.reusable_tasks, status.listed_objects, status.read_objects) == (13, 13, 0)
    assert checkpoint_files(tmp_path)[-2:] == ["index/0000000009.json", "meta.json"]  # as it was


def test_the_newest_record_of_an_entry_wins(storage: Storage) -> None:
    """An object redone after its entry was compacted: the later index wins over the
    earlier one, and an entry document (written after every index) over any index."""
    checkpoint = open_checkpoint(storage)
    compactor = Compactor(storage, checkpoint.writer, flush_entries=100)
    finish_task(checkpoint, TASK_B, {B1: b"first"}, compactor=compactor)
    compactor.flush()
    [second] = finish_task(checkpoint, TASK_B, {B1: b"second!"}, compactor=compactor)
    compactor.flush()

    def reused_sha256() -> str | None:
        found = open_checkpoint(storage, read_only=True).reusable(TASK_B)
        return found[0].sha256 if found else None

    assert reused_sha256() == second.sha256  # with the first, the size would not match
    compactor.merge()
    assert storage.list("parquet/_checkpoint/index/")[0].name.endswith("0000000003.json")
    assert reused_sha256() == second.sha256
    [third] = finish_task(checkpoint, TASK_B, {B1: b"third..."})  # killed before compaction
    assert reused_sha256() == third.sha256
    checkpoint.record_empty_task(TASK_EMPTY, None)
    compactor.add([EmptyTaskEntry(TASK_EMPTY, None, "2026-01-01T00:00:00.000Z")])
    compactor.close()
    reopened = open_checkpoint(storage)
    assert reopened.reusable(TASK_EMPTY) == ()
    assert reopened.status.entry_documents == 1  # B1's third entry, compacted only now
    assert reused_sha256() == third.sha256
    assert storage.list("parquet/_checkpoint/entries/") == []


def test_damaged_index_is_ignored(
    storage: Storage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    three_tasks(storage)
    open_checkpoint(storage)  # compacts the three tasks into index 1
    path = tmp_path / "out/parquet/_checkpoint/index/0000000001.json"
    path.write_bytes(path.read_bytes()[:-30])
    with caplog.at_level(logging.WARNING, logger="br_parquet.checkpoint"):
        again = open_checkpoint(storage)
    assert again.reusable(TASK_A) is again.reusable(TASK_B) is again.reusable(TASK_EMPTY) is None
    [rejected] = again.status.rejected_entries
    size = path.stat().st_size
    assert (
        rejected
        == f"{path.relative_to(tmp_path / 'out')}: is not JSON ({size} bytes; torn or damaged)"
    )
    assert "ignoring checkpoint index parquet/_checkpoint/index/0000000001.json" in caplog.text
    assert path.exists()  # left for a person to look at, never trusted


def test_read_only_open_changes_nothing(storage: Storage, tmp_path: Path) -> None:
    three_tasks(storage)
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    checkpoint = open_checkpoint(storage, read_only=True)
    assert checkpoint.compactor is None
    assert checkpoint.status.reusable_objects == 3
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == before


# --- verification of finished objects ------------------------------------------------------


def test_deleted_object_is_redone(storage: Storage) -> None:
    three_tasks(storage)
    storage.delete(A1)
    again = open_checkpoint(storage)
    assert again.reusable(TASK_A) is None
    assert again.reusable(TASK_B) is not None
    assert again.status.redo_objects == [f"{A1}: is missing"]


def test_truncated_object_is_caught_by_size(storage: Storage, tmp_path: Path) -> None:
    three_tasks(storage)
    _truncate(tmp_path / "out" / B1)
    for verify in ("size", "sha256"):
        again = open_checkpoint(storage, verify=verify)  # type: ignore[arg-type]
        assert again.reusable(TASK_B) is None
        assert again.status.redo_objects == [
            f"{B1}: is 280 bytes but its entry records 560 (truncated or replaced)"
        ]


def test_same_size_corruption_is_caught_by_sha256(storage: Storage, tmp_path: Path) -> None:
    three_tasks(storage)
    path = tmp_path / "out" / B1
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    again = open_checkpoint(storage)
    assert again.reusable(TASK_B) is None
    [problem] = again.status.redo_objects
    assert problem.startswith(f"{B1}: has sha256 {hashlib.sha256(data).hexdigest()}")
    # Size-only verification is documented to miss it.
    assert open_checkpoint(storage, verify="size").reusable(TASK_B) is not None


def test_same_size_replacement_is_caught_by_the_listing(storage: Storage, tmp_path: Path) -> None:
    """On local disk the ETag is obstore's inode-mtime-size: rewriting an object in place
    changes its mtime, so only that object is read back, and its SHA-256 differs."""
    three_tasks(storage)
    path = tmp_path / "out" / B1
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    before = listed_etag(storage, B1)
    with open(path, "r+b") as f:
        f.write(bytes(data))
    assert listed_etag(storage, B1) != before
    again = open_checkpoint(storage)
    assert again.reusable(TASK_B) is None
    assert again.reusable(TASK_A) is not None
    assert (again.status.listed_objects, again.status.read_objects) == (2, 1)
    [problem] = again.status.redo_objects
    assert problem.startswith(f"{B1}: has sha256 {hashlib.sha256(data).hexdigest()}")
    assert problem.endswith(f"(its ETag {listed_etag(storage, B1)} is not the recorded {before})")


def test_object_with_another_etag_and_the_same_bytes_is_reused(
    storage: Storage, tmp_path: Path
) -> None:
    """A copy of the same bytes (a restore, a move) gets a new ETag: it is read back once
    and reused, and its new ETag is recorded."""
    three_tasks(storage)
    path = tmp_path / "out" / B1
    before = listed_etag(storage, B1)
    storage.put_bytes(B1, path.read_bytes())
    assert listed_etag(storage, B1) != before
    again = open_checkpoint(storage)
    assert (again.status.listed_objects, again.status.read_objects) == (2, 1)
    reused = again.reusable(TASK_B)
    assert reused is not None and reused[0].etag == listed_etag(storage, B1)
    third = open_checkpoint(storage)
    assert (third.status.listed_objects, third.status.read_objects) == (3, 0)


def test_listing_check_misses_what_keeps_the_etag(storage: Storage, tmp_path: Path) -> None:
    """The documented limit: damage that keeps size, inode and mtime (on local disk) keeps
    the ETag; `--checkpoint-verify sha256` still catches it."""
    three_tasks(storage)
    path = tmp_path / "out" / B1
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[7] ^= 0x01
    with open(path, "r+b") as f:
        f.write(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert open_checkpoint(storage, read_only=True).reusable(TASK_B) is not None
    assert open_checkpoint(storage, verify="sha256").reusable(TASK_B) is None


def test_record_refuses_objects_outside_the_prefix(storage: Storage) -> None:
    checkpoint = open_checkpoint(storage)
    with pytest.raises(ValueError, match="not a Parquet object under 'parquet'"):
        checkpoint.writer.entry_name("other/shop/orders/x.parquet")
    with pytest.raises(ValueError, match="not among its task's objects"):
        record_entry(
            checkpoint,
            obj=A1,
            source_sst=TASK_A,
            source_default_sst=None,
            task_objects=[A2],
            db="shop",
            table="orders",
            table_id=1,
            rows=0,
            size=0,
            sha256=b"",
        )


def test_empty_prefix(tmp_path: Path) -> None:
    storage = Storage.from_url(f"local://{tmp_path}/out")
    checkpoint = Checkpoint.open(storage, "/", config(), IDENTITY)
    assert checkpoint.directory == "_checkpoint"
    name = "shop/orders/1_x_write.parquet"
    size, digest = write_object(storage, name, b"rows")
    record_entry(
        checkpoint,
        obj=name,
        source_sst="1/x_write.sst",
        source_default_sst=None,
        task_objects=[name],
        db="shop",
        table="orders",
        table_id=1,
        rows=1,
        size=size,
        sha256=digest,
    )
    assert (
        checkpoint.writer.entry_name(name)
        == "_checkpoint/entries/shop/orders/1_x_write.parquet.json"
    )
    again = Checkpoint.open(storage, "", config(), IDENTITY)
    assert again.reusable("1/x_write.sst") is not None


def test_identity_is_informational(storage: Storage) -> None:
    """A copy of the same backup elsewhere resumes: only the config hash binds."""
    three_tasks(storage)
    moved = replace(IDENTITY, location="s3://elsewhere/full")
    again = Checkpoint.open(storage, PREFIX, config(), moved)
    assert again.reusable(TASK_A) is not None


# --- the same on the S3 test server -----------------------------------------------------------


@pytest.mark.s3
def test_checkpoint_on_s3(s3_url: str) -> None:
    storage = Storage.from_url(
        s3_url,
        client_options={"connect_timeout": "5s", "timeout": "60s", "read_timeout": "30s"},
        retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=20)},
    )
    checkpoint = three_tasks(storage)
    assert storage.exists("parquet/_checkpoint/meta.json")
    again = open_checkpoint(storage)
    assert not again.status.fresh
    assert again.status.reusable_objects == 3
    assert (again.status.listed_objects, again.status.read_objects) == (3, 0)
    assert again.reusable(TASK_EMPTY) == ()
    assert [o.name for o in storage.list("parquet/_checkpoint/")] == [
        "parquet/_checkpoint/index/0000000001.json",
        "parquet/_checkpoint/meta.json",
    ]

    storage.put_bytes(checkpoint.writer.entry_name(A1), b'{"kind": "object", "obj')  # torn
    storage.put_bytes(B1, b"x" * storage.size(B1))  # same size, other bytes: another ETag
    again = open_checkpoint(storage)
    assert again.reusable(TASK_A) is None
    assert again.reusable(TASK_B) is None
    assert again.reusable(TASK_EMPTY) == ()
    assert "is not JSON" in again.status.rejected_entries[0]
    assert again.status.read_objects == 1  # only B1, whose ETag changed
    assert "has sha256" in again.status.redo_objects[0]
    assert "its ETag" in again.status.redo_objects[0]

    with pytest.raises(CheckpointMismatchError, match='--compression was "snappy", now "gzip"'):
        open_checkpoint(storage, config(compression="gzip"))


@pytest.mark.parametrize("page", [1, LIST_PAGE])
def test_table_folders_or_the_whole_prefix_are_listed_alike(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """With no more folders than pages of one listing, each table folder is listed (in
    parallel), else the whole prefix: either way each object is checked as it is."""
    three_tasks(storage)
    (tmp_path / "out" / A2).unlink()
    path = tmp_path / "out" / B1
    path.write_bytes(bytes(b ^ 1 for b in path.read_bytes()))
    monkeypatch.setattr(checkpoint_module, "LIST_PAGE", page)
    listed: list[str] = []
    listing = storage.list

    def recorded(prefix: str = "") -> list[ObjectInfo]:
        listed.append(prefix)
        return listing(prefix)

    monkeypatch.setattr(storage, "list", recorded)
    again = open_checkpoint(storage)
    folders = ["parquet/shop/items/", "parquet/shop/orders/"]
    assert sorted(p for p in listed if not p.startswith("parquet/_")) == (
        folders if page == 1 else ["parquet/"]
    )
    assert again.reusable(TASK_A) is None and again.reusable(TASK_B) is None
    assert again.reusable(TASK_EMPTY) == ()
    assert (again.status.listed_objects, again.status.read_objects) == (1, 1)
    assert [p.split(":")[0] for p in sorted(again.status.redo_objects)] == [A2, B1]

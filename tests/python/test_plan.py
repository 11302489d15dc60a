"""Planning (`br_parquet.plan`): tasks in name order as compact rows over the backup's
data files, sorted in runs and merged, found by name; and the export's name check."""

from __future__ import annotations

import pickle
import random
import struct

import pytest

from br_parquet import plan as plan_module
from br_parquet.datafiles import DataFiles, DataFilesBuilder
from br_parquet.errors import BackupMetaError, NameCollisionError
from br_parquet.job import _check_names
from br_parquet.plan import Plan, SstTask, Tasks, plan_tasks
from br_parquet.proto import brpb_pb2 as brpb
from br_parquet.tables import Table

_SIGN = 1 << 63


def key(table_id: int, handle: int) -> bytes:
    return b"t" + struct.pack(">Q", table_id ^ _SIGN) + b"_r" + struct.pack(">Q", handle ^ _SIGN)


def tables(ids: list[int]) -> list[Table]:
    return [
        Table(
            db="d",
            name=f"t{i}",
            table_id=i,
            physical_ids=(i,),
            partitioned=False,
            table_info_json=b"{}",
        )
        for i in ids
    ]


def files(count: int, seed: int) -> list[brpb.File]:
    """`count` write-CF files (every third with its default-CF file) of tables 100..104,
    and of table 999, in shuffled order."""
    out = []
    for i in range(count):
        table_id = 999 if i % 7 == 0 else 100 + i % 5
        start, end = key(table_id, i * 10), key(table_id, i * 10 + 10)
        stem = f"{1 + i % 3}/{i}_{(i * 7919) % 1000:03d}"
        out.append(brpb.File(name=f"{stem}_write.sst", start_key=start, end_key=end, size=i))
        if i % 3 == 0:
            out.append(
                brpb.File(name=f"{stem}_default.sst", start_key=start, end_key=end, cf="default")
            )
    random.Random(seed).shuffle(out)
    return out


def spilled(items: list[brpb.File]) -> DataFiles:
    """`items` packed as a large backup's list is: in a temporary file."""
    builder = DataFilesBuilder(spill=True)
    for f in items:
        builder.add(f.SerializeToString())
    while not builder._spill:  # padding files of another table, until it spills
        builder.add(
            brpb.File(
                name=f"pad/{len(builder)}_write.sst", start_key=key(5, 0), end_key=key(5, 1)
            ).SerializeToString()
        )
    return DataFiles([builder.finish()])


def reference(
    items: list[brpb.File], selected: list[int]
) -> list[tuple[str, str | None, tuple[int, ...]]]:
    """What the plan must be, computed the obvious way."""
    defaults = {f.name.removesuffix("_default.sst"): f.name for f in items if f.cf == "default"}
    index = {table_id: i for i, table_id in enumerate(selected)}
    out = []
    for f in items:
        if f.cf == "default":
            continue
        table_id = plan_module.table_id_of(f.start_key)
        if table_id in index:
            stem = f.name.removesuffix("_write.sst")
            out.append((f.name, defaults.get(stem), (index[table_id],)))
    return sorted(out)


@pytest.mark.parametrize("spill", [False, True])
def test_plan_in_sorted_runs_matches_the_obvious_plan(
    monkeypatch: pytest.MonkeyPatch, spill: bool
) -> None:
    monkeypatch.setattr(plan_module, "_SORT_RUN", 97)  # many runs to merge
    items = files(3000, seed=7)
    data = spilled(items) if spill else DataFiles.of(items)
    assert data.spilled == spill
    selected = [104, 100, 102, 103, 101]
    planned = plan_tasks(data, tables(selected))
    assert isinstance(planned.tasks, Tasks)
    got = [(t.name, t.default.name if t.default else None, t.tables) for t in planned.tasks]
    assert got == reference(items, selected)
    assert planned.skipped_files == len(data) - sum(1 + (d is not None) for _, d, _ in got)
    tasks = planned.tasks
    sizes = {f.name: f.size for f in items}
    assert [t.size for t in tasks] == [sizes[n] for n, _, _ in got]
    # Found by name; slices and subsets keep the order; tasks pickle on their own.
    for at in (0, 1, len(tasks) // 2, len(tasks) - 1):
        assert tasks.position(tasks[at].name) == at
    assert tasks.position("no such file") is None
    assert tasks.position(tasks[0].name[:-1]) is None
    assert list(tasks[10:20]) == [tasks[i] for i in range(10, 20)]
    assert list(tasks.subset([3, 5, 8])) == [tasks[3], tasks[5], tasks[8]]
    assert pickle.loads(pickle.dumps(tasks[5])) == tasks[5]
    assert tasks == list(tasks) and tasks != list(tasks)[1:]


def test_plan_refuses_a_write_file_listed_twice() -> None:
    items = files(50, seed=1)
    twin = next(f for f in items if f.cf != "default" and f.name.startswith("2/"))
    items.append(twin)
    with pytest.raises(BackupMetaError, match="two write-CF files for the same range"):
        plan_tasks(DataFiles.of(items), tables([100, 101, 102, 103, 104]))


def test_name_check_finds_two_ssts_of_one_file_name_among_many() -> None:
    names = [f"1/{i}_write.sst" for i in range(5000)]
    names.insert(3000, "1_2999_write.sst")  # the same stem as 1/2999_write.sst
    tasks = [SstTask(brpb.File(name=n), None, (0,)) for n in sorted(names)]
    with pytest.raises(NameCollisionError, match=r"1_2999_write\.parquet"):
        _check_names([], Plan(tasks, 0))
    _check_names([], Plan([t for t in tasks if t.name != "1_2999_write.sst"], 0))

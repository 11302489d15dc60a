"""Output names (`br_parquet.naming`): readable, deterministic, collision-checked, and never
hidden from Spark/Hive/Trino/pyarrow (no folder or file starting with `_` or `.`)."""

from __future__ import annotations

import hashlib
import itertools
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from hypothesis import given
from hypothesis import strategies as st

from br_parquet.cli import main as cli_main
from br_parquet.naming import (
    MAX_NAME_BYTES,
    MAX_STEM_BYTES,
    _unsafe_reason,
    parquet_object_name,
    sanitize,
    sst_stem,
    table_folders,
    unsafe_name_reason,
)
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")


def h(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("数据", "5440f742"),
        ("ünïcödé_表", "n_c_d_aa9c05f9"),
        ("_tmp", f"tmp_{h('_tmp')}"),
        ("a-b", f"a_b_{h('a-b')}"),
        (".hidden", f"hidden_{h('.hidden')}"),
        ("..", h("..")),
        ("a/b", f"a_b_{h('a/b')}"),
        ("", h("")),
        ("orders", "orders"),
        ("Order_Items_2024", "Order_Items_2024"),
        ("9lives__x_", "9lives__x_"),
    ],
)
def test_sanitize_examples(name: str, folder: str) -> None:
    assert sanitize(name) == folder


def test_long_names_are_capped() -> None:
    assert sanitize("a" * MAX_NAME_BYTES) == "a" * MAX_NAME_BYTES
    long = "a" * (MAX_NAME_BYTES + 1)
    assert sanitize(long) == "a" * (MAX_NAME_BYTES - 9) + "_" + h(long)
    hostile = "_-" * 1000
    assert sanitize(hostile) == h(hostile)
    words = "abcdef-" * 20  # cut after the 13th `_`, which must not stay before the hash
    assert sanitize(words) == "_".join(["abcdef"] * 13) + "_" + h(words)


@given(st.text())
def test_any_name_gives_a_visible_bounded_folder(name: str) -> None:
    folder = sanitize(name)
    assert SAFE.fullmatch(folder), folder
    assert len(folder.encode()) <= MAX_NAME_BYTES
    assert sanitize(name) == folder


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_]{0,99}", fullmatch=True))
def test_safe_ascii_names_are_unchanged(name: str) -> None:
    assert sanitize(name) == name


@given(st.text(), st.text())
def test_distinct_names_give_distinct_folders(a: str, b: str) -> None:
    # Only a name spelt like another's hashed form, or a hash collision, could break this;
    # `table_folders` refuses those.
    assert (sanitize(a) == sanitize(b)) == (a == b)


@given(
    st.integers(1, 2**64 - 1),
    st.integers(1, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32).map(bytes.hex),
    st.integers(0, 2**48),
    st.sampled_from(["write", "default"]),
)
def test_tikv_sst_names_map_as_before(
    store: int, region: int, version: int, key_hash: str, ms: int, cf: str
) -> None:
    stem = f"{region}_{version}_{key_hash}"
    assert sst_stem(f"{store}/{stem}_{ms}_{cf}.sst") == f"{store}_{stem}_{ms}_{cf}"
    assert sst_stem(f"{store}_{stem}_{ms}_{cf}.sst") == f"{store}_{stem}_{ms}_{cf}"
    assert sst_stem(f"{store}_{stem}_{cf}.sst") == f"{store}_{stem}_{cf}"


@pytest.mark.parametrize(
    ("sst", "stem"),
    [
        ("1/2_5_7_abcdef_1700000000000_write.sst", "1_2_5_7_abcdef_1700000000000_write"),
        ("5_7_abcdef_default.sst", "5_7_abcdef_default"),
        ("/1/2_write.sst/", "1_2_write"),
        # `#` stands for the hash of the SST name
        ("_1_write.sst", "1_write_#"),
        (".sst", "#"),
        ("../../etc/passwd.sst", "etc_passwd_#"),
        ("1//2.sst", "1_2_#"),
        ("1/./2.sst", "1_2_#"),
        ("a\\b.sst", "a_b_#"),
        ("x\x00y\ny.sst", "x_y_y_#"),
        ("1/2.SST", "1_2_SST_#"),
    ],
)
def test_sst_stem_examples(sst: str, stem: str) -> None:
    assert sst_stem(sst) == stem.replace("#", h(sst))


@given(st.text())
def test_any_sst_name_gives_a_visible_flat_stem(sst: str) -> None:
    stem = sst_stem(sst)
    assert SAFE.fullmatch(stem), stem  # no `/`, `\`, `.`, NUL, control characters
    assert len(stem.encode()) <= MAX_STEM_BYTES
    assert sst_stem(sst) == stem


def test_parquet_object_name() -> None:
    sst = "1/2_5_7_abcdef_1700000000000_write.sst"
    assert (
        parquet_object_name("/out//parquet/", "数据", "_t", sst)
        == f"out/parquet/5440f742/t_{h('_t')}/1_2_5_7_abcdef_1700000000000_write.parquet"
    )
    assert parquet_object_name("", "shop", "orders", "3_x.sst") == "shop/orders/3_x.parquet"


def test_table_folders() -> None:
    pairs = [("数据", "表一"), ("shop", "orders"), ("shop", "a-b"), ("shop", "orders")]
    assert table_folders(pairs) == {
        ("数据", "表一"): f"5440f742/{h('表一')}",
        ("shop", "orders"): "shop/orders",
        ("shop", "a-b"): f"shop/a_b_{h('a-b')}",
    }
    assert table_folders([]) == {}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("shop", "a-b"), ("shop", f"a_b_{h('a-b')}")),
        (("数据", "t"), ("5440f742", "t")),
    ],
)
def test_table_folders_refuses_a_shared_folder(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    with pytest.raises(ValueError, match="would both be written") as err:
        table_folders([first, ("shop", "orders"), second])
    for db, name in (first, second):
        assert f"{db!r}.{name!r}" in str(err.value)


TABLES = {
    ("数据", "表一"): [(1, "一"), (2, "二")],
    ("ünïcödé_db", "ünïcödé_表"): [(1, "ü"), (2, "é"), (3, "表")],
    ("_underscore", ".dot"): [(1, "hidden?"), (2, "no")],
    ("shop", "orders"): [(1, "pen"), (2, "ink")],
}


def test_exported_tables_are_all_visible_to_pyarrow_dataset(tmp_path: Path) -> None:
    dbs: dict[str, list[tuple[str, list[tuple[int, str]]]]] = {}
    for (db, name), rows in TABLES.items():
        dbs.setdefault(db, []).append((name, rows))
    columns = [("id", "int primary key"), ("v", "varchar(20)")]
    write_backup(
        tmp_path / "backup",
        BackupSpec(
            [
                DatabaseSpec(db, [table(name, columns, rows=rows) for name, rows in tables])
                for db, tables in dbs.items()
            ]
        ),
    )
    out = tmp_path / "out"
    argv = ["--input", f"local://{tmp_path / 'backup'}", "--output", f"local://{out}"]
    assert cli_main([*argv, "--filter", "*.*"]) == 0

    root = out / "parquet"
    written = sorted(
        p for p in root.rglob("*.parquet") if "_checkpoint" not in p.relative_to(out).parts
    )
    dataset = ds.dataset(root, format="parquet")
    assert sorted(Path(f) for f in dataset.files) == written

    folders = table_folders(TABLES)
    rows: dict[str, list[tuple[int, str]]] = {f: [] for f in folders.values()}
    for fragment in dataset.get_fragments():
        folder = Path(fragment.path).parent.relative_to(root).as_posix()
        got = fragment.to_table(columns=["id", "v"]).to_pylist()
        rows[folder] += [(r["id"], r["v"]) for r in got]
    assert {key: sorted(rows[folder]) for key, folder in folders.items()} == TABLES
    assert len(dataset.to_table()) == sum(len(r) for r in TABLES.values())

    for path in out.rglob("*"):
        parts = path.relative_to(out).parts
        if "_checkpoint" not in parts:
            assert not any(p.startswith(("_", ".")) for p in parts), path


def test_ssts_with_the_same_file_name_are_refused() -> None:
    from br_parquet.errors import NameCollisionError
    from br_parquet.job import _check_names
    from br_parquet.plan import Plan, SstTask
    from br_parquet.proto import brpb_pb2 as brpb

    tasks = [
        SstTask(write=brpb.File(name=n), default=None, tables=(0,))
        for n in ("1/2_x_write.sst", "1_2_x_write.sst")
    ]
    with pytest.raises(NameCollisionError, match=r"both be written as 1_2_x_write\.parquet"):
        _check_names([], Plan(tasks, 0))
    _check_names([], Plan(tasks[:1], 0))


def _same_verdict(names: Iterable[str]) -> None:
    differ = [name for name in names if unsafe_name_reason(name) != _unsafe_reason(name)]
    assert differ == []


def test_input_name_fast_path_refuses_every_character_the_full_check_refuses() -> None:
    # Every code point, surrogates included, inside a name: the quick test for common
    # names clears exactly the characters the full check clears (at the ends of a name
    # or segment only `.` and `/` differ, covered below).
    _same_verdict(f"1/a{c}b.sst" for c in map(chr, range(sys.maxunicode + 1)))
    assert [c for c in map(chr, range(128)) if unsafe_name_reason(f"a{c}b")] == [
        *map(chr, range(32)),
        "\\",
        "\x7f",
    ]


def test_input_name_fast_path_agrees_on_every_short_path() -> None:
    # Every name of up to 5 characters over the characters that make paths special.
    alphabet = "./a\\\x00\x1f\x7f ~"
    _same_verdict(
        "".join(chars) for n in range(6) for chars in itertools.product(alphabet, repeat=n)
    )


@pytest.mark.parametrize("size", [254, 255, 256, 1024, 1025])
def test_input_name_fast_path_agrees_on_long_names(size: int) -> None:
    _same_verdict(
        [
            "a" * size,
            ("a/" * size)[:size],
            "1/" + "a" * (size - 2),
            "a" * (size - 2) + "/1",
            "é" * (size // 2),
        ]
    )
    assert unsafe_name_reason("1/" + "a" * 255) is None
    assert unsafe_name_reason("1/" + "a" * 256) is not None


@given(st.text(st.characters(codec="ascii"), max_size=300))
def test_input_name_fast_path_agrees_on_ascii_names(name: str) -> None:
    _same_verdict([name, f"1/{name}", f"{name}/x.sst"])

"""Property: random schemas and random values, written by the independent test
writer in both row formats, decode to the values the output contract says, in
both type mappings."""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from br_parquet._native import SstScan, TableDecoder, write_sst
from br_parquet.options import DEFAULT_ROW_GROUP_SIZE
from br_parquet.testing import encode_row, encode_write, table_info
from br_parquet.testing.keys import sst_key
from br_parquet.testing.writecf import WriteType

COMMIT_TS = 445063339262394369


@dataclass(frozen=True)
class Kind:
    sql: str
    values: st.SearchStrategy[Any]
    compat: Callable[[Any], Any]
    typed: Callable[[Any], Any]


def f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def dt_text(fsp: int) -> Callable[[dt.datetime], str]:
    def render(v: dt.datetime) -> str:
        base = v.strftime("%Y-%m-%d %H:%M:%S")
        return base + (f".{v.microsecond:06d}"[: fsp + 1] if fsp else "")

    return render


def ints(bits: int, unsigned: bool) -> st.SearchStrategy[int]:
    return (
        st.integers(0, 2**bits - 1)
        if unsigned
        else st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )


def decimal_kind(p: int, s: int) -> Kind:
    # Unscaled integers turned into Decimals through text, which is exact (Decimal
    # arithmetic would round to the default 28-digit context).
    values = st.integers(-(10**p) + 1, 10**p - 1).map(lambda u: Decimal(f"{u}E-{s}"))
    return Kind(
        f"decimal({p},{s})",
        values,
        lambda v: f"{v:.{s}f}",
        lambda v: v if p <= 38 else f"{v:.{s}f}",
    )


datetimes = st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59))


def time_text(v: dt.timedelta) -> str:
    us = abs(v.days * 86400_000000 + v.seconds * 1_000000 + v.microseconds)
    sign = "-" if v < dt.timedelta(0) else ""
    secs, frac = divmod(us, 1_000000)
    return f"{sign}{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{frac:06d}"[:-4]


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(st.characters(categories=["L", "N"]), max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text("abcxyz", max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)


def json_text(v: Any) -> str:
    # TiDB's rendering: keys in byte order, ": " and ", " separators, no escaping of non-ASCII.
    return json.dumps(v, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)


def vector_text(v: list[float]) -> str:
    # TiDB prints each element in the shortest form without an exponent (`1`, `2.5`).
    return "[" + ",".join(repr(x).removesuffix(".0") for x in v) + "]"


quarters = st.integers(-4000, 4000).map(lambda k: k / 4)  # exact in float32, short in decimal

KINDS = [
    Kind("vector(3)", st.lists(quarters, min_size=3, max_size=3), vector_text, lambda v: v),
    Kind(
        "time(2)",
        st.integers(-(838 * 3600 + 59 * 60 + 59) * 100, (838 * 3600 + 59 * 60 + 59) * 100).map(
            lambda c: dt.timedelta(microseconds=c * 10_000)
        ),
        time_text,
        time_text,
    ),
    Kind(
        "timestamp(6)",
        st.datetimes(dt.datetime(1970, 1, 2), dt.datetime(2037, 12, 31)).map(
            lambda v: v.replace(tzinfo=dt.UTC)
        ),
        dt_text(6),
        lambda v: v,
    ),
    Kind("json", json_values, json_text, json_text),
    Kind("tinyint", ints(8, False), lambda v: v, lambda v: v),
    Kind("smallint unsigned", ints(16, True), str, lambda v: v),
    Kind("mediumint", ints(24, False), lambda v: v, lambda v: v),
    Kind("int unsigned", ints(32, True), str, lambda v: v),
    Kind("bigint", ints(64, False), lambda v: v, lambda v: v),
    Kind("bigint unsigned", ints(64, True), str, Decimal),
    Kind("double", st.floats(allow_nan=False, allow_infinity=False), lambda v: v, lambda v: v),
    Kind("float", st.floats(width=32, allow_nan=False, allow_infinity=False), f32, f32),
    Kind("varchar(40)", st.text(max_size=40), lambda v: v, lambda v: v),
    Kind("varbinary(40)", st.binary(max_size=40), lambda v: v, lambda v: v),
    decimal_kind(10, 2),
    decimal_kind(40, 10),
    decimal_kind(65, 30),
    Kind(
        "date", st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)), dt.date.isoformat, lambda v: v
    ),
    Kind(
        "datetime(3)",
        datetimes.map(lambda v: v.replace(microsecond=v.microsecond // 1000 * 1000)),
        dt_text(3),
        lambda v: v,
    ),
    Kind("datetime", datetimes.map(lambda v: v.replace(microsecond=0)), dt_text(0), lambda v: v),
    Kind("year", st.integers(1901, 2155), lambda v: v, lambda v: v),
    Kind("enum('a','b','c')", st.sampled_from(["a", "b", "c"]), lambda v: v, lambda v: v),
    Kind(
        "set('x','y','z')",
        st.sets(st.sampled_from(["x", "y", "z"])).map(
            lambda s: ",".join(e for e in "xyz" if e in s)
        ),
        lambda v: v,
        lambda v: v,
    ),
    Kind(
        "bit(12)",
        st.integers(0, 2**12 - 1),
        lambda v: v.to_bytes(2, "big"),
        lambda v: v.to_bytes(2, "big"),
    ),
]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Kind], list[list[Any]], int]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=8))
    rows = draw(
        st.lists(
            st.tuples(*[st.none() | k.values for k in kinds]).map(list), min_size=1, max_size=20
        )
    )
    return kinds, rows, draw(st.sampled_from([1, 2]))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=tables())
def test_random_tables_round_trip(
    tmp_path: Path, case: tuple[list[Kind], list[list[Any]], int]
) -> None:
    kinds, rows, row_format = case
    columns = [("id", "bigint primary key")] + [(f"c{i}", k.sql) for i, k in enumerate(kinds)]
    info = table_info(77, "t", columns)
    write, default = [], []
    for handle, values in enumerate(rows):
        kv = encode_row(info, [handle, *values], row_format=row_format)
        if len(kv.value) <= 255:
            value = encode_write(WriteType.PUT, COMMIT_TS - 1, short_value=kv.value)
        else:  # long rows live in the default CF under start_ts
            value = encode_write(WriteType.PUT, COMMIT_TS - 1)
            default.append((sst_key(kv.raw_key, COMMIT_TS - 1), kv.value))
        write.append((sst_key(kv.raw_key, COMMIT_TS), value))
    path = tmp_path / f"w{row_format}.sst"
    write_sst(path, sorted(write))
    default_path = None
    if default:
        default_path = tmp_path / f"d{row_format}.sst"
        write_sst(default_path, sorted(default))
    for mapping in ("compat", "typed"):
        decoder = TableDecoder(info.to_json(), mapping)
        got = pa.Table.from_batches(
            [
                b
                for _, b in SstScan(
                    path, [decoder], default_sst=default_path, batch_rows=DEFAULT_ROW_GROUP_SIZE
                )
            ],
            schema=decoder.arrow_schema(),
        )
        assert got.column("id").to_pylist() == list(range(len(rows)))
        for i, kind in enumerate(kinds):
            render = kind.compat if mapping == "compat" else kind.typed
            expected = [None if v is None else render(v) for v in (r[i] for r in rows)]
            column = got.column(f"c{i}")
            if pa.types.is_dictionary(column.type):
                column = column.cast(pa.string())
            assert column.to_pylist() == expected, (kind.sql, mapping, row_format)

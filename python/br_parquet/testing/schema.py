"""TiDB schema JSON as BR stores it: `DBInfo` and `TableInfo` (`tidb-codec.md` §10).

Keys come out in the order Go's `json.Marshal` writes the struct fields, matching real
backups: style `"v7"` is TiDB 7.1 (capitalised `FieldType` keys `Tp`, `Flag`, …) and
style `"v5"` is TiDB 5.0 (lowercase `tp`, `flag`, …, fewer table fields).

    t = table_info(
        101, "group_a", [column("id", "int primary key"), column("v", "int")]
    )
    t.to_json()  # bytes for Schema.table
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .fieldtype import BINARY_CHARSET, ColumnFlag, FieldType, parse_field_type

__all__ = [
    "STATE_PUBLIC",
    "ColumnInfo",
    "DBInfo",
    "IndexInfo",
    "JsonStyle",
    "PartitionDef",
    "PartitionInfo",
    "TableInfo",
    "column",
    "db_info",
    "go_json",
    "index",
    "table_info",
    "table_info_from_json",
]

JsonStyle = Literal["v7", "v5"]

STATE_PUBLIC = 5
COLUMN_INFO_VERSION = 2
INDEX_TYPE_BTREE = 1
PARTITION_TYPES = {"range": 1, "hash": 2, "list": 3, "key": 4}
_TABLE_INFO_VERSION = {"v7": 5, "v5": 4}


def go_json(value: Any) -> bytes:
    """Compact JSON as Go's `encoding/json` writes it (`<`, `>`, `&` escaped, UTF-8 kept)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def _cistr(name: str) -> dict[str, str]:
    return {"O": name, "L": name.lower()}


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


@dataclass
class ColumnInfo:
    """A table column. `default`/`origin_default` are the JSON values TiDB stores (usually
    strings, `None` = no default); `id`/`offset` are assigned by `table_info` when 0/-1."""

    name: str
    ft: FieldType
    id: int = 0
    offset: int = -1
    default: Any = None
    default_bit: bytes | None = None
    origin_default: Any = None
    origin_default_bit: bytes | None = None
    generated_expr_string: str = ""
    generated_stored: bool = False
    state: int = STATE_PUBLIC
    hidden: bool = False
    comment: str = ""
    version: int = COLUMN_INFO_VERSION

    @property
    def is_virtual_generated(self) -> bool:
        return bool(self.generated_expr_string) and not self.generated_stored

    def to_dict(self, style: JsonStyle = "v7") -> dict[str, Any]:
        return {
            "id": self.id,
            "name": _cistr(self.name),
            "offset": self.offset,
            "origin_default": self.origin_default,
            "origin_default_bit": _b64(self.origin_default_bit),
            "default": self.default,
            "default_bit": _b64(self.default_bit),
            "default_is_expr": False,
            "generated_expr_string": self.generated_expr_string,
            "generated_stored": self.generated_stored,
            "dependences": None,
            "type": field_type_dict(self.ft, style),
            "state": self.state,
            "comment": self.comment,
            "hidden": self.hidden,
            "change_state_info": None,
            "version": self.version,
        }


def field_type_dict(ft: FieldType, style: JsonStyle = "v7") -> dict[str, Any]:
    """`FieldType` JSON: capitalised keys (v7) or the lowercase keys of TiDB 5.0 (v5)."""
    elems = list(ft.elems) if ft.elems is not None else None
    if style == "v5":
        return {
            "tp": ft.tp,
            "flag": ft.flag,
            "flen": ft.flen,
            "decimal": ft.decimal,
            "charset": ft.charset,
            "collate": ft.collate,
            "elems": elems,
        }
    return {
        "Tp": ft.tp,
        "Flag": ft.flag,
        "Flen": ft.flen,
        "Decimal": ft.decimal,
        "Charset": ft.charset,
        "Collate": ft.collate,
        "Elems": elems,
        "ElemsIsBinaryLit": None,
        "Array": ft.array,
    }


def column(name: str, type_spec: str | FieldType, **options: Any) -> ColumnInfo:
    """A column from an SQL-ish type (`"varchar(20) not null"`, see `parse_field_type`).

    Keyword options are `ColumnInfo` fields (`id`, `default`, `origin_default`,
    `origin_default_bit`, `state`, `generated_expr_string`, …).
    """
    ft = parse_field_type(type_spec) if isinstance(type_spec, str) else type_spec
    if ft.flag & ColumnFlag.NO_DEFAULT_VALUE and (
        options.get("default") is not None or options.get("default_bit") is not None
    ):
        ft = replace(ft, flag=ft.flag & ~ColumnFlag.NO_DEFAULT_VALUE)
    return ColumnInfo(name=name, ft=ft, **options)


@dataclass
class IndexInfo:
    """A secondary index or the PRIMARY index. `columns` are column names, optionally with
    a prefix length as `"name(10)"`."""

    name: str
    columns: Sequence[str]
    unique: bool = False
    primary: bool = False
    id: int = 0
    state: int = STATE_PUBLIC
    is_global: bool = False

    def column_names(self) -> list[tuple[str, int]]:
        """`(name, length)` pairs, length -1 for the full column."""
        out = []
        for spec in self.columns:
            if spec.endswith(")") and "(" in spec:
                name, length = spec[:-1].split("(", 1)
                out.append((name.strip(), int(length)))
            else:
                out.append((spec, -1))
        return out

    def to_dict(self, cols: Sequence[ColumnInfo], style: JsonStyle = "v7") -> dict[str, Any]:
        by_name = {c.name.lower(): c for c in cols}
        idx_cols = []
        for name, length in self.column_names():
            col = by_name[name.lower()]
            idx_cols.append({"name": _cistr(col.name), "offset": col.offset, "length": length})
        out: dict[str, Any] = {
            "id": self.id,
            "idx_name": _cistr(self.name),
            "tbl_name": _cistr(""),
            "idx_cols": idx_cols,
            "state": self.state,
        }
        if style == "v7":
            out["backfill_state"] = 0
        out |= {
            "comment": "",
            "index_type": INDEX_TYPE_BTREE,
            "is_unique": self.unique or self.primary,
            "is_primary": self.primary,
            "is_invisible": False,
            "is_global": self.is_global,
        }
        if style == "v7":
            out["mv_index"] = False
        return out


def index(name: str, *columns: str, unique: bool = False) -> IndexInfo:
    """A secondary index on `columns`."""
    return IndexInfo(name=name, columns=list(columns), unique=unique)


@dataclass
class PartitionDef:
    """One partition: its physical table id is the id used in row keys."""

    name: str
    id: int = 0
    less_than: Sequence[str] = ()
    in_values: Sequence[Sequence[str]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": _cistr(self.name),
            "less_than": list(self.less_than),
            "in_values": [list(v) for v in self.in_values] if self.in_values else None,
            "policy_ref_info": None,
        }


@dataclass
class PartitionInfo:
    """`PARTITION BY {type}({expr})` with its definitions."""

    type: str
    expr: str
    definitions: list[PartitionDef]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": PARTITION_TYPES[self.type],
            "expr": self.expr,
            "columns": [],
            "enable": True,
            "definitions": [d.to_dict() for d in self.definitions],
            "adding_definitions": [],
            "dropping_definitions": [],
            "NewPartitionIDs": None,
            "states": None,
            "num": len(self.definitions) if self.type in {"hash", "key"} else 0,
            "ddl_state": 0,
            "new_table_id": 0,
            "ddl_type": 0,
            "ddl_expr": "",
            "ddl_columns": None,
        }


@dataclass
class TableInfo:
    """A TiDB `TableInfo`; build with `table_info`.

    `version` is the TableInfo version (default: 5 in style v7, 4 in style v5).
    `nil_slices` writes empty `index_info`/`fk_info` as `null` (tables created without
    any index clause) instead of `[]`.
    """

    id: int
    name: str
    columns: list[ColumnInfo]
    indexes: list[IndexInfo] = field(default_factory=list)
    pk_is_handle: bool = False
    is_common_handle: bool = False
    partition: PartitionInfo | None = None
    charset: str = "utf8mb4"
    collate: str = "utf8mb4_bin"
    update_timestamp: int = 0
    auto_inc_id: int = 0
    version: int | None = None
    nil_slices: bool = False

    @property
    def primary_index(self) -> IndexInfo | None:
        return next((i for i in self.indexes if i.primary), None)

    @property
    def handle_column(self) -> ColumnInfo | None:
        """The integer PK column used as the row handle (`pk_is_handle`)."""
        if not self.pk_is_handle:
            return None
        return next(c for c in self.columns if c.ft.primary_key)

    @property
    def physical_ids(self) -> list[int]:
        """Table ids used in row keys: the partition ids, or the table id."""
        if self.partition is not None:
            return [d.id for d in self.partition.definitions]
        return [self.id]

    def column(self, name: str) -> ColumnInfo:
        for col in self.columns:
            if col.name.lower() == name.lower():
                return col
        raise KeyError(f"table {self.name} has no column {name}")

    def to_dict(self, style: JsonStyle = "v7") -> dict[str, Any]:
        cols = [c.to_dict(style) for c in self.columns]
        indexes = [i.to_dict(self.columns, style) for i in self.indexes]
        max_idx_id = max((i.id for i in self.indexes), default=0)
        out: dict[str, Any] = {
            "id": self.id,
            "name": _cistr(self.name),
            "charset": self.charset,
            "collate": self.collate,
            "cols": cols,
            "index_info": indexes or (None if self.nil_slices else []),
            "constraint_info": None,
            "fk_info": None if self.nil_slices else [],
            "state": STATE_PUBLIC,
            "pk_is_handle": self.pk_is_handle,
            "is_common_handle": self.is_common_handle,
            "common_handle_version": 1 if self.is_common_handle else 0,
            "comment": "",
            "auto_inc_id": self.auto_inc_id,
            "auto_id_cache": 0,
            "auto_rand_id": 0,
            "max_col_id": max((c.id for c in self.columns), default=0),
            "max_idx_id": max_idx_id,
        }
        if style == "v7":
            out["max_fk_id"] = 0
        out |= {
            "max_cst_id": 0,
            "update_timestamp": self.update_timestamp,
            "ShardRowIDBits": 0,
            "max_shard_row_id_bits": 0,
            "auto_random_bits": 0,
        }
        if style == "v7":
            out["auto_random_range_bits"] = 0
        out |= {
            "pre_split_regions": 0,
            "partition": self.partition.to_dict() if self.partition else None,
            "compression": "",
            "view": None,
            "sequence": None,
            "Lock": None,
            "version": self.version if self.version is not None else _TABLE_INFO_VERSION[style],
            "tiflash_replica": None,
            "is_columnar": False,
        }
        if style == "v7":
            out |= {
                "temp_table_type": 0,
                "cache_table_status": 0,
                "policy_ref_info": None,
                "stats_options": None,
                "exchange_partition_info": None,
                "ttl_info": None,
            }
        return out

    def to_json(self, style: JsonStyle = "v7") -> bytes:
        """`json.Marshal(tableInfo)`: the bytes of `Schema.table`."""
        return go_json(self.to_dict(style))


def table_info(
    table_id: int,
    name: str,
    columns: Sequence[ColumnInfo | tuple[str, str]],
    *,
    primary_key: Sequence[str] | None = None,
    clustered: bool | None = None,
    indexes: Sequence[IndexInfo] = (),
    partition: PartitionInfo | None = None,
    charset: str = "utf8mb4",
    collate: str = "utf8mb4_bin",
    update_timestamp: int = 0,
) -> TableInfo:
    """Build a `TableInfo` as TiDB would for the CREATE TABLE these arguments describe.

    The primary key comes from `primary_key` (column names, optionally `"name(10)"`) or
    from columns whose type says `primary key`. `clustered=None` follows TiDB's default
    (`INT_ONLY`): a single integer PK is the handle (`pk_is_handle`), any other PK is
    NONCLUSTERED. `clustered=True` on a non-integer or composite PK makes a common handle.
    Column ids (when 0) count from 1; index ids from 1, PRIMARY first.
    """
    # Copies: ids, offsets and flags are filled in below.
    cols = [replace(c) if isinstance(c, ColumnInfo) else column(c[0], c[1]) for c in columns]
    used_ids = {c.id for c in cols if c.id}
    next_id = 1
    for offset, col in enumerate(cols):
        col.offset = offset
        if not col.id:
            while next_id in used_ids:
                next_id += 1
            col.id = next_id
            used_ids.add(next_id)
    pk_names = list(primary_key) if primary_key is not None else []
    if not pk_names:
        pk_names = [c.name for c in cols if c.ft.primary_key]
    pk_plain = [spec.split("(", 1)[0].strip().lower() for spec in pk_names]
    by_name = {c.name.lower(): c for c in cols}
    for pk_name in pk_plain:
        if pk_name not in by_name:
            raise ValueError(f"primary key column {pk_name} is not a column of {name}")
        pk_col = by_name[pk_name]
        pk_col.ft = pk_col.ft.with_flag(
            ColumnFlag.PRI_KEY
            | ColumnFlag.NOT_NULL
            | (ColumnFlag.NO_DEFAULT_VALUE if pk_col.default is None else 0)
        )
    single_int = (
        len(pk_names) == 1 and "(" not in pk_names[0] and by_name[pk_plain[0]].ft.is_integer
    )
    pk_is_handle = single_int and clustered is not False
    is_common_handle = bool(pk_names) and not single_int and clustered is True
    all_indexes: list[IndexInfo] = []
    if pk_names and not pk_is_handle:
        all_indexes.append(IndexInfo("PRIMARY", pk_names, unique=True, primary=True))
    all_indexes.extend(replace(i) for i in indexes)
    used_idx = {i.id for i in all_indexes if i.id}
    next_idx = 1
    for idx in all_indexes:
        if not idx.id:
            while next_idx in used_idx:
                next_idx += 1
            idx.id = next_idx
            used_idx.add(next_idx)
        if idx.primary:
            continue
        names = [n for n, _ in idx.column_names()]
        first = by_name[names[0].lower()]
        if idx.unique and len(names) == 1:
            first.ft = first.ft.with_flag(ColumnFlag.UNIQUE_KEY)
        else:
            first.ft = first.ft.with_flag(ColumnFlag.MULTIPLE_KEY)
    if partition is not None:
        definitions = [replace(d) for d in partition.definitions]
        for offset, definition in enumerate(definitions):
            if not definition.id:
                definition.id = table_id + 1 + offset
        partition = replace(partition, definitions=definitions)
    return TableInfo(
        id=table_id,
        name=name,
        columns=cols,
        indexes=all_indexes,
        pk_is_handle=pk_is_handle,
        is_common_handle=is_common_handle,
        partition=partition,
        charset=charset,
        collate=collate,
        update_timestamp=update_timestamp,
    )


@dataclass
class DBInfo:
    """A TiDB `DBInfo`."""

    id: int
    name: str
    charset: str = "utf8mb4"
    collate: str = "utf8mb4_bin"

    def to_dict(self, style: JsonStyle = "v7") -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "db_name": _cistr(self.name),
            "charset": self.charset,
            "collate": self.collate,
            "state": STATE_PUBLIC,
        }
        if style == "v7":
            out["policy_ref_info"] = None
        return out

    def to_json(self, style: JsonStyle = "v7") -> bytes:
        """`json.Marshal(dbInfo)`: the bytes of `Schema.db`."""
        return go_json(self.to_dict(style))


def db_info(db_id: int, name: str) -> DBInfo:
    """A public database with TiDB's default charset."""
    return DBInfo(id=db_id, name=name)


def _field_type_from_dict(data: Mapping[str, Any]) -> FieldType:
    lower = {key.lower(): value for key, value in data.items()}
    elems = lower.get("elems")
    return FieldType(
        tp=int(lower["tp"]),
        flag=int(lower.get("flag", 0)),
        flen=int(lower.get("flen", -1)),
        decimal=int(lower.get("decimal", 0)),
        charset=str(lower.get("charset", BINARY_CHARSET)),
        collate=str(lower.get("collate", BINARY_CHARSET)),
        elems=tuple(elems) if elems is not None else None,
        array=bool(lower.get("array", False)),
    )


def _bytes_from_b64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


def table_info_from_json(data: bytes | str | Mapping[str, Any]) -> TableInfo:
    """Load a TableInfo written by TiDB (either FieldType key style), e.g. from a real
    backupmeta, so its rows can be encoded with this package."""
    raw: Mapping[str, Any] = json.loads(data) if isinstance(data, bytes | str) else data
    columns = [
        ColumnInfo(
            name=col["name"]["O"],
            ft=_field_type_from_dict(col["type"]),
            id=col["id"],
            offset=col.get("offset", index),
            default=col.get("default"),
            default_bit=_bytes_from_b64(col.get("default_bit")),
            origin_default=col.get("origin_default"),
            origin_default_bit=_bytes_from_b64(col.get("origin_default_bit")),
            generated_expr_string=col.get("generated_expr_string", ""),
            generated_stored=col.get("generated_stored", False),
            state=col.get("state", STATE_PUBLIC),
            hidden=col.get("hidden", False),
            comment=col.get("comment", ""),
            version=col.get("version", COLUMN_INFO_VERSION),
        )
        for index, col in enumerate(raw.get("cols") or [])
    ]
    indexes = [
        IndexInfo(
            name=idx["idx_name"]["O"],
            columns=[
                c["name"]["O"] if c.get("length", -1) == -1 else f"{c['name']['O']}({c['length']})"
                for c in idx["idx_cols"]
            ],
            unique=idx.get("is_unique", False),
            primary=idx.get("is_primary", False),
            id=idx["id"],
            state=idx.get("state", STATE_PUBLIC),
            is_global=idx.get("is_global", False),
        )
        for idx in raw.get("index_info") or []
    ]
    partition = None
    if raw.get("partition"):
        part = raw["partition"]
        names = {number: name for name, number in PARTITION_TYPES.items()}
        partition = PartitionInfo(
            type=names[part["type"]],
            expr=part.get("expr", ""),
            definitions=[
                PartitionDef(
                    name=d["name"]["O"],
                    id=d["id"],
                    less_than=d.get("less_than") or (),
                    in_values=d.get("in_values"),
                )
                for d in part.get("definitions") or []
            ],
        )
    return TableInfo(
        id=raw["id"],
        name=raw["name"]["O"],
        columns=columns,
        indexes=indexes,
        pk_is_handle=raw.get("pk_is_handle", False),
        is_common_handle=raw.get("is_common_handle", False),
        partition=partition,
        charset=raw.get("charset", "utf8mb4"),
        collate=raw.get("collate", "utf8mb4_bin"),
        update_timestamp=raw.get("update_timestamp", 0),
        auto_inc_id=raw.get("auto_inc_id", 0),
        version=raw.get("version"),
        nil_slices=raw.get("index_info") is None,
    )

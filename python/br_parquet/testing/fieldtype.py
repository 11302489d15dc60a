"""TiDB column types: MySQL type codes, column flags, `FieldType` and a small SQL-ish parser.

`parse_field_type("decimal(10,2) not null")` gives the `FieldType` TiDB would store in
`ColumnInfo.type`, with the lengths, charsets and flags TiDB fills in
(`docs/formats/tidb-codec.md` §10; real TableInfo JSON in the shared fixtures).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = [
    "ColumnFlag",
    "FieldType",
    "MysqlType",
    "parse_field_type",
]


class MysqlType:
    """MySQL type codes (`FieldType.Tp`)."""

    TINY = 1
    SHORT = 2
    LONG = 3
    FLOAT = 4
    DOUBLE = 5
    NULL = 6
    TIMESTAMP = 7
    LONGLONG = 8
    INT24 = 9
    DATE = 10
    DURATION = 11
    DATETIME = 12
    YEAR = 13
    NEWDATE = 14
    VARCHAR = 15
    BIT = 16
    TIDB_VECTOR_FLOAT32 = 0xE1
    JSON = 0xF5
    NEWDECIMAL = 0xF6
    ENUM = 0xF7
    SET = 0xF8
    TINY_BLOB = 0xF9
    MEDIUM_BLOB = 0xFA
    LONG_BLOB = 0xFB
    BLOB = 0xFC
    VAR_STRING = 0xFD
    STRING = 0xFE
    GEOMETRY = 0xFF


class ColumnFlag:
    """Column flag bits (`FieldType.Flag`)."""

    NOT_NULL = 1
    PRI_KEY = 2
    UNIQUE_KEY = 4
    MULTIPLE_KEY = 8
    BLOB = 16
    UNSIGNED = 32
    ZEROFILL = 64
    BINARY = 128
    ENUM = 256
    AUTO_INCREMENT = 512
    TIMESTAMP = 1024
    SET = 2048
    NO_DEFAULT_VALUE = 4096
    ON_UPDATE_NOW = 8192


INTEGER_TYPES = frozenset(
    {MysqlType.TINY, MysqlType.SHORT, MysqlType.INT24, MysqlType.LONG, MysqlType.LONGLONG}
)
TIME_TYPES = frozenset({MysqlType.DATE, MysqlType.DATETIME, MysqlType.TIMESTAMP})
STRING_TYPES = frozenset(
    {
        MysqlType.VARCHAR,
        MysqlType.VAR_STRING,
        MysqlType.STRING,
        MysqlType.TINY_BLOB,
        MysqlType.MEDIUM_BLOB,
        MysqlType.LONG_BLOB,
        MysqlType.BLOB,
    }
)

BINARY_CHARSET = "binary"
DEFAULT_CHARSET = "utf8mb4"
DEFAULT_COLLATE = "utf8mb4_bin"


@dataclass(frozen=True)
class FieldType:
    """TiDB `FieldType`: what `ColumnInfo.type` holds."""

    tp: int
    flag: int = 0
    flen: int = -1
    decimal: int = 0
    charset: str = BINARY_CHARSET
    collate: str = BINARY_CHARSET
    elems: tuple[str, ...] | None = None
    array: bool = False

    @property
    def unsigned(self) -> bool:
        return bool(self.flag & ColumnFlag.UNSIGNED)

    @property
    def not_null(self) -> bool:
        return bool(self.flag & ColumnFlag.NOT_NULL)

    @property
    def primary_key(self) -> bool:
        return bool(self.flag & ColumnFlag.PRI_KEY)

    @property
    def is_integer(self) -> bool:
        return self.tp in INTEGER_TYPES

    @property
    def is_string(self) -> bool:
        return self.tp in STRING_TYPES

    @property
    def is_binary_string(self) -> bool:
        """BINARY/VARBINARY/BLOB: a string type whose charset is `binary`."""
        return self.is_string and self.charset == BINARY_CHARSET

    def with_flag(self, bits: int) -> FieldType:
        return replace(self, flag=self.flag | bits)


@dataclass(frozen=True)
class _TypeInfo:
    tp: int
    flen: int = -1
    decimal: int = 0
    kind: str = "number"  # number | time | string | binary | json | vector | enum | set
    args: str = "none"  # none | len | prec | fsp
    unsigned_flen: int | None = None


_TYPES: dict[str, _TypeInfo] = {
    "tinyint": _TypeInfo(MysqlType.TINY, 4, unsigned_flen=3, args="len"),
    "bool": _TypeInfo(MysqlType.TINY, 1),
    "boolean": _TypeInfo(MysqlType.TINY, 1),
    "smallint": _TypeInfo(MysqlType.SHORT, 6, unsigned_flen=5, args="len"),
    "mediumint": _TypeInfo(MysqlType.INT24, 9, unsigned_flen=8, args="len"),
    "int": _TypeInfo(MysqlType.LONG, 11, unsigned_flen=10, args="len"),
    "integer": _TypeInfo(MysqlType.LONG, 11, unsigned_flen=10, args="len"),
    "bigint": _TypeInfo(MysqlType.LONGLONG, 20, unsigned_flen=20, args="len"),
    "float": _TypeInfo(MysqlType.FLOAT, 12, -1, args="prec"),
    "double": _TypeInfo(MysqlType.DOUBLE, 22, -1, args="prec"),
    "real": _TypeInfo(MysqlType.DOUBLE, 22, -1, args="prec"),
    "decimal": _TypeInfo(MysqlType.NEWDECIMAL, 10, 0, args="prec"),
    "numeric": _TypeInfo(MysqlType.NEWDECIMAL, 10, 0, args="prec"),
    "date": _TypeInfo(MysqlType.DATE, 10, kind="time"),
    "datetime": _TypeInfo(MysqlType.DATETIME, 19, kind="time", args="fsp"),
    "timestamp": _TypeInfo(MysqlType.TIMESTAMP, 19, kind="time", args="fsp"),
    "time": _TypeInfo(MysqlType.DURATION, 10, kind="time", args="fsp"),
    "year": _TypeInfo(MysqlType.YEAR, 4, kind="year"),
    "char": _TypeInfo(MysqlType.STRING, 1, kind="string", args="len"),
    "varchar": _TypeInfo(MysqlType.VARCHAR, -1, kind="string", args="len"),
    "binary": _TypeInfo(MysqlType.STRING, 1, kind="binary", args="len"),
    "varbinary": _TypeInfo(MysqlType.VARCHAR, -1, kind="binary", args="len"),
    "tinytext": _TypeInfo(MysqlType.TINY_BLOB, 255, kind="string"),
    "text": _TypeInfo(MysqlType.BLOB, 65535, kind="string", args="len"),
    "mediumtext": _TypeInfo(MysqlType.MEDIUM_BLOB, 16_777_215, kind="string"),
    "longtext": _TypeInfo(MysqlType.LONG_BLOB, 4_294_967_295, kind="string"),
    "tinyblob": _TypeInfo(MysqlType.TINY_BLOB, 255, kind="binary"),
    "blob": _TypeInfo(MysqlType.BLOB, 65535, kind="binary", args="len"),
    "mediumblob": _TypeInfo(MysqlType.MEDIUM_BLOB, 16_777_215, kind="binary"),
    "longblob": _TypeInfo(MysqlType.LONG_BLOB, 4_294_967_295, kind="binary"),
    "json": _TypeInfo(MysqlType.JSON, 4_294_967_295, kind="json"),
    "bit": _TypeInfo(MysqlType.BIT, 1, kind="bit", args="len"),
    "enum": _TypeInfo(MysqlType.ENUM, kind="enum"),
    "set": _TypeInfo(MysqlType.SET, kind="set"),
    "vector": _TypeInfo(MysqlType.TIDB_VECTOR_FLOAT32, -1, kind="vector", args="len"),
}

_TOKEN = re.compile(
    r"\s*(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<paren>\((?:[^()']|'(?:[^']|'')*')*\)))"
)
_ELEM = re.compile(r"'((?:[^']|'')*)'")


def _tokens(spec: str) -> list[str]:
    out: list[str] = []
    pos = 0
    spec = spec.strip()
    while pos < len(spec):
        match = _TOKEN.match(spec, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot parse column type {spec!r} at {spec[pos:]!r}")
        out.append(match.group("word") or match.group("paren"))
        pos = match.end()
    return out


def _int_args(text: str, spec: str) -> list[int]:
    try:
        return [int(part) for part in text[1:-1].split(",")]
    except ValueError:
        raise ValueError(f"bad length arguments {text!r} in {spec!r}") from None


def parse_field_type(spec: str) -> FieldType:
    """Parse `"<type>[(args)] [unsigned] [zerofill] [charset X] [collate Y] [not null]
    [null] [primary key] [auto_increment]"` (case-insensitive) into a `FieldType`.

    Types: tinyint/smallint/mediumint/int/bigint, bool, float/double/real, decimal/numeric,
    date, datetime(fsp), timestamp(fsp), time(fsp), year, char/varchar/binary/varbinary,
    (tiny/medium/long)text and blob, json, bit(n), enum('a',…), set('a',…), vector(n).
    `primary key` adds PriKeyFlag and NotNullFlag; NOT NULL columns get NoDefaultValueFlag
    as TiDB writes for columns declared without a DEFAULT.
    """
    tokens = _tokens(spec)
    if not tokens or tokens[0].startswith("("):
        raise ValueError(f"column type {spec!r} has no type name")
    name = tokens[0].lower()
    rest = tokens[1:]
    if name == "double" and rest and rest[0].lower() == "precision":
        rest = rest[1:]
    info = _TYPES.get(name)
    if info is None:
        raise ValueError(f"unknown column type {tokens[0]!r} in {spec!r}")
    args: str | None = None
    if rest and rest[0].startswith("("):
        args, rest = rest[0], rest[1:]

    words = [word.lower() for word in rest]
    flag = 0
    charset: str | None = None
    collate: str | None = None
    index = 0
    while index < len(words):
        word = words[index]
        nxt = words[index + 1] if index + 1 < len(words) else ""
        if word == "unsigned":
            flag |= ColumnFlag.UNSIGNED
        elif word == "zerofill":
            flag |= ColumnFlag.UNSIGNED | ColumnFlag.ZEROFILL
        elif word == "not" and nxt == "null":
            flag |= ColumnFlag.NOT_NULL
            index += 1
        elif word == "null":
            pass
        elif word == "primary" and nxt == "key":
            flag |= ColumnFlag.PRI_KEY | ColumnFlag.NOT_NULL
            index += 1
        elif word == "auto_increment":
            flag |= ColumnFlag.AUTO_INCREMENT
        elif word in {"charset", "collate"} or (word == "character" and nxt == "set"):
            if word == "character":
                index += 1
            if index + 1 >= len(words):
                raise ValueError(f"{word} without a value in {spec!r}")
            value = rest[index + 1]
            if word == "collate":
                collate = value
            else:
                charset = value
            index += 1
        else:
            raise ValueError(f"unexpected {rest[index]!r} in column type {spec!r}")
        index += 1
    if flag & ColumnFlag.NOT_NULL:
        flag |= ColumnFlag.NO_DEFAULT_VALUE
    return _build(info, name, args, flag, charset, collate, spec)


def _build(
    info: _TypeInfo,
    name: str,
    args: str | None,
    flag: int,
    charset: str | None,
    collate: str | None,
    spec: str,
) -> FieldType:
    flen, decimal = info.flen, info.decimal
    elems: tuple[str, ...] | None = None
    if info.kind in {"enum", "set"}:
        if args is None:
            raise ValueError(f"{name} needs a value list in {spec!r}")
        elems = tuple(item.replace("''", "'") for item in _ELEM.findall(args))
        if not elems:
            raise ValueError(f"{name} needs at least one value in {spec!r}")
        flen = max(len(e) for e in elems) if info.kind == "enum" else len(",".join(elems))
    elif args is not None:
        numbers = _int_args(args, spec)
        if info.args == "none" or (len(numbers) > 1 and info.args != "prec"):
            raise ValueError(f"{name} takes no such arguments in {spec!r}")
        if info.args == "fsp":
            decimal = numbers[0]
            if not 0 <= decimal <= 6:
                raise ValueError(f"fsp {decimal} outside 0..6 in {spec!r}")
        elif info.args == "prec":
            flen = numbers[0]
            decimal = numbers[1] if len(numbers) > 1 else (0 if info.decimal == 0 else -1)
        else:
            flen = numbers[0]
    elif name == "varchar" or name == "varbinary":
        raise ValueError(f"{name} needs a length in {spec!r}")
    unsigned_default = info.unsigned_flen is not None and args is None
    if info.kind == "number" and flag & ColumnFlag.UNSIGNED and unsigned_default:
        assert info.unsigned_flen is not None
        flen = info.unsigned_flen
    if info.kind == "time" and decimal > 0:
        flen += decimal + 1
    if info.tp == MysqlType.FLOAT and flen > 24 and args is not None and decimal == -1:
        # FLOAT(p) with p > 24 is a DOUBLE.
        return _build(_TYPES["double"], "double", None, flag, charset, collate, spec)

    if info.kind in {"string", "enum", "set"}:
        charset = charset or (_charset_of(collate) if collate else DEFAULT_CHARSET)
        collate = collate or (DEFAULT_COLLATE if charset == DEFAULT_CHARSET else f"{charset}_bin")
        if charset == BINARY_CHARSET:
            flag |= ColumnFlag.BINARY
    else:
        if (charset or collate) and info.kind != "binary":
            raise ValueError(f"{name} takes no charset/collation in {spec!r}")
        charset = collate = BINARY_CHARSET
        if info.kind in {"binary", "time", "json", "year"}:
            flag |= ColumnFlag.BINARY
        if info.kind == "bit":
            flag |= ColumnFlag.UNSIGNED
        if info.kind == "year":
            flag |= ColumnFlag.UNSIGNED | ColumnFlag.ZEROFILL
    return FieldType(
        tp=info.tp,
        flag=flag,
        flen=flen,
        decimal=decimal,
        charset=charset,
        collate=collate,
        elems=elems,
    )


def _charset_of(collate: str) -> str:
    return BINARY_CHARSET if collate == BINARY_CHARSET else collate.split("_", 1)[0]

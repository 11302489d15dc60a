"""TiDB column types as `SHOW CREATE TABLE` spells them, from a `FieldType` of the
TableInfo JSON (`Tp`, `Flag`, `Flen`, `Decimal`, `Charset`, `Elems`; lowercase keys too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_UNSIGNED_FLAG = 32
_BINARY_CHARSET = "binary"

_INTEGERS = {1: "tinyint", 2: "smallint", 9: "mediumint", 3: "int", 8: "bigint"}
_FRACTIONAL_TIMES = {7: "timestamp", 11: "time", 12: "datetime"}
# (text name, binary name) of the string types, by type code.
_STRINGS = {
    0xF9: ("tinytext", "tinyblob"),
    0xFA: ("mediumtext", "mediumblob"),
    0xFB: ("longtext", "longblob"),
    0xFC: ("text", "blob"),
}
_SIZED_STRINGS = {
    15: ("varchar", "varbinary"),
    0xFD: ("varchar", "varbinary"),
    0xFE: ("char", "binary"),
}
_PLAIN = {10: "date", 14: "date", 13: "year", 0xF5: "json", 4: "float", 5: "double"}


def _get(field_type: Mapping[str, Any], key: str) -> Any:
    return field_type.get(key, field_type.get(key.lower()))


def _quoted(items: list[str]) -> str:
    return ",".join("'" + item.replace("'", "''") + "'" for item in items)


def render_type(field_type: Mapping[str, Any]) -> str:
    """E.g. `int unsigned`, `decimal(10,2)`, `varchar(20)`, `datetime(3)`, `enum('a','b')`."""
    tp = int(_get(field_type, "Tp") or 0)
    flag = int(_get(field_type, "Flag") or 0)
    flen = int(_get(field_type, "Flen") or 0)
    decimal = int(_get(field_type, "Decimal") or 0)
    binary = (_get(field_type, "Charset") or "") == _BINARY_CHARSET
    unsigned = " unsigned" if flag & _UNSIGNED_FLAG else ""
    if tp in _INTEGERS:
        return _INTEGERS[tp] + unsigned
    if tp == 0xF6:
        return f"decimal({flen},{max(decimal, 0)}){unsigned}"
    if tp in _FRACTIONAL_TIMES:
        name = _FRACTIONAL_TIMES[tp]
        return f"{name}({decimal})" if decimal > 0 else name
    if tp in _PLAIN:
        return _PLAIN[tp] + (unsigned if tp in (4, 5) else "")
    if tp in _SIZED_STRINGS:
        return f"{_SIZED_STRINGS[tp][binary]}({flen})"
    if tp in _STRINGS:
        return _STRINGS[tp][binary]
    if tp == 16:
        return f"bit({flen})"
    if tp in (0xF7, 0xF8):
        name = "enum" if tp == 0xF7 else "set"
        return f"{name}({_quoted(list(_get(field_type, 'Elems') or []))})"
    if tp == 0xE1:
        return f"vector({flen})" if flen > 0 else "vector"
    return f"type {tp}"

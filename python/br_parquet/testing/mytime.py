"""MySQL date/time values: packed u64 (rows, keys), CoreTime (binary JSON), TIME nanoseconds.

Layouts follow `docs/formats/tidb-codec.md` §8. `MysqlTime` exists because Python's
`datetime` cannot hold the zero date or partial-zero dates such as `2020-00-00`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_DURATION_NANOS",
    "MysqlTime",
    "TimeKind",
    "check_fsp",
    "duration_nanos",
    "encode_core_time",
    "encode_packed_time",
    "to_mysql_time",
]

TimeKind = Literal["date", "datetime", "timestamp"]

MAX_FSP = 6
# TIME range is ±838:59:59.999999.
MAX_DURATION_NANOS = ((838 * 3600 + 59 * 60 + 59) * 1_000_000 + 999_999) * 1000
_CORE_TIME_DATE_FSP_TT = 0b1110


@dataclass(frozen=True)
class MysqlTime:
    """A MySQL DATE/DATETIME/TIMESTAMP value, zero and partial-zero dates included."""

    year: int
    month: int
    day: int
    hour: int = 0
    minute: int = 0
    second: int = 0
    microsecond: int = 0

    def __post_init__(self) -> None:
        limits = {
            "year": (self.year, 9999),
            "month": (self.month, 12),
            "day": (self.day, 31),
            "hour": (self.hour, 23),
            "minute": (self.minute, 59),
            "second": (self.second, 59),
            "microsecond": (self.microsecond, 999_999),
        }
        for name, (value, high) in limits.items():
            if not 0 <= value <= high:
                raise ValueError(f"{name} {value} outside 0..{high}")

    @classmethod
    def zero(cls) -> MysqlTime:
        """`0000-00-00 00:00:00`, stored as packed 0."""
        return cls(0, 0, 0)


def to_mysql_time(value: dt.date | MysqlTime, *, to_utc: bool = False) -> MysqlTime:
    """Convert a `date`/`datetime`/`MysqlTime` to `MysqlTime`.

    With `to_utc` (TIMESTAMP columns) an aware datetime is converted to UTC; a naive one is
    taken as UTC already. Without it an aware datetime is rejected (DATETIME has no zone).
    """
    if isinstance(value, MysqlTime):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            if not to_utc:
                raise ValueError(f"aware datetime {value} given for a zone-less time type")
            value = value.astimezone(dt.UTC)
        return MysqlTime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
        )
    return MysqlTime(value.year, value.month, value.day)


def check_fsp(microsecond: int, fsp: int) -> None:
    """Raise `ValueError` if `microsecond` has digits beyond `fsp` fractional digits."""
    if not 0 <= fsp <= MAX_FSP:
        raise ValueError(f"fsp {fsp} outside 0..{MAX_FSP}")
    if microsecond % 10 ** (MAX_FSP - fsp):
        raise ValueError(f"microsecond {microsecond} has more than {fsp} fractional digits")


def encode_packed_time(value: MysqlTime) -> int:
    """The packed u64 of rows and keys: `((ym<<5|day)<<17 | hms) << 24 | microsecond`."""
    year_month = value.year * 13 + value.month
    ymd = (year_month << 5) | value.day
    hms = (value.hour << 12) | (value.minute << 6) | value.second
    return (((ymd << 17) | hms) << 24) | value.microsecond


def encode_core_time(value: MysqlTime, kind: TimeKind, fsp: int) -> int:
    """The in-memory CoreTime u64 used inside binary JSON (not in rows)."""
    check_fsp(value.microsecond, fsp)
    if kind == "date":
        fsp_tt = _CORE_TIME_DATE_FSP_TT
    else:
        fsp_tt = (fsp << 1) | (1 if kind == "timestamp" else 0)
    return (
        (value.year << 50)
        | (value.month << 46)
        | (value.day << 41)
        | (value.hour << 36)
        | (value.minute << 30)
        | (value.second << 24)
        | (value.microsecond << 4)
        | fsp_tt
    )


def duration_nanos(value: dt.timedelta | int) -> int:
    """TIME as int64 nanoseconds; an `int` is taken as nanoseconds already."""
    if isinstance(value, dt.timedelta):
        micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
        nanos = micros * 1000
    else:
        nanos = value
    if not -MAX_DURATION_NANOS <= nanos <= MAX_DURATION_NANOS:
        raise ValueError(f"TIME {value} outside ±838:59:59.999999")
    return nanos

"""Booleans as Go's `strconv.ParseBool` reads them: what BR's URL options and the
original design's flags accept."""

from __future__ import annotations

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

ACCEPTED = "true or false (or 1, 0, t, f, TRUE, FALSE, True, False)"


def parse_go_bool(text: str) -> bool | None:
    """True or False for the spellings Go accepts, None for anything else."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None

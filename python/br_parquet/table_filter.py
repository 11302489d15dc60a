"""BR's table filter (`-f/--filter`): syntax, semantics and error messages.

Rules are `schema-pattern.table-pattern`, each pattern a literal, a wildcard
(`*`, `?`, `[a-z]`, `[!a-z]`), a quoted identifier (`` `x` `` or `"x"`) or a `/regexp/`;
`!` negates a rule, `@file` imports rules from a file, `#` starts a comment line. The
last matching rule decides and a name no rule matches is rejected. Like BR, filters are
case-insensitive unless asked otherwise: literals and names are lower-cased and regexps
match ignoring case.

Regexps (and the regexps wildcards become) are RE2 regexps, as in Go's `regexp`, and run
on RE2 itself (the `google-re2` bindings): a `/regexp/` matches if it matches anywhere in
the name, like Go's `regexp.MatchString`, and syntax RE2 rejects (look-arounds,
back-references…) is a `FilterError` carrying RE2's message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

import re2

from .errors import FilterError

CMDLINE = "<cmdline>"
"""The source name of rules given as arguments (rather than read from a file)."""

_Fail: TypeAlias = Callable[[str], FilterError]

# --- matchers --------------------------------------------------------------------------


def _go_lower(text: str) -> str:
    """Go's `strings.ToLower`: per-character simple lower-casing (no context rules)."""
    return "".join(c.lower()[0] for c in text)


@dataclass(frozen=True)
class _Literal:
    text: str
    matches_all: bool = False

    def match(self, name: str) -> bool:
        return name == self.text

    def lowered(self) -> _Literal:
        return _Literal(_go_lower(self.text))


@dataclass(frozen=True)
class _Everything:
    matches_all: bool = True

    def match(self, name: str) -> bool:
        return True

    def lowered(self) -> _Everything:
        return self


class _Searcher(Protocol):
    def search(self, text: bytes, /) -> object: ...


def _utf8(text: str) -> bytes:
    """`text` as UTF-8; lone surrogates (from undecodable bytes) are kept, not an error."""
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class _Regexp:
    """An RE2 regexp, found anywhere in a name (Go's `regexp.MatchString`).

    The compiled RE2 object is immutable, so matching is safe from several threads.
    """

    source: str
    ignore_case: bool = False
    compiled: _Searcher = field(init=False, compare=False, repr=False)
    matches_all: bool = False

    def __post_init__(self) -> None:
        options = re2.Options()
        options.encoding = re2.Options.Encoding.UTF8
        options.longest_match = False  # leftmost-first, like Go's `regexp` (not POSIX)
        options.case_sensitive = not self.ignore_case
        options.never_capture = True  # only whether it matches is asked
        options.log_errors = False  # syntax errors are raised; do not also log them
        object.__setattr__(self, "compiled", re2.compile(_utf8(self.source), options))

    def match(self, name: str) -> bool:
        return self.compiled.search(_utf8(name)) is not None

    def lowered(self) -> _Regexp:
        return _Regexp(self.source, ignore_case=True)


_Matcher = _Literal | _Everything | _Regexp


@dataclass(frozen=True)
class TableRule:
    """One parsed rule: schema and table matchers; `positive` is False for `!` rules."""

    schema: _Matcher
    table: _Matcher
    positive: bool
    text: str
    """The rule as written, surrounding blanks removed."""


# --- the filter ------------------------------------------------------------------------


class TableFilter:
    """A parsed BR table filter. Build it with `TableFilter.parse` or `TableFilter.all`."""

    def __init__(
        self, rules: Sequence[TableRule], *, case_sensitive: bool, sources: Sequence[str] = ()
    ) -> None:
        self.case_sensitive = case_sensitive
        self.sources: tuple[str, ...] = tuple(sources)
        """The rule arguments as given (before `@file` expansion)."""
        self.rules: tuple[str, ...] = tuple(r.text for r in rules)
        """The rules applied, in order: `@file` arguments replaced by the file's rules,
        blank lines and `#` comments dropped (they never change what is selected)."""
        ordered = tuple(reversed(rules))  # last rule first: the last match wins
        if not case_sensitive:
            ordered = tuple(
                TableRule(r.schema.lowered(), r.table.lowered(), r.positive, r.text)
                for r in ordered
            )
        self._rules = ordered

    @classmethod
    def parse(cls, rules: Iterable[str], *, case_sensitive: bool = False) -> TableFilter:
        """Parse filter arguments (each one rule or `@file`); raise `FilterError` if invalid."""
        sources = [rules] if isinstance(rules, str) else list(rules)
        parsed: list[TableRule] = []
        for index, line in enumerate(sources, start=1):
            _parse_line(line, CMDLINE, index, parsed, can_import=True)
        return cls(parsed, case_sensitive=case_sensitive, sources=sources)

    @classmethod
    def all(cls) -> TableFilter:
        """The filter that accepts every table (`*.*`)."""
        return cls.parse(["*.*"])

    def match_table(self, schema: str, table: str) -> bool:
        """Whether table `schema`.`table` is selected."""
        if not self.case_sensitive:
            schema, table = _go_lower(schema), _go_lower(table)
        for rule in self._rules:
            if rule.schema.match(schema) and rule.table.match(table):
                return rule.positive
        return False

    def match_schema(self, schema: str) -> bool:
        """Whether anything in database `schema` may be selected.

        A negative rule only rejects the whole schema when its table pattern is `*`.
        """
        if not self.case_sensitive:
            schema = _go_lower(schema)
        for rule in self._rules:
            if rule.schema.match(schema) and (rule.positive or rule.table.matches_all):
                return rule.positive
        return False

    def __repr__(self) -> str:
        mode = "case-sensitive" if self.case_sensitive else "case-insensitive"
        return f"TableFilter({list(self.sources)!r}, {mode})"


def parse_table_filter(rules: Iterable[str], *, case_sensitive: bool = False) -> TableFilter:
    """Same as `TableFilter.parse`."""
    return TableFilter.parse(rules, case_sensitive=case_sensitive)


# --- rule syntax ---------------------------------------------------------------------------

_REGEXP_PART = re.compile(r"/(?:\\.|[^/])+/")
_DOUBLE_QUOTED = re.compile(r'"(?:""|[^"])+"')
_BACKQUOTED = re.compile(r"`(?:``|[^`])+`")
_WILDCARD_RANGE = re.compile(r"\[!?(?:\\[^0-9a-zA-Z]|[^\\\]])+\]")


def _is_ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _parse_line(
    line: str, source: str, line_no: int, out: list[TableRule], *, can_import: bool
) -> None:
    def fail(reason: str) -> FilterError:
        return FilterError(source, line_no, reason)

    line = line.strip(" \t")
    if not line or line[0] == "#":
        return
    text = line
    positive = True
    if line[0] == "!":
        positive = False
        line = line[1:]
    elif line[0] == "@":
        if not can_import:
            raise fail("importing filter files recursively is not allowed")
        _import_file(line[1:], out, fail)
        return

    schema, line = _parse_pattern(line, fail)
    if not line:
        raise fail("wrong table pattern")
    if line[0] != ".":
        raise fail("syntax error: missing '.' between schema and table patterns")
    table, line = _parse_pattern(line[1:], fail)
    if line:
        raise fail("syntax error: stray characters after table pattern")
    out.append(TableRule(schema, table, positive, text))


def _import_file(path: str, out: list[TableRule], fail: _Fail) -> None:
    for number, text in enumerate(_read_filter_file(path, fail), start=1):
        _parse_line(text, os.fspath(path), number, out, can_import=False)


def _read_filter_file(path: str, fail: _Fail) -> list[str]:
    """The lines of filter file `path` (without line terminators)."""
    try:
        with open(path, encoding="utf-8") as f:
            content = f.read()
    except OSError as e:
        reason = e.strerror.lower() if e.strerror else str(e)
        raise fail(f"cannot open filter file: open {path}: {reason}") from e
    except UnicodeDecodeError as e:
        raise fail(f"cannot read filter file: {path} is not UTF-8 text") from e
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [text.removesuffix("\r") for text in lines]


def _parse_pattern(line: str, fail: _Fail) -> tuple[_Matcher, str]:
    if not line:
        raise fail("syntax error: missing pattern")
    first = line[0]
    if first == "/":
        m = _REGEXP_PART.match(line)
        if m is None:
            raise fail("syntax error: incomplete regexp")
        return _compile(line[1 : m.end() - 1], fail), line[m.end() :]
    if first in '"`':
        m = (_DOUBLE_QUOTED if first == '"' else _BACKQUOTED).match(line)
        if m is None:
            raise fail("syntax error: incomplete quoted identifier")
        return _Literal(line[1 : m.end() - 1].replace(first * 2, first)), line[m.end() :]
    return _parse_wildcard(line, fail)


def _compile(source: str, fail: _Fail) -> _Regexp:
    try:
        return _Regexp(source)
    except re2.error as e:  # RE2's message, as bytes: "invalid perl operator: (?="
        reason = e.args[0] if e.args else e
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise fail(f"invalid pattern: error parsing regexp: {reason}") from None


def _parse_wildcard(line: str, fail: _Fail) -> tuple[_Matcher, str]:
    literal: list[str] = []
    regexp: list[str] = []
    is_literal = True
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            if i == len(line) - 1:
                raise fail("syntax error: cannot place \\ at end of line")
            escaped = line[i + 1]
            if _is_ascii_alnum(escaped):
                raise fail(
                    f"cannot escape a letter or number (\\{escaped}), "
                    "it is reserved for future extension"
                )
            literal.append(escaped)
            regexp.append(_rune(ord(escaped)))
            i += 2
        elif c == ".":
            break
        elif c == "*":
            is_literal = False
            regexp.append(".*")
            i += 1
        elif c == "?":
            is_literal = False
            regexp.append(".")
            i += 1
        elif c == "[":
            is_literal = False
            m = _WILDCARD_RANGE.match(line, i)
            if m is None:
                raise fail("syntax error: failed to parse character class")
            regexp.append(_glob_class(line[i + 1 : m.end() - 1], fail))
            i = m.end()
        elif c in "$_" or _is_ascii_alnum(c) or not c.isascii():
            literal.append(c)
            regexp.append(_rune(ord(c)))
            i += 1
        else:
            raise fail(f"unexpected special character '{c}'")
    rest = line[i:]
    if is_literal:
        return _Literal("".join(literal)), rest
    if regexp == [".*"]:
        return _Everything(), rest
    return _compile(r"(?s)\A(?:" + "".join(regexp) + r")\z", fail), rest


def _glob_class(body: str, fail: _Fail) -> str:
    """`[body]` of a wildcard → an RE2 character class (`!` negates, `^` is literal)."""
    negated = body.startswith("!")
    if negated:
        body = body[1:]
        if not body:
            raise fail("invalid pattern: error parsing regexp: missing closing ]: `[^]`")
    items: list[tuple[str, bool]] = []  # (character, was escaped)
    i = 0
    while i < len(body):
        if body[i] == "\\":
            if not body[i + 1].isascii():
                raise fail(
                    "invalid pattern: error parsing regexp: invalid escape sequence: "
                    f"`\\{body[i + 1]}`"
                )
            items.append((body[i + 1], True))
            i += 2
        else:
            items.append((body[i], False))
            i += 1
    ranges: list[tuple[int, int]] = []
    j = 0
    while j < len(items):
        lo = ord(items[j][0])
        if j + 2 < len(items) and items[j + 1] == ("-", False):
            hi = ord(items[j + 2][0])
            if lo > hi:
                raise fail(
                    "invalid pattern: error parsing regexp: invalid character class range: "
                    f"`{items[j][0]}-{items[j + 2][0]}`"
                )
            ranges.append((lo, hi))
            j += 3
        else:
            ranges.append((lo, lo))
            j += 1
    text = "".join(_rune(lo) if lo == hi else f"{_rune(lo)}-{_rune(hi)}" for lo, hi in ranges)
    return ("[^" if negated else "[") + text + "]"


def _rune(code: int) -> str:
    """Character `code` in an RE2 regexp, matching just itself."""
    c = chr(code)
    return c if _is_ascii_alnum(c) or c == "_" else f"\\x{{{code:x}}}"

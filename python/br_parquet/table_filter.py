"""BR's table filter (`-f/--filter`): syntax, semantics and error messages.

Rules are `schema-pattern.table-pattern`, each pattern a literal, a wildcard
(`*`, `?`, `[a-z]`, `[!a-z]`), a quoted identifier (`` `x` `` or `"x"`) or a `/regexp/`;
`!` negates a rule, `@file` imports rules from a file, `#` starts a comment line. The
last matching rule decides and a name no rule matches is rejected. Like BR, filters are
case-insensitive unless asked otherwise: literals and names are lower-cased and regexps
match ignoring case.

Regexps are written in Go's RE2 syntax; they are translated to Python `re` here so that
they mean what they mean to BR (ASCII `\\d`/`\\w`/`\\s`/`\\b`, `$` = end of text), and
the constructs RE2 rejects (look-arounds, back-references, possessive quantifiers…)
are rejected with RE2's messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

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


@dataclass(frozen=True)
class _Regexp:
    """A compiled pattern; `source` is the Python regexp before case folding."""

    source: str
    ignore_case: bool = False
    compiled: re.Pattern[str] = field(init=False, compare=False, repr=False)
    matches_all: bool = False

    def __post_init__(self) -> None:
        flags = re.IGNORECASE if self.ignore_case else 0
        object.__setattr__(self, "compiled", re.compile(self.source, flags))

    def match(self, name: str) -> bool:
        return self.compiled.search(name) is not None

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
        try:
            source = translate_re2(line[1 : m.end() - 1])
        except Re2SyntaxError as e:
            raise fail(f"invalid pattern: {e}") from None
        return _compile(source, fail), line[m.end() :]
    if first in '"`':
        m = (_DOUBLE_QUOTED if first == '"' else _BACKQUOTED).match(line)
        if m is None:
            raise fail("syntax error: incomplete quoted identifier")
        return _Literal(line[1 : m.end() - 1].replace(first * 2, first)), line[m.end() :]
    return _parse_wildcard(line, fail)


def _compile(source: str, fail: _Fail) -> _Regexp:
    try:
        return _Regexp(source)
    except re.error as e:
        raise fail(f"invalid pattern: error parsing regexp: {e}") from None


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
            regexp.append(re.escape(escaped))
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
            regexp.append(re.escape(c))
            i += 1
        else:
            raise fail(f"unexpected special character '{c}'")
    rest = line[i:]
    if is_literal:
        return _Literal("".join(literal)), rest
    if regexp == [".*"]:
        return _Everything(), rest
    return _compile(r"(?s)\A(?:" + "".join(regexp) + r")\Z", fail), rest


def _glob_class(body: str, fail: _Fail) -> str:
    """`[body]` of a wildcard → a Python character class (`!` negates, `^` is literal)."""
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
    return _class_text(ranges, negated)


# --- RE2 → Python re -------------------------------------------------------------------------


class Re2SyntaxError(ValueError):
    """A regexp RE2 (Go's `regexp`) would reject; the message follows Go's wording."""


_MAX_REPEAT = 1000
_TRAILING_BACKSLASH = "error parsing regexp: trailing backslash at end of expression: ``"
_REPEAT = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_ASCII_CLASSES: dict[str, list[tuple[int, int]]] = {
    "d": [(0x30, 0x39)],
    "s": [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)],
    "w": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
}
_POSIX_CLASSES: dict[str, list[tuple[int, int]]] = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_CONTROL_ESCAPES = {"a": 0x07, "f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
_MAX_RUNE = 0x10FFFF
_HEX_DIGITS = "0123456789abcdefABCDEF"


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    next_lo = 0
    for lo, hi in sorted(ranges):
        if lo > next_lo:
            result.append((next_lo, lo - 1))
        next_lo = max(next_lo, hi + 1)
    if next_lo <= _MAX_RUNE:
        result.append((next_lo, _MAX_RUNE))
    return result


def _class_text(ranges: list[tuple[int, int]], negated: bool) -> str:
    if not ranges:
        return r"(?s:.)" if negated else r"(?!)"
    parts = []
    for lo, hi in ranges:
        parts.append(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}")
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


@dataclass
class _Group:
    """An open group of the RE2 pattern being translated."""

    multiline: bool
    ungreedy: bool
    scoped_flags: list[str] = field(default_factory=list)  # `(?flags)` opened inside


class _Re2Translator:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0
        self.out: list[str] = []
        self.groups: list[_Group] = [_Group(multiline=False, ungreedy=False)]
        self.can_repeat = False  # whether the last item may take a quantifier
        self.after_repeat = False  # whether the last item is a quantifier
        self.repeat_start = 0  # where the last quantifier began

    def error(self, what: str, text: str) -> Re2SyntaxError:
        return Re2SyntaxError(f"error parsing regexp: {what}: `{text}`")

    def translate(self) -> str:
        p = self.pattern
        while self.pos < len(p):
            c = p[self.pos]
            if c == "(":
                self._open_group()
            elif c == ")":
                self._close_group()
            elif c == "|":
                group = self.groups[-1]
                self.out.append(")" * len(group.scoped_flags) + "|")
                self.out.extend(f"(?{flags}:" for flags in group.scoped_flags)
                self.pos += 1
                self._mark(atom=False)
            elif c in "*+?{":
                self._repeat()
            elif c == "[":
                self.out.append(self._class())
                self._mark(atom=True)
            elif c == "\\":
                self._escape()
            elif c == "$":
                self.out.append("$" if self.groups[-1].multiline else r"\Z")
                self.pos += 1
                self._mark(atom=True)
            elif c in ".^":
                self.out.append(c)
                self.pos += 1
                self._mark(atom=True)
            else:
                self.out.append(re.escape(c))
                self.pos += 1
                self._mark(atom=True)
        if len(self.groups) > 1:
            raise self.error("missing closing )", p)
        self.out.append(")" * len(self.groups[0].scoped_flags))
        return "".join(self.out)

    def _mark(self, *, atom: bool) -> None:
        self.can_repeat = atom
        self.after_repeat = False

    # groups and flags

    def _open_group(self) -> None:
        p, start = self.pattern, self.pos
        parent = self.groups[-1]
        if not p.startswith("(?", start):
            self.groups.append(_Group(parent.multiline, parent.ungreedy))
            self.out.append("(?:")
            self.pos += 1
            self._mark(atom=False)
            return
        for opener in ("(?P<", "(?<"):
            if p.startswith(opener, start):
                end = p.find(">", start)
                name = p[start + len(opener) : end] if end >= 0 else ""
                if end < 0 or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                    text = p[start : end + 1] if end >= 0 else p[start:]
                    raise self.error("invalid named capture", text)
                self.groups.append(_Group(parent.multiline, parent.ungreedy))
                self.out.append("(?:")
                self.pos = end + 1
                self._mark(atom=False)
                return
        # (?flags) or (?flags:re)
        i = start + 2
        on: dict[str, bool] = {}
        sign = True
        seen_minus = False
        while i < len(p) and p[i] not in ":)":
            ch = p[i]
            if ch == "-" and not seen_minus:
                seen_minus, sign = True, False
            elif ch in "imsU":
                on[ch] = sign
            else:
                raise self.error("invalid or unsupported Perl syntax", p[start : i + 1])
            i += 1
        if i >= len(p):
            raise self.error("missing closing )", p[start:])
        if seen_minus and p[i - 1] == "-":
            raise self.error("invalid or unsupported Perl syntax", p[start : i + 1])
        if not on and not seen_minus and p[i] == ":":
            self.groups.append(_Group(parent.multiline, parent.ungreedy))
            self.out.append("(?:")
            self.pos = i + 1
            self._mark(atom=False)
            return
        multiline = on.get("m", parent.multiline)
        ungreedy = on.get("U", parent.ungreedy)
        py_on = "".join(f for f in "ims" if on.get(f) is True)
        py_off = "".join(f for f in "ims" if on.get(f) is False)
        flags = py_on + ("-" + py_off if py_off else "")
        if p[i] == ":":
            self.groups.append(_Group(multiline, ungreedy))
            self.out.append(f"(?{flags}:" if flags else "(?:")
        else:
            group = self.groups[-1]
            group.multiline, group.ungreedy = multiline, ungreedy
            if flags:
                group.scoped_flags.append(flags)
                self.out.append(f"(?{flags}:")
        self.pos = i + 1
        self._mark(atom=False)

    def _close_group(self) -> None:
        if len(self.groups) == 1:
            raise self.error("unexpected )", self.pattern)
        group = self.groups.pop()
        self.out.append(")" * len(group.scoped_flags) + ")")
        self.pos += 1
        self._mark(atom=True)

    # repetition

    def _repeat(self) -> None:
        p, start = self.pattern, self.pos
        c = p[start]
        end = start + 1
        if c == "{":
            m = _REPEAT.match(p, start)
            if m is None:  # not a repeat: a literal brace
                self.out.append(re.escape(c))
                self.pos += 1
                self._mark(atom=True)
                return
            low = int(m.group(1))
            high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else -1)
            if low > _MAX_REPEAT or high > _MAX_REPEAT or (high >= 0 and low > high):
                raise self.error("invalid repeat count", m.group(0))
            end = m.end()
        lazy = end < len(p) and p[end] == "?"
        op_end = end + 1 if lazy else end
        if self.after_repeat:
            raise self.error("invalid nested repetition operator", p[self.repeat_start : op_end])
        if not self.can_repeat:
            raise self.error("missing argument to repetition operator", p[start:op_end])
        quantifier = p[start:end]
        if lazy != self.groups[-1].ungreedy:
            quantifier += "?"
        self.out.append(quantifier)
        self.repeat_start = start
        self.pos = op_end
        self.can_repeat = False
        self.after_repeat = True

    # escapes and classes

    def _escape(self) -> None:
        p, start = self.pattern, self.pos
        if start + 1 >= len(p):
            raise Re2SyntaxError(
                "error parsing regexp: trailing backslash at end of expression: ``"
            )
        c = p[start + 1]
        if c == "Q":
            end = p.find("\\E", start + 2)
            text = p[start + 2 :] if end < 0 else p[start + 2 : end]
            # Like RE2, a following quantifier applies to the last character only.
            self.out.append(re.escape(text))
            self.pos = len(p) if end < 0 else end + 2
            self._mark(atom=bool(text))
            return
        if c in "AzbB":
            self.out.append({"A": r"\A", "z": r"\Z", "b": r"(?a:\b)", "B": r"(?a:\B)"}[c])
            self.pos += 2
            self._mark(atom=True)
            return
        perl_class = self._class_escape(start)
        if perl_class is not None:
            self.out.append(_class_text(*perl_class))
        else:
            rune, self.pos = self._rune_escape(start)
            self.out.append(re.escape(chr(rune)))
        self._mark(atom=True)

    def _class_escape(self, start: int) -> tuple[list[tuple[int, int]], bool] | None:
        """`\\d`-style escapes (and rejected `\\p`): (ranges, negated) or None."""
        p = self.pattern
        c = p[start + 1]
        if c.lower() in _ASCII_CLASSES:
            self.pos = start + 2
            return _ASCII_CLASSES[c.lower()], c.isupper()
        if c in "pP":
            raise Re2SyntaxError(
                "error parsing regexp: Unicode classes (\\p, \\P) are not supported by "
                f"br-parquet: `{p[start : start + 3]}`"
            )
        return None

    def _rune_escape(self, start: int) -> tuple[int, int]:
        """A single-character escape at `start`: (code point, position after it)."""
        p = self.pattern
        if start + 1 >= len(p):
            raise Re2SyntaxError(
                "error parsing regexp: trailing backslash at end of expression: ``"
            )
        c = p[start + 1]
        i = start + 2
        if "1" <= c <= "7" and not (i < len(p) and "0" <= p[i] <= "7"):
            raise self.error("invalid escape sequence", p[start:i])
        if "0" <= c <= "7":
            value = int(c)
            for _ in range(2):
                if i < len(p) and "0" <= p[i] <= "7":
                    value = value * 8 + int(p[i])
                    i += 1
            return value, i
        if c == "x":
            if i < len(p) and p[i] == "{":
                end = p.find("}", i)
                digits = p[i + 1 : end] if end >= 0 else ""
                valid = bool(digits) and all(d in _HEX_DIGITS for d in digits)
                if not valid or int(digits, 16) > _MAX_RUNE:
                    raise self.error("invalid escape sequence", p[start : end + 1 or len(p)])
                return int(digits, 16), end + 1
            digits = p[i : i + 2]
            if len(digits) < 2 or any(d not in _HEX_DIGITS for d in digits):
                raise self.error("invalid escape sequence", p[start : i + 2])
            return int(digits, 16), i + 2
        if c in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[c], i
        if c.isascii() and not c.isalnum():
            return ord(c), i
        raise self.error("invalid escape sequence", p[start:i])

    def _class(self) -> str:
        p, start = self.pattern, self.pos
        i = start + 1
        negated = i < len(p) and p[i] == "^"
        if negated:
            i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            if i >= len(p):
                raise self.error("missing closing ]", p[start:])
            c = p[i]
            if c == "]" and not first:
                break
            first = False
            if p.startswith("[:", i):
                end = p.find(":]", i + 2)
                if end >= 0:
                    name = p[i + 2 : end]
                    negate_posix = name.startswith("^")
                    posix = _POSIX_CLASSES.get(name.removeprefix("^"))
                    if posix is None:
                        raise self.error("invalid character class range", p[i : end + 2])
                    ranges += _complement(posix) if negate_posix else posix
                    i = end + 2
                    continue
            if c == "\\" and i + 1 < len(p):
                escaped = self._class_escape(i)
                if escaped is not None:
                    items, neg = escaped
                    ranges += _complement(items) if neg else items
                    i = self.pos
                    continue
            lo, i = self._class_char(i)
            if i + 1 < len(p) and p[i] == "-" and p[i + 1] != "]":
                hi, after = self._class_char(i + 1)
                if lo > hi:
                    raise self.error("invalid character class range", p[i - 1 : after])
                ranges.append((lo, hi))
                i = after
            else:
                ranges.append((lo, lo))
        self.pos = i + 1
        return _class_text(ranges, negated)

    def _class_char(self, i: int) -> tuple[int, int]:
        if self.pattern[i] == "\\":
            return self._rune_escape(i)
        return ord(self.pattern[i]), i + 1


def translate_re2(pattern: str) -> str:
    """Translate a Go RE2 regexp to an equivalent Python `re` pattern.

    Raises `Re2SyntaxError` for syntax RE2 rejects (look-arounds, back-references,
    possessive quantifiers, repeat counts above 1000…) and for Unicode classes `\\p{…}`,
    which Python's `re` cannot express.
    """
    return _Re2Translator(pattern).translate()

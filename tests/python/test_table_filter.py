"""BR table-filter conformance: every case of br-metadata.md §5.4 (TiDB's table_filter_test.go)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from br_parquet.errors import FilterError
from br_parquet.table_filter import TableFilter

# (rules, [(schema, table, accepted_case_sensitive, accepted_case_insensitive), ...])
MATCH_TABLE_CASES: list[tuple[list[str], list[tuple[str, str, bool, bool]]]] = [
    ([], [("foo", "bar", False, False)]),
    (["*.*"], [("foo", "bar", True, True)]),
    (
        ["foo.*"],
        [("foo", "bar", True, True), ("foo1", "bar", False, False), ("foo2", "bar", False, False)],
    ),
    (
        ["*.*", "!foo1.*"],
        [("foo", "bar", True, True), ("foo1", "bar", False, False), ("foo2", "bar", True, True)],
    ),
    (
        ["foo.bar1"],
        [("foo", "bar", False, False), ("foo", "bar1", True, True), ("fff", "bar1", False, False)],
    ),
    (
        ["*.*", "!foo.bar"],
        [("foo", "bar", False, False), ("foo", "bar1", True, True), ("fff", "bar1", True, True)],
    ),
    (
        ["/^foo/.*", r"!/^foo/./^sbtest-\d/"],
        [
            ("foo", "sbtest", True, True),
            ("foo1", "sbtest-1", False, False),
            ("fff", "bar", False, False),
        ],
    ),
    (
        ["*.*", "!foo[bar].*", "!bar?.*", r"!special\\.*"],
        [
            ("foor", "a", False, False),
            ("foo[bar]", "b", True, True),
            ("ba", "c", True, True),
            ("bar?", "d", False, False),
            ("special\\", "e", False, False),
            ("special\\\\", "f", True, True),
            ("bazzz", "g", True, True),
            ("special\\$", "h", True, True),
            ("afooa", "i", True, True),
        ],
    ),
    (
        ["*.*", "!/^FOO/.*", "!*./FoO$/"],
        [
            ("FOO1", "a", False, False),
            ("foo2", "b", True, False),
            ("BoO3", "cFoO", False, False),
            ("Foo4", "dfoo", True, False),
            ("5", "5", True, True),
        ],
    ),
    (
        ["*.*", "!a?b?./f[0-9]/"],
        [
            ("abbd", "f1", False, False),
            ("aaaa", "f2", True, True),
            ("5", "5", True, True),
            ("abbc", "fa", True, True),
        ],
    ),
    (
        ["*.*", "!/t[0-8]/.a??"],
        [
            ("t1", "a01", False, False),
            ("t9", "a02", True, True),
            ("5", "5", True, True),
            ("t8", "a001", True, True),
        ],
    ),
    (
        ["*.*", "!a*.A*"],
        [("aB", "Ab", False, False), ("AaB", "aab", True, False), ("acB", "Afb", False, False)],
    ),
    (["BAR.*"], [("bar", "a", False, True), ("BAR", "a", True, True)]),
    (["# comment", "x.y", "   \t"], [("x", "y", True, True), ("y", "y", False, False)]),
    (
        ["p_123$.45", "中文.表名"],
        [
            ("p_123", "45", False, False),
            ("p_123$", "45", True, True),
            ("英文", "表名", False, False),
            ("中文", "表名", True, True),
        ],
    ),
    (
        [r"\\\..*"],
        [("\\.", "a", True, True), ("\\\\\\.", "b", False, False), ("\\a", "c", False, False)],
    ),
    (
        ["[!a-z].[^a-z]"],
        [
            ("!", "z", True, True),
            ("!", "^", True, True),
            ("!", "9", False, False),
            ("a", "z", False, False),
            ("a", "^", False, False),
            ("a", "9", False, False),
            ("1", "z", True, True),
            ("1", "^", True, True),
            ("1", "9", False, False),
        ],
    ),
    (
        ['"some ""quoted""".`identifiers?`'],
        [
            ('some "quoted"', "identifiers?", True, True),
            ('some "quoted"', "identifiers!", False, False),
            ('some ""quoted""', "identifiers?", False, False),
            ('SOME "QUOTED"', "IDENTIFIERS?", False, True),
            ('some\t"quoted"', "identifiers?", False, False),
        ],
    ),
    (
        ["db*.*", "!*.cfg*", "*.cfgsample"],
        [
            ("irrelevant", "table", False, False),
            ("db1", "tbl1", True, True),
            ("db1", "cfg1", False, False),
            ("db1", "cfgsample", True, True),
            ("else", "cfgsample", True, True),
        ],
    ),
    (
        ["*.*", "!S.D[!a-d]"],
        [
            ("S", "D1", False, False),
            ("S", "Da", True, True),
            ("S", "Db", True, True),
            ("S", "Daa", True, True),
        ],
    ),
    (
        ["*.*", "!S.D[a-d]"],
        [
            ("S", "D1", True, True),
            ("S", "Da", False, False),
            ("S", "Db", False, False),
            ("S", "Daa", True, True),
        ],
    ),
    # From the docs (pingcap/docs table-filter.md); same answer in both modes.
    (
        ["employees.*", "!*.dep*", "*.departments"],
        [
            ("irrelevant", "table", False, False),
            ("employees", "employees", True, True),
            ("employees", "dept_emp", False, False),
            ("employees", "departments", True, True),
            ("else", "departments", True, True),
        ],
    ),
    (
        ["!*.Password"],
        [("any", "table", False, False), ("db", "Password", False, False)],
    ),
]


def _table_params() -> list[object]:
    params: list[object] = []
    for rules, tables in MATCH_TABLE_CASES:
        for schema, table, cs, ci in tables:
            params.append(
                pytest.param(rules, schema, table, cs, ci, id=f"{rules}-{schema}.{table}")
            )
    return params


@pytest.mark.parametrize(("rules", "schema", "table", "cs", "ci"), _table_params())
def test_match_table(rules: list[str], schema: str, table: str, cs: bool, ci: bool) -> None:
    assert TableFilter.parse(rules, case_sensitive=True).match_table(schema, table) is cs
    assert TableFilter.parse(rules).match_table(schema, table) is ci


MATCH_SCHEMA_CASES: list[tuple[list[str], list[tuple[str, bool, bool]]]] = [
    ([], [("foo", False, False)]),
    (["*.*"], [("foo", True, True)]),
    (["foo.*"], [("foo", True, True), ("foo1", False, False)]),
    (["*.*", "!foo1.*"], [("foo", True, True), ("foo1", False, False)]),
    (["foo.bar1"], [("foo", True, True), ("foo1", False, False)]),
    (["*.*", "!foo.bar"], [("foo", True, True), ("foo1", True, True)]),
    (["/^foo/.*", r"!/^foo/./^sbtest-\d/"], [("foo", True, True), ("foo2", True, True)]),
    (
        ["*.*", "!FOO*.*", "!*.*FoO"],
        [
            ("foo", True, False),
            ("FOO", False, False),
            ("foobar", True, False),
            ("FOOBAR", False, False),
            ("bar", True, True),
            ("BAR", True, True),
        ],
    ),
]


def _schema_params() -> list[object]:
    return [
        pytest.param(rules, schema, cs, ci, id=f"{rules}-{schema}")
        for rules, schemas in MATCH_SCHEMA_CASES
        for schema, cs, ci in schemas
    ]


@pytest.mark.parametrize(("rules", "schema", "cs", "ci"), _schema_params())
def test_match_schema(rules: list[str], schema: str, cs: bool, ci: bool) -> None:
    assert TableFilter.parse(rules, case_sensitive=True).match_schema(schema) is cs
    assert TableFilter.parse(rules).match_schema(schema) is ci


# (rule, regexp the error message must match), from TestParseFailures2.
PARSE_FAILURES: list[tuple[str, str]] = [
    ("/^t[0-9]+((?!_copy).)*$/.*", r".*: invalid pattern: error parsing regexp:.*"),
    ("/^t[0-9]+sp(?=copy).*/.*", r".*: invalid pattern: error parsing regexp:.*"),
    ("a.b.c", r".*: syntax error: stray characters after table pattern"),
    ("a%b.c", r".*: unexpected special character '%'"),
    (
        r"a\tb.c",
        r".*: cannot escape a letter or number \(\\t\), it is reserved for future extension",
    ),
    ("[].*", r".*: syntax error: failed to parse character class"),
    ("[!].*", r".*: invalid pattern: error parsing regexp: missing closing \]:.*"),
    ("[.*", r".*: syntax error: failed to parse character class"),
    (r"[\d\D].*", r".*: syntax error: failed to parse character class"),
    ("db", r".*: wrong table pattern"),
    ("db.", r".*: syntax error: missing pattern"),
    ("`db`*.*", r".*: syntax error: missing '\.' between schema and table patterns"),
    ("/db.*", r".*: syntax error: incomplete regexp"),
    ("`db.*", r".*: syntax error: incomplete quoted identifier"),
    ('"db.*', r".*: syntax error: incomplete quoted identifier"),
    ("db\\", r".*: syntax error: cannot place \\ at end of line"),
    ("db.tbl#not comment", r".*: unexpected special character '#'"),
]


@pytest.mark.parametrize(("rule", "message"), PARSE_FAILURES, ids=[r for r, _ in PARSE_FAILURES])
def test_parse_failures(rule: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        TableFilter.parse([rule])
    assert re.match(message, str(info.value)), str(info.value)
    assert info.value.source == "<cmdline>"
    assert info.value.line == 1


def test_error_names_the_argument() -> None:
    with pytest.raises(FilterError, match=r"^at <cmdline>:2: wrong table pattern$"):
        TableFilter.parse(["*.*", "db"])


def test_import(tmp_path: Path) -> None:
    path1 = tmp_path / "1.txt"
    path2 = tmp_path / "2.txt"
    path1.write_text("\n\t\tdb?.tbl?\n\t\tdb02.tbl02\n\t")
    path2.write_text("\n\t\tdb03.tbl03\n\t\t!db4.tbl4\n\t")
    f = TableFilter.parse([f"@{path1}", f"@{path2}", "db04.tbl04"], case_sensitive=True)
    assert f.match_table("db1", "tbl1")
    assert f.match_table("db2", "tbl2")
    assert f.match_table("db3", "tbl3")
    assert not f.match_table("db4", "tbl4")
    assert not f.match_table("db01", "tbl01")
    assert f.match_table("db02", "tbl02")
    assert f.match_table("db03", "tbl03")
    assert f.match_table("db04", "tbl04")


def test_recursive_import_is_rejected(tmp_path: Path) -> None:
    path3 = tmp_path / "3.txt"
    path4 = tmp_path / "4.txt"
    path3.write_text("db1.tbl1")
    path4.write_text(f"# comment\n\n@{path3}")
    with pytest.raises(FilterError) as info:
        TableFilter.parse([f"@{path4}"])
    assert re.match(
        r".*4\.txt:3: importing filter files recursively is not allowed", str(info.value)
    )

    with pytest.raises(FilterError) as info:
        TableFilter.parse([f"@{tmp_path / '5.txt'}"])
    assert re.match(r".*: cannot open filter file: open .*5\.txt: .*", str(info.value))


def test_error_in_imported_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.txt"
    path.write_text("a.b\r\n\r\nbad%.x\r\n")
    with pytest.raises(FilterError) as info:
        TableFilter.parse([f"@{path}"])
    assert info.value.source == str(path)
    assert info.value.line == 3
    assert "unexpected special character '%'" in str(info.value)


def test_all() -> None:
    for f in (TableFilter.all(), TableFilter.parse(["*.*"], case_sensitive=True)):
        assert f.match_table("db1", "tbl1")
        assert f.match_schema("db1")


def test_single_quotes_are_not_quoting() -> None:
    with pytest.raises(FilterError, match="unexpected special character '''"):
        TableFilter.parse(["'db'.t"])


def test_lone_star_matches_all_but_double_star_does_not_for_match_schema() -> None:
    # BR special-cases the pattern `*` only; `!db.**` does not exclude the schema.
    assert not TableFilter.parse(["*.*", "!db.*"]).match_schema("db")
    assert TableFilter.parse(["*.*", "!db.**"]).match_schema("db")


def test_regexp_is_unanchored_and_escaped_slash() -> None:
    f = TableFilter.parse([r"/a\/b/.*"], case_sensitive=True)
    assert f.match_table("xa/by", "t")
    assert not f.match_table("ab", "t")


def test_case_insensitive_lowering_follows_go() -> None:
    # Go lower-cases rune by rune: a final capital sigma does not become the final form,
    # and the dotted capital I becomes a plain i.
    f = TableFilter.parse(["ΟΔΟΣ.İ"])
    assert f.match_table("οδοσ", "i")
    assert f.match_table("ΟΔΟΣ", "İ")


# --- regexps are RE2 (Go's regexp syntax and semantics) ---------------------------------


def _regexp_matches(pattern: str, name: str, *, case_sensitive: bool = True) -> bool:
    """Whether rule `/pattern/.*` selects a table of schema `name`."""
    rule = f"/{pattern}/.*"
    return TableFilter.parse([rule], case_sensitive=case_sensitive).match_table(name, "t")


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (r"^\d+$", "١٢", False),  # RE2's \d is ASCII only
        (r"^\d+$", "12", True),
        (r"^\w+$", "é", False),
        (r"\bx", "éx", True),  # ASCII word boundary
        ("a$", "a\n", False),  # `$` is the end of text
        ("(?m)a$", "a\nb", True),
        ("a.b", "a\nb", False),  # `.` does not match a newline…
        ("(?s)a.b", "a\nb", True),  # …unless (?s)
        (r"\Qa.b\E", "axb", False),
        (r"\Qa.b\E", "a.b", True),
        ("x{,2}", "x{,2}", True),  # not a repeat in RE2: a literal brace
        ("(?i)abc", "ABC", True),
        ("a(?i)b|c", "C", True),  # the flag runs to the end of the group, across |
        ("a(?i)b|c", "AB", False),
        ("(?U)a+", "aaa", True),
        ("(?U)a+?", "aaa", True),
        (r"[[:digit:]x]", "7", True),
        (r"[^[:alpha:]]", "a", False),
        (r"[\d-]", "-", True),
        (r"\x{41}\101\x41", "AAA", True),
        ("(?P<name>a)(?<n2>b)", "ab", True),
        ("^a{1000}$", "a" * 1000, True),
    ],
)
def test_re2_syntax(pattern: str, text: str, matches: bool) -> None:
    assert _regexp_matches(pattern, text) is matches


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (r"^\pN+$", "123", True),
        (r"^\pN+$", "١٢٣", True),  # Arabic-Indic digits are numbers too
        (r"^\pN+$", "12a", False),
        (r"^\PN+$", "abc", True),
        (r"\p{Greek}", "xλy", True),
        (r"\p{Greek}", "xay", False),
        (r"[\p{Lu}]", "aBc", True),
        (r"[\p{Lu}]", "abc", False),
        (r"^[^\p{Han}]+$", "中文", False),
        (r"^\p{Han}+$", "中文", True),
    ],
)
def test_unicode_classes(pattern: str, text: str, matches: bool) -> None:
    assert _regexp_matches(pattern, text) is matches


def test_unicode_classes_ignore_case_when_case_insensitive() -> None:
    # As in Go, (?i) folds the class: [\p{Lu}] then also matches lower-case letters.
    assert _regexp_matches(r"^[\p{Lu}]+$", "abc", case_sensitive=False)
    assert not _regexp_matches(r"^[\p{Lu}]+$", "abc", case_sensitive=True)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(?!x)", "invalid perl operator: (?!"),
        ("(?=x)", "invalid perl operator: (?="),
        ("a(?<=b)", "invalid perl operator: (?<="),
        ("(a)\\1", "invalid escape sequence: \\1"),
        ("a*+", "bad repetition operator: *+"),
        ("a**", "bad repetition operator: **"),
        ("*a", "no argument for repetition operator: *"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("a{3,2}", "invalid repetition size: {3,2}"),
        ("(a", "missing ): (a"),
        ("a)", "unexpected ): a)"),
        ("[a", "missing ]: [a"),
        ("[z-a]", "invalid character class range: z-a"),
        ("\\Z", "invalid escape sequence: \\Z"),
        ("a\\", "trailing \\"),
        ("(?x)a", "invalid perl operator: (?x"),
        ("\\p{Klingon}", "invalid character class range: \\p{Klingon}"),
    ],
)
def test_re2_rejections(pattern: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        TableFilter.parse(["a.b", f"*./{pattern}/"])
    assert str(info.value) == f"at <cmdline>:2: invalid pattern: error parsing regexp: {message}"
    assert (info.value.source, info.value.line) == ("<cmdline>", 2)


def test_regexp_error_is_a_filter_error() -> None:
    with pytest.raises(FilterError, match=r"at <cmdline>:1: invalid pattern: error parsing regexp"):
        TableFilter.parse(["/a(?<=b)/.*"])


def test_regexp_error_in_a_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.txt"
    path.write_text("# ok\na.b\n/(a)\\1/.*\n")
    with pytest.raises(FilterError) as info:
        TableFilter.parse(["x.y", f"@{path}"])
    assert (info.value.source, info.value.line) == (str(path), 3)
    assert info.value.reason.endswith("error parsing regexp: invalid escape sequence: \\1")


def test_names_that_are_not_valid_unicode_do_not_break_matching() -> None:
    # An undecodable byte in a name (kept as a lone surrogate) is matched, not an error.
    odd = b"db\xff".decode("utf-8", "surrogateescape")
    assert TableFilter.parse(["/^db/.*"]).match_table(odd, "t")
    assert TableFilter.parse(["db*.*"]).match_table(odd, "t")
    assert not TableFilter.parse(["/^x/.*"]).match_table(odd, "t")


def test_regexps_are_shared_safely_between_threads() -> None:
    f = TableFilter.parse([r"/^\p{Greek}+\d$/.*", "!*./^tmp_/"])
    names = [(f"λψ{i % 10}", f"tmp_{i}" if i % 3 == 0 else f"t{i}") for i in range(2000)]
    expected = [not table.startswith("tmp_") for _, table in names]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(4):
            assert list(pool.map(lambda n: f.match_table(*n), names)) == expected


@given(
    schema=st.text(min_size=1, max_size=12).filter(lambda s: s == s.strip(" \t")),
    table=st.text(min_size=1, max_size=12),
)
def test_backquoted_names_match_exactly(schema: str, table: str) -> None:
    quoted_schema = "`" + schema.replace("`", "``") + "`"
    quoted_table = "`" + table.replace("`", "``") + "`"
    f = TableFilter.parse([f"{quoted_schema}.{quoted_table}"], case_sensitive=True)
    assert f.match_table(schema, table)
    assert not f.match_table(schema + "x", table)
    assert not f.match_table(schema, table + "x")


def test_rules_are_the_expanded_rules_applied(tmp_path: Path) -> None:
    """The file is read once, when the filter is parsed; `rules` is what was applied."""
    rules = tmp_path / "rules.txt"
    rules.write_text("# shop tables\n\n  shop.*\r\n!shop.tmp_*\n")
    parsed = TableFilter.parse(["  db1.* ", f"@{rules}", "# note", "", "!db1.x"])
    assert parsed.rules == ("db1.*", "shop.*", "!shop.tmp_*", "!db1.x")
    rules.write_text("other.*\n")
    assert parsed.rules == ("db1.*", "shop.*", "!shop.tmp_*", "!db1.x")
    assert parsed.match_table("shop", "orders") and not parsed.match_table("other", "t")
    assert TableFilter.parse("a.b").rules == ("a.b",)
    with pytest.raises(FilterError, match=r"at <cmdline>:2: cannot open filter file"):
        TableFilter.parse(["a.b", f"@{tmp_path / 'missing'}"])

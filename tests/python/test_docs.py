"""The documentation runs as written: the docstring examples of the public API, and the
Python code of the README's API section."""

from __future__ import annotations

import doctest
import os
import pickle
import re
import runpy
from pathlib import Path

import pytest

import br_parquet
from br_parquet import api, crypto, options, task
from br_parquet.cli import build_parser
from br_parquet.testing import write_backup
from br_parquet.testing.smoke import smoke_backup

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("module", [api, options, task, crypto], ids=lambda m: m.__name__)
def test_docstring_examples_run(module: object, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    write_backup(backup, smoke_backup())
    tests = doctest.DocTestFinder().find(module)
    examples = [t for t in tests if t.examples]
    assert examples, "the module has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for n, test in enumerate(examples):
        test.globs.update(
            backup_dir=str(backup),
            out_dir=str(tmp_path / f"out{n}"),
            pickle=pickle,
            **vars(br_parquet),
        )
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} docstring examples failed (output above)"


def test_every_public_function_has_an_example() -> None:
    public = [
        br_parquet.open_backup,
        br_parquet.export,
        br_parquet.run_export,
        br_parquet.run_task,
        br_parquet.cipher_from_options,
    ]
    public += [
        getattr(br_parquet.Backup, name) for name in ("tables", "table", "schema", "scan", "export")
    ]
    for function in public:
        assert ">>>" in (function.__doc__ or ""), function.__qualname__


def api_section_code() -> str:
    text = README.read_text()
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the README's API section has no Python code"
    return "\n".join(blocks)


def test_readme_api_section_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "readme_api.py"
    script.write_text(api_section_code())
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "parquet_smoke.all_types" in out
    assert "decimal(10,2)" in out
    assert "[(1, 'hello', Decimal('1234.56')), (2, None, None)]" in out
    assert "'parquet_smoke.group_a': 2" in out


def test_readme_documents_every_flag() -> None:
    from br_parquet.cli import build_inspect_parser, build_parser

    text = README.read_text()
    for parser in (build_parser(), build_inspect_parser()):
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in text, f"{flag} is not in the README"


def test_readme_help_block_is_the_current_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `--help` block is what the command prints (at 100 columns), so a new
    flag cannot go undocumented there."""
    monkeypatch.setenv("COLUMNS", "100")
    text = README.read_text(encoding="utf-8")
    start = text.index("```text\nusage: br-parquet-export") + len("```text\n")
    block = text[start : text.index("\n```", start)]
    assert block == build_parser().format_help().rstrip("\n")

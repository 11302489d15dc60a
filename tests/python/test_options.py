"""One options type: the command line and the API derive their settings, defaults and
checks from `ExportOptions`."""

from __future__ import annotations

import dataclasses
import inspect
import os
import pickle
from pathlib import Path

import pytest

import br_parquet
from br_parquet.cli import build_parser, main, options_from_args
from br_parquet.options import ExportOptions, flag_fields


def test_cli_defaults_are_the_options_defaults() -> None:
    parser = build_parser()
    args = parser.parse_args(["--input", "/a", "--output", "/b"])
    assert options_from_args(args, parser) == ExportOptions()
    assert ExportOptions().sst_concurrency == (os.cpu_count() or 1)


def test_every_setting_is_a_flag_and_a_keyword_argument() -> None:
    settings = [f.name for f in dataclasses.fields(ExportOptions)]
    flagged = [name for name, _, _ in flag_fields()]
    assert flagged == [s for s in settings if s != "crypter"]  # crypter: --crypter.* flags
    help_text = build_parser().format_help()
    for name, flag, _ in flag_fields():
        assert (flag.name or "--" + name.replace("_", "-")) in help_text
    for api in (br_parquet.export, br_parquet.Backup.export):
        params = inspect.signature(api).parameters
        assert [p for p in params if p in settings] == settings
        for f in dataclasses.fields(ExportOptions):
            default = params[f.name].default
            if f.default is not dataclasses.MISSING:
                assert default == f.default, f.name


def test_cli_flags_reach_the_options(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.write_text("db.*\n")
    parser = build_parser()
    args = parser.parse_args(
        [
            "--input", "/a", "--output", "/b",
            "--filter", "a.*", "--filter", f"@{rules}", "--table-ids", "3,1",
            "--row-group-size", "7", "--compression", "zstd", "--type-mapping", "typed",
            "--sst-concurrency", "3", "--use-checkpoint=false", "--checkpoint-verify", "size",
            "--write-iceberg-manifest", "--iceberg-warehouse", "w", "--iceberg-namespace", "n",
            "--iceberg-table", "t", "--iceberg-manifest-prefix", "m",
            "--crypter.method", "aes128-ctr", "--crypter.key", "11" * 16,
        ]
    )  # fmt: skip
    options = options_from_args(args, parser)
    assert options == ExportOptions(
        filters=("a.*", f"@{rules}"),
        table_ids=(3, 1),
        row_group_size=7,
        compression="zstd",
        type_mapping="typed",
        sst_concurrency=3,
        use_checkpoint=False,
        checkpoint_verify="size",
        write_iceberg_manifest=True,
        iceberg_warehouse="w",
        iceberg_namespace="n",
        iceberg_table="t",
        iceberg_manifest_prefix="m",
        crypter=br_parquet.cipher_from_options("aes128-ctr", key="11" * 16),
    )
    assert pickle.loads(pickle.dumps(options)) == options
    assert "11" * 16 not in repr(options)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--iceberg-table", "t"], "--iceberg-table need --write-iceberg-manifest"),
        (["--write-iceberg-manifest"], "--write-iceberg-manifest needs --iceberg-warehouse"),
        (["--row-group-size", "0"], "expected a positive integer, got 0"),
        (["--table-ids", "1,x"], "expected comma-separated integer table IDs"),
        (["--use-checkpoint", "maybe"], "expected true or false"),
        (["--compression", "lzo"], "invalid choice: 'lzo'"),
    ],
)
def test_bad_settings_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--input", "/a", "--output", "/b", *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type_mapping": "bogus"}, "type mapping must be one of compat, typed"),
        ({"sst_concurrency": 0}, "sst concurrency must be at least 1"),
        ({"compression": "lzo"}, "unknown compression 'lzo'"),
        ({"checkpoint_verify": "md5"}, "checkpoint verification must be one of sha256, size"),
        ({"filters": [1]}, "filters must be strings"),
        ({"table_ids": ["1"]}, "table_ids must be integers"),
        ({"crypter": "aes"}, "crypter must be a br_parquet.Cipher"),
        ({"output_prefix": "lake/_tmp"}, "folder starting with '_'"),
        ({"output_prefix": ".hidden"}, "treat as hidden"),
    ],
)
def test_options_validate_on_construction(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExportOptions(**settings)  # type: ignore[arg-type]
    assert ExportOptions(filters=["a.b"]).filters == ("a.b",)

"""Structured logs: one line per stage with its fields, as text or JSON lines, to stderr
or a file; secrets never appear in any output, however they were given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from test_pipeline_encrypted import KEY, encrypt_backup

from br_parquet.cli import main
from br_parquet.storage import Storage
from br_parquet.storage_url import encode_storage_base64, parse_storage_url
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTOKENvalue0123456789"
KEY_HEX = KEY.hex()


def backup(root: Path, meta_version: Literal[1, 2] = 2) -> Path:
    rows = [(i, f"v{i}") for i in range(30)]
    spec = table("t", [("id", "int primary key"), ("s", "varchar(8)")], rows=rows)
    spec.split_at = [10, 20]
    write_backup(root, BackupSpec([DatabaseSpec("db", [spec])], meta_version=meta_version))
    return root


def test_json_lines_carry_every_stage_with_its_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = backup(tmp_path / "b")
    code = main(
        ["--input", str(root), "--output", str(tmp_path / "o"), "--log-format", "json",
         "--log-level", "debug", "--summary-json", str(tmp_path / "summary.json")]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]  # nothing else on stderr
    assert lines and all({"ts", "level", "msg", "stage"} <= set(line) for line in lines)
    by_stage: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        by_stage.setdefault(str(line["stage"]), []).append(line)
    assert {"plan", "checkpoint_load", "download", "convert", "upload", "checkpoint"} <= set(
        by_stage
    )
    downloaded = [d for d in by_stage["download"] if d["msg"] == "downloaded"]
    assert len(downloaded) == 3
    assert all({"sst", "bytes", "seconds"} <= set(d) for d in downloaded)
    assert sum(int(str(c["rows"])) for c in by_stage["convert"]) == 30
    assert {u["table"] for u in by_stage["upload"]} == {"db.t"}
    [finish] = by_stage["finish"]
    assert finish["rows"] == 30 and finish["objects"] == 3


def test_text_logs_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = backup(tmp_path / "b")
    log_file = tmp_path / "run.log"
    code = main(
        ["--input", str(root), "--output", str(tmp_path / "o"), "--log-file", str(log_file)]
    )
    assert code == 0
    assert "converted" not in capsys.readouterr().err
    text = log_file.read_text()
    assert " INFO converted sst=" in text and "rows=10" in text
    assert " INFO uploaded sst=" in text and "table=db.t" in text


@pytest.mark.s3
def test_secrets_never_appear(
    tmp_path: Path, s3_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """S3 keys and a session token, given by URL and by base64, and a crypter key given
    on the command line and in a key file: in no log line, error, summary or metric."""
    root = backup(tmp_path / "b")
    url = s3_url + f"&session-token={SESSION_TOKEN}"
    storage = Storage.from_url(url)
    for p in sorted(root.rglob("*")):
        if p.is_file():
            storage.put_file(str(p.relative_to(root)), p)
    secrets = [parse_storage_url(url).s3.secret_access_key, SESSION_TOKEN]
    base, query = url.split("?", 1)
    out_b64 = encode_storage_base64(parse_storage_url(f"{base.rsplit('/', 2)[0]}/out?{query}"))
    summary = tmp_path / "summary.json"
    metrics = tmp_path / "metrics.prom"
    common = [
        "--log-level",
        "debug",
        "--summary-json",
        str(summary),
        "--metrics-file",
        str(metrics),
    ]
    assert main(["--input", url, "--output-storage-base64", out_b64, *common]) == 0
    # A failing run (the output prefix is taken by another configuration) prints an error.
    assert (
        main(["--input", url, "--output-storage-base64", out_b64, "--compression", "zstd", *common])
        == 2
    )
    # An encrypted local backup with the key in a key file, then on the command line.
    encrypted = backup(tmp_path / "enc", meta_version=1)
    encrypt_backup(encrypted)
    key_file = tmp_path / "key"
    key_file.write_text(KEY_HEX)
    crypter = ["--crypter.method", "aes256-ctr", "--crypter.key-file", str(key_file)]
    assert (
        main(["--input", str(encrypted), "--output", str(tmp_path / "eo"), *common, *crypter]) == 0
    )
    wrong = ["--crypter.method", "aes256-ctr", "--crypter.key", KEY_HEX[:-2] + "00"]
    assert main(["--input", str(encrypted), "--output", str(tmp_path / "e2"), *common, *wrong]) == 2
    secrets += [KEY_HEX, KEY_HEX[:-2] + "00"]
    captured = capsys.readouterr()
    outputs = [captured.out, captured.err, summary.read_text(), metrics.read_text()]
    for secret in secrets:
        for text in outputs:
            assert secret not in text
    assert "error" in captured.err


def test_every_kind_of_credential_is_masked(tmp_path: Path) -> None:
    from br_parquet.crypto import cipher_from_options
    from br_parquet.secrets import Redactor, backend_secrets, cipher_secrets

    pem = (
        "-----BEGIN PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "-----END PRIVATE KEY-----",
    )
    private_key = "\n".join(pem) + "\n"
    blob = json.dumps(
        {"type": "service_account", "private_key": private_key, "client_email": "a@b"}
    )
    creds = tmp_path / "gcs.json"
    creds.write_text(blob)
    gcs = parse_storage_url(f"gcs://bucket/p?credentials-file={creds}")
    azure = parse_storage_url("azure://c/p?account-name=acct&account-key=QUJDREVGR0hJSktMTU5PUA==")
    s3 = parse_storage_url(
        "s3://b/p?access-key=AKIAEXAMPLE&secret-access-key=wJalrXUtnFEMI%2FK7MDENG"
    )
    cipher = cipher_from_options("aes128-ctr", key="ab" * 16)
    redact = Redactor(
        backend_secrets(gcs) | backend_secrets(azure) | backend_secrets(s3) | cipher_secrets(cipher)
    )
    line = (
        f"blob={blob} pem_line={pem[1]} email=a@b access=AKIAEXAMPLE "
        "key=QUJDREVGR0hJSktMTU5PUA== escaped=QUJDREVGR0hJSktMTU5PUA%3D%3D "
        f"s3=wJalrXUtnFEMI/K7MDENG url=wJalrXUtnFEMI%2FK7MDENG crypter={'ab' * 16}"
    )
    masked = redact(line)
    for secret in (
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "QUJDREVGR0hJSktMTU5PUA",
        "wJalrXUtnFEMI",
        "ab" * 16,
    ):
        assert secret not in masked
    assert "email=a@b" in masked and "AKIAEXAMPLE" in masked  # not secret, kept readable

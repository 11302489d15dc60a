"""`--executor dask`: the SST tasks on the worker processes of a real Dask cluster on
loopback give the same objects, rows, checkpoint, metrics and summary as the local
executor; a killed worker, a failing store, an interruption and a resume under the other
executor leave the output exact; no secret leaves the driver unless told to."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

from distributed import Client, LocalCluster  # noqa: E402
from faultproxy import FaultPlan, FaultProxy  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from test_pipeline_encrypted import KEY, encrypt_backup  # noqa: E402
from test_target_file_size import write_test_backup  # noqa: E402

import br_parquet  # noqa: E402
from br_parquet.crashpoints import DELAY_ENV, GATE_ENV  # noqa: E402
from br_parquet.crypto import Cipher, parse_method  # noqa: E402
from br_parquet.executor import Failed, call_task, for_remote, retryable  # noqa: E402
from br_parquet.job import prepare  # noqa: E402
from br_parquet.options import ExportOptions  # noqa: E402
from br_parquet.storage import Storage  # noqa: E402
from br_parquet.storage_url import parse_location  # noqa: E402
from br_parquet.testing import BackupSpec, DatabaseSpec, write_backup  # noqa: E402
from br_parquet.testing.chain import sample_chain, write_chain  # noqa: E402
from br_parquet.testing.smoke import all_types, groups  # noqa: E402

CLI = [sys.executable, "-m", "br_parquet.cli"]
PREFIX = "parquet"
SECRET = "dask-test-secret-key-0123456789"
CRYPTER_KEY = b"crypter-key-0123"


def _cluster(**env: str) -> LocalCluster:
    return LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # a free port on the loopback host
        env=env,
    )


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a cluster of two worker processes on loopback."""
    with _cluster() as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def backups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dask-backups")
    smoke = root / "smoke"
    write_backup(
        smoke,
        BackupSpec(
            [DatabaseSpec("parquet_smoke", [*groups(), all_types()])],
            shared_regions=[["parquet_smoke.group_a", "parquet_smoke.group_b"]],
        ),
    )
    big = root / "big"
    write_test_backup(big)  # 66 SSTs over four tables
    return {"smoke": smoke, "big": big}


def cli(
    backup: Path | str, out: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *CLI,
            "--input",
            str(backup),
            "--output",
            str(out),
            "--output-prefix",
            PREFIX,
            "--no-progress",
            *flags,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def files(out: Path) -> dict[str, str]:
    """Every object under the prefix but the checkpoint: name → SHA-256."""
    root = out / PREFIX
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "_checkpoint" not in p.parts
    }


def entries(out: Path) -> dict[str, str]:
    """{object: SHA-256} of every object the checkpoint records as finished, in index
    objects and entry documents alike (read as JSON, not through the loader)."""
    found: dict[str, str] = {}
    checkpoint = out / PREFIX / "_checkpoint"
    for path in sorted(checkpoint.glob("index/*.json")) + sorted(
        checkpoint.rglob("entries/**/*.json")
    ):
        document = json.loads(path.read_text())
        for obj in document.get("objects", [document.get("object")]):
            if obj is not None:
                found[obj["path"]] = obj["sha256"]
    return found


def counted_metrics(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of a metrics textfile that count (no durations)."""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            if s.name.endswith(("_sum", "_bucket")):  # durations
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def summary_counts(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    stages = {name: stage["count"] for name, stage in data["stages"].items()}
    return {
        "status": data["status"],
        "plan": data["plan"],
        "end": data["end"],
        "delta": data["delta"],
        "tables": data["tables"],
        "stages": stages,
    }


@pytest.fixture(scope="module")
def reference(
    backups: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each backup exported by the local executor."""
    out = {}
    for name, backup in backups.items():
        target = tmp_path_factory.mktemp(f"local-{name}")
        done = cli(
            backup,
            target,
            "--metrics-file",
            str(target / "metrics.prom"),
            "--summary-json",
            str(target / "summary.json"),
        )
        assert done.returncode == 0, done.stderr
        out[name] = target
    return out


@pytest.mark.parametrize("name", ["smoke", "big"])
def test_a_dask_cluster_gives_the_local_executors_output(
    name: str,
    scheduler: str,
    backups: dict[str, Path],
    reference: dict[str, Path],
    tmp_path: Path,
) -> None:
    done = cli(
        backups[name],
        tmp_path,
        "--executor",
        "dask",
        "--scheduler",
        scheduler,
        "--metrics-file",
        str(tmp_path / "metrics.prom"),
        "--summary-json",
        str(tmp_path / "summary.json"),
    )
    assert done.returncode == 0, done.stderr
    local = reference[name]
    assert files(tmp_path) == files(local)
    assert entries(tmp_path) == entries(local)
    assert counted_metrics(tmp_path / "metrics.prom") == counted_metrics(local / "metrics.prom")
    assert summary_counts(tmp_path / "summary.json") == summary_counts(local / "summary.json")
    if name == "big":
        assert summary_counts(tmp_path / "summary.json")["plan"]["ssts"] >= 50


@pytest.mark.parametrize("kind", ["grouped files", "chain"])
def test_table_and_chain_tasks_run_on_a_cluster_too(
    kind: str, scheduler: str, backups: dict[str, Path], tmp_path: Path
) -> None:
    if kind == "chain":
        write_chain(tmp_path / "chain", sample_chain())
        inputs = [str(p) for p in sorted((tmp_path / "chain").iterdir())]
        flags = ["--emit-deletes", "--with-commit-ts"]
        first, *rest = inputs
        flags += [a for p in rest for a in ("--input", p)]
    else:
        first, flags = str(backups["big"]), ["--target-file-size", "96KiB"]
    local = cli(first, tmp_path / "local", *flags)
    assert local.returncode == 0, local.stderr
    dask = cli(first, tmp_path / "dask", *flags, "--executor", "dask", "--scheduler", scheduler)
    assert dask.returncode == 0, dask.stderr
    assert files(tmp_path / "dask") == files(tmp_path / "local")
    assert len(files(tmp_path / "local")) >= 3
    assert entries(tmp_path / "dask") == entries(tmp_path / "local")


def test_the_api_runs_on_a_cluster_it_starts(
    backups: dict[str, Path], reference: dict[str, Path], tmp_path: Path
) -> None:
    result = br_parquet.export(
        str(backups["smoke"]),
        str(tmp_path),
        output_prefix=PREFIX,
        executor="dask",
        sst_concurrency=2,
    )
    assert files(tmp_path) == files(reference["smoke"])
    assert sorted(o.path for o in result.objects) == sorted(files(tmp_path))


def test_a_worker_killed_mid_run_leaves_the_output_exact(
    backups: dict[str, Path], reference: dict[str, Path], tmp_path: Path
) -> None:
    with _cluster(**{DELAY_ENV: "100"}) as cluster, Client(cluster) as client:
        pids: dict[str, int] = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        errors: list[BaseException] = []

        def run() -> None:
            try:
                br_parquet.export(
                    str(backups["big"]),
                    str(tmp_path),
                    output_prefix=PREFIX,
                    executor="dask",
                    scheduler=cluster.scheduler_address,
                )
            except BaseException as e:
                errors.append(e)

        exporter = threading.Thread(target=run)
        exporter.start()
        checkpoint = tmp_path / PREFIX / "_checkpoint" / "entries"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(checkpoint.rglob("*.json"))) < 10:
            time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)
        exporter.join(300)
        assert not exporter.is_alive()
        assert not errors, errors
        after = set(client.run(os.getpid).values())
    assert victim not in after  # the worker did die mid-run; its nanny started another
    assert files(tmp_path) == files(reference["big"])
    assert entries(tmp_path) == entries(reference["big"])


@pytest.mark.parametrize("first, then", [("dask", "local"), ("local", "dask")])
def test_interrupted_under_one_executor_resumed_under_the_other(
    first: str,
    then: str,
    scheduler: str,
    backups: dict[str, Path],
    reference: dict[str, Path],
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    out = tmp_path / "out"
    flags = {"dask": ["--executor", "dask", "--scheduler", scheduler], "local": []}
    # The first run's tasks wait at the gate (a cluster's are held in its workers, whose
    # environment is this one's: the first run starts its own local cluster).
    first_flags = (
        ["--executor", "dask", "--sst-concurrency", "2"]
        if first == "dask"
        else ["--sst-concurrency", "2"]
    )
    proc = subprocess.Popen(
        [
            *CLI,
            "--input",
            str(backups["big"]),
            "--output",
            str(out),
            "--output-prefix",
            PREFIX,
            "--no-progress",
            *first_flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, GATE_ENV: str(gate)},
    )
    try:
        for n in range(1, 9):  # eight tasks go through (four in each worker process)
            (gate / str(n)).touch()
        recorded = out / PREFIX / "_checkpoint" / "entries"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(recorded.rglob("*.json"))) < 8:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        for n in range(9, 200):  # let the tasks in flight finish
            (gate / str(n)).touch()
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    partial = len(entries(out))
    assert 8 <= partial < len(entries(reference["big"]))
    resumed = cli(backups["big"], out, *flags[then])
    assert resumed.returncode == 0, resumed.stderr
    assert f"{partial} reused" in resumed.stdout + resumed.stderr
    assert files(out) == files(reference["big"])
    assert entries(out) == entries(reference["big"])


def _upload_tree(storage: Storage, root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            storage.put_file(str(path.relative_to(root)), path)


def test_failing_store_requests_are_retried_by_dask_and_not_without_it(
    scheduler: str,
    s3_endpoint: str,
    s3_bucket: str,
    s3_credentials: tuple[str, str],
    backups: dict[str, Path],
    reference: dict[str, Path],
    tmp_path: Path,
) -> None:
    access, secret = s3_credentials
    host, port = s3_endpoint.removeprefix("http://").split(":")
    with FaultProxy(
        (host, int(port)), FaultPlan("status503", every=5, methods=frozenset({"GET"}))
    ) as proxy:
        url = (
            f"s3://{s3_bucket}/smoke?endpoint={proxy.endpoint}&force-path-style=true"
            f"&access-key={access}&secret-access-key={secret}&region=us-east-1"
        )
        _upload_tree(Storage.from_url(url), backups["smoke"])
        no_retries = ["--storage-max-retries", "0"]
        local = cli(url, tmp_path / "local", *no_retries)
        assert local.returncode == 4, local.stderr  # one failed request fails the run
        failures = proxy.injected["status503"]
        done = cli(
            url,
            tmp_path / "dask",
            *no_retries,
            "--executor",
            "dask",
            "--scheduler",
            scheduler,
            "--executor-send-keys",
            "--task-retries",
            "6",
        )
        assert done.returncode == 0, done.stderr
        assert proxy.injected["status503"] > failures  # tasks did fail, and ran again
    assert files(tmp_path / "dask") == files(reference["smoke"])


def test_bad_input_fails_once_naming_its_sst(
    scheduler: str, backups: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "backup"
    write_backup(broken, BackupSpec([DatabaseSpec("parquet_smoke", groups())]))
    sst = sorted(broken.rglob("*_write.sst"))[0]
    data = bytearray(sst.read_bytes())
    data[len(data) // 3] ^= 0xFF
    sst.write_bytes(bytes(data))
    done = cli(broken, tmp_path / "out", "--executor", "dask", "--scheduler", scheduler)
    assert done.returncode == 3, done.stderr
    assert sst.name in done.stderr
    assert "Traceback" not in done.stderr
    assert not entries(tmp_path / "out") or sst.stem not in " ".join(entries(tmp_path / "out"))


def test_no_secret_leaves_the_driver_unless_told(backups: dict[str, Path], tmp_path: Path) -> None:
    url = (
        f"s3://bucket/out?endpoint=http://127.0.0.1:1&access-key=AKIDDASKTEST"
        f"&secret-access-key={SECRET}&session-token={SECRET}-token"
    )
    options = ExportOptions(
        executor="dask",
        crypter=Cipher(parse_method("aes128-ctr"), CRYPTER_KEY),
        catalog=f"postgresql://u:{SECRET}-pw@127.0.0.1:1/db",
        catalog_properties={"token": f"{SECRET}-catalog"},
    )
    source = parse_location(str(backups["smoke"]))
    output = parse_location(url)
    task = prepare(source, parse_location(str(tmp_path)), ExportOptions()).tasks[0]
    task = dataclasses.replace(task, output=output, options=options)
    sent = pickle.dumps(for_remote(task, send_keys=False))
    assert CRYPTER_KEY not in sent
    assert b"AKIDDASKTEST" not in sent
    kept = pickle.dumps(for_remote(task, send_keys=True))
    assert SECRET.encode() in kept and CRYPTER_KEY in kept
    assert f"{SECRET}-pw".encode() not in kept and f"{SECRET}-catalog".encode() not in kept


def test_an_encrypted_backup_needs_executor_send_keys(
    scheduler: str, backups: dict[str, Path], reference: dict[str, Path], tmp_path: Path
) -> None:
    encrypted = tmp_path / "backup"
    shutil.copytree(backups["smoke"], encrypted)
    encrypt_backup(encrypted, key=KEY)
    key = ["--crypter.method", "aes256-ctr", "--crypter.key", KEY.hex()]
    dask = ["--executor", "dask", "--scheduler", scheduler]
    refused = cli(encrypted, tmp_path / "refused", *dask, *key)
    assert refused.returncode == 2, refused.stderr
    assert "--executor-send-keys" in refused.stderr
    assert not files(tmp_path / "refused")
    done = cli(encrypted, tmp_path / "sent", *dask, *key, "--executor-send-keys")
    assert done.returncode == 0, done.stderr
    assert files(tmp_path / "sent") == files(reference["smoke"])


def test_retries_are_for_what_may_pass() -> None:
    from br_parquet.errors import ChecksumMismatchError, StorageError, VerificationError

    assert retryable(StorageError("503 from the store"))
    assert retryable(ConnectionResetError())
    assert not retryable(ChecksumMismatchError("a.sst", expected=b"\0", actual=b"\1"))
    assert not retryable(VerificationError("a.sst", "db.t", "rows", expected="1", actual="2"))

    def fails(task: int, workdir: str | None) -> int:
        raise VerificationError("a.sst", "db.t", "rows", expected="1", actual=str(task))

    outcome = call_task(fails, 2)
    assert isinstance(outcome, Failed) and isinstance(outcome.error, VerificationError)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--scheduler", "tcp://127.0.0.1:1"], "executor 'dask'"),
        (["--executor-send-keys"], "executor 'dask'"),
        (
            ["--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--worker-threads", "2"],
            "dask worker",
        ),
        (["--executor", "ray"], "invalid choice"),
    ],
)
def test_bad_executor_flags_are_usage_errors(
    flags: list[str], message: str, backups: dict[str, Path], tmp_path: Path
) -> None:
    done = cli(backups["smoke"], tmp_path, *flags)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_an_unreachable_scheduler_is_a_clear_error(
    backups: dict[str, Path], tmp_path: Path
) -> None:
    done = cli(
        backups["smoke"],
        tmp_path,
        "--executor",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:1",
        env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
    )
    assert done.returncode == 4, done.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_extra_the_flag_says_what_to_install(
    backups: dict[str, Path], tmp_path: Path
) -> None:
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from br_parquet.cli import main\n"
        f"sys.exit(main(['--input', {str(backups['smoke'])!r}, '--output', "
        f"{str(tmp_path)!r}, '--no-progress', '--executor', 'dask']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "pip install 'br-parquet[dask]'" in done.stderr


def test_the_local_executor_never_imports_dask(backups: dict[str, Path], tmp_path: Path) -> None:
    code = (
        "import sys, br_parquet\n"
        f"br_parquet.export({str(backups['smoke'])!r}, {str(tmp_path)!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"

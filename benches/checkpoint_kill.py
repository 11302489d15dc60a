"""Crash-and-resume soak test: SIGKILL `br-parquet-export` at random moments, resume, and
compare the final output with an uninterrupted run's (object names, bytes, row multisets).

    python benches/checkpoint_kill.py [--rounds 40] [--regions 120] [--seed 1] [--s3]

Each round starts from an empty output, kills the exporter 1 to 3 times in a row at random
crash points (`br_parquet.crashpoints`: before/after an upload or entry write, or from
another thread a few milliseconds into one) with a random `--sst-concurrency`, then
resumes to the end. `--s3` writes to a moto S3 server started on loopback instead of
local disk. Prints per-round results and totals; exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from br_parquet.crashpoints import ENV as KILL_ENV
from br_parquet.crashpoints import EVENTS
from br_parquet.storage import Storage
from br_parquet.testing import BackupSpec, DatabaseSpec, table, write_backup

CLI = [sys.executable, "-m", "br_parquet.cli"]
PREFIX = "parquet"
CHECKPOINT = f"{PREFIX}/_checkpoint/"
Snapshot = dict[str, tuple[str, Counter[tuple[Any, ...]]]]


def build_backup(root: Path, regions: int) -> int:
    """A backup of about `regions` SST tasks: one wide table split every 20 rows (some
    values long enough for default-CF files), two tables sharing a region, and a region
    of delete records only. Returns the number of SST files."""
    rows = 20 * regions
    wide = [(i, f"name-{i}", "n" * 300 if i % 7 == 0 else "short") for i in range(1, rows + 1)]
    info = write_backup(
        root,
        BackupSpec(
            [
                DatabaseSpec(
                    "soak",
                    [
                        table(
                            "wide",
                            [("id", "int primary key"), ("name", "varchar(40)"), ("note", "text")],
                            rows=wide,
                            split_at=list(range(21, rows + 1, 20)),
                        ),
                        table("g1", [("id", "int primary key")], rows=[(1,), (2,)]),
                        table("g2", [("id", "int primary key")], rows=[(3,)]),
                        table(
                            "d",
                            [("id", "int primary key")],
                            rows=[(1,)],
                            split_at=[1000],
                            deleted=list(range(1000, 1010)),
                        ),
                    ],
                )
            ],
            shared_regions=[["soak.g1", "soak.g2"]],
            start_version=445063339262394000,
        ),
    )
    return len(info.data_files)


def export(
    backup: Path, output: str, concurrency: int, kill: str | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
    # A killed exporter cannot remove its work directory: keep those inside the bench's.
    env["TMPDIR"] = str(backup.parent / "tmp")
    if kill:
        env[KILL_ENV] = kill
    return subprocess.run(
        [
            *CLI,
            "--input",
            str(backup),
            "--output",
            output,
            "--output-prefix",
            PREFIX,
            "--sst-concurrency",
            str(concurrency),
            "--log-level",
            "warning",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def snapshot(storage: Storage, local_root: Path | None) -> tuple[Snapshot, list[str]]:
    """The output without the checkpoint, and stray local files (staging leftovers)."""
    found: Snapshot = {}
    for info in storage.list(PREFIX + "/"):
        if info.name.startswith(CHECKPOINT):
            continue
        data = storage.get_bytes(info.name)
        rows = pq.read_table(pa.BufferReader(data)).to_pylist()
        found[info.name] = (
            hashlib.sha256(data).hexdigest(),
            Counter(tuple(r.values()) for r in rows),
        )
    stray: list[str] = []
    if local_root is not None:
        for path in local_root.rglob("*"):
            name = path.relative_to(local_root).as_posix()
            if path.is_file() and name not in found and not name.startswith(CHECKPOINT):
                stray.append(name)
    return found, stray


def staging_files(local_root: Path | None) -> int:
    if local_root is None or not local_root.exists():
        return 0
    return sum(1 for p in local_root.rglob("*#*") if p.is_file())


def random_kill(rng: random.Random, total: int) -> str:
    event = rng.choice(EVENTS)
    nth = rng.randint(1, total)
    if rng.random() < 0.4:
        return f"during-{event}:{nth}:{rng.randint(0, 5)}"
    return f"at-{event}:{nth}"


@contextmanager
def moto_server() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint + "/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_output(endpoint: str, name: str) -> str:
    bucket = f"soak-{name}"
    request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    urllib.request.urlopen(request, timeout=10).close()
    return (
        f"s3://{bucket}/out?endpoint={endpoint}&force-path-style=true"
        "&access-key=k&secret-access-key=s&region=us-east-1"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--regions", type=int, default=120, help="SST tasks of the wide table")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--s3", action="store_true", help="write to a local moto S3 server")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="br-parquet-soak-"))
    try:
        backup = work / "backup"
        (work / "tmp").mkdir()
        files = build_backup(backup, args.regions)
        base_root = work / "baseline"
        started = time.monotonic()
        result = export(backup, str(base_root), 2, None)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        baseline, _ = snapshot(Storage.from_url(str(base_root)), base_root)
        print(
            f"backup: {files} SST files, baseline {len(baseline)} objects "
            f"in {time.monotonic() - started:.2f}s"
        )
        with moto_server() if args.s3 else _no_server() as endpoint:
            return _rounds(args, rng, work, backup, baseline, endpoint)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _no_server() -> Iterator[str]:
    yield ""


def _rounds(
    args: argparse.Namespace,
    rng: random.Random,
    work: Path,
    backup: Path,
    baseline: Snapshot,
    endpoint: str,
) -> int:
    total = len(baseline)
    failures = kills = staged = reused_total = 0
    started = time.monotonic()
    for round_no in range(args.rounds):
        local_root: Path | None = None
        if endpoint:
            output = s3_output(endpoint, f"r{round_no}")
            storage = Storage.from_url(output)
        else:
            local_root = work / f"round{round_no}"
            output = str(local_root)
            storage = Storage.from_url(output)
        concurrency = rng.randint(1, 4)
        points: list[str] = []
        for _ in range(rng.randint(1, 3)):
            # Aim within what is left to do, so that later kills still land.
            recorded = sum(
                1 for o in storage.list(CHECKPOINT + "entries/") if o.name.endswith(".parquet.json")
            )
            point = random_kill(rng, max(1, total - recorded))
            result = export(backup, output, concurrency, point)
            points.append(point)
            if result.returncode == -signal.SIGKILL:
                kills += 1
                staged += staging_files(local_root)
            elif result.returncode != 0:
                print(f"round {round_no}: exit {result.returncode}\n{result.stderr}")
                failures += 1
        result = export(backup, output, concurrency, None)
        line = next((ln for ln in result.stdout.splitlines() if "reused" in ln), "?")
        found, stray = snapshot(storage, local_root)
        ok = result.returncode == 0 and found == baseline and not stray
        reused = int(line.split("objects: ")[1].split()[0]) if "objects: " in line else 0
        reused_total += reused
        print(
            f"round {round_no:3d} c={concurrency} kills={','.join(points):60s} "
            f"{'ok ' if ok else 'BAD'} {line.strip()}"
        )
        if not ok:
            failures += 1
            missing = sorted(set(baseline) - set(found))[:5]
            extra = sorted(set(found) - set(baseline))[:5]
            print(f"  missing {missing} extra {extra} stray {stray[:5]}\n{result.stderr[-2000:]}")
        if local_root is not None:
            shutil.rmtree(local_root, ignore_errors=True)
    print(
        f"{args.rounds} rounds, {kills} kills, {staged} staging files seen after kills, "
        f"{reused_total / max(args.rounds, 1):.1f} objects reused per resume of {total}, "
        f"{failures} failures, {time.monotonic() - started:.1f}s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of planning and of planning a resume, for backups of 10^5 and 10^6 data files.

    python benches/plan_resume.py [--files 100000] [--big-files 1000000] [--tables 100]

1. Writes a BR v2 backupmeta (child meta files as BR splits them, at 128 MiB) listing
   `--files` write-CF data files of `--tables` tables; the SSTs themselves do not exist,
   planning never reads them.
2. Starts a moto S3 server on loopback (in this process) and puts there, under prefix
   `parquet`, one small object per planned Parquet object and the checkpoint of a
   finished export: `meta.json` and index objects holding one entry per object, written
   by `br_parquet.checkpoint`'s own compactor (the objects go straight into moto's store,
   with the ETags it gives them).
3. Runs, each in a fresh subprocess (so that neither the generator nor the server counts),
   `br_parquet.job.prepare` with `dry_run=True` (everything up to the first download):
   - `plan`: the export to an empty prefix of the bucket;
   - `resume`: the export to `parquet`: checkpoint loaded, every object checked by the
     listing (size and ETag), every task reused;
   - `list`: only the listing that `resume` does (each table's folder, 8 at a time), for
     reference: moto takes most of the resume's time there, as it scans and sorts the
     whole bucket for each page of 1000 keys (S3 does not);
   - `resume-local`: the same resume with the objects and checkpoint on local disk;
   - `plan-1e6`: `load_backupmeta`, table selection and `plan_tasks` of a backupmeta of
     `--big-files` data files on local disk (meta only);
   - `prepare-1e6`: the whole `prepare` of that backup, to an empty local output.
   and prints, per step, the wall time, the CPU time, the subprocess's peak RSS
   (`VmHWM`) and what it found; then the `benchmark:` lines. A subprocess's RSS includes
   the interpreter and its imports (printed as `baseline`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from br_parquet.proto import brpb_pb2 as brpb

MIB = 1 << 20
META_FILE_BYTES = 128 * MIB  # BR starts a new child meta file past this size
BUCKET = "plan-resume"
PREFIX = "parquet"
END_VERSION = 445063339262394369
_SIGN = 1 << 63


def peak_rss() -> int:
    """This process's peak resident set size in bytes: `VmHWM`, which starts anew at
    `exec` (`ru_maxrss` would carry over the parent's peak from `fork`)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def record_key(table_id: int, handle: int) -> bytes:
    return (
        b"t"
        + struct.pack(">Q", table_id ^ _SIGN)
        + b"_r"
        + struct.pack(">Q", (handle & ((1 << 64) - 1)) ^ _SIGN)
    )


def write_backupmeta(root: Path, files: int, tables: int) -> None:
    """A v2 backupmeta of `files` write-CF data files spread over `tables` tables, with
    names, checksums and sizes of the shape BR writes."""
    from br_parquet.testing import db_info, table_info

    root.mkdir(parents=True, exist_ok=True)
    meta = brpb.BackupMeta(
        cluster_id=1,
        cluster_version='"7.5.0"\n',
        br_version="BR v7.5.0",
        end_version=END_VERSION,
        version=1,
        new_collations_enabled="True",
    )
    counter = 0

    def child(kind: str, body: brpb.MetaFile, index: brpb.MetaFile) -> None:
        nonlocal counter
        counter += 1
        name = f"backupmeta.{kind}.{counter:09d}"
        plain = body.SerializeToString()
        (root / name).write_bytes(plain)
        index.meta_files.add(name=name, sha256=hashlib.sha256(plain).digest(), size=len(plain))

    per_table = -(-files // tables)
    body, size = brpb.MetaFile(), 0
    for i in range(files):
        t, k = divmod(i, per_table)
        start, end = record_key(100 + t, k * 1000), record_key(100 + t, (k + 1) * 1000)
        name = (
            f"{1 + i % 5}/{1000 + i}_7_{hashlib.sha256(start).hexdigest()}_1697781903314_write.sst"
        )
        f = body.data_files.add(
            name=name,
            sha256=hashlib.sha256(name.encode()).digest(),
            start_key=start,
            end_key=end,
            end_version=END_VERSION,
            crc64xor=(i * 0x9E3779B97F4A7C15) & ((1 << 64) - 1),
            total_kvs=1000,
            total_bytes=64000,
            cf="write",
            size=50000,
        )
        size += f.ByteSize() + 4
        if size >= META_FILE_BYTES:
            child("datafile", body, meta.file_index)
            body, size = brpb.MetaFile(), 0
    if len(body.data_files):
        child("datafile", body, meta.file_index)
    db = db_info(2, "bench")
    schemas = [
        brpb.Schema(
            db=db.to_json(),
            table=table_info(
                100 + t, f"t{t}", [("id", "bigint primary key"), ("v", "text")]
            ).to_json(),
        )
        for t in range(tables)
    ]
    child("schema", brpb.MetaFile(schemas=schemas), meta.schema_index)
    (root / "backupmeta").write_bytes(meta.SerializeToString())


# --- the measured steps (in subprocesses) ----------------------------------------------------


def step(name: str, backup: str, output: str) -> dict[str, Any]:
    import br_parquet.job  # noqa: F401  (the imports count in the baseline, not the step)

    baseline = peak_rss()
    started = time.monotonic()
    cpu = time.process_time()
    if name == "list":
        from concurrent.futures import ThreadPoolExecutor

        from br_parquet.naming import table_folder
        from br_parquet.storage import Storage

        storage = Storage.from_url(output)
        folders = [f"{PREFIX}/{table_folder('bench', f't{t}')}/" for t in range(int(backup))]
        with ThreadPoolExecutor(8) as pool:
            listed = sum(map(len, pool.map(storage.list, folders)))
        found: dict[str, Any] = {"listed": listed}
    elif name == "plan-1e6":
        from br_parquet.backupmeta import load_backupmeta
        from br_parquet.plan import plan_tasks
        from br_parquet.storage import Storage
        from br_parquet.table_filter import TableFilter
        from br_parquet.tables import DEFAULT_FILTER, select_tables

        meta = load_backupmeta(Storage.from_url(backup))
        loaded = time.monotonic() - started
        targets = select_tables(meta, TableFilter.parse(DEFAULT_FILTER))
        plan = plan_tasks(meta.data_files, targets)
        found = {"tasks": len(plan.tasks), "load_seconds": round(loaded, 2)}
    else:
        from br_parquet.job import prepare
        from br_parquet.options import ExportOptions
        from br_parquet.storage_url import parse_location

        loaded_log: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: loaded_log.append(record.getMessage())  # type: ignore[method-assign]
        logging.getLogger("br_parquet.checkpoint").addHandler(handler)
        logging.getLogger("br_parquet.checkpoint").setLevel(logging.INFO)
        prefix = PREFIX if name == "resume" else "fresh"
        prepared = prepare(
            parse_location(backup),
            parse_location(output),
            ExportOptions(output_prefix=prefix, dry_run=True),
        )
        result = prepared.result
        found = {
            "tasks": result.tasks,
            "to_do": len(prepared.tasks),
            "reused_objects": len(result.objects),
            "checkpoint": loaded_log[-1] if loaded_log else None,
        }
    return {
        "step": name,
        "seconds": round(time.monotonic() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "peak_rss_mib": round(peak_rss() / MIB, 1),
        "baseline_mib": round(baseline / MIB, 1),
        **found,
    }


def run_step(name: str, backup: str, output: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--step", name, backup, output],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"step {name} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


# --- the S3 side ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill_checkpoint(backup: Path, url: str, local: Path | None = None) -> int:
    """Puts the objects of a finished export of `backup` and its checkpoint into the moto
    store behind `url`, or into directory `local` (`url` is then its URL); returns the
    number of objects."""
    from br_parquet.backupmeta import load_backupmeta
    from br_parquet.checkpoint import BackupIdentity, Checkpoint, CheckpointConfig, Compactor
    from br_parquet.naming import parquet_object_name
    from br_parquet.options import ExportOptions
    from br_parquet.plan import plan_tasks
    from br_parquet.storage import Storage
    from br_parquet.table_filter import TableFilter
    from br_parquet.tables import DEFAULT_FILTER, select_tables
    from br_parquet.written import WrittenObject

    storage = Storage.from_url(str(backup))
    meta = load_backupmeta(storage)
    rules = TableFilter.parse(DEFAULT_FILTER)
    targets = select_tables(meta, rules)
    options = ExportOptions(output_prefix=PREFIX)
    config = CheckpointConfig.for_export(
        meta,
        rules=rules.rules,
        table_ids=(),
        row_group_size=options.row_group_size,
        compression=options.compression,
        type_mapping=options.type_mapping,
    )
    output = Storage.from_url(url)
    checkpoint = Checkpoint.open(output, PREFIX, config, BackupIdentity.of(meta, storage.location))
    assert checkpoint.compactor is not None
    compactor: Compactor = checkpoint.compactor
    if local is None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        store = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    done: list[tuple[WrittenObject, str | None]] = []
    for task in plan_tasks(meta.data_files, targets).tasks:
        table = targets[task.tables[0]]
        path = parquet_object_name(PREFIX, table.db, table.name, task.name)
        content = b"PAR1" + path.encode()
        etag = None
        if local is None:
            etag = store.put_object(BUCKET, path, content).etag
        else:
            (local / path).parent.mkdir(parents=True, exist_ok=True)
            (local / path).write_bytes(content)
        written = WrittenObject(
            path=path,
            db=table.db,
            table=table.name,
            table_id=table.table_id,
            rows=1,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            source_sst=task.name,
            source_default_sst=None,
            task_objects=(path,),
            finished_at="2026-01-01T00:00:00.000Z",
        )
        done.append((written, etag))
    if local is not None:  # the ETags obstore gives the files (inode, mtime, size)
        listed = {o.name: o.e_tag for o in output.list(PREFIX + "/")}
        done = [(w, listed[w.path]) for w, _ in done]
    for written, etag in done:  # as if each entry had been compacted
        compactor.add([replace(written, etag=etag)], stored=False)
    compactor.close()
    return len(done)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--big-files", type=int, default=1_000_000)
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--step", nargs=3, metavar=("NAME", "BACKUP", "OUTPUT"))
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(*args.step)))
        return 0

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="plan-resume-") as work:
        root = Path(work)
        started = time.monotonic()
        write_backupmeta(root / "backup", args.files, args.tables)
        write_backupmeta(root / "big", args.big_files, args.tables)
        print(f"backupmetas written in {time.monotonic() - started:.1f}s", flush=True)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            endpoint = f"http://127.0.0.1:{port}"
            import urllib.request

            request = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
            urllib.request.urlopen(request, timeout=10).close()
            url = (
                f"s3://{BUCKET}/?endpoint={endpoint}&force-path-style=true"
                "&access-key=bench&secret-access-key=bench&region=us-east-1"
            )
            started = time.monotonic()
            objects = fill_checkpoint(root / "backup", url)
            print(
                f"{objects} objects and their checkpoint put on the S3 test server in "
                f"{time.monotonic() - started:.1f}s",
                flush=True,
            )
            results = [
                run_step("plan", str(root / "backup"), url),
                run_step("resume", str(root / "backup"), url),
                run_step("list", str(args.tables), url),
            ]
        finally:
            server.stop()
        # The same resume with the output on local disk: what moto's listing costs aside.
        out = root / "out"
        out.mkdir()
        fill_checkpoint(root / "backup", str(out), local=out)
        local = run_step("resume", str(root / "backup"), str(out))
        results.append({**local, "step": "resume-local"})
        results.append(run_step("plan-1e6", str(root / "big"), ""))
        (root / "out-1e6").mkdir()
        results.append(run_step("prepare-1e6", str(root / "big"), str(root / "out-1e6")))
    for r in results:
        print(json.dumps(r))
    for r in results:
        files = args.big_files if r["step"].endswith("-1e6") else args.files
        print(
            f"{r['step']:>12}: {files:>9,} data files  {r['seconds']:7.2f} s "
            f"(CPU {r['cpu_seconds']:6.2f} s)  peak RSS {r['peak_rss_mib']:7.1f} MiB "
            f"(baseline {r['baseline_mib']:.1f} MiB)"
        )
    print(benchmark_lines({r["step"]: r for r in results}, args.files, args.big_files))
    return 0


def benchmark_lines(steps: dict[str, dict[str, Any]], files: int, big_files: int) -> str:
    """The figures the benchmark is about, one line each."""

    def figures(step: str) -> str:
        r = steps[step]
        return f"{r['seconds']:.2f} s, peak RSS {r['peak_rss_mib']:.1f} MiB"

    listing = steps["list"]["seconds"]
    resume = steps["resume"]["seconds"]
    return "\n".join(
        [
            f"benchmark: plan {files} data files (export to S3, up to the first download): "
            f"{figures('plan')}",
            f"benchmark: resume-plan {files} data files, {files} checkpoint entries on the S3 "
            f"test server (checkpoint loaded, every object checked by listing its table folder): "
            f"{figures('resume')}; of which moto's listing alone {listing:.2f} s, the rest "
            f"{max(0.0, resume - listing):.2f} s",
            f"benchmark: resume-plan {files} data files, {files} checkpoint entries on local "
            f"disk: {figures('resume-local')}",
            f"benchmark: plan {big_files} data files (meta only): {figures('plan-1e6')}",
            f"benchmark: prepare {big_files} data files (the whole dry run): "
            f"{figures('prepare-1e6')}",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())

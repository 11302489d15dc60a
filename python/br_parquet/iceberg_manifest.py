"""The original design's Iceberg JSON manifest (`--write-iceberg-manifest`).

One JSON document per run at
`{warehouse}/{namespace}/{table}/metadata/{manifest_prefix}_{end_version}_0.json`
in the output storage, listing every Parquet file of the export with its
source SST facts (name, column family, raw key range, size, checksums) and the
backup snapshot it belongs to. A file of a group of SSTs (`--target-file-size`) lists
the group (`group`: first and last SST, their count) and each SST's facts (`sources`).
Engines (or a later commit step) register the files from it; it is not an Iceberg
metadata file itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .backupmeta import BackupMeta, tso_time
from .chain import ChainUnit
from .plan import SstTask, TableUnit
from .proto import brpb_pb2 as brpb
from .storage import Storage
from .written import WrittenObject

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ManifestLocation:
    warehouse: str
    namespace: str
    table: str
    manifest_prefix: str = "manifest"

    def path(self, snapshot: int) -> str:
        parts = [self.warehouse, *self.namespace.split("."), self.table, "metadata"]
        folder = "/".join(p.strip("/") for p in parts if p.strip("/"))
        return f"{folder}/{self.manifest_prefix}_{snapshot}_0.json"


def _file_facts(f: brpb.File) -> dict[str, Any]:
    return {
        "name": f.name,
        "cf": f.cf,
        "start_key": bytes(f.start_key).hex(),
        "end_key": bytes(f.end_key).hex(),
        "size": f.size,
        "sha256": bytes(f.sha256).hex(),
        "crc64xor": f.crc64xor,
        "total_kvs": f.total_kvs,
        "total_bytes": f.total_bytes,
    }


def _source_facts(task: SstTask | ChainUnit) -> dict[str, Any]:
    """The source fields of a file: its SST's `File` facts, or for a chain's range the
    range, the sum of its SSTs' sizes and each SST's facts under `sources`."""
    if isinstance(task, SstTask):
        write = _file_facts(task.write)
        return {
            "sst_name": write["name"],
            "cf": write["cf"],
            "start_key": write["start_key"],
            "end_key": write["end_key"],
            "sst_size": write["size"],
            "sst_sha256": write["sha256"],
            "crc64xor": write["crc64xor"],
            "total_kvs": write["total_kvs"],
            "total_bytes": write["total_bytes"],
            "default_cf": _file_facts(task.default) if task.default else None,
        }
    return {
        "sst_name": task.name,
        "cf": "write",
        "start_key": task.clip[0].hex(),
        "end_key": task.clip[1].hex(),
        "sst_size": task.size,
        "sources": [
            {
                "backup": s.backup,
                "write": _file_facts(s.sst.write),
                "default": _file_facts(s.sst.default) if s.sst.default else None,
            }
            for s in task.sources
        ],
    }


def _group_facts(obj: WrittenObject, unit: TableUnit, at: int) -> dict[str, Any]:
    """The source fields of a file of a group of SSTs (the `at`-th of the table's SSTs
    first): the group's range, the sum of its SSTs' sizes, the group and each SST's facts
    under `sources`."""
    group = unit.ssts[at : at + obj.group_ssts]
    first, last = group[0].write, group[-1].write
    return {
        "sst_name": first.name,
        "cf": first.cf,
        "start_key": bytes(first.start_key).hex(),
        "end_key": bytes(last.end_key).hex(),
        "sst_size": sum(t.size for t in group),
        "group": {"first": obj.group_first, "last": obj.group_last, "ssts": obj.group_ssts},
        "sources": [
            {
                "write": _file_facts(t.write),
                "default": _file_facts(t.default) if t.default else None,
            }
            for t in group
        ],
    }


def _group_start(
    obj: WrittenObject, by_table: dict[int, tuple[TableUnit, dict[str, int]]]
) -> tuple[TableUnit, int]:
    unit, positions = by_table[obj.table_id]
    return unit, positions[obj.group_first or ""]


def build_manifest(
    meta: BackupMeta,
    tasks: Sequence[SstTask] | Sequence[ChainUnit] | Sequence[TableUnit],
    objects: Sequence[WrittenObject],
    output_prefix: str,
) -> dict[str, Any]:
    """The manifest document for `objects`, the export's `WrittenObject`s. For a chain
    of backups, `meta` spans the chain (start of the first, end of the last)."""
    by_name: dict[str, SstTask | ChainUnit] = {}
    by_table: dict[int, tuple[TableUnit, dict[str, int]]] = {}
    for t in tasks:
        if isinstance(t, TableUnit):
            by_table[t.table_id] = (t, {s.name: i for i, s in enumerate(t.ssts)})
        else:
            by_name[t.name] = t
    snapshot_time = tso_time(meta.end_version)
    files = []
    for obj in sorted(objects, key=lambda o: o.path):
        files.append(
            {
                "file_name": obj.path,
                "file_format": "PARQUET",
                "record_count": obj.rows,
                "file_size_in_bytes": obj.size,
                "sha256": obj.sha256,
                "db": obj.db,
                "table": obj.table,
                "table_id": obj.table_id,
                # The source SST, as its `File` in backupmeta describes it.
                **(
                    _group_facts(obj, *_group_start(obj, by_table))
                    if obj.grouped
                    else _source_facts(by_name[obj.source_sst])
                ),
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "output_prefix": output_prefix,
        "snapshot": {
            "start_version": meta.start_version,
            "end_version": meta.end_version,
            "end_time": snapshot_time.isoformat(),
            "end_time_ms": int(snapshot_time.timestamp() * 1000),
            "cluster_id": meta.cluster_id,
            "cluster_version": meta.cluster_version,
        },
        "files": files,
    }


def write_manifest(
    storage: Storage,
    location: ManifestLocation,
    meta: BackupMeta,
    tasks: Sequence[SstTask] | Sequence[ChainUnit] | Sequence[TableUnit],
    objects: Sequence[WrittenObject],
    output_prefix: str,
) -> str:
    """Writes the manifest (one atomic PUT); returns its object path."""
    path = location.path(meta.end_version)
    doc = build_manifest(meta, tasks, objects, output_prefix)
    storage.put_bytes(path, json.dumps(doc, indent=2, sort_keys=False).encode() + b"\n")
    return path

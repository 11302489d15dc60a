"""The checked-in protobuf modules are what `make proto` generates from the `.proto` files."""

from __future__ import annotations

from pathlib import Path

import pytest

from br_parquet.proto import generate


def test_generated_modules_are_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (a dev dependency) pins protoc")
    written = generate.generate(tmp_path)
    assert {p.name for p in written} == {
        f"{stem}_pb2{ext}"
        for stem in ("brpb", "encryptionpb", "kvrpcpb")
        for ext in (".py", ".pyi")
    }
    for fresh in written:
        checked_in = generate.PROTO_DIR / fresh.name
        assert checked_in.read_text() == fresh.read_text(), (
            f"{fresh.name} is stale: run `make proto`"
        )


def test_field_numbers_match_kvproto() -> None:
    from br_parquet.proto import brpb_pb2 as brpb

    numbers = {f.name: f.number for f in brpb.BackupMeta.DESCRIPTOR.fields}
    assert numbers["cluster_id"] == 1 and numbers["files"] == 4 and numbers["schemas"] == 7
    assert numbers["version"] == 12 and numbers["schema_index"] == 14
    assert numbers["new_collations_enabled"] == 20 and numbers["backup_schema_version"] == 26
    file_numbers = {f.name: f.number for f in brpb.File.DESCRIPTOR.fields}
    assert file_numbers == {
        "name": 1,
        "sha256": 2,
        "start_key": 3,
        "end_key": 4,
        "start_version": 5,
        "end_version": 6,
        "crc64xor": 7,
        "total_kvs": 8,
        "total_bytes": 9,
        "cf": 10,
        "size": 11,
        "cipher_iv": 12,
        "table_metas": 13,
    }
    s3 = {f.name: f.number for f in brpb.S3.DESCRIPTOR.fields}
    assert s3["force_path_style"] == 10 and s3["session_token"] == 15

"""Writes the seed corpus of the `scan` fuzz target.

    python rust/core/fuzz-scan/seeds.py [path/to/shared/fixtures/real]

Seeds come from the real fixtures (TiKV key/value dumps with their TableInfo,
TPC-C TableInfos from a real backupmeta, row values printed by tikv-ctl, the
entry of an SST written by TiKV's engine) and, when `br_parquet.testing`
imports (the project's venv), from synthetic tables of every column type. The
corpus goes to `rust/core/fuzz-scan/corpus/scan/` (git-ignored); nothing of
the fixtures is kept in the repository.

The input format is the one `fuzz_targets/scan.rs` parses.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_FIXTURES = HERE.parents[3] / "shared" / "fixtures" / "real"
CORPUS = HERE / "corpus" / "scan"

# Entry ops of the target (low 3 bits; bit 3 forces a default-CF value).
PUT, PUT_RAW, NON_PUT, INDEX, WRITE_VALUE, RAW_WRITE, RAW_DEFAULT, PUT_COMMON = range(8)
# Header flag bits.
TYPED, KEY_RANGE, NO_DEFAULT_FILE = 0x01, 0x02, 0x08
SECOND_TABLE, SMALL_BLOCKS, NO_CHECKSUMS, PROJECT = 0x01, 0x08, 0x10, 0x20
CHANGE_COLUMNS, CLIP = 0x40, 0x80
# Builtin tables of the target (flags bits 6-7).
BUILTIN_WIDE, BUILTIN_CLUSTERED = 0x00, 0x40


def blob(data: bytes) -> bytes:
    return struct.pack("<H", len(data)) + data


def header(
    json_text: bytes = b"", flags: int = 0, batch: int = 2, more: int = 0, clip: bytes = b""
) -> bytes:
    """`clip`: the clip range's two handle bytes (with `more & CLIP`)."""
    return bytes([flags, batch, more]) + clip + blob(json_text)


def decode_memcomparable(encoded: bytes) -> bytes:
    """memcomparable bytes (groups of 8 + a marker byte) → raw bytes."""
    out = bytearray()
    for i in range(0, len(encoded) - 8, 9):
        group, marker = encoded[i : i + 8], encoded[i + 8]
        pad = 0xFF - marker
        if pad:
            out += group[: 8 - pad]
            return bytes(out)
        out += group
    raise ValueError(f"not memcomparable: {encoded.hex()}")


def raw_of_data_key(key: bytes) -> bytes:
    """The raw key of `[z] memcomparable(raw) ts`."""
    body = key[:-8]
    return decode_memcomparable(body[1:] if body[:1] == b"z" else body)


def proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message; varints as int, the rest as bytes."""
    i = 0
    while i < len(buf):
        tag, i = varint(buf, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = varint(buf, i)
            yield field, value
        elif wire == 2:
            n, i = varint(buf, i)
            yield field, buf[i : i + n]
            i += n
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            yield field, buf[i : i + size]
            i += size
        else:
            raise ValueError(f"wire type {wire}")


def varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def tiflash_seeds(root: Path) -> Iterator[bytes]:
    path = root / "tiflash-kv-hex-dumps" / "region_block_reader_kv_dumps.json"
    if not path.is_file():
        return
    dumps = json.loads(path.read_text())
    for case in dumps.values():
        kvs = case["kvs"]
        kvs = ast.literal_eval(kvs) if isinstance(kvs, str) else kvs
        infos = case["table_info_json_verbatim"]
        if isinstance(infos, str) and not infos.lstrip().startswith('{"'):
            infos = ast.literal_eval(infos)
        variants = list(infos.values()) if isinstance(infos, dict) else [infos]
        for info in variants:
            info_b = info.encode() if isinstance(info, str) else json.dumps(info).encode()
            pairs = [(bytes.fromhex(kv["key_hex"]), bytes.fromhex(kv["value_hex"])) for kv in kvs]
            if case["cf"] == "write":
                # The write-CF entries as dumped (no `z`) and as BR writes them.
                yield header(info_b, batch=3) + b"".join(
                    bytes([RAW_WRITE]) + blob(k) + blob(v) for k, v in pairs
                )
                # The dumps' test decodes rows whatever their table id: here
                # the TableInfo takes the keys' id, so the rows are selected.
                key_table = struct.unpack(">Q", raw_of_data_key(pairs[0][0])[1:9])[0] ^ (1 << 63)
                retargeted = json.dumps({**json.loads(info_b), "id": key_table}).encode()
                yield header(retargeted, batch=2) + b"".join(
                    bytes([RAW_WRITE]) + blob(b"z" + k) + blob(v) for k, v in pairs
                )
                yield header(info_b, flags=TYPED, batch=0) + b"".join(
                    bytes([RAW_WRITE]) + blob(b"z" + k) + blob(v) for k, v in pairs
                )
            else:
                # Row values of the default CF: Puts without a short value.
                yield header(info_b, batch=1) + b"".join(
                    bytes([PUT_RAW | 0x08]) + blob(raw_of_data_key(k)) + blob(v) for k, v in pairs
                )
                yield header(info_b, flags=TYPED | KEY_RANGE, more=PROJECT) + b"".join(
                    bytes([PUT_RAW | 0x08]) + blob(raw_of_data_key(k)) + blob(v) for k, v in pairs
                )


def tpcc_table_infos(root: Path) -> dict[str, bytes]:
    """TableInfo JSON of the TPC-C tables of a real v1 backupmeta (Schema.table)."""
    path = root / "tidb-br-show-testdata" / "full-schema.meta"
    if not path.is_file():
        return {}
    out = {}
    for field, schema in proto_fields(path.read_bytes()):
        if field == 7 and isinstance(schema, bytes):
            for f, value in proto_fields(schema):
                if f == 2 and isinstance(value, bytes):
                    out[json.loads(value)["name"]["L"]] = value
    return out


def tpcc_seeds(root: Path) -> Iterator[bytes]:
    """The real customer and stock rows against the real TPC-C TableInfos."""
    infos = tpcc_table_infos(root)
    path = root / "tiflash-kv-hex-dumps" / "region_block_reader_kv_dumps.json"
    if not infos or not path.is_file():
        return
    dumps = json.loads(path.read_text())
    rows = {}
    for name, table in (("customer", "customer"), ("stock", "stock")):
        case = next(c for n, c in dumps.items() if name in n)
        kvs = case["kvs"]
        kvs = ast.literal_eval(kvs) if isinstance(kvs, str) else kvs
        rows[table] = [bytes.fromhex(kv["value_hex"]) for kv in kvs]
    for table, info in infos.items():
        for row in rows.get(table, [next(iter(rows.values()))[0]]):
            # Handles 1 and 2: the row inline is too long, so it goes to the
            # default CF; the second Put's value is missing there.
            yield header(info, batch=2) + b"".join(
                bytes([op]) + bytes([0]) + struct.pack("<q", h) + blob(row)
                for op, h in ((PUT, 1), (PUT | 0x10, 2))
            )


def docs_seeds(root: Path) -> Iterator[bytes]:
    path = root / "docs-key-examples" / "key_value_examples.json"
    if not path.is_file():
        return
    docs = json.loads(path.read_text())
    entries = b""
    for kv in docs["tikv_ctl_raw_scan"]:
        key, value = bytes.fromhex(kv["key_hex"]), bytes.fromhex(kv["value_hex"])
        # As a row (format v1) of the builtin table, and as it was in TiKV.
        entries += bytes([PUT]) + bytes([0]) + struct.pack("<q", 5) + blob(value)
        entries += bytes([RAW_DEFAULT]) + blob(key) + blob(value)
        entries += bytes([PUT_RAW | 0x08]) + blob(raw_of_data_key(key)) + blob(value)
    for example in docs["tidb_decode_key"]:
        # Region start keys: record keys with an int and a clustered handle.
        raw = decode_memcomparable(bytes.fromhex(example["key_hex"]))
        entries += bytes([PUT_RAW]) + blob(raw) + blob(b"\x80\x00\x00\x00\x00\x00")
    yield header(batch=1, more=SECOND_TABLE) + entries
    yield header(flags=BUILTIN_CLUSTERED | NO_DEFAULT_FILE) + entries


def tikv_sst_seeds(root: Path) -> Iterator[bytes]:
    """The entry of the SST written by TiKV's engine (format v5, XXH3, LZ4)."""
    path = root / "tikv-br-parquet-pr-sst" / "test"
    if not path.is_file():
        return
    for key, value in sst_entries(path):
        # Its key has no ts: as written, and its row under a proper key.
        yield header(batch=1) + bytes([RAW_WRITE]) + blob(key) + blob(value)
        yield header(batch=1) + bytes([PUT_RAW]) + blob(key[1:]) + blob(value)


def sst_entries(path: Path) -> list[tuple[bytes, bytes]]:
    """Through the project's own reader, else `sst_dump` (too old for some formats)."""
    sys.path.insert(0, str(HERE.parents[2] / "python"))
    try:
        from br_parquet._native import SstReader

        return SstReader(path).entries()
    except ImportError:
        pass
    sst_dump = shutil.which("sst_dump")
    if sst_dump is None:
        return []
    out = subprocess.run(
        [sst_dump, f"--file={path}", "--command=scan", "--output_hex"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    # `'7A74…' seq:0, type:1 => 080208…`
    return [
        (bytes.fromhex(line.split("'")[1]), bytes.fromhex(line.split("=>")[1].strip()))
        for line in out.splitlines()
        if line.startswith("'") and "=>" in line
    ]


def synthetic_seeds() -> Iterator[bytes]:
    """Tables of every column type written by the project's test encoders."""
    sys.path.insert(0, str(HERE.parents[2] / "python"))
    try:
        from br_parquet.testing import smoke
        from br_parquet.testing.schema import table_info
        from br_parquet.testing.tablecodec import encode_index_entries, encode_row
    except ImportError as e:
        print(f"no synthetic seeds ({e}); run with the project's venv for them")
        return
    all_types = table_info(100, "all_types", smoke.ALL_TYPES_COLUMNS)
    clustered = table_info(
        200,
        "clustered",
        [("a", "varchar(20) not null"), ("b", "int not null"), ("c", "decimal(30,5)")],
        primary_key=["a", "b"],
        clustered=True,
    )
    cases = [
        (all_types, smoke.ALL_TYPES_ROWS),
        (clustered, [("x", 1, "1.5"), ("yy", -2, None), ("long" * 4, 3, "-99999.00001")]),
    ]
    for info, rows in cases:
        json_text = info.to_json()
        for row_format, flags, more in ((2, 0, 0), (1, TYPED, SMALL_BLOCKS), (2, TYPED, PROJECT)):
            entries = b""
            for i, row in enumerate(rows):
                kv = encode_row(info, row, rowid=i + 1, row_format=row_format)
                entries += bytes([PUT_RAW | (0x08 if i else 0)]) + blob(kv.raw_key) + blob(kv.value)
                for entry in encode_index_entries(info, row, kv.handle):
                    entries += bytes([PUT_RAW]) + blob(entry.raw_key) + blob(entry.value)
            entries += bytes([NON_PUT]) + bytes([0]) + struct.pack("<q", 99) + bytes([0])
            yield header(json_text, flags, 1, more) + entries
            # Tombstones, commit ts and a clip range from handle 2, unbounded.
            more |= CHANGE_COLUMNS | CLIP
            yield header(json_text, flags, 1, more, clip=bytes([2, 0x80])) + entries
        # With a row checksum trailer.
        kv = encode_row(info, rows[0], rowid=1, row_checksum=True)
        yield header(json_text, batch=0) + bytes([PUT_RAW]) + blob(kv.raw_key) + blob(kv.value)


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FIXTURES
    if not root.is_dir():
        print(f"no real fixtures at {root}; seeding from the project's encoders only")
    CORPUS.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, seeds in (
        ("tiflash", tiflash_seeds(root)),
        ("tpcc", tpcc_seeds(root)),
        ("docs", docs_seeds(root)),
        ("tikv-sst", tikv_sst_seeds(root)),
        ("synthetic", synthetic_seeds()),
    ):
        n = 0
        for data in seeds:
            (CORPUS / hashlib.sha1(data).hexdigest()).write_bytes(data)
            n += 1
        counts[name] = n
    print("scan: " + ", ".join(f"{n} {name}" for name, n in counts.items()) + " seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

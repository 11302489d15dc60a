"""SST files through RocksDB: files written by real RocksDB/TiKV read back as
their own tools print them, and files we write are read by Debian's
independent `sst_dump` (RocksDB 7.8) to the same keys and values."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from br_parquet._native import SstReader, write_sst
from br_parquet.errors import SstReadError

SST_DUMP_ENTRY = re.compile(r"^'([0-9A-Fa-f]*)' seq:\d+, type:\d+ =>\s*([0-9A-Fa-f]*)$")


def _yaledb_files(shared: Path) -> list[Path]:
    return sorted((shared / "real/rocksdb-fileformat-yaledb/sst_files").glob("v*/*.sst"))


def test_rocksdb_fileformat_set_reads_every_version_checksum_and_compression(
    shared_fixtures: Path,
) -> None:
    files = _yaledb_files(shared_fixtures)
    assert len(files) == 60
    seen = set()
    for path in files:
        version, checksum, compression = path.stem.split("_")
        reader = SstReader(path)
        reader.verify_checksum()
        entries = reader.entries()
        assert entries == [
            (f"key{i:03d}".encode(), f"value_{version}_{checksum}_{compression}_{i:03d}".encode())
            for i in range(50)
        ], path.name
        props = reader.properties()
        assert props["rocksdb.format.version"] == version[1:].encode()
        seen.add((version, checksum, compression))
    assert len(seen) == 60


def test_rocksdb_fileformat_set_matches_its_sst_dump_output(shared_fixtures: Path) -> None:
    dumps = sorted(
        (shared_fixtures / "real/rocksdb-fileformat-yaledb/sst_files").glob("v*/*_dump.txt")
    )
    assert dumps
    for dump in dumps:
        sst = dump.with_name(dump.name.replace("_dump.txt", ".sst"))
        text = dump.read_text()
        expected_entries = int(re.search(r"# entries: (\d+)", text).group(1))  # type: ignore[union-attr]
        reader = SstReader(sst)
        assert reader.num_entries == expected_entries
        assert len(reader.entries()) == expected_entries


def test_pebble_rocksdb_tables_hold_the_hamlet_word_counts(shared_fixtures: Path) -> None:
    folder = shared_fixtures / "real/pebble-rocksdb-h-sst"
    expected = []
    for line in (folder / "h.txt").read_text().splitlines():
        count, word = line[:7].strip(), line[8:]
        expected.append((word.encode(), count.encode()))
    expected.sort()
    tables = sorted(folder.glob("*.sst"))
    assert len(tables) == 6
    for path in tables:
        reader = SstReader(path)
        reader.verify_checksum()
        # Range tombstones sit in their own block; the point entries are the words.
        assert reader.entries() == expected, path.name


def test_tikv_written_sst_opens_with_tikv_properties(shared_fixtures: Path) -> None:
    reader = SstReader(shared_fixtures / "real/tikv-br-parquet-pr-sst/test")
    reader.verify_checksum()
    assert reader.entries() == [
        (
            b"zt\x80\x00\x00\x00\x00\x00\x00\x01_r\x80\x00\x00\x00\x00\x00\x00\x01",
            bytes.fromhex("08020854080400"),
        )
    ]
    props = reader.properties()
    # TiKV's RocksDB leaves the format_version property at 0 (the footer says 5).
    assert props["rocksdb.compression"] == b"LZ4"
    assert any(name.startswith("tikv.") for name in props)


@pytest.mark.parametrize("compression", ["zstd", "lz4", "snappy", "none"])
def test_written_sst_is_read_by_sst_dump(tmp_path: Path, compression: str) -> None:
    sst_dump = shutil.which("sst_dump")
    if sst_dump is None:
        pytest.skip("sst_dump is not installed (Debian package rocksdb-tools)")
    entries = [
        (b"z" + i.to_bytes(4, "big") + b"\x00\xff", bytes([i % 251]) * (i % 300))
        for i in range(2000)
    ]
    path = tmp_path / "data.sst"  # sst_dump only opens files ending in .sst
    write_sst(path, entries, compression=compression)
    out = subprocess.run(
        [sst_dump, f"--file={path}", "--command=scan", "--output_hex"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    dumped = []
    for line in out.splitlines():
        m = SST_DUMP_ENTRY.match(line.strip())
        if m:
            dumped.append((bytes.fromhex(m.group(1)), bytes.fromhex(m.group(2))))
    assert dumped == entries
    props = SstReader(path).properties()
    assert props["rocksdb.format.version"] == b"2"
    assert (
        props["rocksdb.compression"]
        .lower()
        .startswith(
            {"zstd": b"zstd", "lz4": b"lz4", "snappy": b"snappy", "none": b"nocompression"}[
                compression
            ]
        )
    )


# RocksDB's block-based table footer (format_version >= 1) is the last 53 bytes of
# the file: checksum type (1 byte), then the block handles / extended fields, then
# format_version (u32 LE) and the table magic number (u64 LE). No table property
# carries the checksum type, so it is read from the footer itself.
_FOOTER_SIZE = 53
_BLOCK_BASED_TABLE_MAGIC = 0x88E241B785F4CFF7
_CHECKSUM_TYPES = {0: "nocsum", 1: "crc32c", 2: "xxhash", 3: "xxhash64", 4: "xxh3"}
_BLOCK_TRAILER_SIZE = 5  # compression type byte + u32 LE checksum


def _footer(data: bytes) -> tuple[int, int, int]:
    """(checksum type, format_version, offset of the first block handle) of an SST."""
    footer = data[-_FOOTER_SIZE:]
    assert int.from_bytes(footer[-8:], "little") == _BLOCK_BASED_TABLE_MAGIC
    return footer[0], int.from_bytes(footer[-12:-8], "little"), len(data) - _FOOTER_SIZE + 1


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: independent
    of RocksDB and of the native extension."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    """RocksDB's crc32c::Mask: rotate right by 15, add a constant."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def test_crc32c_helper_matches_the_standard_check_value() -> None:
    assert _crc32c(b"123456789") == 0xE3069283  # RFC 3720 / iSCSI check value


def test_footer_checksum_type_matches_the_real_files_names(shared_fixtures: Path) -> None:
    files = _yaledb_files(shared_fixtures)
    assert len(files) == 60
    for path in files:
        version, checksum, _ = path.stem.split("_")
        checksum_type, format_version, _ = _footer(path.read_bytes())
        assert _CHECKSUM_TYPES[checksum_type] == checksum, path.name
        assert format_version == int(version[1:]), path.name


def test_written_sst_uses_crc32c_block_checksums(tmp_path: Path) -> None:
    path = tmp_path / "data.sst"
    write_sst(path, [(b"a", b"1")])
    data = path.read_bytes()
    checksum_type, format_version, handles = _footer(data)
    assert _CHECKSUM_TYPES[checksum_type] == "crc32c"
    assert format_version == 2
    # The stored checksum of the metaindex block (the footer's first handle) is the
    # masked CRC-32C of the block and its compression-type byte.
    offset, pos = _varint(data, handles)
    size, _ = _varint(data, pos)
    block = data[offset : offset + size + 1]
    stored = int.from_bytes(data[offset + size + 1 : offset + size + _BLOCK_TRAILER_SIZE], "little")
    assert stored == _masked(_crc32c(block))
    # And the check is not vacuous: one flipped bit changes it.
    assert stored != _masked(_crc32c(bytes([block[0] ^ 1]) + block[1:]))


def test_corrupted_sst_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "data.sst"
    write_sst(path, [(f"k{i:05d}".encode(), b"v" * 100) for i in range(1000)], compression="none")
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF  # inside the first data block
    path.write_bytes(bytes(data))
    with pytest.raises(SstReadError, match=r"data\.sst"):
        SstReader(path).entries()


def test_not_an_sst_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sst"
    path.write_bytes(b"not an sst file at all" * 10)
    with pytest.raises(SstReadError, match=r"garbage\.sst"):
        SstReader(path)

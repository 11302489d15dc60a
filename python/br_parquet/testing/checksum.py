"""BR/TiKV KV checksums: CRC-64/XZ per KV, XOR-aggregated (`br-metadata.md` §6).

Pure Python so that the test writer does not depend on the code it checks.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KvChecksum", "crc64_xz", "kv_crc64"]

_POLY_REFLECTED = 0xC96C5795D7870F42
_MASK = 0xFFFFFFFFFFFFFFFF


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc64_xz(data: bytes, crc: int = 0) -> int:
    """CRC-64/XZ (ECMA-182 reflected, init and final XOR all ones); `crc` continues a
    previous result, so `crc64_xz(b, crc64_xz(a)) == crc64_xz(a + b)`."""
    value = crc ^ _MASK
    table = _TABLE
    for byte in data:
        value = table[(value ^ byte) & 0xFF] ^ (value >> 8)
    return value ^ _MASK


def kv_crc64(raw_key: bytes, value: bytes) -> int:
    """The per-KV hash: one CRC-64/XZ digest fed the raw key, then the value."""
    return crc64_xz(value, crc64_xz(raw_key))


@dataclass
class KvChecksum:
    """`crc64xor`, `total_kvs`, `total_bytes` over raw keys and values."""

    crc64xor: int = 0
    total_kvs: int = 0
    total_bytes: int = 0

    def update(self, raw_key: bytes, value: bytes) -> None:
        """Count one KV: raw key (no `z`, not memcomparable, no ts) and its user value."""
        self.add(kv_crc64(raw_key, value), len(raw_key) + len(value))

    def add(self, crc: int, size: int) -> None:
        """Count one KV given its `kv_crc64` and `len(raw_key) + len(value)`."""
        self.crc64xor ^= crc
        self.total_kvs += 1
        self.total_bytes += size

    def merge(self, other: KvChecksum) -> None:
        """Add another checksum (XOR the CRCs, sum the counts)."""
        self.crc64xor ^= other.crc64xor
        self.total_kvs += other.total_kvs
        self.total_bytes += other.total_bytes

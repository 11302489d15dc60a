//! TiKV's backup checksum: CRC-64/XZ (ECMA-182, reflected) of `raw_key ‖ value`
//! per KV, XOR-ed over a file or table, with KV and byte counts beside it.

/// CRC-64/XZ of `data`.
pub fn crc64_xz(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

/// The `(crc64xor, total_kvs, total_bytes)` triple of `File`/`Schema` metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvChecksum {
    pub crc64xor: u64,
    pub total_kvs: u64,
    pub total_bytes: u64,
}

impl KvChecksum {
    /// Adds one KV: `raw_key` without `z`, memcomparable encoding or ts.
    pub fn update(&mut self, raw_key: &[u8], value: &[u8]) {
        let mut d = crc64fast::Digest::new();
        d.write(raw_key);
        d.write(value);
        self.crc64xor ^= d.sum64();
        self.total_kvs += 1;
        self.total_bytes += (raw_key.len() + value.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // Check values of CRC-64/XZ from the catalogue of CRC parameters.
        assert_eq!(crc64_xz(b"123456789"), 0x995D_C9BB_DF19_39FA);
        assert_eq!(crc64_xz(b"hello world!"), 0x8483_C0FA_3260_7D61);
    }

    #[test]
    fn kv_checksum_is_order_free() {
        let mut a = KvChecksum::default();
        a.update(b"k1", b"v1");
        a.update(b"k2", b"v2");
        let mut b = KvChecksum::default();
        b.update(b"k2", b"v2");
        b.update(b"k1", b"v1");
        assert_eq!(a, b);
        assert_eq!(a.total_bytes, 8);
        assert_eq!(crc64_xz(b"k1v1") ^ crc64_xz(b"k2v2"), a.crc64xor);
    }
}

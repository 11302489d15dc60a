//! TiKV's backup checksum: CRC-64/XZ (ECMA-182, reflected) of `raw_key ‖ value`
//! per KV, XOR-ed over a file or table, with KV and byte counts beside it.

/// CRC-64/XZ of `data`.
pub fn crc64_xz(data: &[u8]) -> u64 {
    crc64_xz_parts(data, &[])
}

/// CRC-64/XZ of `a ‖ b`.
#[inline]
fn crc64_xz_parts(a: &[u8], b: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if fold16::supported() {
        // A short KV (the usual row) is folded in one pass over a copy, led
        // by zeros up to a whole number of 16-byte blocks: no byte-table
        // tail and one final reduction. CRC is linear, so the register
        // after `data` from the initial !0 is the register after it from 0
        // (which leading zeros leave unchanged) xor that after `n` zeros
        // from !0.
        let n = a.len() + b.len();
        let pad = n.wrapping_neg() % 16;
        let mut joined = [0u8; fold16::JOINED + 16];
        if let (Some((front, back)), Some(&zeros)) = (
            joined
                .get_mut(pad..pad.saturating_add(n))
                .and_then(|j| j.split_at_mut_checked(a.len())),
            fold16::ZEROS_FROM_ONES.get(n),
        ) {
            front.copy_from_slice(a);
            back.copy_from_slice(b);
            let blocks = joined.get(..pad.saturating_add(n)).unwrap_or_default();
            // SAFETY: the CPU has the features `fold16::update` is compiled for.
            let from_zero = unsafe { fold16::update(0, blocks) };
            return !(from_zero ^ zeros);
        }
        // SAFETY: as above.
        return unsafe { !fold16::update(fold16::update(!0, a), b) };
    }
    let mut d = crc64fast::Digest::new();
    d.write(a);
    d.write(b);
    d.sum64()
}

/// CRC-64/XZ folded 16 bytes at a time with carry-less multiplication.
/// `crc64fast` folds 128-byte blocks, so the short keys and row values of a
/// backup (mostly under 256 bytes) go through its byte tables; this keeps
/// them on PCLMULQDQ. Constants and steps are crc64fast's 16-byte fold.
#[cfg(target_arch = "x86_64")]
mod fold16 {
    use std::arch::x86_64::*;

    /// bit_reverse(x^127 mod P), bit_reverse(x^191 mod P): the high and low
    /// halves of the 16-byte fold.
    const K_127: u64 = 0xdabe_95af_c787_5f40;
    const K_191: u64 = 0xe05d_d497_ca39_3ae4;
    /// The polynomial and x^128 / P, for the Barrett reduction.
    const POLY: u64 = 0x92d8_af2b_af0e_1e85;
    const MU: u64 = 0x9c3e_466c_1729_63d5;
    /// ECMA-182 reflected, for the bytes after the last 16-byte block.
    const REFLECTED: u64 = 0xc96c_5795_d787_0f42;

    const TABLE: [u64; 256] = {
        let mut t = [0u64; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u64;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ REFLECTED
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            t[i] = crc;
            i += 1;
        }
        t
    };

    /// Longest `raw_key ‖ value` folded in one pass.
    pub const JOINED: usize = 512;

    /// The register after `n` zero bytes from !0, for `n` up to [`JOINED`].
    pub const ZEROS_FROM_ONES: [u64; JOINED + 1] = {
        let mut t = [0u64; JOINED + 1];
        let mut state = !0u64;
        let mut n = 0;
        while n <= JOINED {
            t[n] = state;
            state = (state >> 8) ^ TABLE[(state & 0xff) as usize];
            n += 1;
        }
        t
    };

    #[inline]
    pub fn supported() -> bool {
        is_x86_feature_detected!("pclmulqdq") && is_x86_feature_detected!("sse4.1")
    }

    /// Continues the complemented CRC `state` over `data`.
    ///
    /// # Safety
    /// The CPU must support PCLMULQDQ and SSE4.1 ([`supported`]).
    #[target_feature(enable = "pclmulqdq", enable = "sse2", enable = "sse4.1")]
    pub unsafe fn update(mut state: u64, data: &[u8]) -> u64 {
        let mut blocks = data.chunks_exact(16);
        let rest = blocks.remainder();
        if let Some(first) = blocks.next() {
            // SAFETY (all loads): each block is 16 readable bytes; loadu
            // needs no alignment.
            let mut x = _mm_xor_si128(
                _mm_loadu_si128(first.as_ptr().cast()),
                _mm_set_epi64x(0, state as i64),
            );
            let k = _mm_set_epi64x(K_127 as i64, K_191 as i64);
            for block in blocks {
                let folded = _mm_xor_si128(
                    _mm_clmulepi64_si128(x, k, 0x11),
                    _mm_clmulepi64_si128(x, k, 0x00),
                );
                x = _mm_xor_si128(_mm_loadu_si128(block.as_ptr().cast()), folded);
            }
            // 16 bytes into 8, then Barrett reduction to the 64-bit CRC.
            let x = _mm_xor_si128(
                _mm_clmulepi64_si128(x, _mm_set_epi64x(0, K_127 as i64), 0x00),
                _mm_srli_si128(x, 8),
            );
            let polymu = _mm_set_epi64x(POLY as i64, MU as i64);
            let t1 = _mm_clmulepi64_si128(x, polymu, 0x00);
            let h = _mm_slli_si128(t1, 8);
            let l = _mm_clmulepi64_si128(t1, polymu, 0x10);
            state = _mm_extract_epi64(_mm_xor_si128(_mm_xor_si128(h, l), x), 1) as u64;
        }
        for &b in rest {
            state = (state >> 8) ^ TABLE[usize::from(b ^ state as u8)];
        }
        state
    }
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
    #[inline]
    pub fn update(&mut self, raw_key: &[u8], value: &[u8]) {
        self.crc64xor ^= crc64_xz_parts(raw_key, value);
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

    /// Every length (around the 16-byte blocks) and split of a KV agrees
    /// with crc64fast over the concatenation.
    #[test]
    fn matches_crc64fast_at_every_length_and_split() {
        let data: Vec<u8> = (0..700u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let reference = |d: &[u8]| {
            let mut r = crc64fast::Digest::new();
            r.write(d);
            r.sum64()
        };
        for len in (0..80).chain([127, 128, 129, 255, 256, 257, 511, 699, 700]) {
            let d = &data[..len];
            assert_eq!(crc64_xz(d), reference(d), "len {len}");
            for split in [0, 1, 15, 16, 17, len / 2, len.saturating_sub(1), len] {
                let split = split.min(len);
                let mut kv = KvChecksum::default();
                kv.update(&d[..split], &d[split..]);
                assert_eq!(kv.crc64xor, reference(d), "len {len} split {split}");
            }
        }
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

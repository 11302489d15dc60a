//! Integer and float encodings shared by TiKV/TiDB: comparable (sign-flipped,
//! big-endian) fixed-width numbers, the inverted MVCC timestamp, Go's zigzag
//! and unsigned varints, and row v2's compact little-endian integers.
//!
//! Readers take a cursor (`&mut &[u8]`) and advance it past what they read;
//! on error the cursor is left unchanged.

use crate::error::{CodecError, Result};

const SIGN_MASK: u64 = 1 << 63;

/// Longest unsigned LEB128 encoding of a u64.
pub const MAX_VARINT_LEN: usize = 10;

/// Splits `n` bytes off the front of the cursor.
#[inline]
pub fn read_bytes<'a>(input: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8]> {
    match input.split_at_checked(n) {
        Some((head, tail)) => {
            *input = tail;
            Ok(head)
        }
        None => Err(CodecError::truncated(what, n, input.len())),
    }
}

/// Reads one byte.
#[inline]
pub fn read_u8(input: &mut &[u8], what: &'static str) -> Result<u8> {
    match input.split_first() {
        Some((&b, tail)) => {
            *input = tail;
            Ok(b)
        }
        None => Err(CodecError::truncated(what, 1, 0)),
    }
}

#[inline]
fn read_array8(input: &mut &[u8], what: &'static str) -> Result<[u8; 8]> {
    match input.split_first_chunk::<8>() {
        Some((head, tail)) => {
            *input = tail;
            Ok(*head)
        }
        None => Err(CodecError::truncated(what, 8, input.len())),
    }
}

/// Reads a u16 little-endian.
#[inline]
pub fn read_u16_le(input: &mut &[u8], what: &'static str) -> Result<u16> {
    match input.split_first_chunk::<2>() {
        Some((head, tail)) => {
            *input = tail;
            Ok(u16::from_le_bytes(*head))
        }
        None => Err(CodecError::truncated(what, 2, input.len())),
    }
}

/// Reads a u32 little-endian.
#[inline]
pub fn read_u32_le(input: &mut &[u8], what: &'static str) -> Result<u32> {
    match input.split_first_chunk::<4>() {
        Some((head, tail)) => {
            *input = tail;
            Ok(u32::from_le_bytes(*head))
        }
        None => Err(CodecError::truncated(what, 4, input.len())),
    }
}

/// Reads a u64 little-endian.
#[inline]
pub fn read_u64_le(input: &mut &[u8], what: &'static str) -> Result<u64> {
    read_array8(input, what).map(u64::from_le_bytes)
}

// ---- comparable fixed-width numbers -------------------------------------

/// The i64 behind an 8-byte comparable encoding (`BE(u64 ^ 1<<63)`).
#[inline]
pub fn i64_from_cmp(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ SIGN_MASK) as i64
}

/// The 8-byte comparable encoding of an i64.
#[inline]
pub fn i64_to_cmp(v: i64) -> [u8; 8] {
    ((v as u64) ^ SIGN_MASK).to_be_bytes()
}

/// Reads a comparable i64 (datum flag 3, table ids, int handles).
#[inline]
pub fn read_i64_cmp(input: &mut &[u8]) -> Result<i64> {
    read_array8(input, "comparable i64").map(i64_from_cmp)
}

/// Appends a comparable i64.
#[inline]
pub fn write_i64_cmp(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&i64_to_cmp(v));
}

/// Reads a big-endian u64 (datum flag 4, write-CF `gc_fence`).
#[inline]
pub fn read_u64_be(input: &mut &[u8]) -> Result<u64> {
    read_array8(input, "big-endian u64").map(u64::from_be_bytes)
}

/// Appends a big-endian u64.
#[inline]
pub fn write_u64_be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Reads a descending u64 (`BE(!v)`), the MVCC timestamp suffix of keys.
#[inline]
pub fn read_u64_desc(input: &mut &[u8]) -> Result<u64> {
    read_array8(input, "descending u64").map(|b| !u64::from_be_bytes(b))
}

/// Appends a descending u64 (`BE(!v)`).
#[inline]
pub fn write_u64_desc(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&(!v).to_be_bytes());
}

/// The f64 behind the comparable u64 form: top bit set means non-negative.
#[inline]
pub fn f64_from_cmp_u64(u: u64) -> f64 {
    let bits = if u & SIGN_MASK != 0 {
        u & !SIGN_MASK
    } else {
        !u
    };
    f64::from_bits(bits)
}

/// The comparable u64 form of an f64.
#[inline]
pub fn f64_to_cmp_u64(f: f64) -> u64 {
    let bits = f.to_bits();
    if bits & SIGN_MASK == 0 {
        bits | SIGN_MASK
    } else {
        !bits
    }
}

/// Reads a comparable f64 (datum flag 5, row v2 FLOAT/DOUBLE slots).
#[inline]
pub fn read_f64_cmp(input: &mut &[u8]) -> Result<f64> {
    read_array8(input, "comparable f64").map(|b| f64_from_cmp_u64(u64::from_be_bytes(b)))
}

/// Appends a comparable f64.
#[inline]
pub fn write_f64_cmp(out: &mut Vec<u8>, f: f64) {
    out.extend_from_slice(&f64_to_cmp_u64(f).to_be_bytes());
}

// ---- varints -------------------------------------------------------------

/// Reads an unsigned LEB128 varint (Go `binary.Uvarint`): at most 10 bytes,
/// the tenth may only carry the last bit.
#[inline]
pub fn read_uvarint(input: &mut &[u8], what: &'static str) -> Result<u64> {
    let bytes = *input;
    // One-byte fast path: most lengths and ids are small.
    if let Some((&b, rest)) = bytes.split_first() {
        if b < 0x80 {
            *input = rest;
            return Ok(u64::from(b));
        }
    }
    let mut x: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(MAX_VARINT_LEN) {
        if b < 0x80 {
            if i == MAX_VARINT_LEN - 1 && b > 1 {
                return Err(CodecError::VarintOverflow { what });
            }
            *input = &bytes[i + 1..];
            return Ok(x | (u64::from(b) << (7 * i)));
        }
        x |= u64::from(b & 0x7f) << (7 * i);
    }
    if bytes.len() >= MAX_VARINT_LEN {
        Err(CodecError::VarintOverflow { what })
    } else {
        Err(CodecError::truncated(what, bytes.len() + 1, bytes.len()))
    }
}

/// Appends an unsigned LEB128 varint (Go `binary.PutUvarint`).
#[inline]
pub fn write_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a zigzag varint (Go `binary.Varint`).
#[inline]
pub fn read_varint(input: &mut &[u8], what: &'static str) -> Result<i64> {
    let ux = read_uvarint(input, what)?;
    Ok(zigzag_decode(ux))
}

/// Appends a zigzag varint (Go `binary.PutVarint`).
#[inline]
pub fn write_varint(out: &mut Vec<u8>, v: i64) {
    write_uvarint(out, zigzag_encode(v));
}

#[inline]
pub fn zigzag_decode(ux: u64) -> i64 {
    let x = (ux >> 1) as i64;
    if ux & 1 != 0 {
        !x
    } else {
        x
    }
}

#[inline]
pub fn zigzag_encode(v: i64) -> u64 {
    let ux = (v as u64) << 1;
    if v < 0 {
        !ux
    } else {
        ux
    }
}

// ---- compact little-endian integers (row v2 slots) -----------------------

/// Decodes a row v2 signed integer slot: 1, 2, 4 or 8 bytes LE, sign-extended.
#[inline]
pub fn decode_compact_i64(b: &[u8]) -> Result<i64> {
    match *b {
        [a] => Ok(i64::from(a as i8)),
        [a, c] => Ok(i64::from(i16::from_le_bytes([a, c]))),
        [a, c, d, e] => Ok(i64::from(i32::from_le_bytes([a, c, d, e]))),
        [a, c, d, e, f, g, h, i] => Ok(i64::from_le_bytes([a, c, d, e, f, g, h, i])),
        _ => Err(CodecError::BadCompactLength {
            what: "compact signed integer",
            len: b.len(),
        }),
    }
}

/// Decodes a row v2 unsigned integer slot: 1, 2, 4 or 8 bytes LE, zero-extended.
#[inline]
pub fn decode_compact_u64(b: &[u8]) -> Result<u64> {
    match *b {
        [a] => Ok(u64::from(a)),
        [a, c] => Ok(u64::from(u16::from_le_bytes([a, c]))),
        [a, c, d, e] => Ok(u64::from(u32::from_le_bytes([a, c, d, e]))),
        [a, c, d, e, f, g, h, i] => Ok(u64::from_le_bytes([a, c, d, e, f, g, h, i])),
        _ => Err(CodecError::BadCompactLength {
            what: "compact unsigned integer",
            len: b.len(),
        }),
    }
}

/// Appends the shortest of the 1/2/4/8-byte LE forms that holds `v`.
pub fn write_compact_i64(out: &mut Vec<u8>, v: i64) {
    if let Ok(x) = i8::try_from(v) {
        out.push(x as u8);
    } else if let Ok(x) = i16::try_from(v) {
        out.extend_from_slice(&x.to_le_bytes());
    } else if let Ok(x) = i32::try_from(v) {
        out.extend_from_slice(&x.to_le_bytes());
    } else {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends the shortest of the 1/2/4/8-byte LE forms that holds `v`.
pub fn write_compact_u64(out: &mut Vec<u8>, v: u64) {
    if let Ok(x) = u8::try_from(v) {
        out.push(x);
    } else if let Ok(x) = u16::try_from(v) {
        out.extend_from_slice(&x.to_le_bytes());
    } else if let Ok(x) = u32::try_from(v) {
        out.extend_from_slice(&x.to_le_bytes());
    } else {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uv(bytes: &[u8]) -> Result<u64> {
        let mut c = bytes;
        read_uvarint(&mut c, "t")
    }

    #[test]
    fn comparable_ints() {
        assert_eq!(i64_to_cmp(0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            i64_to_cmp(-1),
            [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        for v in [0, 1, -1, i64::MIN, i64::MAX, 45] {
            assert_eq!(i64_from_cmp(i64_to_cmp(v)), v);
        }
        let mut c: &[u8] = &[0x80, 0, 0, 0, 0, 0, 0, 0x2d, 9];
        assert_eq!(read_i64_cmp(&mut c).unwrap(), 45);
        assert_eq!(c, &[9]);
        let mut short: &[u8] = &[0x80, 0];
        assert_eq!(
            read_i64_cmp(&mut short),
            Err(CodecError::truncated("comparable i64", 8, 2))
        );
        assert_eq!(short.len(), 2);
    }

    #[test]
    fn comparable_floats() {
        let enc = |f: f64| f64_to_cmp_u64(f).to_be_bytes();
        assert_eq!(enc(1.5), [0xbf, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc(-1.5), [0x40, 0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(f64_from_cmp_u64(0x8000_0000_0000_0000), 0.0);
        let nz = f64_from_cmp_u64(0x7fff_ffff_ffff_ffff);
        assert_eq!(nz, 0.0);
        assert!(nz.is_sign_negative());
        assert!(enc(-2.0) < enc(-1.0) && enc(-1.0) < enc(0.0) && enc(0.0) < enc(3.0));
    }

    #[test]
    fn desc_u64() {
        let mut out = Vec::new();
        write_u64_desc(&mut out, 1);
        assert_eq!(out, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        let mut c = out.as_slice();
        assert_eq!(read_u64_desc(&mut c).unwrap(), 1);
    }

    #[test]
    fn uvarints() {
        assert_eq!(uv(&[0]).unwrap(), 0);
        assert_eq!(uv(&[0xac, 0x02]).unwrap(), 300);
        assert_eq!(
            uv(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).unwrap(),
            u64::MAX
        );
        assert_eq!(
            uv(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            Err(CodecError::VarintOverflow { what: "t" })
        );
        assert_eq!(
            uv(&[0x80; 11]),
            Err(CodecError::VarintOverflow { what: "t" })
        );
        assert_eq!(uv(&[0x80, 0x80]), Err(CodecError::truncated("t", 3, 2)));
        assert_eq!(uv(&[]), Err(CodecError::truncated("t", 1, 0)));
        let mut out = Vec::new();
        write_uvarint(&mut out, 445063339262394369);
        assert_eq!(out, [0x81, 0x80, 0xa3, 0xfa, 0xfb, 0xd7, 0xcb, 0x96, 0x06]);
    }

    #[test]
    fn zigzag() {
        for (v, bytes) in [
            (0i64, &[0u8][..]),
            (-1, &[1]),
            (1, &[2]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 1]),
            (1000, &[0xd0, 0x0f]),
            (-1000, &[0xcf, 0x0f]),
        ] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(out, bytes);
            let mut c = bytes;
            assert_eq!(read_varint(&mut c, "t").unwrap(), v);
            assert!(c.is_empty());
        }
        for v in [i64::MIN, i64::MAX] {
            assert_eq!(zigzag_decode(zigzag_encode(v)), v);
        }
    }

    #[test]
    fn compact_ints() {
        assert_eq!(decode_compact_i64(&[0xff]).unwrap(), -1);
        assert_eq!(decode_compact_u64(&[0xff]).unwrap(), 255);
        assert_eq!(decode_compact_i64(&[0xe8, 0x03]).unwrap(), 1000);
        assert_eq!(
            decode_compact_i64(&[0, 0, 0, 0x80]).unwrap(),
            i64::from(i32::MIN)
        );
        assert_eq!(decode_compact_u64(&[0, 0, 0, 0x80]).unwrap(), 0x8000_0000);
        assert_eq!(
            decode_compact_i64(&[1, 2, 3]),
            Err(CodecError::BadCompactLength {
                what: "compact signed integer",
                len: 3
            })
        );
        assert!(decode_compact_u64(&[]).is_err());
        for v in [
            0,
            -1,
            127,
            128,
            -129,
            40000,
            -40000,
            i64::from(i32::MAX) + 1,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            write_compact_i64(&mut out, v);
            assert_eq!(decode_compact_i64(&out).unwrap(), v);
        }
        let mut out = Vec::new();
        write_compact_i64(&mut out, 1000);
        assert_eq!(out, [0xe8, 0x03]);
        let mut out = Vec::new();
        write_compact_u64(&mut out, 255);
        assert_eq!(out, [0xff]);
    }
}

//! TiDB's datum codec (`util/codec`): a flag byte then a flag-specific
//! payload. Keys use the comparable forms (flags 1, 3, 4, 5, 6, 7); row v1
//! values use the value forms (2, 8, 9) plus 5, 6, 10 and 20. A clustered
//! handle is a concatenation of comparable datums, one per PK column.

use crate::decimal::{bin_size, Decimal};
use crate::error::{CodecError, Result};
use crate::json::{self, JsonRef};
use crate::memcomparable;
use crate::number::{
    read_bytes, read_f64_cmp, read_i64_cmp, read_u32_le, read_u64_be, read_u8, read_uvarint,
    read_varint, write_f64_cmp, write_i64_cmp, write_u64_be, write_uvarint, write_varint,
};

pub const NIL_FLAG: u8 = 0;
pub const BYTES_FLAG: u8 = 1;
pub const COMPACT_BYTES_FLAG: u8 = 2;
pub const INT_FLAG: u8 = 3;
pub const UINT_FLAG: u8 = 4;
pub const FLOAT_FLAG: u8 = 5;
pub const DECIMAL_FLAG: u8 = 6;
pub const DURATION_FLAG: u8 = 7;
pub const VARINT_FLAG: u8 = 8;
pub const UVARINT_FLAG: u8 = 9;
pub const JSON_FLAG: u8 = 10;
pub const VECTOR_FLOAT32_FLAG: u8 = 20;

/// A float32 vector: `count` little-endian f32 values, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorF32<'a> {
    data: &'a [u8],
}

impl<'a> VectorF32<'a> {
    /// Reads `u32 LE count` + `count × f32 LE` from the front of `input`.
    pub fn read(input: &mut &'a [u8]) -> Result<VectorF32<'a>> {
        let mut cur = *input;
        let count = read_u32_le(&mut cur, "vector dimension")? as usize;
        let n = count
            .checked_mul(4)
            .ok_or_else(|| CodecError::invalid("vector", format!("{count} dimensions")))?;
        let data = read_bytes(&mut cur, n, "vector values")?;
        *input = cur;
        Ok(VectorF32 { data })
    }

    /// A whole slot holding exactly one vector.
    pub fn from_slot(slot: &'a [u8]) -> Result<VectorF32<'a>> {
        let mut cur = slot;
        let v = VectorF32::read(&mut cur)?;
        if !cur.is_empty() {
            return Err(CodecError::TrailingBytes {
                what: "vector",
                count: cur.len(),
            });
        }
        Ok(v)
    }

    /// Number of dimensions.
    #[inline]
    pub fn len(&self) -> usize {
        self.data.len() / 4
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The little-endian f32 bytes.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.data
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<f32> {
        let at = i.checked_mul(4)?;
        let b = self.data.get(at..at.checked_add(4)?)?;
        Some(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn iter(&self) -> impl Iterator<Item = f32> + 'a {
        self.data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// Appends the encoding of `values`.
    pub fn encode(values: &[f32], out: &mut Vec<u8>) {
        out.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// One decoded datum. Borrowed variants point into the input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Datum<'a> {
    /// Flag 0.
    Null,
    /// Flag 1: the memcomparable groups, already validated; decode them with
    /// [`Datum::append_bytes`] or [`memcomparable::decode_bytes_into`].
    ComparableBytes(&'a [u8]),
    /// Flag 2: the raw bytes.
    Bytes(&'a [u8]),
    /// Flag 3.
    Int(i64),
    /// Flag 4 (also packed times and ENUM/SET/BIT values in keys).
    Uint(u64),
    /// Flag 5.
    Float(f64),
    /// Flag 6.
    Decimal(Decimal),
    /// Flag 7: nanoseconds.
    Duration(i64),
    /// Flag 8.
    VarInt(i64),
    /// Flag 9.
    UVarInt(u64),
    /// Flag 10.
    Json(JsonRef<'a>),
    /// Flag 20.
    VectorF32(VectorF32<'a>),
}

impl<'a> Datum<'a> {
    /// The flag byte this datum is written with.
    pub fn flag(&self) -> u8 {
        match self {
            Datum::Null => NIL_FLAG,
            Datum::ComparableBytes(_) => BYTES_FLAG,
            Datum::Bytes(_) => COMPACT_BYTES_FLAG,
            Datum::Int(_) => INT_FLAG,
            Datum::Uint(_) => UINT_FLAG,
            Datum::Float(_) => FLOAT_FLAG,
            Datum::Decimal(_) => DECIMAL_FLAG,
            Datum::Duration(_) => DURATION_FLAG,
            Datum::VarInt(_) => VARINT_FLAG,
            Datum::UVarInt(_) => UVARINT_FLAG,
            Datum::Json(_) => JSON_FLAG,
            Datum::VectorF32(_) => VECTOR_FLOAT32_FLAG,
        }
    }

    #[inline]
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// A signed integer in either form (flag 3 or 8).
    #[inline]
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Datum::Int(v) | Datum::VarInt(v) => Some(v),
            _ => None,
        }
    }

    /// An unsigned integer in either form (flag 4 or 9).
    #[inline]
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Datum::Uint(v) | Datum::UVarInt(v) => Some(v),
            _ => None,
        }
    }

    /// Appends the raw bytes of a string datum (flag 1 or 2) to `out`;
    /// returns `false`, leaving `out` as it was, for any other datum.
    pub fn append_bytes(&self, out: &mut Vec<u8>) -> Result<bool> {
        match *self {
            Datum::Bytes(b) => {
                out.extend_from_slice(b);
                Ok(true)
            }
            Datum::ComparableBytes(enc) => {
                memcomparable::decode_bytes_into(enc, out)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Appends flag and payload exactly as TiDB writes them.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.flag());
        match *self {
            Datum::Null => {}
            Datum::ComparableBytes(enc) => out.extend_from_slice(enc),
            Datum::Bytes(b) => {
                write_varint(out, b.len() as i64);
                out.extend_from_slice(b);
            }
            Datum::Int(v) | Datum::Duration(v) => write_i64_cmp(out, v),
            Datum::Uint(v) => write_u64_be(out, v),
            Datum::Float(f) => write_f64_cmp(out, f),
            Datum::Decimal(d) => d.encode_with_header(out),
            Datum::VarInt(v) => write_varint(out, v),
            Datum::UVarInt(v) => write_uvarint(out, v),
            Datum::Json(j) => {
                out.push(j.type_code);
                out.extend_from_slice(j.body);
            }
            Datum::VectorF32(v) => {
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v.raw());
            }
        }
    }
}

/// Appends a flag-1 datum holding `raw` (key form of a string).
pub fn encode_comparable_bytes(raw: &[u8], out: &mut Vec<u8>) {
    out.push(BYTES_FLAG);
    memcomparable::encode_bytes(raw, out);
}

#[inline]
fn compact_len(cur: &mut &[u8]) -> Result<usize> {
    let n = read_varint(cur, "compact bytes length")?;
    usize::try_from(n)
        .map_err(|_| CodecError::invalid("compact bytes length", format!("{n} is negative")))
}

/// Decodes one datum from the front of `input` and advances past it; on
/// error `input` is left unchanged.
pub fn decode_one<'a>(input: &mut &'a [u8]) -> Result<Datum<'a>> {
    let mut cur = *input;
    let flag = read_u8(&mut cur, "datum flag")?;
    let d = match flag {
        NIL_FLAG => Datum::Null,
        BYTES_FLAG => {
            let n = memcomparable::encoded_value_len(cur)?;
            Datum::ComparableBytes(read_bytes(&mut cur, n, "comparable bytes")?)
        }
        COMPACT_BYTES_FLAG => {
            let n = compact_len(&mut cur)?;
            Datum::Bytes(read_bytes(&mut cur, n, "compact bytes")?)
        }
        INT_FLAG => Datum::Int(read_i64_cmp(&mut cur)?),
        UINT_FLAG => Datum::Uint(read_u64_be(&mut cur)?),
        FLOAT_FLAG => Datum::Float(read_f64_cmp(&mut cur)?),
        DECIMAL_FLAG => Datum::Decimal(Decimal::read_with_header(&mut cur)?),
        DURATION_FLAG => Datum::Duration(read_i64_cmp(&mut cur)?),
        VARINT_FLAG => Datum::VarInt(read_varint(&mut cur, "varint datum")?),
        UVARINT_FLAG => Datum::UVarInt(read_uvarint(&mut cur, "uvarint datum")?),
        JSON_FLAG => Datum::Json(json::read_json(&mut cur)?),
        VECTOR_FLOAT32_FLAG => Datum::VectorF32(VectorF32::read(&mut cur)?),
        flag => return Err(CodecError::UnknownDatumFlag { flag }),
    };
    *input = cur;
    Ok(d)
}

/// Encoded length (flag included) of the datum at the front of `input`,
/// found from its flag and length fields without decoding the value.
pub fn peek_len(input: &[u8]) -> Result<usize> {
    let mut body = input;
    let flag = read_u8(&mut body, "datum flag")?;
    let mut cur = body;
    let payload = match flag {
        NIL_FLAG => 0,
        BYTES_FLAG => memcomparable::encoded_value_len(body)?,
        COMPACT_BYTES_FLAG => {
            let before = cur.len();
            let n = compact_len(&mut cur)?;
            (before - cur.len())
                .checked_add(n)
                .ok_or_else(|| CodecError::invalid("compact bytes length", "overflows"))?
        }
        INT_FLAG | UINT_FLAG | FLOAT_FLAG | DURATION_FLAG => 8,
        DECIMAL_FLAG => {
            let mut h = cur;
            let precision = read_u8(&mut h, "decimal precision")?;
            let frac = read_u8(&mut h, "decimal frac")?;
            2 + bin_size(precision, frac)?
        }
        VARINT_FLAG | UVARINT_FLAG => {
            let before = cur.len();
            read_uvarint(&mut cur, "varint datum")?;
            before - cur.len()
        }
        JSON_FLAG => {
            let mut h = cur;
            let type_code = read_u8(&mut h, "JSON type code")?;
            1 + json::body_len(type_code, h)?
        }
        VECTOR_FLOAT32_FLAG => {
            let mut h = cur;
            let count = read_u32_le(&mut h, "vector dimension")? as usize;
            count
                .checked_mul(4)
                .and_then(|n| n.checked_add(4))
                .ok_or_else(|| CodecError::invalid("vector", format!("{count} dimensions")))?
        }
        flag => return Err(CodecError::UnknownDatumFlag { flag }),
    };
    if payload > body.len() {
        return Err(CodecError::truncated(
            "datum",
            payload.saturating_add(1),
            input.len(),
        ));
    }
    Ok(payload + 1)
}

/// Advances `input` past one datum without decoding it.
#[inline]
pub fn skip_one<'a>(input: &mut &'a [u8]) -> Result<&'a [u8]> {
    let n = peek_len(input)?;
    read_bytes(input, n, "datum")
}

/// Iterator over a concatenation of datums (e.g. a clustered handle).
/// Stops after the first error.
#[derive(Clone, Debug)]
pub struct DatumIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for DatumIter<'a> {
    type Item = Result<Datum<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let r = decode_one(&mut self.rest);
        self.failed = r.is_err();
        Some(r)
    }
}

/// Iterates over the datums concatenated in `input`.
pub fn iter(input: &[u8]) -> DatumIter<'_> {
    DatumIter {
        rest: input,
        failed: false,
    }
}

/// Decodes every datum of a concatenation, appending to `out` (cleared
/// first), so callers can reuse one vector across rows.
pub fn decode_all_into<'a>(input: &'a [u8], out: &mut Vec<Datum<'a>>) -> Result<()> {
    out.clear();
    for d in iter(input) {
        out.push(d?);
    }
    Ok(())
}

/// Decodes every datum of a concatenation into a new vector.
pub fn decode_all(input: &[u8]) -> Result<Vec<Datum<'_>>> {
    iter(input).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn one(s: &str) -> Datum<'static> {
        let b: &'static [u8] = Box::leak(hex(s).into_boxed_slice());
        let mut c = b;
        let d = decode_one(&mut c).unwrap();
        assert!(c.is_empty(), "{s}: {} bytes left", c.len());
        assert_eq!(peek_len(b).unwrap(), b.len());
        let mut re = Vec::new();
        d.encode(&mut re);
        assert_eq!(re, b, "re-encoding {s}");
        d
    }

    #[test]
    fn every_flag() {
        assert_eq!(one("00"), Datum::Null);
        assert_eq!(one("037fffffffffffffff"), Datum::Int(-1));
        assert_eq!(one("04000000000000002a"), Datum::Uint(42));
        assert_eq!(one("08cf0f"), Datum::VarInt(-1000));
        assert_eq!(one("09ac02"), Datum::UVarInt(300));
        assert_eq!(one("020a68656c6c6f"), Datum::Bytes(b"hello"));
        assert_eq!(one("05bff8000000000000"), Datum::Float(1.5));
        assert_eq!(
            one("077ffffc9d0e1aed00"),
            Datum::Duration(-3_723_500_000_000)
        );
        let Datum::Decimal(d) = one("060a02800004d238") else {
            panic!()
        };
        assert_eq!(d.to_text(), "1234.56");
        let Datum::Json(j) = one("0a0401") else {
            panic!()
        };
        assert_eq!(j.to_text().unwrap(), "true");
        let Datum::VectorF32(v) = one("14020000000000803f000020c0") else {
            panic!()
        };
        assert_eq!(v.iter().collect::<Vec<_>>(), [1.0, -2.5]);
        let d = one("0168656c6c6f20776fff726c640000000000fa");
        let mut out = Vec::new();
        assert!(d.append_bytes(&mut out).unwrap());
        assert_eq!(out, b"hello world");
        assert!(!Datum::Int(1).append_bytes(&mut out).unwrap());
    }

    #[test]
    fn errors_leave_cursor() {
        for bad in [
            "",
            "fa",
            "03ff",
            "02",
            "0203",
            "0201",
            "06",
            "0a0c05",
            "0a99",
            "1401000000",
            "0141",
        ] {
            let b = hex(bad);
            let mut c = b.as_slice();
            assert!(decode_one(&mut c).is_err(), "{bad}");
            assert_eq!(c.len(), b.len());
            assert!(peek_len(&b).is_err(), "{bad}");
        }
        assert_eq!(
            decode_one(&mut &[0xfa][..]),
            Err(CodecError::UnknownDatumFlag { flag: 0xfa })
        );
    }

    #[test]
    fn concatenations() {
        let b = hex("016162630000000000fa038000000000000005");
        let all = decode_all(&b).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1], Datum::Int(5));
        let mut reuse = vec![Datum::Null];
        decode_all_into(&b, &mut reuse).unwrap();
        assert_eq!(reuse, all);
        let mut c = b.as_slice();
        skip_one(&mut c).unwrap();
        assert_eq!(decode_one(&mut c).unwrap(), Datum::Int(5));
        assert!(decode_all(&b[..b.len() - 1]).is_err());
    }
}

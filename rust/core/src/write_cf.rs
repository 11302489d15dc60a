//! TiKV write-CF values (`txn_types::Write`): a type byte, the start_ts as an
//! unsigned LEB128 varint, then tagged optional fields in any order. A short
//! value (`v`) is the whole row when it is at most 255 bytes; otherwise the
//! row sits in the default CF under the same key with ts = start_ts.
//!
//! Unlike TiKV, which stops at an unknown tag for forward compatibility, an
//! unknown tag here is an error: a converter must not drop data silently.

use crate::error::{CodecError, Result};
use crate::number::{read_bytes, read_u64_be, read_u8, read_uvarint, write_u64_be, write_uvarint};

pub const PUT: u8 = b'P';
pub const DELETE: u8 = b'D';
pub const LOCK: u8 = b'L';
pub const ROLLBACK: u8 = b'R';

pub const SHORT_VALUE_TAG: u8 = b'v';
pub const OVERLAPPED_ROLLBACK_TAG: u8 = b'R';
pub const GC_FENCE_TAG: u8 = b'F';
pub const LAST_CHANGE_TAG: u8 = b'l';
pub const TXN_SOURCE_TAG: u8 = b'S';

/// The kind of a write record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteType {
    Put,
    Delete,
    Lock,
    Rollback,
}

impl WriteType {
    #[inline]
    pub fn from_byte(byte: u8) -> Result<WriteType> {
        match byte {
            PUT => Ok(WriteType::Put),
            DELETE => Ok(WriteType::Delete),
            LOCK => Ok(WriteType::Lock),
            ROLLBACK => Ok(WriteType::Rollback),
            byte => Err(CodecError::UnknownWriteType { byte }),
        }
    }

    #[inline]
    pub fn to_byte(self) -> u8 {
        match self {
            WriteType::Put => PUT,
            WriteType::Delete => DELETE,
            WriteType::Lock => LOCK,
            WriteType::Rollback => ROLLBACK,
        }
    }
}

/// The `l` field: the ts of the last real change and how many versions
/// separate this record from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastChange {
    pub ts: u64,
    pub versions: u64,
}

/// A parsed write-CF value, borrowing the short value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteRecord<'a> {
    pub write_type: WriteType,
    pub start_ts: u64,
    pub short_value: Option<&'a [u8]>,
    pub has_overlapped_rollback: bool,
    pub gc_fence: Option<u64>,
    pub last_change: Option<LastChange>,
    pub txn_source: Option<u64>,
}

impl<'a> WriteRecord<'a> {
    /// A record with only a type and start_ts.
    pub fn new(write_type: WriteType, start_ts: u64) -> WriteRecord<'a> {
        WriteRecord {
            write_type,
            start_ts,
            short_value: None,
            has_overlapped_rollback: false,
            gc_fence: None,
            last_change: None,
            txn_source: None,
        }
    }

    /// Parses a write-CF value.
    pub fn parse(value: &'a [u8]) -> Result<WriteRecord<'a>> {
        let mut cur = value;
        let write_type = WriteType::from_byte(read_u8(&mut cur, "write type")?)?;
        let start_ts = read_uvarint(&mut cur, "write start_ts")?;
        let mut rec = WriteRecord::new(write_type, start_ts);
        while let Some((&tag, rest)) = cur.split_first() {
            let offset = value.len() - cur.len();
            cur = rest;
            match tag {
                SHORT_VALUE_TAG => {
                    let len = read_u8(&mut cur, "short value length")?;
                    rec.short_value = Some(read_bytes(&mut cur, usize::from(len), "short value")?);
                }
                OVERLAPPED_ROLLBACK_TAG => rec.has_overlapped_rollback = true,
                GC_FENCE_TAG => rec.gc_fence = Some(read_u64_be(&mut cur)?),
                LAST_CHANGE_TAG => {
                    let ts = read_u64_be(&mut cur)?;
                    let versions = read_uvarint(&mut cur, "last change versions")?;
                    rec.last_change = Some(LastChange { ts, versions });
                }
                TXN_SOURCE_TAG => rec.txn_source = Some(read_uvarint(&mut cur, "txn source")?),
                tag => return Err(CodecError::UnknownWriteTag { tag, offset }),
            }
        }
        Ok(rec)
    }

    /// Appends the value in TiKV's field order. Short values longer than 255
    /// bytes cannot be written and are an error.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.push(self.write_type.to_byte());
        write_uvarint(out, self.start_ts);
        if let Some(v) = self.short_value {
            let len = u8::try_from(v.len()).map_err(|_| {
                CodecError::invalid("short value", format!("{} bytes exceed 255", v.len()))
            })?;
            out.push(SHORT_VALUE_TAG);
            out.push(len);
            out.extend_from_slice(v);
        }
        if self.has_overlapped_rollback {
            out.push(OVERLAPPED_ROLLBACK_TAG);
        }
        if let Some(f) = self.gc_fence {
            out.push(GC_FENCE_TAG);
            write_u64_be(out, f);
        }
        if let Some(lc) = self.last_change {
            out.push(LAST_CHANGE_TAG);
            write_u64_be(out, lc.ts);
            write_uvarint(out, lc.versions);
        }
        if let Some(s) = self.txn_source {
            out.push(TXN_SOURCE_TAG);
            write_uvarint(out, s);
        }
        Ok(())
    }
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

    fn round_trip(s: &str) -> WriteRecord<'static> {
        let b: &'static [u8] = Box::leak(hex(s).into_boxed_slice());
        let r = WriteRecord::parse(b).unwrap();
        let mut out = Vec::new();
        r.encode(&mut out).unwrap();
        assert_eq!(out, b);
        r
    }

    #[test]
    fn put_with_short_value() {
        let r = round_trip("50f8ffa2fafbd7cb9606760f800002000000020301000300076869");
        assert_eq!(r.write_type, WriteType::Put);
        assert_eq!(r.start_ts, 445063339262394360);
        assert_eq!(
            r.short_value,
            Some(&hex("800002000000020301000300076869")[..])
        );
    }

    #[test]
    fn optional_fields() {
        let r = round_trip("507b5246000000000012d687");
        assert!(r.has_overlapped_rollback);
        assert_eq!(r.gc_fence, Some(1234567));
        let r = round_trip("4cc8036c00000000000001590b");
        assert_eq!(r.write_type, WriteType::Lock);
        assert_eq!(
            r.last_change,
            Some(LastChange {
                ts: 345,
                versions: 11
            })
        );
        let r = round_trip("4cc8035301");
        assert_eq!(r.txn_source, Some(1));
        let r = round_trip("52808080808020760170");
        assert_eq!(r.write_type, WriteType::Rollback);
        assert_eq!(r.start_ts, 1 << 40);
        assert_eq!(r.short_value, Some(&b"p"[..]));
        // Fields in another order still parse.
        let b = hex("507b46000000000012d687760100");
        let r = WriteRecord::parse(&b).unwrap();
        assert_eq!(r.short_value, Some(&[0u8][..]));
        assert_eq!(r.gc_fence, Some(1234567));
    }

    #[test]
    fn errors() {
        assert_eq!(
            WriteRecord::parse(&hex("507b7a")),
            Err(CodecError::UnknownWriteTag {
                tag: b'z',
                offset: 2
            })
        );
        assert_eq!(
            WriteRecord::parse(&hex("587b")),
            Err(CodecError::UnknownWriteType { byte: b'X' })
        );
        assert!(WriteRecord::parse(&[]).is_err());
        assert!(WriteRecord::parse(&hex("50")).is_err());
        assert!(WriteRecord::parse(&hex("50ff")).is_err());
        assert!(WriteRecord::parse(&hex("507b7605aa")).is_err());
        assert!(WriteRecord::parse(&hex("507b46000000")).is_err());
        assert!(WriteRecord::parse(&hex("507b6c0000000000000001")).is_err());
        let long = [0u8; 256];
        let mut rec = WriteRecord::new(WriteType::Put, 1);
        rec.short_value = Some(&long);
        assert!(rec.encode(&mut Vec::new()).is_err());
    }
}

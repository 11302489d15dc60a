//! TiKV data keys as found in BR SSTs and what the raw key inside means.
//!
//! An SST user key is `'z'` + memcomparable(raw key) + `BE64(!ts)`. The ts is
//! always the last 8 bytes. BR writes the `z`; dumps taken elsewhere (region
//! boundaries, logs, TiFlash tests) often lack it, so both are accepted and
//! [`DataPrefix`] says which was seen. A raw TiDB key starts with `t`, `m` or
//! (API V2) `x`, never `z`, so the first byte tells them apart.
//!
//! Raw keys: `t{i64cmp table}_r{handle}` is a row, with an int handle when
//! exactly 8 bytes follow `_r` and a common (clustered) handle otherwise;
//! `t{table}_i{i64cmp index}…` is an index entry; anything else is other.

use crate::error::{CodecError, Result};
use crate::memcomparable;
use crate::number::i64_from_cmp;

/// TiKV's data prefix (`keys::DATA_PREFIX`).
pub const DATA_PREFIX: u8 = b'z';
/// API V2 transactional keyspace prefix; 3 bytes of keyspace id follow.
pub const KEYSPACE_PREFIX: u8 = b'x';
pub const TABLE_PREFIX: u8 = b't';
pub const RECORD_SEP: [u8; 2] = *b"_r";
pub const INDEX_SEP: [u8; 2] = *b"_i";

const TS_LEN: usize = 8;
/// `t` + 8-byte table id + 2-byte separator.
const TABLE_PART_LEN: usize = 11;

/// Whether a data key carried TiKV's `z` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataPrefix {
    /// `z` + encoded key + ts, as BR writes SSTs.
    Z,
    /// Encoded key + ts with no prefix.
    Absent,
}

/// An SST user key split into its parts, still memcomparable-encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitKey<'a> {
    pub prefix: DataPrefix,
    /// memcomparable(raw key), without prefix and ts.
    pub encoded: &'a [u8],
    /// The MVCC ts: commit_ts in the write CF, start_ts in the default CF.
    pub ts: u64,
}

/// Splits the ts (last 8 bytes, inverted BE) and the optional `z` off a key.
#[inline]
pub fn split_key(key: &[u8]) -> Result<SplitKey<'_>> {
    let Some((body, ts)) = key.split_last_chunk::<TS_LEN>() else {
        return Err(CodecError::truncated("data key ts", TS_LEN, key.len()));
    };
    let ts = !u64::from_be_bytes(*ts);
    let (prefix, encoded) = match body.split_first() {
        Some((&DATA_PREFIX, rest)) => (DataPrefix::Z, rest),
        _ => (DataPrefix::Absent, body),
    };
    Ok(SplitKey {
        prefix,
        encoded,
        ts,
    })
}

/// Appends an SST user key: optional `z`, memcomparable(raw), `BE64(!ts)`.
pub fn encode_key(raw: &[u8], ts: u64, prefix: DataPrefix, out: &mut Vec<u8>) {
    if prefix == DataPrefix::Z {
        out.push(DATA_PREFIX);
    }
    memcomparable::encode_bytes(raw, out);
    out.extend_from_slice(&(!ts).to_be_bytes());
}

/// The handle of a row key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handle<'a> {
    /// `_tidb_rowid` or an integer PK (reinterpret as u64 for UNSIGNED PKs).
    Int(i64),
    /// Clustered PK: one comparable datum per PK column, concatenated.
    Common(&'a [u8]),
}

/// What a raw (decoded, keyspace-stripped) key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawKey<'a> {
    Record {
        table_id: i64,
        handle: Handle<'a>,
    },
    Index {
        table_id: i64,
        index_id: i64,
        /// Index column datums (and, for non-unique indexes, the handle).
        values: &'a [u8],
    },
    /// Meta keys, range bounds such as a bare `t{id}_r`, anything else.
    Other(&'a [u8]),
}

#[inline]
fn cmp_i64_at(b: &[u8], at: usize) -> Option<i64> {
    let bytes: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(i64_from_cmp(bytes))
}

/// Classifies a raw key.
pub fn parse_raw_key(raw: &[u8]) -> RawKey<'_> {
    if raw.first() != Some(&TABLE_PREFIX) {
        return RawKey::Other(raw);
    }
    let (Some(table_id), Some(sep), Some(rest)) = (
        cmp_i64_at(raw, 1),
        raw.get(9..TABLE_PART_LEN),
        raw.get(TABLE_PART_LEN..),
    ) else {
        return RawKey::Other(raw);
    };
    if sep == RECORD_SEP {
        match rest.len() {
            0 => RawKey::Other(raw),
            8 => match cmp_i64_at(rest, 0) {
                Some(h) => RawKey::Record {
                    table_id,
                    handle: Handle::Int(h),
                },
                None => RawKey::Other(raw),
            },
            _ => RawKey::Record {
                table_id,
                handle: Handle::Common(rest),
            },
        }
    } else if sep == INDEX_SEP {
        match (cmp_i64_at(rest, 0), rest.get(8..)) {
            (Some(index_id), Some(values)) => RawKey::Index {
                table_id,
                index_id,
                values,
            },
            _ => RawKey::Other(raw),
        }
    } else {
        RawKey::Other(raw)
    }
}

/// Splits an API V2 keyspace prefix (`x` + 3-byte BE keyspace id) off a raw
/// key. Keys without it come back unchanged with `None`.
#[inline]
pub fn strip_keyspace(raw: &[u8]) -> (Option<u32>, &[u8]) {
    match raw {
        [KEYSPACE_PREFIX, a, b, c, rest @ ..] => (Some(u32::from_be_bytes([0, *a, *b, *c])), rest),
        _ => (None, raw),
    }
}

/// A fully decoded SST key, borrowing the caller's decode buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodedKey<'b> {
    pub prefix: DataPrefix,
    pub ts: u64,
    /// The whole raw key (keyspace prefix included): what TiKV's checksum
    /// covers and what the default-CF entry is keyed by.
    pub raw: &'b [u8],
    /// The API V2 keyspace id, when the raw key had one.
    pub keyspace: Option<u32>,
    /// The meaning of the raw key after any keyspace prefix.
    pub kind: RawKey<'b>,
}

/// Decodes an SST user key into `buf` (cleared first; reuse it across keys)
/// and classifies it. The memcomparable part must end exactly at the ts.
pub fn decode_key<'b>(key: &[u8], buf: &'b mut Vec<u8>) -> Result<DecodedKey<'b>> {
    let split = split_key(key)?;
    buf.clear();
    let used = memcomparable::decode_bytes_into(split.encoded, buf)?;
    if used != split.encoded.len() {
        return Err(CodecError::TrailingBytes {
            what: "encoded key before ts",
            count: split.encoded.len() - used,
        });
    }
    let raw = buf.as_slice();
    let (keyspace, table_key) = strip_keyspace(raw);
    Ok(DecodedKey {
        prefix: split.prefix,
        ts: split.ts,
        raw,
        keyspace,
        kind: parse_raw_key(table_key),
    })
}

/// Appends a raw record key with an int handle.
pub fn encode_record_key_int(table_id: i64, handle: i64, out: &mut Vec<u8>) {
    out.push(TABLE_PREFIX);
    out.extend_from_slice(&crate::number::i64_to_cmp(table_id));
    out.extend_from_slice(&RECORD_SEP);
    out.extend_from_slice(&crate::number::i64_to_cmp(handle));
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

    #[test]
    fn br_write_key() {
        let key = hex("7a7480000000000000ff2d5f728000000000ff0000010000000000faf9d2d14040b73ffe");
        let mut buf = Vec::new();
        let k = decode_key(&key, &mut buf).unwrap();
        assert_eq!(k.prefix, DataPrefix::Z);
        assert_eq!(k.ts, 445063339262394369);
        assert_eq!(k.keyspace, None);
        assert_eq!(k.raw, hex("74800000000000002d5f728000000000000001"));
        assert_eq!(
            k.kind,
            RawKey::Record {
                table_id: 45,
                handle: Handle::Int(1)
            }
        );
        let mut re = Vec::new();
        encode_key(k.raw, k.ts, DataPrefix::Z, &mut re);
        assert_eq!(re, key);
    }

    #[test]
    fn key_without_z() {
        let key = hex("7480000000000000FF4D5F728000000000FF0000010000000000FAF9F3125EFCF3FFFE");
        let mut buf = Vec::new();
        let k = decode_key(&key, &mut buf).unwrap();
        assert_eq!(k.prefix, DataPrefix::Absent);
        assert_eq!(
            k.kind,
            RawKey::Record {
                table_id: 77,
                handle: Handle::Int(1)
            }
        );
    }

    #[test]
    fn keyspace_key() {
        let key = hex("7a7800000174800000ff000000002d5f7280ff0000000000000100fef9d2d14040b73ffe");
        let mut buf = Vec::new();
        let k = decode_key(&key, &mut buf).unwrap();
        assert_eq!(k.keyspace, Some(1));
        assert_eq!(
            k.kind,
            RawKey::Record {
                table_id: 45,
                handle: Handle::Int(1)
            }
        );
    }

    #[test]
    fn raw_key_kinds() {
        let common = hex("74800000000000002d5f72016162630000000000fa038000000000000005");
        assert_eq!(
            parse_raw_key(&common),
            RawKey::Record {
                table_id: 45,
                handle: Handle::Common(&common[11..])
            }
        );
        let index =
            hex("74800000000000002d5f698000000000000002016162630000000000fa038000000000000007");
        assert_eq!(
            parse_raw_key(&index),
            RawKey::Index {
                table_id: 45,
                index_id: 2,
                values: &index[19..]
            }
        );
        for other in [
            &b"mDB:1"[..],
            b"t",
            b"t\x80\x00",
            &hex("74800000000000002d5f72"),
            &hex("74800000000000002d5f78aa"),
            &hex("74800000000000002d5f6901"),
        ] {
            assert_eq!(parse_raw_key(other), RawKey::Other(other));
        }
        let mut raw = Vec::new();
        encode_record_key_int(45, -5, &mut raw);
        assert_eq!(raw, hex("74800000000000002d5f727ffffffffffffffb"));
    }

    #[test]
    fn bad_keys() {
        let mut buf = Vec::new();
        assert!(matches!(
            decode_key(&[1, 2, 3], &mut buf),
            Err(CodecError::Truncated { .. })
        ));
        // Encoded part continues after its final group.
        let mut key = Vec::new();
        memcomparable::encode_bytes(b"t1", &mut key);
        key.push(0);
        key.extend_from_slice(&[0xff; 8]);
        assert!(matches!(
            decode_key(&key, &mut buf),
            Err(CodecError::TrailingBytes { .. })
        ));
        assert_eq!(strip_keyspace(b"xab"), (None, &b"xab"[..]));
    }
}

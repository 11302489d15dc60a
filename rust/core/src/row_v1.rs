//! Row format v1 ("old row"): a concatenation of (column-id datum, value
//! datum) pairs in the order TiDB passed the columns. The id is normally a
//! varint datum (flag 8). A row with no stored columns is the single byte
//! `0x00`. Any first byte other than `0x80` (row v2) means v1.

use crate::datum::{self, Datum, NIL_FLAG, VARINT_FLAG};
use crate::error::{CodecError, Result};
use crate::number::{read_u8, read_varint, write_varint};
use crate::row_v2::CODEC_VERSION;

/// Whether a row value is in format v1.
#[inline]
pub fn is_v1(value: &[u8]) -> bool {
    value.first() != Some(&CODEC_VERSION)
}

/// Reads a column-id datum; TiDB writes flag 8, the other integer forms are
/// accepted as well.
#[inline]
fn read_col_id(cur: &mut &[u8]) -> Result<i64> {
    if cur.first() == Some(&VARINT_FLAG) {
        let mut c = *cur;
        read_u8(&mut c, "column id flag")?;
        let id = read_varint(&mut c, "column id")?;
        *cur = c;
        return Ok(id);
    }
    let mut c = *cur;
    let id = match datum::decode_one(&mut c)? {
        Datum::Int(v) | Datum::VarInt(v) => v,
        Datum::Uint(v) | Datum::UVarInt(v) => i64::try_from(v)
            .map_err(|_| CodecError::invalid("row v1 column id", format!("{v} overflows i64")))?,
        other => {
            return Err(CodecError::invalid(
                "row v1 column id",
                format!("datum flag {} is not an integer", other.flag()),
            ))
        }
    };
    *cur = c;
    Ok(id)
}

/// Iterator over `(column id, value datum bytes)` of a v1 row, without
/// copying. The value bytes include the datum flag (`0x00` = NULL).
/// Stops after the first error.
#[derive(Clone, Debug)]
pub struct RowV1Iter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for RowV1Iter<'a> {
    type Item = Result<(i64, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let mut cur = self.rest;
        let r = read_col_id(&mut cur).and_then(|id| Ok((id, datum::skip_one(&mut cur)?)));
        match r {
            Ok(pair) => {
                self.rest = cur;
                Some(Ok(pair))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Iterates over the columns of a v1 row; `[0x00]` (and an empty value)
/// yield nothing.
pub fn iter(row: &[u8]) -> RowV1Iter<'_> {
    let rest = if row == [NIL_FLAG] { &[][..] } else { row };
    RowV1Iter {
        rest,
        failed: false,
    }
}

/// Collects the columns of a v1 row into `out` (cleared first), in stored
/// order, so one vector can be reused across rows.
pub fn parse_into<'a>(row: &'a [u8], out: &mut Vec<(i64, &'a [u8])>) -> Result<()> {
    out.clear();
    for c in iter(row) {
        out.push(c?);
    }
    Ok(())
}

/// A parsed v1 row with lookup by column id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowV1<'a> {
    /// Sorted by column id.
    columns: Vec<(i64, &'a [u8])>,
}

impl<'a> RowV1<'a> {
    pub fn parse(row: &'a [u8]) -> Result<RowV1<'a>> {
        let mut columns = Vec::new();
        parse_into(row, &mut columns)?;
        columns.sort_by_key(|&(id, _)| id);
        Ok(RowV1 { columns })
    }

    /// `(column id, value datum bytes)` sorted by id.
    pub fn columns(&self) -> &[(i64, &'a [u8])] {
        &self.columns
    }

    /// The value datum bytes of a column, `None` when it is not stored.
    #[inline]
    pub fn lookup(&self, col_id: i64) -> Option<&'a [u8]> {
        self.columns
            .binary_search_by_key(&col_id, |&(id, _)| id)
            .ok()
            .and_then(|i| self.columns.get(i))
            .map(|&(_, v)| v)
    }

    /// The decoded value of a column, `None` when it is not stored.
    pub fn lookup_datum(&self, col_id: i64) -> Result<Option<Datum<'a>>> {
        self.lookup(col_id)
            .map(|mut v| datum::decode_one(&mut v))
            .transpose()
    }
}

/// Appends a v1 row of `(column id, value)` pairs; no columns gives `[0x00]`.
pub fn encode(columns: &[(i64, Datum<'_>)], out: &mut Vec<u8>) {
    if columns.is_empty() {
        out.push(NIL_FLAG);
        return;
    }
    for (id, value) in columns {
        out.push(VARINT_FLAG);
        write_varint(out, *id);
        value.encode(out);
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

    #[test]
    fn parses_pairs() {
        let b = hex("080208d00f0804020661626308060008080603028132080a09808080b8b8c6b9cf19080c08ffb7bdc1dad801080e05bff800000000000008100a0401");
        let row = RowV1::parse(&b).unwrap();
        assert_eq!(row.columns().len(), 8);
        assert_eq!(row.lookup_datum(1).unwrap(), Some(Datum::VarInt(1000)));
        assert_eq!(row.lookup_datum(2).unwrap(), Some(Datum::Bytes(b"abc")));
        assert_eq!(row.lookup_datum(3).unwrap(), Some(Datum::Null));
        assert_eq!(row.lookup(9), None);
        assert_eq!(row.lookup_datum(9).unwrap(), None);
        assert_eq!(
            row.lookup_datum(5).unwrap(),
            Some(Datum::UVarInt(0x199e_e633_8700_0000))
        );
        assert_eq!(
            row.lookup_datum(6).unwrap(),
            Some(Datum::VarInt(-3_723_000_000_000))
        );
        assert_eq!(row.lookup_datum(7).unwrap(), Some(Datum::Float(1.5)));
        assert!(is_v1(&b));
        assert!(!is_v1(&[0x80, 0]));
    }

    #[test]
    fn empty_rows() {
        assert!(RowV1::parse(&[0]).unwrap().columns().is_empty());
        assert!(RowV1::parse(&[]).unwrap().columns().is_empty());
        let mut out = Vec::new();
        encode(&[], &mut out);
        assert_eq!(out, [0]);
    }

    #[test]
    fn round_trip_and_errors() {
        let cols = [
            (1, Datum::VarInt(-7)),
            (300, Datum::Bytes(b"xyz")),
            (2, Datum::Null),
        ];
        let mut out = Vec::new();
        encode(&cols, &mut out);
        let mut back = Vec::new();
        parse_into(&out, &mut back).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[1].0, 300);
        // Truncated value, non-integer id, NULL id followed by data.
        assert!(RowV1::parse(&out[..out.len() - 2]).is_err());
        assert!(RowV1::parse(&hex("020161")).is_err());
        assert!(RowV1::parse(&hex("0000")).is_err());
        // Comparable-int id accepted.
        let b = hex("03800000000000000400");
        let row = RowV1::parse(&b).unwrap();
        assert_eq!(row.lookup(4), Some(&[0u8][..]));
    }
}

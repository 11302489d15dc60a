//! Row format v2 (TiDB `rowcodec`):
//!
//! ```text
//! 0x80 | flags | u16 LE not-null count | u16 LE null count
//!      | not-null ids (sorted) | null ids (sorted)   -- u8 each, u32 LE if large
//!      | end offsets of not-null values              -- u16 LE each, u32 LE if large
//!      | value data | optional checksum trailer (5 or 9 bytes, ignored)
//! ```
//!
//! Flags: bit 0 = large, bit 1 = checksum. [`RowV2::parse`] validates the
//! layout (counts, sorted ids, monotonic in-bounds offsets) once, so lookups
//! cannot fail afterwards. The slot helpers decode a value's bytes by
//! column type.

use crate::datum::VectorF32;
use crate::decimal::Decimal;
use crate::error::{CodecError, Result};
use crate::json::JsonRef;
use crate::number::{
    decode_compact_i64, decode_compact_u64, f64_from_cmp_u64, read_bytes, read_u16_le, read_u8,
    write_compact_i64, write_compact_u64, write_f64_cmp,
};
use crate::time::DateTime;

/// First byte of every v2 row.
pub const CODEC_VERSION: u8 = 0x80;
pub const FLAG_LARGE: u8 = 0x01;
pub const FLAG_CHECKSUM: u8 = 0x02;

/// Where a column stands in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// Stored and not NULL: the slot bytes (possibly empty).
    Value(&'a [u8]),
    /// Stored as NULL.
    Null,
    /// Not stored: fill from the handle, a default, or NULL.
    Missing,
}

/// Where a column stands in a row, by index: what [`Lookup`] finds, before
/// the value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// The `i`-th not-null value ([`RowV2::value`]).
    Value(usize),
    Null,
    Missing,
}

/// The positions of one list of column ids in rows of the last layout seen
/// (the same not-null and null id arrays), so that rows of a layout already
/// seen (nearly all of a table's rows) need no id search.
#[derive(Clone, Debug, Default)]
pub struct LayoutCache {
    /// Whether the fields below describe a layout yet.
    filled: bool,
    large: bool,
    not_null_ids: Vec<u8>,
    null_ids: Vec<u8>,
    positions: Vec<Position>,
}

impl LayoutCache {
    /// The position in `row` of each of `ids`, in order. Every call on one
    /// cache must pass the same ids (a table's columns).
    #[inline]
    pub fn positions(&mut self, row: &RowV2<'_>, ids: impl Iterator<Item = i64>) -> &[Position] {
        let same = self.filled
            && self.large == row.large
            && self.not_null_ids == row.not_null_ids
            && self.null_ids == row.null_ids;
        if !same {
            self.filled = true;
            self.large = row.large;
            self.not_null_ids.clear();
            self.not_null_ids.extend_from_slice(row.not_null_ids);
            self.null_ids.clear();
            self.null_ids.extend_from_slice(row.null_ids);
            self.positions.clear();
            let mut cursor = Cursor::default();
            self.positions
                .extend(ids.map(|id| row.position_from(id, &mut cursor)));
        }
        &self.positions
    }
}

/// A validated v2 row borrowing its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowV2<'a> {
    large: bool,
    has_checksum: bool,
    not_null_count: usize,
    null_count: usize,
    not_null_ids: &'a [u8],
    null_ids: &'a [u8],
    offsets: &'a [u8],
    data: &'a [u8],
    trailer: &'a [u8],
}

/// Id `i` of an id array of width 1 or 4.
#[inline]
fn id_at(ids: &[u8], large: bool, i: usize) -> u32 {
    if large {
        match i.checked_mul(4).and_then(|at| ids.get(at..at + 4)) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => u32::MAX,
        }
    } else {
        ids.get(i).copied().map_or(u32::MAX, u32::from)
    }
}

/// End offset `i` of an offset array of width 2 or 4.
#[inline]
fn offset_at(offsets: &[u8], large: bool, i: usize) -> usize {
    let v = if large {
        match i.checked_mul(4).and_then(|at| offsets.get(at..at + 4)) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        }
    } else {
        match i.checked_mul(2).and_then(|at| offsets.get(at..at + 2)) {
            Some(&[a, b]) => u32::from(u16::from_le_bytes([a, b])),
            _ => 0,
        }
    };
    v as usize
}

/// Index of `id` in a sorted id array.
#[inline]
fn search(ids: &[u8], large: bool, count: usize, id: u32) -> Option<usize> {
    if !large {
        let id = u8::try_from(id).ok()?;
        return ids.binary_search(&id).ok();
    }
    let (mut lo, mut hi) = (0usize, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match id_at(ids, true, mid).cmp(&id) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(mid),
        }
    }
    None
}

/// Index of `id` in a sorted id array, tried first at `*at` (where the
/// previous lookup left off); a hit moves `*at` past it. Lookups of columns
/// in ascending id order thus cost one comparison each.
#[inline]
fn search_from(ids: &[u8], large: bool, count: usize, id: u32, at: &mut usize) -> Option<usize> {
    let c = *at;
    if c < count {
        let cur = id_at(ids, large, c);
        if cur == id {
            *at = c + 1;
            return Some(c);
        }
        // Between its sorted neighbours: not there.
        if id < cur && (c == 0 || id_at(ids, large, c - 1) < id) {
            return None;
        }
    } else if count == 0 || id_at(ids, large, count - 1) < id {
        return None;
    }
    let found = search(ids, large, count, id);
    if let Some(i) = found {
        *at = i + 1;
    }
    found
}

/// Where lookups in one row left off, for [`RowV2::lookup_from`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    not_null: usize,
    null: usize,
}

fn check_sorted(ids: &[u8], large: bool, count: usize, what: &'static str) -> Result<()> {
    for i in 1..count {
        let (prev, cur) = (id_at(ids, large, i - 1), id_at(ids, large, i));
        if prev >= cur {
            return Err(CodecError::invalid(
                what,
                format!("column ids not ascending: {prev} then {cur}"),
            ));
        }
    }
    Ok(())
}

impl<'a> RowV2<'a> {
    /// Parses and validates a v2 row value.
    pub fn parse(row: &'a [u8]) -> Result<RowV2<'a>> {
        let mut cur = row;
        let version = read_u8(&mut cur, "row v2 version")?;
        if version != CODEC_VERSION {
            return Err(CodecError::invalid(
                "row v2",
                format!("version byte {version:#04x}, expected 0x80"),
            ));
        }
        let flags = read_u8(&mut cur, "row v2 flags")?;
        if flags & !(FLAG_LARGE | FLAG_CHECKSUM) != 0 {
            return Err(CodecError::invalid(
                "row v2",
                format!("unknown flag bits in {flags:#04x}"),
            ));
        }
        let large = flags & FLAG_LARGE != 0;
        let not_null_count = usize::from(read_u16_le(&mut cur, "row v2 not-null count")?);
        let null_count = usize::from(read_u16_le(&mut cur, "row v2 null count")?);
        let (id_w, off_w) = if large { (4, 4) } else { (1, 2) };
        // Counts are u16, so these products cannot overflow.
        let not_null_ids = read_bytes(&mut cur, not_null_count * id_w, "row v2 column ids")?;
        let null_ids = read_bytes(&mut cur, null_count * id_w, "row v2 null column ids")?;
        let offsets = read_bytes(&mut cur, not_null_count * off_w, "row v2 offsets")?;
        check_sorted(not_null_ids, large, not_null_count, "row v2 not-null ids")?;
        check_sorted(null_ids, large, null_count, "row v2 null ids")?;
        let mut prev = 0usize;
        for i in 0..not_null_count {
            let end = offset_at(offsets, large, i);
            if end < prev {
                return Err(CodecError::invalid(
                    "row v2 offsets",
                    format!("offset {i} is {end}, before the previous {prev}"),
                ));
            }
            prev = end;
        }
        let (data, trailer) = cur
            .split_at_checked(prev)
            .ok_or_else(|| CodecError::truncated("row v2 value data", prev, cur.len()))?;
        Ok(RowV2 {
            large,
            has_checksum: flags & FLAG_CHECKSUM != 0,
            not_null_count,
            null_count,
            not_null_ids,
            null_ids,
            offsets,
            data,
            trailer,
        })
    }

    /// Whether ids and offsets are 4 bytes wide.
    #[inline]
    pub fn is_large(&self) -> bool {
        self.large
    }

    /// Whether the checksum flag is set.
    #[inline]
    pub fn has_checksum(&self) -> bool {
        self.has_checksum
    }

    /// Bytes after the last value: the checksum trailer when present.
    /// Not interpreted: its contents differ between TiDB versions.
    #[inline]
    pub fn trailer(&self) -> &'a [u8] {
        self.trailer
    }

    #[inline]
    pub fn not_null_count(&self) -> usize {
        self.not_null_count
    }

    #[inline]
    pub fn null_count(&self) -> usize {
        self.null_count
    }

    /// Slot bytes of the `i`-th not-null column (empty if there is none).
    #[inline]
    pub fn value(&self, i: usize) -> &'a [u8] {
        self.value_at(i)
    }

    /// Slot bytes of the `i`-th not-null column.
    #[inline]
    fn value_at(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 {
            0
        } else {
            offset_at(self.offsets, self.large, i - 1)
        };
        let end = offset_at(self.offsets, self.large, i);
        self.data.get(start..end).unwrap_or_default()
    }

    /// Finds a column by id: not-null ids first, then null ids.
    #[inline]
    pub fn lookup(&self, col_id: i64) -> Lookup<'a> {
        let Ok(id) = u32::try_from(col_id) else {
            return Lookup::Missing;
        };
        if let Some(i) = search(self.not_null_ids, self.large, self.not_null_count, id) {
            return Lookup::Value(self.value_at(i));
        }
        if search(self.null_ids, self.large, self.null_count, id).is_some() {
            return Lookup::Null;
        }
        Lookup::Missing
    }

    /// [`RowV2::lookup`], cheaper when successive calls with one `cursor`
    /// ask for ascending column ids (the usual column order).
    #[inline]
    pub fn lookup_from(&self, col_id: i64, cursor: &mut Cursor) -> Lookup<'a> {
        match self.position_from(col_id, cursor) {
            Position::Value(i) => Lookup::Value(self.value_at(i)),
            Position::Null => Lookup::Null,
            Position::Missing => Lookup::Missing,
        }
    }

    /// [`RowV2::lookup_from`] without reading the value.
    #[inline]
    pub fn position_from(&self, col_id: i64, cursor: &mut Cursor) -> Position {
        let Ok(id) = u32::try_from(col_id) else {
            return Position::Missing;
        };
        let (ids, large, count) = (self.not_null_ids, self.large, self.not_null_count);
        if let Some(i) = search_from(ids, large, count, id, &mut cursor.not_null) {
            return Position::Value(i);
        }
        if search_from(self.null_ids, large, self.null_count, id, &mut cursor.null).is_some() {
            return Position::Null;
        }
        Position::Missing
    }

    /// `(column id, slot bytes)` of the not-null columns, ascending by id.
    pub fn values(&self) -> impl Iterator<Item = (u32, &'a [u8])> + '_ {
        (0..self.not_null_count)
            .map(move |i| (id_at(self.not_null_ids, self.large, i), self.value_at(i)))
    }

    /// Ids of the NULL columns, ascending.
    pub fn null_ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.null_count).map(move |i| id_at(self.null_ids, self.large, i))
    }
}

/// Appends a v2 row. `columns` are `(id, Some(slot) | None for NULL)` in
/// any order; the large form is chosen as TiDB does (an id above 255 or
/// more than 65535 bytes of data).
pub fn encode(columns: &[(u32, Option<&[u8]>)], out: &mut Vec<u8>) {
    let mut not_null: Vec<(u32, &[u8])> = columns
        .iter()
        .filter_map(|&(id, v)| v.map(|v| (id, v)))
        .collect();
    let mut nulls: Vec<u32> = columns
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|&(id, _)| id)
        .collect();
    not_null.sort_by_key(|&(id, _)| id);
    nulls.sort_unstable();
    let data_len: usize = not_null.iter().map(|(_, v)| v.len()).sum();
    let large = columns.iter().any(|&(id, _)| id > 255) || data_len > usize::from(u16::MAX);
    out.push(CODEC_VERSION);
    out.push(if large { FLAG_LARGE } else { 0 });
    out.extend_from_slice(&(not_null.len() as u16).to_le_bytes());
    out.extend_from_slice(&(nulls.len() as u16).to_le_bytes());
    let put_id = |out: &mut Vec<u8>, id: u32| {
        if large {
            out.extend_from_slice(&id.to_le_bytes());
        } else {
            out.push(id as u8);
        }
    };
    for &(id, _) in &not_null {
        put_id(out, id);
    }
    for &id in &nulls {
        put_id(out, id);
    }
    let mut end = 0usize;
    for (_, v) in &not_null {
        end += v.len();
        if large {
            out.extend_from_slice(&(end as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(end as u16).to_le_bytes());
        }
    }
    for (_, v) in &not_null {
        out.extend_from_slice(v);
    }
}

// ---- slot payloads by column type -----------------------------------------

/// Signed integer types, YEAR: compact signed LE.
#[inline]
pub fn decode_int(slot: &[u8]) -> Result<i64> {
    decode_compact_i64(slot)
}

/// Unsigned integer types, ENUM, SET, BIT: compact unsigned LE.
#[inline]
pub fn decode_uint(slot: &[u8]) -> Result<u64> {
    decode_compact_u64(slot)
}

/// DOUBLE: 8-byte comparable big-endian.
#[inline]
pub fn decode_f64(slot: &[u8]) -> Result<f64> {
    match *slot {
        [a, b, c, d, e, f, g, h] => Ok(f64_from_cmp_u64(u64::from_be_bytes([
            a, b, c, d, e, f, g, h,
        ]))),
        _ => Err(CodecError::invalid(
            "row v2 float",
            format!("{} bytes, expected 8", slot.len()),
        )),
    }
}

/// FLOAT: stored widened to f64 in the same 8-byte form.
#[inline]
pub fn decode_f32(slot: &[u8]) -> Result<f32> {
    decode_f64(slot).map(|f| f as f32)
}

/// DECIMAL: `[precision][frac][bin]`, nothing after.
#[inline]
pub fn decode_decimal(slot: &[u8]) -> Result<Decimal> {
    let mut cur = slot;
    let d = Decimal::read_with_header(&mut cur)?;
    if !cur.is_empty() {
        return Err(CodecError::TrailingBytes {
            what: "row v2 decimal",
            count: cur.len(),
        });
    }
    Ok(d)
}

/// DATE/DATETIME/TIMESTAMP: the packed u64 as compact unsigned.
#[inline]
pub fn decode_packed_time(slot: &[u8]) -> Result<u64> {
    decode_compact_u64(slot)
}

/// DATE/DATETIME/TIMESTAMP decoded to fields.
#[inline]
pub fn decode_datetime(slot: &[u8]) -> Result<DateTime> {
    DateTime::from_packed(decode_compact_u64(slot)?)
}

/// TIME: nanoseconds as compact signed.
#[inline]
pub fn decode_duration(slot: &[u8]) -> Result<i64> {
    decode_compact_i64(slot)
}

/// JSON: type code + body.
#[inline]
pub fn decode_json(slot: &[u8]) -> Result<JsonRef<'_>> {
    JsonRef::from_slot(slot)
}

/// VECTOR(FLOAT32): u32 LE count + f32 LE values.
#[inline]
pub fn decode_vector_f32(slot: &[u8]) -> Result<VectorF32<'_>> {
    VectorF32::from_slot(slot)
}

/// Appends the compact signed form.
pub fn encode_int(v: i64, out: &mut Vec<u8>) {
    write_compact_i64(out, v);
}

/// Appends the compact unsigned form.
pub fn encode_uint(v: u64, out: &mut Vec<u8>) {
    write_compact_u64(out, v);
}

/// Appends the 8-byte comparable float form.
pub fn encode_f64(v: f64, out: &mut Vec<u8>) {
    write_f64_cmp(out, v);
}

/// The ENUM element for a stored value (1-based); `None` for 0 and values
/// past the last element, which TiDB shows as the empty string.
#[inline]
pub fn enum_name<S: AsRef<str>>(elems: &[S], value: u64) -> Option<&str> {
    let i = usize::try_from(value.checked_sub(1)?).ok()?;
    elems.get(i).map(AsRef::as_ref)
}

/// Appends the SET elements whose bits are set, joined by `,`, in element
/// order. Bits beyond the last element are an error, as in TiDB.
pub fn write_set<S: AsRef<str>>(elems: &[S], mask: u64, out: &mut String) -> Result<()> {
    let known = if elems.len() >= 64 {
        u64::MAX
    } else {
        (1u64 << elems.len()) - 1
    };
    if mask & !known != 0 {
        return Err(CodecError::invalid(
            "SET value",
            format!("{mask:#x} has bits beyond {} elements", elems.len()),
        ));
    }
    let mut first = true;
    for (i, e) in elems.iter().enumerate().take(64) {
        if mask >> i & 1 == 1 {
            if !first {
                out.push(',');
            }
            out.push_str(e.as_ref());
            first = false;
        }
    }
    Ok(())
}

/// Appends a BIT(flen) value as `ceil(flen/8)` big-endian bytes (higher
/// bytes dropped, as TiDB does).
pub fn write_bit_bytes(value: u64, flen: i64, out: &mut Vec<u8>) -> Result<()> {
    if !(1..=64).contains(&flen) {
        return Err(CodecError::invalid(
            "BIT width",
            format!("{flen} outside 1..=64"),
        ));
    }
    let n = ((flen + 7) / 8) as usize;
    let be = value.to_be_bytes();
    out.extend_from_slice(be.get(8 - n..).unwrap_or_default());
    Ok(())
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
    fn tikv_test_encode() {
        let b = hex("80000b0001000103060708090c0d0e0f1021020003000b000e001000180019002100240041004500e803034003333333333332616263ff7fbffccccccccccccd020000008733e69e1901008101010000001c0000001300000003000c160000006b65790576616c756500ca9a3b");
        let row = RowV2::parse(&b).unwrap();
        assert!(!row.is_large());
        let v = |id| match row.lookup(id) {
            Lookup::Value(v) => v,
            other => panic!("{id}: {other:?}"),
        };
        assert_eq!(decode_int(v(1)).unwrap(), 1000);
        assert_eq!(decode_uint(v(3)).unwrap(), 3);
        assert_eq!(decode_f64(v(6)).unwrap(), -1.8);
        assert_eq!(v(7), b"abc");
        assert_eq!(decode_int(v(8)).unwrap(), 32767);
        assert_eq!(decode_f64(v(9)).unwrap(), 1.8);
        assert_eq!(decode_int(v(12)).unwrap(), 2);
        assert_eq!(decode_packed_time(v(13)).unwrap(), 0x199e_e633_8700_0000);
        assert_eq!(decode_decimal(v(14)).unwrap().to_text(), "1");
        assert_eq!(
            decode_json(v(15)).unwrap().to_text().unwrap(),
            "{\"key\": \"value\"}"
        );
        assert_eq!(decode_duration(v(16)).unwrap(), 1_000_000_000);
        assert_eq!(row.lookup(33), Lookup::Null);
        assert_eq!(row.lookup(2), Lookup::Missing);
        assert_eq!(row.lookup(-1), Lookup::Missing);
        assert_eq!(row.lookup(1 << 40), Lookup::Missing);
        assert_eq!(row.values().count(), 11);
        assert_eq!(row.null_ids().collect::<Vec<_>>(), [33]);
        assert!(row.trailer().is_empty());
    }

    #[test]
    fn large_form() {
        let b = hex("8001040001000100000003000000080000000c0000004f01000002000000030000000500000006000000e80303ff7f02");
        let row = RowV2::parse(&b).unwrap();
        assert!(row.is_large());
        assert_eq!(row.lookup(335), Lookup::Null);
        assert_eq!(row.lookup(8), Lookup::Value(&[0xff, 0x7f]));
        assert_eq!(row.lookup(12), Lookup::Value(&[2]));
        let mut re = Vec::new();
        let cols: Vec<(u32, Option<&[u8]>)> = row
            .values()
            .map(|(id, v)| (id, Some(v)))
            .chain([(335, None)])
            .collect();
        encode(&cols, &mut re);
        assert_eq!(re, b);
    }

    /// Cursor lookups answer as `lookup` does, whatever the order of the
    /// ids asked (ascending, descending, interleaved, repeated), in both widths.
    #[test]
    fn lookup_from_matches_lookup() {
        let small = hex("80000b0001000103060708090c0d0e0f1021020003000b000e001000180019002100240041004500e803034003333333333332616263ff7fbffccccccccccccd020000008733e69e1901008101010000001c0000001300000003000c160000006b65790576616c756500ca9a3b");
        let large = hex("8001040001000100000003000000080000000c0000004f01000002000000030000000500000006000000e80303ff7f02");
        let ascending: Vec<i64> = (-2..340).collect();
        let descending: Vec<i64> = ascending.iter().rev().copied().collect();
        let shuffled: Vec<i64> = (0..340).map(|i| (i * 97) % 340).collect();
        let repeated = vec![8, 8, 1, 1, 33, 33, 16, 3, 3, 335, 12, 1 << 40, 0];
        for b in [&small, &large] {
            let row = RowV2::parse(b).unwrap();
            for ids in [&ascending, &descending, &shuffled, &repeated] {
                let mut cursor = Cursor::default();
                for &id in ids.iter() {
                    assert_eq!(row.lookup_from(id, &mut cursor), row.lookup(id), "id {id}");
                }
            }
        }
        let empty = hex("800000000000");
        let row = RowV2::parse(&empty).unwrap();
        let mut cursor = Cursor::default();
        assert_eq!(row.lookup_from(1, &mut cursor), Lookup::Missing);
    }

    #[test]
    fn checksum_trailer_is_ignored() {
        for t in [
            "800201000000010100010124eedd58",
            "80020100000001010001084433221188776655",
        ] {
            let b = hex(t);
            let row = RowV2::parse(&b).unwrap();
            assert!(row.has_checksum());
            assert_eq!(row.lookup(1), Lookup::Value(&[1]));
            assert!(row.trailer().len() == 5 || row.trailer().len() == 9);
        }
    }

    #[test]
    fn empty_and_zero_length_slots() {
        let empty = hex("800000000000");
        let row = RowV2::parse(&empty).unwrap();
        assert_eq!(row.lookup(1), Lookup::Missing);
        let b = hex("800003000100010203040100010005000103028132");
        let row = RowV2::parse(&b).unwrap();
        assert_eq!(row.lookup(1), Lookup::Value(&[1]));
        assert_eq!(row.lookup(2), Lookup::Value(&[]));
        assert_eq!(
            decode_decimal(match row.lookup(3) {
                Lookup::Value(v) => v,
                _ => panic!(),
            })
            .unwrap()
            .to_text(),
            "1.50"
        );
        assert_eq!(row.lookup(4), Lookup::Null);
    }

    #[test]
    fn rejects_corrupt_layouts() {
        for bad in [
            "",
            "81",
            "8000",
            "8004000000000000",
            "800001000000",                 // missing id and offset
            "800001000000010500",           // offset 5 past the data
            "8000020000000201020001000a0b", // ids not ascending
            "80000200000001020200010061",   // offsets decreasing
            "80080000000000",               // unknown flag
        ] {
            assert!(RowV2::parse(&hex(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn slot_helpers() {
        assert_eq!(decode_f32(&hex("bfb99999a0000000")).unwrap(), 0.1f32);
        assert!(decode_f64(&[0; 4]).is_err());
        assert!(decode_decimal(&hex("01008100")).is_err());
        let vb = hex("020000000000803f000020c0");
        let v = decode_vector_f32(&vb).unwrap();
        assert_eq!(v.iter().collect::<Vec<_>>(), [1.0, -2.5]);
        assert!(decode_vector_f32(&hex("020000000000803f")).is_err());
        let elems = ["a", "b", "c"];
        assert_eq!(enum_name(&elems, 2), Some("b"));
        assert_eq!(enum_name(&elems, 0), None);
        assert_eq!(enum_name(&elems, 4), None);
        let mut s = String::new();
        write_set(&elems, 5, &mut s).unwrap();
        assert_eq!(s, "a,c");
        assert!(write_set(&elems, 8, &mut String::new()).is_err());
        let mut s = String::new();
        write_set(&elems, 0, &mut s).unwrap();
        assert_eq!(s, "");
        let mut b = Vec::new();
        write_bit_bytes(decode_uint(&hex("0102")).unwrap(), 10, &mut b).unwrap();
        assert_eq!(b, [0x02, 0x01]);
        let mut b = Vec::new();
        write_bit_bytes(0b1010, 4, &mut b).unwrap();
        assert_eq!(b, [0x0a]);
        assert!(write_bit_bytes(1, 0, &mut b).is_err());
        assert!(write_bit_bytes(1, 65, &mut b).is_err());
    }
}

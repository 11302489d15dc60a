//! One output column being built: decodes TiDB value payloads (in the row v2
//! slot form) into an Arrow array of the column's output kind.
//!
//! Every value source funnels into the v2 slot form: row v2 slots directly,
//! row v1 and handle datums through `slot`, origin defaults once per table.
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, Int8Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray};

use crate::datum::VectorF32;
use crate::decimal::Decimal;
use crate::error::{CodecError, Result};
use crate::json;
use crate::number::{decode_compact_i64, decode_compact_u64};
use crate::row_v2::decode_f64;
use crate::schema::{ColumnSpec, OutKind};
use crate::time::{write_duration, DateTime};

/// Counters of value conversions that are not errors but worth reporting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ValueStats {
    /// Zero or invalid dates written as NULL in typed mode.
    pub zero_dates_nulled: u64,
}

enum Builder {
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal128(Decimal128Builder),
    Date32(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Dict(EnumDictBuilder),
    List(ListBuilder<Float32Builder>),
}

/// A dictionary array of ENUM names, keyed as `StringDictionaryBuilder`
/// keys them (first-seen order, one entry per distinct name), but found by
/// the ENUM index instead of by hashing the name.
struct EnumDictBuilder {
    keys: Int32Builder,
    values: StringBuilder,
    /// Dictionary key of each ENUM index (0: the empty error value) seen in
    /// the current batch; -1 when not seen yet.
    key_of: Vec<i32>,
}

impl EnumDictBuilder {
    fn new(capacity: usize, elems: usize) -> Self {
        Self {
            keys: Int32Builder::with_capacity(capacity),
            values: StringBuilder::new(),
            key_of: vec![-1; elems.saturating_add(1)],
        }
    }

    /// `idx` is a valid index (checked by `enum_name`) and `name` its text.
    #[inline]
    fn append(&mut self, idx: usize, name: &str) -> Result<()> {
        if let Some(&key) = self.key_of.get(idx).filter(|k| **k >= 0) {
            self.keys.append_value(key);
            return Ok(());
        }
        // Another index with the same name (the error value and an empty
        // element) shares its entry, as when deduplicating by name.
        let offsets = self.values.offsets_slice();
        let existing = offsets.windows(2).position(|w| {
            let (start, end) = (w[0] as usize, w[1] as usize);
            self.values.values_slice().get(start..end) == Some(name.as_bytes())
        });
        let key = match existing {
            Some(k) => k,
            None => {
                let k = offsets.len() - 1;
                self.values.append_value(name);
                k
            }
        };
        let key = i32::try_from(key).map_err(|_| invalid("ENUM value", "too many names"))?;
        if let Some(slot) = self.key_of.get_mut(idx) {
            *slot = key;
        }
        self.keys.append_value(key);
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        self.key_of.fill(-1);
        let keys = self.keys.finish();
        let values: ArrayRef = Arc::new(self.values.finish());
        match DictionaryArray::<Int32Type>::try_new(keys, values) {
            Ok(a) => Arc::new(a),
            // Keys index `values` by construction.
            Err(e) => unreachable!("ENUM dictionary keys out of range: {e}"),
        }
    }
}

/// An Arrow array under construction for one `ColumnSpec`.
pub struct ColumnBuilder {
    spec: Arc<ColumnSpec>,
    builder: Builder,
    text: String,
    /// JSON text rendered as bytes before it is checked and appended.
    bytes: Vec<u8>,
    /// Rows per batch: each new builder is sized for it.
    capacity: usize,
}

fn invalid(what: &'static str, detail: impl Into<String>) -> CodecError {
    CodecError::InvalidValue {
        what,
        detail: detail.into(),
    }
}

fn fsp(spec: &ColumnSpec) -> u8 {
    u8::try_from(spec.decimal.clamp(0, 6)).unwrap_or(0)
}

/// Rescales a decimal to exactly `scale` fraction digits (TiDB rounds half
/// up when the stored frac is larger than the column's).
fn unscaled_at(d: &Decimal, scale: u8) -> Option<i128> {
    let v = d.to_i128_unscaled()?;
    let frac = d.frac();
    if frac == scale {
        return Some(v);
    }
    if frac < scale {
        return v.checked_mul(10i128.checked_pow(u32::from(scale - frac))?);
    }
    let div = 10i128.checked_pow(u32::from(frac - scale))?;
    let (q, r) = (v / div, v % div);
    Some(if r.abs() * 2 >= div {
        q + v.signum()
    } else {
        q
    })
}

/// A builder for `capacity` rows; variable-length kinds get `data_bytes`
/// of value space (a guess, or what the previous batch needed).
fn new_builder(spec: &ColumnSpec, capacity: usize, data_bytes: usize) -> Builder {
    match spec.kind {
        OutKind::Int8 => Builder::Int8(Int8Builder::with_capacity(capacity)),
        OutKind::Int16 => Builder::Int16(Int16Builder::with_capacity(capacity)),
        OutKind::Int32 => Builder::Int32(Int32Builder::with_capacity(capacity)),
        OutKind::Int64 => Builder::Int64(Int64Builder::with_capacity(capacity)),
        OutKind::Float32 => Builder::Float32(Float32Builder::with_capacity(capacity)),
        OutKind::Float64 => Builder::Float64(Float64Builder::with_capacity(capacity)),
        OutKind::UintDecimal128 | OutKind::Decimal128 { .. } => {
            let data_type = spec.kind.data_type();
            Builder::Decimal128(
                Decimal128Builder::with_capacity(capacity).with_data_type(data_type),
            )
        }
        OutKind::Date32 => Builder::Date32(Date32Builder::with_capacity(capacity)),
        OutKind::TimestampMicros { utc } => {
            let b = TimestampMicrosecondBuilder::with_capacity(capacity);
            Builder::Timestamp(if utc { b.with_timezone("UTC") } else { b })
        }
        OutKind::Binary | OutKind::Bit { .. } => {
            Builder::Binary(BinaryBuilder::with_capacity(capacity, data_bytes))
        }
        OutKind::EnumDict => Builder::Dict(EnumDictBuilder::new(capacity, spec.elems.len())),
        OutKind::VectorList => {
            Builder::List(ListBuilder::new(Float32Builder::new()).with_field(Arc::new(
                arrow_schema::Field::new("item", arrow_schema::DataType::Float32, false),
            )))
        }
        OutKind::UintText
        | OutKind::DecimalText
        | OutKind::DateText
        | OutKind::DatetimeText
        | OutKind::TimeText
        | OutKind::Utf8
        | OutKind::JsonText
        | OutKind::EnumText
        | OutKind::SetText
        | OutKind::VectorText => Builder::Utf8(StringBuilder::with_capacity(capacity, data_bytes)),
    }
}

impl ColumnBuilder {
    pub fn new(spec: Arc<ColumnSpec>, capacity: usize) -> Self {
        let builder = new_builder(&spec, capacity, capacity.saturating_mul(8));
        Self {
            spec,
            builder,
            text: String::new(),
            bytes: Vec::new(),
            capacity,
        }
    }

    pub fn spec(&self) -> &ColumnSpec {
        &self.spec
    }

    pub fn append_null(&mut self) {
        match &mut self.builder {
            Builder::Int8(b) => b.append_null(),
            Builder::Int16(b) => b.append_null(),
            Builder::Int32(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::Float32(b) => b.append_null(),
            Builder::Float64(b) => b.append_null(),
            Builder::Decimal128(b) => b.append_null(),
            Builder::Date32(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
            Builder::Utf8(b) => b.append_null(),
            Builder::Binary(b) => b.append_null(),
            Builder::Dict(b) => b.keys.append_null(),
            Builder::List(b) => b.append_null(),
        }
    }

    /// Appends one value given in the row v2 slot form of the column's type.
    pub fn append_slot(&mut self, slot: &[u8], stats: &mut ValueStats) -> Result<()> {
        let spec = &*self.spec;
        match (&mut self.builder, spec.kind) {
            (Builder::Int8(b), _) => b.append_value(self::int_in(slot, spec)?),
            (Builder::Int16(b), _) => b.append_value(self::int_in(slot, spec)?),
            (Builder::Int32(b), _) => b.append_value(self::int_in(slot, spec)?),
            (Builder::Int64(b), _) => b.append_value(self::int_in(slot, spec)?),
            (Builder::Float32(b), _) => b.append_value(decode_f64(slot)? as f32),
            (Builder::Float64(b), OutKind::Float64) if spec.tp == crate::schema::tp::FLOAT => {
                // FLOAT holds an f32 widened to f64; narrow first so the
                // output is the float32 value, exactly widened.
                b.append_value(f64::from(decode_f64(slot)? as f32))
            }
            (Builder::Float64(b), _) => b.append_value(decode_f64(slot)?),
            (Builder::Decimal128(b), OutKind::UintDecimal128) => {
                b.append_value(i128::from(decode_compact_u64(slot)?))
            }
            (Builder::Decimal128(b), OutKind::Decimal128 { scale, .. }) => {
                let d = Decimal::read_with_header(&mut &slot[..])?;
                let scale = u8::try_from(scale).unwrap_or(0);
                let v = unscaled_at(&d, scale)
                    .ok_or_else(|| invalid("decimal", "does not fit decimal128"))?;
                b.append_value(v)
            }
            (Builder::Date32(b), _) => {
                match DateTime::from_packed(decode_compact_u64(slot)?)?.days_since_epoch() {
                    Some(days) => b.append_value(days),
                    None => {
                        stats.zero_dates_nulled += 1;
                        b.append_null()
                    }
                }
            }
            (Builder::Timestamp(b), _) => {
                match DateTime::from_packed(decode_compact_u64(slot)?)?.micros_since_epoch() {
                    Some(us) => b.append_value(us),
                    None => {
                        stats.zero_dates_nulled += 1;
                        b.append_null()
                    }
                }
            }
            (Builder::Binary(b), OutKind::Bit { width }) => {
                let v = decode_compact_u64(slot)?;
                let bytes = v.to_be_bytes();
                let width = usize::from(width).min(8);
                if width < 8 && v >> (width * 8) != 0 {
                    return Err(invalid(
                        "BIT value",
                        format!("{v:#x} wider than {width} bytes"),
                    ));
                }
                b.append_value(&bytes[8 - width..])
            }
            (Builder::Binary(b), _) => b.append_value(slot),
            (Builder::Dict(b), _) => {
                let (idx, name) = enum_index_name(slot, spec)?;
                b.append(idx, name)?;
            }
            (Builder::List(b), _) => {
                let values = vector_values(slot)?;
                b.values().append_slice(&values);
                b.append(true);
            }
            (Builder::Utf8(b), OutKind::Utf8) => {
                let s = std::str::from_utf8(slot)
                    .map_err(|e| invalid("string", format!("not valid UTF-8: {e}")))?;
                b.append_value(s);
            }
            (Builder::Utf8(b), OutKind::UintText) => {
                b.append_value(itoa::Buffer::new().format(decode_compact_u64(slot)?))
            }
            (Builder::Utf8(b), OutKind::EnumText) => b.append_value(enum_name(slot, spec)?),
            (Builder::Utf8(b), OutKind::JsonText) => {
                // Rendered as bytes and checked once as a whole (every piece
                // is valid UTF-8 by construction).
                self.bytes.clear();
                json::JsonRef::from_slot(slot)?.write_text_bytes(&mut self.bytes)?;
                let text = std::str::from_utf8(&self.bytes)
                    .map_err(|_| invalid("JSON text", "rendered text is not UTF-8"))?;
                b.append_value(text);
            }
            (Builder::Utf8(b), kind) => {
                self.text.clear();
                render_text(kind, slot, spec, &mut self.text)?;
                b.append_value(&self.text);
            }
            (_, kind) => {
                return Err(invalid("column", format!("no builder for {kind:?}")));
            }
        }
        Ok(())
    }

    /// The array of the rows appended so far; the builder starts over,
    /// sized for a batch like this one (a finished Arrow builder keeps no
    /// capacity, and regrowing every buffer from empty costs copies).
    pub fn finish(&mut self) -> ArrayRef {
        let data_bytes = match &self.builder {
            Builder::Utf8(b) => b.values_slice().len(),
            Builder::Binary(b) => b.values_slice().len(),
            _ => 0,
        };
        // Capped, so that one batch of large values reserves no more than
        // that for every batch after it.
        const MAX_RESERVED: usize = 16 << 20;
        let data_bytes = data_bytes
            .saturating_add(data_bytes / 8)
            .min(MAX_RESERVED)
            .max(self.capacity.saturating_mul(8));
        let fresh = new_builder(&self.spec, self.capacity, data_bytes);
        match &mut std::mem::replace(&mut self.builder, fresh) {
            Builder::Int8(b) => Arc::new(b.finish()),
            Builder::Int16(b) => Arc::new(b.finish()),
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Float32(b) => Arc::new(b.finish()),
            Builder::Float64(b) => Arc::new(b.finish()),
            Builder::Decimal128(b) => Arc::new(b.finish()),
            Builder::Date32(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Utf8(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
            Builder::Dict(b) => b.finish(),
            Builder::List(b) => Arc::new(b.finish()),
        }
    }
}

/// An integer slot converted to the output width, range-checked.
fn int_in<T: TryFrom<i64> + TryFrom<u64>>(slot: &[u8], spec: &ColumnSpec) -> Result<T> {
    if spec.unsigned() {
        let v = decode_compact_u64(slot)?;
        T::try_from(v).map_err(|_| invalid("integer", format!("{v} out of the column's range")))
    } else {
        let v = decode_compact_i64(slot)?;
        T::try_from(v).map_err(|_| invalid("integer", format!("{v} out of the column's range")))
    }
}

fn enum_name<'s>(slot: &[u8], spec: &'s ColumnSpec) -> Result<&'s str> {
    enum_index_name(slot, spec).map(|(_, name)| name)
}

/// An ENUM slot's index (0: the empty error value) and name.
fn enum_index_name<'s>(slot: &[u8], spec: &'s ColumnSpec) -> Result<(usize, &'s str)> {
    let idx = decode_compact_u64(slot)?;
    if idx == 0 {
        return Ok((0, ""));
    }
    usize::try_from(idx - 1)
        .ok()
        .and_then(|i| Some((i + 1, spec.elems.get(i)?.as_str())))
        .ok_or_else(|| {
            invalid(
                "ENUM value",
                format!("index {idx} beyond {} elements", spec.elems.len()),
            )
        })
}

fn vector_values(slot: &[u8]) -> Result<Vec<f32>> {
    Ok(VectorF32::from_slot(slot)?.iter().collect())
}

/// Renders a slot as the text of the column's compat/typed string form.
fn render_text(kind: OutKind, slot: &[u8], spec: &ColumnSpec, out: &mut String) -> Result<()> {
    match kind {
        OutKind::UintText => {
            let _ = write!(out, "{}", decode_compact_u64(slot)?);
        }
        OutKind::Int64 => {
            let _ = write!(out, "{}", decode_compact_i64(slot)?);
        }
        OutKind::DecimalText => {
            let d = Decimal::read_with_header(&mut &slot[..])?;
            let scale = u8::try_from(spec.decimal).ok().filter(|s| *s <= 30);
            match scale {
                Some(s) if s != d.frac() => {
                    let v =
                        unscaled_at(&d, s).ok_or_else(|| invalid("decimal", "cannot rescale"))?;
                    let p = u8::try_from(spec.flen.clamp(1, 65)).unwrap_or(65);
                    Decimal::from_i128_unscaled(v, p.max(s), s)?.write_text(out);
                }
                _ => d.write_text(out),
            }
        }
        OutKind::DateText => DateTime::from_packed(decode_compact_u64(slot)?)?.write_date(out),
        OutKind::DatetimeText => {
            DateTime::from_packed(decode_compact_u64(slot)?)?.write_datetime(fsp(spec), out)?
        }
        OutKind::TimeText => write_duration(decode_compact_i64(slot)?, fsp(spec), out)?,
        OutKind::Utf8 => {
            let s = std::str::from_utf8(slot)
                .map_err(|e| invalid("string", format!("not valid UTF-8: {e}")))?;
            out.push_str(s);
        }
        OutKind::JsonText => json::JsonRef::from_slot(slot)?.write_text(out)?,
        OutKind::EnumText => out.push_str(enum_name(slot, spec)?),
        OutKind::SetText => {
            let mask = decode_compact_u64(slot)?;
            let mut first = true;
            for (i, name) in spec.elems.iter().enumerate().take(64) {
                if mask >> i & 1 == 1 {
                    if !first {
                        out.push(',');
                    }
                    out.push_str(name);
                    first = false;
                }
            }
            let known = if spec.elems.len() >= 64 {
                u64::MAX
            } else {
                (1u64 << spec.elems.len()) - 1
            };
            if mask & !known != 0 {
                return Err(invalid(
                    "SET value",
                    format!("bits {mask:#x} beyond {} elements", spec.elems.len()),
                ));
            }
        }
        OutKind::VectorText => {
            out.push('[');
            for (i, v) in vector_values(slot)?.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{v}");
            }
            out.push(']');
        }
        other => return Err(invalid("column", format!("{other:?} is not a text kind"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::Array;

    use crate::number::write_compact_u64;
    use crate::schema::{tp, MissingRule};

    /// ENUM dictionaries come out as `StringDictionaryBuilder` builds them
    /// (first-seen keys, an entry per distinct name, the error value and an
    /// empty element sharing one), batch after batch.
    #[test]
    fn enum_dictionary_matches_arrow_builder() {
        let spec = Arc::new(ColumnSpec {
            id: 1,
            name: "e".into(),
            tp: tp::ENUM,
            flag: 0,
            flen: 0,
            decimal: 0,
            binary: false,
            elems: vec!["b".into(), "".into(), "a".into()],
            version: 0,
            kind: OutKind::EnumDict,
            nullable: true,
            missing: MissingRule::Null,
        });
        let mut ours = ColumnBuilder::new(Arc::clone(&spec), 4);
        let mut stats = ValueStats::default();
        for batch in [
            &[
                Some(3u64),
                Some(1),
                None,
                Some(3),
                Some(0),
                Some(2),
                Some(1),
            ][..],
            &[Some(2), Some(3)],
        ] {
            let mut reference = StringDictionaryBuilder::<Int32Type>::new();
            for v in batch {
                match v {
                    Some(idx) => {
                        let mut slot = Vec::new();
                        write_compact_u64(&mut slot, *idx);
                        ours.append_slot(&slot, &mut stats).unwrap();
                        reference.append_value(enum_name(&slot, &spec).unwrap());
                    }
                    None => {
                        ours.append_null();
                        reference.append_null();
                    }
                }
            }
            let got = ours.finish();
            let want = reference.finish();
            assert_eq!(got.to_data(), want.to_data());
        }
        let mut slot = Vec::new();
        write_compact_u64(&mut slot, 4);
        assert!(ours.append_slot(&slot, &mut stats).is_err());
    }
}

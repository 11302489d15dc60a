//! Converts datums (row v1 values, clustered-handle parts) and origin
//! defaults into the row v2 slot form, so one decode path serves all sources.
use crate::datum::Datum;
use crate::decimal::Decimal;
use crate::error::{CodecError, Result};
use crate::number::{f64_to_cmp_u64, write_compact_i64, write_compact_u64};
use crate::schema::{tp, ColumnSpec, DefaultValue};
use crate::time::DateTime;

fn mismatch(spec: &ColumnSpec, d: &Datum<'_>) -> CodecError {
    CodecError::InvalidValue {
        what: "datum",
        detail: format!(
            "flag {} does not fit a column of type code {}",
            d.flag(),
            spec.tp
        ),
    }
}

/// Writes `d` as the slot bytes of `spec`'s type into `out` (cleared first).
/// Returns `false` for NULL.
pub fn datum_to_slot(d: &Datum<'_>, spec: &ColumnSpec, out: &mut Vec<u8>) -> Result<bool> {
    out.clear();
    if d.is_null() {
        return Ok(false);
    }
    match spec.tp {
        tp::TINY | tp::SHORT | tp::INT24 | tp::LONG | tp::LONGLONG | tp::YEAR => {
            if spec.unsigned() {
                let v = d.as_u64().or_else(|| d.as_i64().map(|v| v as u64));
                write_compact_u64(out, v.ok_or_else(|| mismatch(spec, d))?);
            } else {
                let v = d.as_i64().or_else(|| d.as_u64().map(|v| v as i64));
                write_compact_i64(out, v.ok_or_else(|| mismatch(spec, d))?);
            }
        }
        tp::FLOAT | tp::DOUBLE => match d {
            Datum::Float(f) => out.extend_from_slice(&f64_to_cmp_u64(*f).to_be_bytes()),
            _ => return Err(mismatch(spec, d)),
        },
        tp::NEWDECIMAL => match d {
            Datum::Decimal(dec) => dec.encode_with_header(out),
            _ => return Err(mismatch(spec, d)),
        },
        tp::DURATION => match d {
            Datum::Duration(ns) | Datum::VarInt(ns) | Datum::Int(ns) => write_compact_i64(out, *ns),
            _ => return Err(mismatch(spec, d)),
        },
        tp::DATE | tp::NEWDATE | tp::DATETIME | tp::TIMESTAMP | tp::ENUM | tp::SET | tp::BIT => {
            let v = d.as_u64().ok_or_else(|| mismatch(spec, d))?;
            write_compact_u64(out, v);
        }
        tp::JSON => match d {
            Datum::Json(j) => {
                out.push(j.type_code);
                out.extend_from_slice(j.body);
            }
            _ => return Err(mismatch(spec, d)),
        },
        tp::VECTOR_FLOAT32 => match d {
            Datum::VectorF32(v) => {
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v.raw());
            }
            _ => return Err(mismatch(spec, d)),
        },
        _ => {
            if !d.append_bytes(out)? {
                return Err(mismatch(spec, d));
            }
        }
    }
    Ok(true)
}

fn bad_default(spec: &ColumnSpec, text: &str, why: &str) -> CodecError {
    CodecError::InvalidValue {
        what: "origin_default",
        detail: format!("{text:?} for column {}: {why}", spec.name),
    }
}

/// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` (TiDB's stored default text).
fn parse_datetime(s: &str) -> Option<DateTime> {
    let (date, time) = match s.split_once([' ', 'T']) {
        Some(parts) => parts,
        // Stored defaults have been seen with no separator at all
        // (`2024-03-0701:41:16`): the date is then the first 10 bytes.
        None if s.len() > 10 && s.is_char_boundary(10) && s[10..].contains(':') => s.split_at(10),
        None => (s, ""),
    };
    let mut d = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (mut hour, mut minute, mut second, mut micro) = (0, 0, 0, 0);
    if !time.is_empty() {
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut t = hms.splitn(3, ':').map(|p| p.parse::<u32>().ok());
        (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
        if !frac.is_empty() {
            let digits: String = frac.chars().chain("000000".chars()).take(6).collect();
            micro = digits.parse().ok()?;
        }
    }
    Some(DateTime {
        year: u16::try_from(year).ok()?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
        second: u8::try_from(second).ok()?,
        micro,
    })
}

/// Parses `[-]HH:MM:SS[.ffffff]` into nanoseconds.
fn parse_duration(s: &str) -> Option<i64> {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    let micro: i64 = if frac.is_empty() {
        0
    } else {
        frac.chars()
            .chain("000000".chars())
            .take(6)
            .collect::<String>()
            .parse()
            .ok()?
    };
    let ns = ((h * 3600 + m * 60 + sec) * 1_000_000 + micro).checked_mul(1000)?;
    Some(if neg { -ns } else { ns })
}

/// The slot bytes of a column's `origin_default`, computed once per table.
pub fn default_to_slot(spec: &ColumnSpec, value: &DefaultValue) -> Result<Vec<u8>> {
    let text = match value {
        DefaultValue::Text(s) => s.clone(),
        DefaultValue::Number(n) => n.to_string(),
        DefaultValue::Bytes(b) => {
            // BIT origin_default_bit: big-endian bytes of the value.
            if b.len() > 8 {
                return Err(bad_default(spec, "<bits>", "more than 8 bytes"));
            }
            let mut v = 0u64;
            for byte in b {
                v = v << 8 | u64::from(*byte);
            }
            let mut out = Vec::new();
            write_compact_u64(&mut out, v);
            return Ok(out);
        }
    };
    let mut out = Vec::new();
    match spec.tp {
        tp::TINY | tp::SHORT | tp::INT24 | tp::LONG | tp::LONGLONG | tp::YEAR => {
            let t = text.trim();
            if spec.unsigned() {
                let v: u64 = t
                    .parse()
                    .map_err(|_| bad_default(spec, &text, "not an unsigned integer"))?;
                write_compact_u64(&mut out, v);
            } else {
                let v: i64 = t
                    .parse()
                    .map_err(|_| bad_default(spec, &text, "not an integer"))?;
                write_compact_i64(&mut out, v);
            }
        }
        tp::FLOAT | tp::DOUBLE => {
            let v: f64 = text
                .trim()
                .parse()
                .map_err(|_| bad_default(spec, &text, "not a number"))?;
            out.extend_from_slice(&f64_to_cmp_u64(v).to_be_bytes());
        }
        tp::NEWDECIMAL => {
            let p = u8::try_from(spec.flen.clamp(1, 65)).unwrap_or(65);
            let f = u8::try_from(spec.decimal.clamp(0, 30)).unwrap_or(0);
            Decimal::parse(text.trim(), p, f)?.encode_with_header(&mut out);
        }
        tp::DATE | tp::NEWDATE | tp::DATETIME | tp::TIMESTAMP => {
            let dt = parse_datetime(text.trim())
                .ok_or_else(|| bad_default(spec, &text, "not a date/time"))?;
            write_compact_u64(&mut out, dt.to_packed());
        }
        tp::DURATION => {
            let ns = parse_duration(text.trim())
                .ok_or_else(|| bad_default(spec, &text, "not a time"))?;
            write_compact_i64(&mut out, ns);
        }
        tp::ENUM => {
            let idx = if text.is_empty() {
                0
            } else {
                spec.elems
                    .iter()
                    .position(|e| e.eq_ignore_ascii_case(&text))
                    .map(|i| i as u64 + 1)
                    .ok_or_else(|| bad_default(spec, &text, "not an element"))?
            };
            write_compact_u64(&mut out, idx);
        }
        tp::SET => {
            let mut mask = 0u64;
            for name in text.split(',').filter(|n| !n.is_empty()) {
                let i = spec
                    .elems
                    .iter()
                    .position(|e| e.eq_ignore_ascii_case(name))
                    .ok_or_else(|| bad_default(spec, &text, "not a set element"))?;
                mask |= 1 << i;
            }
            write_compact_u64(&mut out, mask);
        }
        tp::BIT => {
            let v: u64 = text
                .trim()
                .parse()
                .map_err(|_| bad_default(spec, &text, "not a BIT value"))?;
            write_compact_u64(&mut out, v);
        }
        tp::JSON | tp::VECTOR_FLOAT32 => {
            return Err(bad_default(
                spec,
                &text,
                "literal defaults of this type are not supported",
            ));
        }
        _ => out.extend_from_slice(text.as_bytes()),
    }
    Ok(out)
}

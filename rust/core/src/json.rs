//! TiDB binary JSON (`types.BinaryJSON`) and its text rendering as TiDB
//! prints it: `{"k": v}` / `[a, b]` with `": "` and `", "` separators, keys
//! in stored (byte) order, Go-style string escaping without HTML escaping,
//! ES6-like floats with TiDB's 1e-15/1e15 cut-offs and a `.0` on integral
//! values, and 6-digit fractions for times.
//!
//! A value is a type code plus a body; offsets inside an object or array are
//! relative to the start of that container's body. Every offset and length
//! is checked against the bytes present, and nesting is bounded.

use crate::error::{CodecError, Result};
use crate::number::{read_bytes, read_u8, read_uvarint};
use crate::time::{write_duration, DateTime};

pub const TYPE_OBJECT: u8 = 0x01;
pub const TYPE_ARRAY: u8 = 0x03;
pub const TYPE_LITERAL: u8 = 0x04;
pub const TYPE_INT64: u8 = 0x09;
pub const TYPE_UINT64: u8 = 0x0a;
pub const TYPE_FLOAT64: u8 = 0x0b;
pub const TYPE_STRING: u8 = 0x0c;
pub const TYPE_OPAQUE: u8 = 0x0d;
pub const TYPE_DATE: u8 = 0x0e;
pub const TYPE_DATETIME: u8 = 0x0f;
pub const TYPE_TIMESTAMP: u8 = 0x10;
pub const TYPE_DURATION: u8 = 0x11;

pub const LITERAL_NULL: u8 = 0x00;
pub const LITERAL_TRUE: u8 = 0x01;
pub const LITERAL_FALSE: u8 = 0x02;

/// Deepest nesting rendered; TiDB itself refuses documents deeper than 100.
pub const MAX_DEPTH: usize = 512;

/// Most text chars one byte of binary JSON may render to (see [`Limits`]).
const MAX_EXPANSION: usize = 8;

/// Container header: element count and total size, both u32 LE.
const HEADER_SIZE: usize = 8;
const KEY_ENTRY_SIZE: usize = 6;
const VALUE_ENTRY_SIZE: usize = 5;

/// A borrowed binary JSON value: type code and exactly its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonRef<'a> {
    pub type_code: u8,
    pub body: &'a [u8],
}

impl<'a> JsonRef<'a> {
    /// A whole row v2 slot (or other buffer) holding type code + body and
    /// nothing else.
    pub fn from_slot(slot: &'a [u8]) -> Result<JsonRef<'a>> {
        let mut cur = slot;
        let v = read_json(&mut cur)?;
        if !cur.is_empty() {
            return Err(CodecError::TrailingBytes {
                what: "JSON value",
                count: cur.len(),
            });
        }
        Ok(v)
    }

    /// Appends TiDB's text rendering.
    pub fn write_text(&self, out: &mut String) -> Result<()> {
        // Rendered as bytes, every piece valid UTF-8 by construction, and
        // checked once as a whole rather than string by string.
        let mut bytes = std::mem::take(out).into_bytes();
        let rendered = self.write_text_bytes(&mut bytes);
        match String::from_utf8(bytes) {
            Ok(text) => {
                *out = text;
                rendered
            }
            Err(e) => {
                *out = String::from_utf8_lossy(e.as_bytes()).into_owned();
                rendered?;
                Err(CodecError::invalid(
                    "JSON text",
                    "rendered text is not UTF-8",
                ))
            }
        }
    }

    /// Appends TiDB's text rendering as UTF-8 bytes.
    pub fn write_text_bytes(&self, out: &mut Vec<u8>) -> Result<()> {
        let limit = Limits {
            text_end: out
                .len()
                .saturating_add(self.body.len().saturating_mul(MAX_EXPANSION))
                .saturating_add(64),
        };
        write_value(self.type_code, self.body, 0, &limit, out)
    }

    /// TiDB's text rendering as a new string.
    pub fn to_text(&self) -> Result<String> {
        let mut s = String::with_capacity(self.body.len() + 2);
        self.write_text(&mut s)?;
        Ok(s)
    }
}

/// Reads type code + body from the front of `input`, the body's length
/// computed from the body itself (datum flag 10).
pub fn read_json<'a>(input: &mut &'a [u8]) -> Result<JsonRef<'a>> {
    let mut cur = *input;
    let type_code = read_u8(&mut cur, "JSON type code")?;
    let len = body_len(type_code, cur)?;
    let body = read_bytes(&mut cur, len, "JSON body")?;
    *input = cur;
    Ok(JsonRef { type_code, body })
}

/// Length of the body of type `type_code` at the front of `body`, checked
/// against the bytes available.
pub fn body_len(type_code: u8, body: &[u8]) -> Result<usize> {
    let len = match type_code {
        TYPE_LITERAL => 1,
        TYPE_INT64 | TYPE_UINT64 | TYPE_FLOAT64 => 8,
        TYPE_DATE | TYPE_DATETIME | TYPE_TIMESTAMP => 8,
        TYPE_DURATION => 12,
        TYPE_STRING => {
            let mut cur = body;
            let n = read_uvarint(&mut cur, "JSON string length")?;
            prefixed_len(body.len() - cur.len(), n)?
        }
        TYPE_OPAQUE => {
            let mut cur = body.get(1..).unwrap_or_default();
            let n = read_uvarint(&mut cur, "JSON opaque length")?;
            prefixed_len(body.len().saturating_sub(cur.len()), n)?
        }
        TYPE_OBJECT | TYPE_ARRAY => {
            let size = container_size(body)?;
            if size < HEADER_SIZE {
                return Err(CodecError::invalid(
                    "JSON container",
                    format!("size {size} is smaller than its header"),
                ));
            }
            size
        }
        code => return Err(CodecError::UnknownJsonType { code }),
    };
    if len > body.len() {
        return Err(CodecError::truncated("JSON body", len, body.len()));
    }
    Ok(len)
}

#[inline]
fn prefixed_len(prefix: usize, n: u64) -> Result<usize> {
    usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(prefix))
        .ok_or_else(|| CodecError::invalid("JSON length", format!("{n} does not fit memory")))
}

#[inline]
fn le_u32(b: &[u8], at: usize, what: &'static str) -> Result<usize> {
    match at.checked_add(4).and_then(|end| b.get(at..end)) {
        Some(&[a, c, d, e]) => Ok(u32::from_le_bytes([a, c, d, e]) as usize),
        _ => Err(CodecError::truncated(what, at.saturating_add(4), b.len())),
    }
}

#[inline]
fn le_u16(b: &[u8], at: usize, what: &'static str) -> Result<usize> {
    match at.checked_add(2).and_then(|end| b.get(at..end)) {
        Some(&[a, c]) => Ok(usize::from(u16::from_le_bytes([a, c]))),
        _ => Err(CodecError::truncated(what, at.saturating_add(2), b.len())),
    }
}

#[inline]
fn container_size(body: &[u8]) -> Result<usize> {
    le_u32(body, 4, "JSON container header")
}

/// `body` is exactly the value's bytes.
/// Bounds on one rendering.
struct Limits {
    /// `out.len()` the text may not pass. Values laid out as TiDB writes
    /// them (disjoint, in order) print at most ~6 chars per byte (`\u00xx`);
    /// only value entries sharing one body, which TiDB never writes, could
    /// print more, up to exponentially more.
    text_end: usize,
}

fn write_value(
    type_code: u8,
    body: &[u8],
    depth: usize,
    limits: &Limits,
    out: &mut Vec<u8>,
) -> Result<()> {
    match type_code {
        TYPE_OBJECT | TYPE_ARRAY => {
            write_container(type_code == TYPE_OBJECT, body, depth, limits, out)
        }
        TYPE_LITERAL => {
            let text = match body.first() {
                Some(&LITERAL_NULL) => "null",
                Some(&LITERAL_TRUE) => "true",
                Some(&LITERAL_FALSE) => "false",
                Some(&other) => {
                    return Err(CodecError::invalid(
                        "JSON literal",
                        format!("{other:#04x} is not null/true/false"),
                    ))
                }
                None => return Err(CodecError::truncated("JSON literal", 1, 0)),
            };
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
        TYPE_INT64 => {
            let v = le_u64(body, "JSON int64")? as i64;
            out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            Ok(())
        }
        TYPE_UINT64 => {
            let v = le_u64(body, "JSON uint64")?;
            out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            Ok(())
        }
        TYPE_FLOAT64 => write_float(f64::from_bits(le_u64(body, "JSON float64")?), out),
        TYPE_STRING => {
            let mut cur = body;
            let n = read_uvarint(&mut cur, "JSON string length")?;
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let s = read_bytes(&mut cur, n, "JSON string")?;
            write_string(s, out);
            Ok(())
        }
        TYPE_OPAQUE => {
            let mut cur = body;
            let mysql_type = read_u8(&mut cur, "JSON opaque type")?;
            let n = read_uvarint(&mut cur, "JSON opaque length")?;
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let data = read_bytes(&mut cur, n, "JSON opaque")?;
            let mut text = format!("\"base64:type{mysql_type}:");
            write_base64(data, &mut text);
            text.push('"');
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
        TYPE_DATE | TYPE_DATETIME | TYPE_TIMESTAMP => {
            let t = DateTime::from_core_time(le_u64(body, "JSON time")?)?;
            let mut text = String::from('"');
            if type_code == TYPE_DATE {
                t.write_date(&mut text);
            } else {
                t.write_datetime(6, &mut text)?;
            }
            text.push('"');
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
        TYPE_DURATION => {
            // int64 ns then the u32 fsp, which TiDB overrides with 6 when printing.
            let ns = le_u64(body, "JSON duration")? as i64;
            le_u32(body, 8, "JSON duration fsp")?;
            let mut text = String::from('"');
            write_duration(ns, 6, &mut text)?;
            text.push('"');
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
        code => Err(CodecError::UnknownJsonType { code }),
    }
}

#[inline]
fn le_u64(b: &[u8], what: &'static str) -> Result<u64> {
    match b.first_chunk::<8>() {
        Some(a) => Ok(u64::from_le_bytes(*a)),
        None => Err(CodecError::truncated(what, 8, b.len())),
    }
}

#[cold]
fn io_err(_: std::io::Error) -> CodecError {
    CodecError::invalid("JSON text", "formatting failed")
}

fn write_container(
    is_object: bool,
    body: &[u8],
    depth: usize,
    limits: &Limits,
    out: &mut Vec<u8>,
) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Err(CodecError::JsonTooDeep { limit: MAX_DEPTH });
    }
    let count = le_u32(body, 0, "JSON container header")?;
    let size = container_size(body)?;
    // Callers cut `body` to the container's own size; anything else is corrupt.
    if size != body.len() {
        return Err(CodecError::invalid(
            "JSON container",
            format!("size field {size} but {} bytes present", body.len()),
        ));
    }
    let key_entries = if is_object { KEY_ENTRY_SIZE } else { 0 };
    let value_entries_at = count
        .checked_mul(key_entries)
        .and_then(|k| k.checked_add(HEADER_SIZE))
        .ok_or_else(|| CodecError::invalid("JSON container", "element count overflows"))?;
    count
        .checked_mul(VALUE_ENTRY_SIZE)
        .and_then(|v| v.checked_add(value_entries_at))
        .filter(|&end| end <= size)
        .map(|_| ())
        .ok_or_else(|| {
            CodecError::invalid(
                "JSON container",
                format!("{count} entries do not fit in {size} bytes"),
            )
        })?;
    out.push(if is_object { b'{' } else { b'[' });
    for i in 0..count {
        if out.len() > limits.text_end {
            return Err(CodecError::invalid(
                "JSON value",
                "text outgrows the binary: value entries share their bodies",
            ));
        }
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        if is_object {
            let entry = HEADER_SIZE + i * KEY_ENTRY_SIZE;
            let key_off = le_u32(body, entry, "JSON key entry")?;
            let key_len = le_u16(body, entry + 4, "JSON key entry")?;
            let key = key_off
                .checked_add(key_len)
                .and_then(|end| body.get(key_off..end))
                .ok_or_else(|| {
                    CodecError::truncated("JSON key", key_off.saturating_add(key_len), body.len())
                })?;
            write_string(key, out);
            out.extend_from_slice(b": ");
        }
        let entry = value_entries_at + i * VALUE_ENTRY_SIZE;
        let type_code = body
            .get(entry)
            .copied()
            .ok_or_else(|| CodecError::truncated("JSON value entry", entry + 1, body.len()))?;
        if type_code == TYPE_LITERAL {
            // Literals live inline in the entry's first offset byte.
            let lit = body.get(entry + 1..entry + 2).unwrap_or_default();
            write_value(TYPE_LITERAL, lit, depth + 1, limits, out)?;
            continue;
        }
        let off = le_u32(body, entry + 1, "JSON value entry")?;
        let rest = body
            .get(off..)
            .ok_or_else(|| CodecError::truncated("JSON value", off, body.len()))?;
        if write_scalar(type_code, rest, out)? {
            continue;
        }
        let len = body_len(type_code, rest)?;
        write_value(
            type_code,
            rest.get(..len).unwrap_or_default(),
            depth + 1,
            limits,
            out,
        )?;
    }
    out.push(if is_object { b'}' } else { b']' });
    Ok(())
}

/// Writes a string or 8-byte number at the front of `rest` (a container's
/// value entry) with the checks and errors of `body_len` then `write_value`,
/// in one pass; `false` for the other types, which take that path.
#[inline]
fn write_scalar(type_code: u8, rest: &[u8], out: &mut Vec<u8>) -> Result<bool> {
    match type_code {
        TYPE_STRING => {
            let mut cur = rest;
            let n = read_uvarint(&mut cur, "JSON string length")?;
            let len = prefixed_len(rest.len() - cur.len(), n)?;
            if len > rest.len() {
                return Err(CodecError::truncated("JSON body", len, rest.len()));
            }
            let s = usize::try_from(n)
                .ok()
                .and_then(|n| cur.get(..n))
                .unwrap_or_default();
            write_string(s, out);
        }
        TYPE_INT64 | TYPE_UINT64 | TYPE_FLOAT64 => {
            let Some(bytes) = rest.first_chunk::<8>() else {
                return Err(CodecError::truncated("JSON body", 8, rest.len()));
            };
            let bits = u64::from_le_bytes(*bytes);
            match type_code {
                TYPE_INT64 => {
                    out.extend_from_slice(itoa::Buffer::new().format(bits as i64).as_bytes())
                }
                TYPE_UINT64 => out.extend_from_slice(itoa::Buffer::new().format(bits).as_bytes()),
                _ => write_float(f64::from_bits(bits), out)?,
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Shortest round-trip digits; exponent form below 1e-15 and from 1e15 on
/// (`1e15`, `1.5e-16`), otherwise plain decimal with `.0` when integral.
/// From 1e-5 on, exact ties go to the even digit as in Go; below, `Display`
/// and `{:e}` round them up.
fn write_float(f: f64, out: &mut Vec<u8>) -> Result<()> {
    use std::io::Write as _;
    if !f.is_finite() {
        return Err(CodecError::invalid(
            "JSON float64",
            format!("{f} is not finite"),
        ));
    }
    let abs = f.abs();
    // At most two decimals (prices, percentages: the usual JSON float):
    // n/100 rounds to f and has at most 15 significant digits, and no other
    // decimal that short does (a double holds 15), so it is the shortest.
    let hundredths = abs * 100.0;
    if abs != 0.0 && hundredths < 1e15 && hundredths.fract() == 0.0 && hundredths / 100.0 == abs {
        let n = hundredths as u64;
        if f < 0.0 {
            out.push(b'-');
        }
        out.extend_from_slice(itoa::Buffer::new().format(n / 100).as_bytes());
        out.push(b'.');
        let cents = (n % 100) as u8;
        out.push(b'0' + cents / 10);
        if cents % 10 != 0 {
            out.push(b'0' + cents % 10);
        }
        return Ok(());
    }
    if abs == 0.0 || (1e-5..1e15).contains(&abs) {
        // Ryū prints these as plain decimal with `.0` when integral and the
        // shortest digits; an exact tie between two shortest candidates goes
        // to the even one, as in Go's `strconv` (Rust's `Display` rounds up).
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
        return Ok(());
    }
    if !(1e-15..1e15).contains(&abs) {
        // Rust's `{:e}` already writes the exponent without `+` or padding.
        write!(out, "{f:e}").map_err(io_err)
    } else {
        let start = out.len();
        write!(out, "{f}").map_err(io_err)?;
        if !out.get(start..).unwrap_or_default().contains(&b'.') {
            out.extend_from_slice(b".0");
        }
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Go `encoding/json` string escaping with HTML escaping off: `"` and `\`,
/// the short escapes, other control bytes as `\u00xx`, U+2028/U+2029
/// escaped, each byte of invalid UTF-8 as `\ufffd`. Writes valid UTF-8.
pub fn write_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    // Most strings need no escape and are ASCII: one table test per byte.
    if !s.iter().any(|&b| SLOW[usize::from(b)]) {
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    // ASCII needs no UTF-8 validation; from the first other byte on, the
    // rest is split into valid and invalid runs.
    let (mut start, mut i) = (0, 0);
    while i < s.len() {
        let b = s[i];
        if b >= 0x80 {
            out.extend_from_slice(&s[start..i]);
            for chunk in s[i..].utf8_chunks() {
                write_escaped(chunk.valid().as_bytes(), out);
                for _ in chunk.invalid() {
                    out.extend_from_slice(b"\\ufffd");
                }
            }
            out.push(b'"');
            return;
        }
        if ESCAPE_START[usize::from(b)] {
            out.extend_from_slice(&s[start..i]);
            escape_ascii(b, out);
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

/// Bytes that may start an escape, and all non-ASCII bytes.
const SLOW: [bool; 256] = {
    let mut t = ESCAPE_START;
    let mut b = 0x80;
    while b < 0x100 {
        t[b] = true;
        b += 1;
    }
    t
};

/// Bytes that may start an escape: ASCII control bytes, `"`, `\`, and 0xE2,
/// the lead byte of U+2028/U+2029.
const ESCAPE_START: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0xe2] = true;
    t
};

/// The escape of an ASCII byte marked in `ESCAPE_START`.
#[inline]
fn escape_ascii(b: u8, out: &mut Vec<u8>) {
    let esc: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        _ => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
            return;
        }
    };
    out.extend_from_slice(esc);
}

/// Escapes valid UTF-8: every escape is of an ASCII byte or of
/// U+2028/U+2029, and runs of other bytes are copied whole.
fn write_escaped(valid: &[u8], out: &mut Vec<u8>) {
    let (mut start, mut i) = (0, 0);
    while i < valid.len() {
        let b = valid[i];
        if !ESCAPE_START[usize::from(b)] {
            i += 1;
            continue;
        }
        if b == 0xe2 {
            let esc: &[u8] = match (valid.get(i + 1), valid.get(i + 2)) {
                (Some(0x80), Some(0xa8)) => b"\\u2028",
                (Some(0x80), Some(0xa9)) => b"\\u2029",
                _ => {
                    i += 1;
                    continue;
                }
            };
            out.extend_from_slice(&valid[start..i]);
            out.extend_from_slice(esc);
            i += 3;
        } else {
            out.extend_from_slice(&valid[start..i]);
            escape_ascii(b, out);
            i += 1;
        }
        start = i;
    }
    out.extend_from_slice(&valid[start..]);
}

/// Standard base64 with padding, as Go's `base64.StdEncoding`.
fn write_base64(data: &[u8], out: &mut String) {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode_string(data, out);
}

/// Builders of binary JSON, for tests of this crate and its users.
pub mod build {
    use super::*;
    use crate::number::write_uvarint;

    /// A JSON value to encode.
    #[derive(Clone, Debug, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Int(i64),
        Uint(u64),
        Float(f64),
        String(Vec<u8>),
        Opaque(u8, Vec<u8>),
        Date(DateTime),
        Datetime(DateTime),
        Timestamp(DateTime),
        Duration(i64, u32),
        Array(Vec<Value>),
        /// Keys are written in the given order; TiDB sorts them bytewise.
        Object(Vec<(Vec<u8>, Value)>),
    }

    impl Value {
        pub fn type_code(&self) -> u8 {
            match self {
                Value::Null | Value::Bool(_) => TYPE_LITERAL,
                Value::Int(_) => TYPE_INT64,
                Value::Uint(_) => TYPE_UINT64,
                Value::Float(_) => TYPE_FLOAT64,
                Value::String(_) => TYPE_STRING,
                Value::Opaque(..) => TYPE_OPAQUE,
                Value::Date(_) => TYPE_DATE,
                Value::Datetime(_) => TYPE_DATETIME,
                Value::Timestamp(_) => TYPE_TIMESTAMP,
                Value::Duration(..) => TYPE_DURATION,
                Value::Array(_) => TYPE_ARRAY,
                Value::Object(_) => TYPE_OBJECT,
            }
        }

        fn literal(&self) -> Option<u8> {
            match self {
                Value::Null => Some(LITERAL_NULL),
                Value::Bool(true) => Some(LITERAL_TRUE),
                Value::Bool(false) => Some(LITERAL_FALSE),
                _ => None,
            }
        }

        /// Appends the body (without the type code).
        pub fn encode_body(&self, out: &mut Vec<u8>) {
            match self {
                Value::Null | Value::Bool(_) => out.push(self.literal().unwrap_or_default()),
                Value::Int(v) => out.extend_from_slice(&v.to_le_bytes()),
                Value::Uint(v) => out.extend_from_slice(&v.to_le_bytes()),
                Value::Float(v) => out.extend_from_slice(&v.to_bits().to_le_bytes()),
                Value::String(s) => {
                    write_uvarint(out, s.len() as u64);
                    out.extend_from_slice(s);
                }
                Value::Opaque(t, s) => {
                    out.push(*t);
                    write_uvarint(out, s.len() as u64);
                    out.extend_from_slice(s);
                }
                Value::Date(t) | Value::Datetime(t) | Value::Timestamp(t) => {
                    out.extend_from_slice(&t.to_core_time().to_le_bytes())
                }
                Value::Duration(ns, fsp) => {
                    out.extend_from_slice(&ns.to_le_bytes());
                    out.extend_from_slice(&fsp.to_le_bytes());
                }
                Value::Array(items) => {
                    let refs: Vec<&Value> = items.iter().collect();
                    encode_container(None, &refs, out);
                }
                Value::Object(fields) => {
                    let keys: Vec<&[u8]> = fields.iter().map(|(k, _)| k.as_slice()).collect();
                    let vals: Vec<&Value> = fields.iter().map(|(_, v)| v).collect();
                    encode_container(Some(&keys), &vals, out);
                }
            }
        }

        /// Type code followed by the body (a row v2 JSON slot).
        pub fn encode(&self, out: &mut Vec<u8>) {
            out.push(self.type_code());
            self.encode_body(out);
        }
    }

    fn encode_container(keys: Option<&[&[u8]]>, vals: &[&Value], out: &mut Vec<u8>) {
        let base = out.len();
        let count = vals.len();
        out.extend_from_slice(&(count as u32).to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        let key_entries = out.len();
        if keys.is_some() {
            out.resize(out.len() + count * KEY_ENTRY_SIZE, 0);
        }
        let val_entries = out.len();
        out.resize(out.len() + count * VALUE_ENTRY_SIZE, 0);
        if let Some(keys) = keys {
            for (i, k) in keys.iter().enumerate() {
                let off = (out.len() - base) as u32;
                let e = key_entries + i * KEY_ENTRY_SIZE;
                out[e..e + 4].copy_from_slice(&off.to_le_bytes());
                out[e + 4..e + 6].copy_from_slice(&(k.len() as u16).to_le_bytes());
                out.extend_from_slice(k);
            }
        }
        for (i, v) in vals.iter().enumerate() {
            let e = val_entries + i * VALUE_ENTRY_SIZE;
            out[e] = v.type_code();
            if let Some(lit) = v.literal() {
                out[e + 1] = lit;
            } else {
                let off = (out.len() - base) as u32;
                out[e + 1..e + 5].copy_from_slice(&off.to_le_bytes());
                v.encode_body(out);
            }
        }
        let size = (out.len() - base) as u32;
        out[base + 4..base + 8].copy_from_slice(&size.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::build::Value;
    use super::*;

    fn text(v: &Value) -> String {
        let mut b = Vec::new();
        v.encode(&mut b);
        JsonRef::from_slot(&b).unwrap().to_text().unwrap()
    }

    fn float_text(f: f64) -> String {
        let mut s = Vec::new();
        write_float(f, &mut s).unwrap();
        String::from_utf8(s).unwrap()
    }

    #[test]
    fn floats() {
        assert_eq!(float_text(1.0), "1.0");
        assert_eq!(float_text(-0.0), "-0.0");
        assert_eq!(float_text(0.0), "0.0");
        assert_eq!(float_text(3.5), "3.5");
        assert_eq!(float_text(0.1), "0.1");
        assert_eq!(float_text(1e15), "1e15");
        assert_eq!(float_text(1.5e15), "1.5e15");
        assert_eq!(float_text(999999999999999.0), "999999999999999.0");
        assert_eq!(float_text(1e-15), "0.000000000000001");
        assert_eq!(float_text(1e-16), "1e-16");
        assert_eq!(float_text(-2.5e-20), "-2.5e-20");
        assert_eq!(float_text(1e300), "1e300");
        assert_eq!(float_text(123456.789), "123456.789");
        assert_eq!(float_text(f64::MAX), "1.7976931348623157e308");
        assert_eq!(float_text(5e-324), "5e-324");
        let mut s = Vec::new();
        assert!(write_float(f64::NAN, &mut s).is_err());
        assert!(write_float(f64::INFINITY, &mut s).is_err());
    }

    #[test]
    fn strings() {
        let esc = |b: &[u8]| {
            let mut s = Vec::new();
            write_string(b, &mut s);
            String::from_utf8(s).unwrap()
        };
        assert_eq!(esc(b"q\"\\\n\t<&\xc3\xa9"), "\"q\\\"\\\\\\n\\t<&\u{e9}\"");
        assert_eq!(esc(b"\x01\x1f\x08\x0c\r"), "\"\\u0001\\u001f\\b\\f\\r\"");
        assert_eq!(esc("a\u{2028}b\u{2029}".as_bytes()), "\"a\\u2028b\\u2029\"");
        assert_eq!(esc(b"a\xffb"), "\"a\\ufffdb\"");
        // A truncated 3-byte sequence is two invalid bytes, as Go sees it.
        assert_eq!(esc(b"\xe2\x82A"), "\"\\ufffd\\ufffdA\"");
        assert_eq!(esc(b"\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
        assert_eq!(esc("\u{7f}😀".as_bytes()), "\"\u{7f}😀\"");
        // Escapes after the first non-ASCII byte, and invalid bytes in between.
        assert_eq!(esc("é\"\u{2028}\n".as_bytes()), "\"é\\\"\\u2028\\n\"");
        assert_eq!(esc(b"\t\xc3\xa9\xff\x01"), "\"\\t\u{e9}\\ufffd\\u0001\"");
        assert_eq!(esc(b"\xe2\x80"), "\"\\ufffd\\ufffd\"");
        assert_eq!(esc(b""), "\"\"");
    }

    #[test]
    fn base64() {
        let b = |d: &[u8]| {
            let mut s = String::new();
            write_base64(d, &mut s);
            s
        };
        assert_eq!(b(b""), "");
        assert_eq!(b(b"f"), "Zg==");
        assert_eq!(b(b"fo"), "Zm8=");
        assert_eq!(b(b"foo"), "Zm9v");
        assert_eq!(b(b"foobar"), "Zm9vYmFy");
        assert_eq!(b(&[0xab, 0xcd]), "q80=");
        assert_eq!(b(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn documents() {
        let v = Value::Object(vec![
            (
                b"a".to_vec(),
                Value::Array(vec![Value::Bool(true), Value::Bool(false)]),
            ),
            (b"b".to_vec(), Value::Int(1)),
        ]);
        assert_eq!(text(&v), "{\"a\": [true, false], \"b\": 1}");
        let nested = Value::Array(vec![
            Value::Object(vec![]),
            Value::Array(vec![]),
            Value::Null,
            Value::Uint(u64::MAX),
            Value::Float(2.0),
            Value::String(b"x".to_vec()),
            Value::Opaque(254, vec![0xab, 0xcd]),
            Value::Duration(-3_723_000_000_000, 0),
        ]);
        assert_eq!(
            text(&nested),
            "[{}, [], null, 18446744073709551615, 2.0, \"x\", \"base64:type254:q80=\", \"-01:02:03.000000\"]"
        );
        let t = DateTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 12,
            minute: 34,
            second: 56,
            micro: 123_456,
        };
        assert_eq!(text(&Value::Timestamp(t)), "\"2024-02-29 12:34:56.123456\"");
        assert_eq!(text(&Value::Date(t)), "\"2024-02-29\"");
    }

    #[test]
    fn depth_is_bounded() {
        let mut v = Value::Int(1);
        for _ in 0..=MAX_DEPTH {
            v = Value::Array(vec![v]);
        }
        let mut b = Vec::new();
        v.encode(&mut b);
        assert_eq!(
            JsonRef::from_slot(&b).unwrap().to_text(),
            Err(CodecError::JsonTooDeep { limit: MAX_DEPTH })
        );
        let mut ok = Value::Int(1);
        for _ in 0..MAX_DEPTH {
            ok = Value::Array(vec![ok]);
        }
        let mut b = Vec::new();
        ok.encode(&mut b);
        assert!(JsonRef::from_slot(&b).unwrap().to_text().is_ok());
    }

    #[test]
    fn corrupt_containers_are_errors() {
        // Count claims more entries than the size holds.
        let b = [TYPE_ARRAY, 0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0];
        assert!(JsonRef::from_slot(&b).unwrap().to_text().is_err());
        // Value offset points past the end.
        let b = [
            TYPE_ARRAY, 1, 0, 0, 0, 13, 0, 0, 0, TYPE_INT64, 200, 0, 0, 0,
        ];
        assert!(JsonRef::from_slot(&b).unwrap().to_text().is_err());
        // Size field larger than the slot.
        assert!(JsonRef::from_slot(&[TYPE_OBJECT, 0, 0, 0, 0, 9, 0, 0, 0]).is_err());
        // Bad literal, unknown type, trailing bytes.
        assert!(JsonRef::from_slot(&[TYPE_LITERAL, 7])
            .unwrap()
            .to_text()
            .is_err());
        assert_eq!(
            JsonRef::from_slot(&[0x05, 0]),
            Err(CodecError::UnknownJsonType { code: 5 })
        );
        assert!(JsonRef::from_slot(&[TYPE_LITERAL, 1, 1]).is_err());
        // A string whose length exceeds the body.
        assert!(JsonRef::from_slot(&[TYPE_STRING, 5, b'a']).is_err());
    }

    #[test]
    fn shared_bodies_cannot_blow_up() {
        // Each level is an array of 4 entries that all point at the same
        // next-level array: 4^depth elements from a few hundred bytes.
        let levels = 40;
        let mut b = vec![TYPE_ARRAY];
        let per_level = HEADER_SIZE + 4 * VALUE_ENTRY_SIZE;
        for level in 0..levels {
            let size = (levels - level) * per_level + 8;
            b.extend_from_slice(&4u32.to_le_bytes());
            b.extend_from_slice(&(size as u32).to_le_bytes());
            for _ in 0..4 {
                b.push(TYPE_ARRAY);
                b.extend_from_slice(&(per_level as u32).to_le_bytes());
            }
        }
        // Innermost: an empty array.
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        let j = JsonRef::from_slot(&b).unwrap();
        assert!(matches!(
            j.to_text(),
            Err(CodecError::InvalidValue {
                what: "JSON value",
                ..
            })
        ));
    }

    #[test]
    fn read_json_advances_by_body_length() {
        let mut b = Vec::new();
        Value::String(b"hi".to_vec()).encode(&mut b);
        b.push(0x99);
        let mut cur = b.as_slice();
        let j = read_json(&mut cur).unwrap();
        assert_eq!(j.body, &[2, b'h', b'i']);
        assert_eq!(cur, &[0x99]);
    }

    /// The fast path (Ryū) prints Rust's shortest `Display` digits, with
    /// `.0` on integral values, except at exact decimal ties, which it breaks
    /// to even as Go's `strconv` (TiDB) does, where `Display` rounds up.
    #[test]
    fn fast_float_path_matches_go_shortest() {
        let display = |f: f64| {
            let s = format!("{f}");
            if s.contains('.') {
                s
            } else {
                s + ".0"
            }
        };
        let check = |f: f64| {
            let (got, shown) = (float_text(f), display(f));
            if got == shown {
                return false;
            }
            // A tie: two candidates one unit apart in the last digit, the
            // value exactly halfway between them, the even one printed.
            let (lo, hi) = if got < shown {
                (&got, &shown)
            } else {
                (&shown, &got)
            };
            let exact = format!("{:.1100}", f.abs());
            let exact = exact.trim_end_matches('0');
            let lo_abs = lo.trim_start_matches('-');
            assert_eq!(exact, format!("{lo_abs}5"), "{f:?}: {got} vs {shown}");
            assert_eq!(lo.len(), hi.len(), "{f:?}");
            let last = |s: &str| s.bytes().last().unwrap() - b'0';
            assert_eq!(last(&got) % 2, 0, "{f:?}: {got} vs {shown}");
            assert_eq!(got.parse::<f64>().unwrap().to_bits(), f.to_bits());
            true
        };
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut checked, mut ties) = (0, 0);
        while checked < 200_000 {
            let r = next();
            // Random bit patterns, and decimals with a few digits (prices).
            let f = if r & 1 == 0 {
                f64::from_bits(r)
            } else {
                ((r >> 12) % [u64::MAX, 100_000_000, 100_000][(r >> 4) as usize % 3]) as f64
                    / [1.0, 10.0, 100.0, 1000.0, 1e6][(r >> 1) as usize % 5]
                    * if r & 2 == 0 { 1.0 } else { -1.0 }
            };
            let abs = f.abs();
            if !f.is_finite() || !(abs == 0.0 || (1e-5..1e15).contains(&abs)) {
                continue;
            }
            ties += usize::from(check(f));
            checked += 1;
        }
        assert!(ties > 0, "no tie among the samples");
        for f in [
            0.0,
            -0.0,
            1e-5,
            -1e-5,
            1.5e-5,
            0.1,
            0.3,
            1.0,
            2.5,
            100.0,
            1e14,
            999_999_999_999_999.9,
            9.999_999_999_999_998e14,
            662_936_471_232_937.2,
        ] {
            check(f);
        }
        // 662936471232937.25 exactly: Go prints the even neighbour.
        let tie = f64::from_bits(0x4302_d77f_6703_0d4a);
        assert_eq!(float_text(tie), "662936471232937.2");
        assert_eq!(format!("{tie}"), "662936471232937.3");
    }
}

//! Property tests: encode → decode round trips for every codec, and "any
//! bytes (random or a corrupted valid encoding) → Ok or Err, never a panic"
//! for every decoder.

use br_parquet_core::datum::{self, Datum, VectorF32};
use br_parquet_core::decimal::{self, Decimal};
use br_parquet_core::json::{self, build, JsonRef};
use br_parquet_core::keys::{self, DataPrefix, Handle, RawKey};
use br_parquet_core::memcomparable;
use br_parquet_core::number;
use br_parquet_core::row_v1::{self, RowV1};
use br_parquet_core::row_v2::{self, Lookup, RowV2};
use br_parquet_core::time::{self, DateTime};
use br_parquet_core::write_cf::{LastChange, WriteRecord, WriteType};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// A valid encoding with some bytes overwritten and possibly truncated.
fn corrupt(valid: Vec<u8>, edits: Vec<(usize, u8)>, cut: Option<usize>) -> Vec<u8> {
    let mut b = valid;
    if !b.is_empty() {
        let n = b.len();
        for (i, v) in edits {
            b[i % n] = v;
        }
    }
    if let Some(c) = cut {
        let n = b.len();
        b.truncate(c % (n + 1));
    }
    b
}

fn edits() -> impl Strategy<Value = (Vec<(usize, u8)>, Option<usize>)> {
    (
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        prop::option::of(any::<usize>()),
    )
}

// ---- strategies for values ------------------------------------------------

/// (precision, frac, negative, digits) of a decimal.
fn decimal_parts() -> impl Strategy<Value = (u8, u8, bool, Vec<u8>)> {
    (1u8..=decimal::MAX_PRECISION)
        .prop_flat_map(|p| (Just(p), 0..=p.min(decimal::MAX_FRAC)))
        .prop_flat_map(|(p, f)| {
            (
                Just(p),
                Just(f),
                any::<bool>(),
                prop::collection::vec(0u8..10, usize::from(p)),
            )
        })
}

/// Decimal text with exactly `p - f` integer and `f` fraction digits, and
/// the canonical form TiDB prints for it.
fn decimal_text(p: u8, f: u8, negative: bool, digits: &[u8]) -> (String, String) {
    let s: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let (int_part, frac_part) = s.split_at(usize::from(p - f));
    let sign = if negative { "-" } else { "" };
    let input = if f > 0 {
        format!("{sign}{int_part}.{frac_part}")
    } else {
        format!("{sign}{int_part}")
    };
    let int_canon = match int_part.trim_start_matches('0') {
        "" => "0",
        x => x,
    };
    let is_zero = digits.iter().all(|&d| d == 0);
    let sign = if negative && !is_zero { "-" } else { "" };
    let canon = if f > 0 {
        format!("{sign}{int_canon}.{frac_part}")
    } else {
        format!("{sign}{int_canon}")
    };
    (input, canon)
}

fn any_decimal() -> impl Strategy<Value = Decimal> {
    decimal_parts().prop_map(|(p, f, neg, digits)| {
        let (text, _) = decimal_text(p, f, neg, &digits);
        Decimal::parse(&text, p, f).expect("generated text fits")
    })
}

fn any_datetime() -> impl Strategy<Value = DateTime> {
    (
        0u16..=9999,
        0u8..=12,
        0u8..=31,
        0u8..24,
        0u8..60,
        0u8..60,
        0u32..1_000_000,
    )
        .prop_map(|(year, month, day, hour, minute, second, micro)| DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micro,
        })
}

fn json_value() -> impl Strategy<Value = build::Value> {
    use build::Value as V;
    let leaf = prop_oneof![
        Just(V::Null),
        any::<bool>().prop_map(V::Bool),
        any::<i64>().prop_map(V::Int),
        any::<u64>().prop_map(V::Uint),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(V::Float),
        bytes(12).prop_map(V::String),
        (any::<u8>(), bytes(8)).prop_map(|(t, b)| V::Opaque(t, b)),
        any_datetime().prop_map(V::Date),
        any_datetime().prop_map(V::Datetime),
        any_datetime().prop_map(V::Timestamp),
        (any::<i64>(), 0u32..=6).prop_map(|(ns, fsp)| V::Duration(ns, fsp)),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(V::Array),
            prop::collection::btree_map(bytes(6), inner, 0..5)
                .prop_map(|m| V::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON document restricted to what serde_json can represent, to compare
/// the rendered text structurally.
fn plain_json() -> impl Strategy<Value = (build::Value, serde_json::Value)> {
    use build::Value as V;
    use serde_json::Value as S;
    let leaf = prop_oneof![
        Just((V::Null, S::Null)),
        any::<bool>().prop_map(|b| (V::Bool(b), S::Bool(b))),
        any::<i64>().prop_map(|i| (V::Int(i), S::from(i))),
        any::<u64>().prop_map(|u| (V::Uint(u), S::from(u))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| (V::Float(f), S::from(f))),
        any::<String>().prop_map(|s| (V::String(s.clone().into_bytes()), S::String(s))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| {
                let (b, s): (Vec<_>, Vec<_>) = items.into_iter().unzip();
                (V::Array(b), S::Array(s))
            }),
            prop::collection::btree_map(any::<String>(), inner, 0..4).prop_map(|m| {
                let mut fields = Vec::new();
                let mut obj = serde_json::Map::new();
                for (k, (b, s)) in m {
                    fields.push((k.clone().into_bytes(), b));
                    obj.insert(k, s);
                }
                (V::Object(fields), S::Object(obj))
            }),
        ]
    })
}

/// Owned form of a datum, to build borrowed [`Datum`]s from.
#[derive(Clone, Debug)]
enum OwnedDatum {
    Null,
    ComparableBytes(Vec<u8>),
    Bytes(Vec<u8>),
    Int(i64),
    Uint(u64),
    Float(f64),
    Decimal(Decimal),
    Duration(i64),
    VarInt(i64),
    UVarInt(u64),
    Json(Vec<u8>),
    Vector(Vec<u8>),
}

impl OwnedDatum {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            OwnedDatum::Null => Datum::Null.encode(out),
            OwnedDatum::ComparableBytes(raw) => datum::encode_comparable_bytes(raw, out),
            OwnedDatum::Bytes(b) => Datum::Bytes(b).encode(out),
            OwnedDatum::Int(v) => Datum::Int(*v).encode(out),
            OwnedDatum::Uint(v) => Datum::Uint(*v).encode(out),
            OwnedDatum::Float(v) => Datum::Float(*v).encode(out),
            OwnedDatum::Decimal(d) => Datum::Decimal(*d).encode(out),
            OwnedDatum::Duration(v) => Datum::Duration(*v).encode(out),
            OwnedDatum::VarInt(v) => Datum::VarInt(*v).encode(out),
            OwnedDatum::UVarInt(v) => Datum::UVarInt(*v).encode(out),
            OwnedDatum::Json(slot) => {
                out.push(datum::JSON_FLAG);
                out.extend_from_slice(slot);
            }
            OwnedDatum::Vector(enc) => {
                out.push(datum::VECTOR_FLOAT32_FLAG);
                out.extend_from_slice(enc);
            }
        }
    }

    /// Checks a decoded datum against this value.
    fn matches(&self, d: &Datum<'_>) -> bool {
        match (self, d) {
            (OwnedDatum::Null, Datum::Null) => true,
            (OwnedDatum::ComparableBytes(raw), Datum::ComparableBytes(_)) => {
                let mut out = Vec::new();
                d.append_bytes(&mut out).unwrap() && &out == raw
            }
            (OwnedDatum::Bytes(a), Datum::Bytes(b)) => a == b,
            (OwnedDatum::Int(a), Datum::Int(b))
            | (OwnedDatum::Duration(a), Datum::Duration(b))
            | (OwnedDatum::VarInt(a), Datum::VarInt(b)) => a == b,
            (OwnedDatum::Uint(a), Datum::Uint(b)) | (OwnedDatum::UVarInt(a), Datum::UVarInt(b)) => {
                a == b
            }
            (OwnedDatum::Float(a), Datum::Float(b)) => a.to_bits() == b.to_bits(),
            (OwnedDatum::Decimal(a), Datum::Decimal(b)) => a == b,
            (OwnedDatum::Json(slot), Datum::Json(j)) => {
                slot.first() == Some(&j.type_code) && &slot[1..] == j.body
            }
            (OwnedDatum::Vector(enc), Datum::VectorF32(v)) => &enc[4..] == v.raw(),
            _ => false,
        }
    }
}

fn any_datum() -> impl Strategy<Value = OwnedDatum> {
    prop_oneof![
        Just(OwnedDatum::Null),
        bytes(40).prop_map(OwnedDatum::ComparableBytes),
        bytes(40).prop_map(OwnedDatum::Bytes),
        any::<i64>().prop_map(OwnedDatum::Int),
        any::<u64>().prop_map(OwnedDatum::Uint),
        any::<f64>().prop_map(OwnedDatum::Float),
        any_decimal().prop_map(OwnedDatum::Decimal),
        any::<i64>().prop_map(OwnedDatum::Duration),
        any::<i64>().prop_map(OwnedDatum::VarInt),
        any::<u64>().prop_map(OwnedDatum::UVarInt),
        json_value().prop_map(|v| {
            let mut slot = Vec::new();
            v.encode(&mut slot);
            OwnedDatum::Json(slot)
        }),
        prop::collection::vec(any::<f32>(), 0..6).prop_map(|v| {
            let mut enc = Vec::new();
            VectorF32::encode(&v, &mut enc);
            OwnedDatum::Vector(enc)
        }),
    ]
}

/// Structural JSON equality; floats within a relative 1e-12, because
/// serde_json's default float parser may be one ulp off at extreme
/// exponents (exact round trips are checked separately).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as S;
    match (a, b) {
        (S::Number(x), S::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (S::Array(x), S::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (S::Object(x), S::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

// ---- round trips --------------------------------------------------------

proptest! {
    #[test]
    fn i64_comparable_round_trip_and_order(a in any::<i64>(), b in any::<i64>()) {
        let (ea, eb) = (number::i64_to_cmp(a), number::i64_to_cmp(b));
        prop_assert_eq!(number::i64_from_cmp(ea), a);
        prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
    }

    #[test]
    fn u64_be_and_desc_round_trip(a in any::<u64>(), b in any::<u64>()) {
        let mut out = Vec::new();
        number::write_u64_be(&mut out, a);
        number::write_u64_desc(&mut out, a);
        let mut cur = out.as_slice();
        prop_assert_eq!(number::read_u64_be(&mut cur).unwrap(), a);
        prop_assert_eq!(number::read_u64_desc(&mut cur).unwrap(), a);
        let (mut da, mut db) = (Vec::new(), Vec::new());
        number::write_u64_desc(&mut da, a);
        number::write_u64_desc(&mut db, b);
        prop_assert_eq!(da.cmp(&db), b.cmp(&a));
    }

    #[test]
    fn f64_comparable_round_trip_and_order(a in any::<f64>(), b in any::<f64>()) {
        let (ea, eb) = (number::f64_to_cmp_u64(a), number::f64_to_cmp_u64(b));
        prop_assert_eq!(number::f64_from_cmp_u64(ea).to_bits(), a.to_bits());
        prop_assert_eq!(ea.cmp(&eb), a.total_cmp(&b));
    }

    #[test]
    fn varints_round_trip(s in any::<i64>(), u in any::<u64>()) {
        let mut out = Vec::new();
        number::write_varint(&mut out, s);
        number::write_uvarint(&mut out, u);
        let mut cur = out.as_slice();
        prop_assert_eq!(number::read_varint(&mut cur, "v").unwrap(), s);
        prop_assert_eq!(number::read_uvarint(&mut cur, "u").unwrap(), u);
        prop_assert!(cur.is_empty());
    }

    #[test]
    fn compact_ints_round_trip(s in any::<i64>(), u in any::<u64>()) {
        let mut a = Vec::new();
        number::write_compact_i64(&mut a, s);
        prop_assert_eq!(number::decode_compact_i64(&a).unwrap(), s);
        let mut b = Vec::new();
        number::write_compact_u64(&mut b, u);
        prop_assert_eq!(number::decode_compact_u64(&b).unwrap(), u);
    }

    #[test]
    fn memcomparable_round_trip_and_order(a in bytes(40), b in bytes(40), tail in bytes(8)) {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        memcomparable::encode_bytes(&a, &mut ea);
        memcomparable::encode_bytes(&b, &mut eb);
        prop_assert_eq!(ea.len(), memcomparable::encoded_len(a.len()));
        prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        let n = ea.len();
        ea.extend_from_slice(&tail);
        let mut out = vec![7];
        prop_assert_eq!(memcomparable::decode_bytes_into(&ea, &mut out).unwrap(), n);
        prop_assert_eq!(&out[1..], &a[..]);
        let (mut da, mut db) = (Vec::new(), Vec::new());
        memcomparable::encode_bytes_desc(&a, &mut da);
        memcomparable::encode_bytes_desc(&b, &mut db);
        prop_assert_eq!(da.cmp(&db), b.cmp(&a));
        prop_assert_eq!(memcomparable::decode_bytes_desc(&da).unwrap(), (a, da.len()));
    }

    #[test]
    fn decimal_round_trip((p, f, neg, digits) in decimal_parts()) {
        let (text, canon) = decimal_text(p, f, neg, &digits);
        let d = Decimal::parse(&text, p, f).unwrap();
        prop_assert_eq!(d.to_text(), canon);
        let mut bin = Vec::new();
        d.encode_bin(&mut bin);
        prop_assert_eq!(bin.len(), decimal::bin_size(p, f).unwrap());
        let (back, n) = Decimal::decode_bin(&bin, p, f).unwrap();
        prop_assert_eq!(n, bin.len());
        prop_assert_eq!(back, d);
        if p <= 38 {
            let unscaled = d.to_i128_unscaled().unwrap();
            let digits_value: i128 = digits.iter().fold(0, |acc, &x| acc * 10 + i128::from(x));
            prop_assert_eq!(unscaled.abs(), digits_value);
            prop_assert_eq!(Decimal::from_i128_unscaled(unscaled, p, f).unwrap(), d);
        }
    }

    #[test]
    fn datum_round_trip(values in prop::collection::vec(any_datum(), 1..6)) {
        let mut enc = Vec::new();
        let mut ends = Vec::new();
        for v in &values {
            v.encode(&mut enc);
            ends.push(enc.len());
        }
        let decoded = datum::decode_all(&enc).unwrap();
        prop_assert_eq!(decoded.len(), values.len());
        for (v, d) in values.iter().zip(&decoded) {
            prop_assert!(v.matches(d), "{:?} decoded as {:?}", v, d);
        }
        let mut re = Vec::new();
        for d in &decoded {
            d.encode(&mut re);
        }
        prop_assert_eq!(&re, &enc);
        // Peeking finds the same boundaries as decoding.
        let mut cur = enc.as_slice();
        for end in ends {
            datum::skip_one(&mut cur).unwrap();
            prop_assert_eq!(enc.len() - cur.len(), end);
        }
    }

    #[test]
    fn row_v1_round_trip(cols in prop::collection::vec((any::<i64>(), any_datum()), 0..8)) {
        let mut enc = Vec::new();
        if cols.is_empty() {
            enc.push(0);
        }
        let mut values = Vec::new();
        for (id, v) in &cols {
            enc.push(datum::VARINT_FLAG);
            number::write_varint(&mut enc, *id);
            let mut one = Vec::new();
            v.encode(&mut one);
            enc.extend_from_slice(&one);
            values.push(one);
        }
        prop_assert!(row_v1::is_v1(&enc));
        let mut pairs = Vec::new();
        row_v1::parse_into(&enc, &mut pairs).unwrap();
        prop_assert_eq!(pairs.len(), cols.len());
        for (((id, _), value), (pid, pv)) in cols.iter().zip(&values).zip(&pairs) {
            prop_assert_eq!(id, pid);
            prop_assert_eq!(&value[..], *pv);
        }
        let row = RowV1::parse(&enc).unwrap();
        for (id, v) in &cols {
            if cols.iter().filter(|(i, _)| i == id).count() == 1 {
                let d = row.lookup_datum(*id).unwrap().unwrap();
                prop_assert!(v.matches(&d));
            }
        }
    }

    #[test]
    fn row_v2_round_trip(
        cols in prop::collection::btree_map(0u32..600, prop::option::of(bytes(24)), 0..24),
        probe in 0i64..700,
    ) {
        let list: Vec<(u32, Option<&[u8]>)> =
            cols.iter().map(|(id, v)| (*id, v.as_deref())).collect();
        let mut enc = Vec::new();
        row_v2::encode(&list, &mut enc);
        let row = RowV2::parse(&enc).unwrap();
        prop_assert_eq!(row.is_large(), cols.keys().any(|&id| id > 255));
        for (id, v) in &cols {
            let want = match v {
                Some(b) => Lookup::Value(b),
                None => Lookup::Null,
            };
            prop_assert_eq!(row.lookup(i64::from(*id)), want);
        }
        if !cols.contains_key(&(probe as u32)) {
            prop_assert_eq!(row.lookup(probe), Lookup::Missing);
        }
        prop_assert_eq!(row.not_null_count() + row.null_count(), cols.len());
        // A checksum trailer changes nothing.
        let mut with_trailer = enc.clone();
        with_trailer[1] |= row_v2::FLAG_CHECKSUM;
        with_trailer.extend_from_slice(&[1, 2, 3, 4, 5]);
        let row2 = RowV2::parse(&with_trailer).unwrap();
        prop_assert_eq!(row2.trailer(), &[1, 2, 3, 4, 5][..]);
        for id in cols.keys() {
            prop_assert_eq!(row2.lookup(i64::from(*id)), row.lookup(i64::from(*id)));
        }
    }

    #[test]
    fn json_text_matches_serde((value, expected) in plain_json()) {
        let mut slot = Vec::new();
        value.encode(&mut slot);
        let text = JsonRef::from_slot(&slot).unwrap().to_text().unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert!(same_json(&parsed, &expected), "text {} vs {}", text, expected);
    }

    #[test]
    fn json_float_text_round_trips(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let mut slot = Vec::new();
        build::Value::Float(f).encode(&mut slot);
        let text = JsonRef::from_slot(&slot).unwrap().to_text().unwrap();
        prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), f.to_bits(), "{}", &text);
        let scientific = f != 0.0 && !(1e-15..1e15).contains(&f.abs());
        prop_assert_eq!(text.contains('e'), scientific, "{}", &text);
        prop_assert!(scientific || text.contains('.'), "{}", &text);
        prop_assert!(!text.contains('+') && !text.contains("e0") && !text.contains("e-0"), "{}", &text);
    }

    #[test]
    fn json_any_value_renders(value in json_value()) {
        let mut slot = Vec::new();
        value.encode(&mut slot);
        let j = JsonRef::from_slot(&slot).unwrap();
        prop_assert!(j.to_text().is_ok());
        let mut cur = slot.as_slice();
        prop_assert_eq!(json::read_json(&mut cur).unwrap(), j);
    }

    #[test]
    fn write_records_round_trip(
        t in 0usize..4,
        start_ts in any::<u64>(),
        short in prop::option::of(bytes(255)),
        rollback in any::<bool>(),
        fence in prop::option::of(any::<u64>()),
        last in prop::option::of((any::<u64>(), any::<u64>())),
        source in prop::option::of(any::<u64>()),
    ) {
        let write_type = [WriteType::Put, WriteType::Delete, WriteType::Lock, WriteType::Rollback][t];
        let rec = WriteRecord {
            write_type,
            start_ts,
            short_value: short.as_deref(),
            has_overlapped_rollback: rollback,
            gc_fence: fence,
            last_change: last.map(|(ts, versions)| LastChange { ts, versions }),
            txn_source: source,
        };
        let mut enc = Vec::new();
        rec.encode(&mut enc).unwrap();
        prop_assert_eq!(WriteRecord::parse(&enc).unwrap(), rec);
    }

    #[test]
    fn keys_round_trip(raw in bytes(40), ts in any::<u64>(), z in any::<bool>(), table in any::<i64>(), handle in any::<i64>()) {
        let prefix = if z { DataPrefix::Z } else { DataPrefix::Absent };
        // Raw TiDB keys never start with `z`; that is what tells the forms apart.
        prop_assume!(raw.first() != Some(&b'z'));
        let mut key = Vec::new();
        keys::encode_key(&raw, ts, prefix, &mut key);
        let mut buf = Vec::new();
        let k = keys::decode_key(&key, &mut buf).unwrap();
        prop_assert_eq!(k.prefix, prefix);
        prop_assert_eq!(k.ts, ts);
        prop_assert_eq!(k.raw, &raw[..]);
        let mut record = Vec::new();
        keys::encode_record_key_int(table, handle, &mut record);
        prop_assert_eq!(
            keys::parse_raw_key(&record),
            RawKey::Record { table_id: table, handle: Handle::Int(handle) }
        );
    }

    #[test]
    fn times_round_trip(t in any_datetime(), fsp in 0u8..=6) {
        prop_assert_eq!(DateTime::from_packed(t.to_packed()).unwrap(), t);
        prop_assert_eq!(DateTime::from_core_time(t.to_core_time()).unwrap(), t);
        let mut s = String::new();
        t.write_datetime(fsp, &mut s).unwrap();
        prop_assert_eq!(s.len(), 19 + if fsp > 0 { 1 + usize::from(fsp) } else { 0 });
        if let Some(days) = t.days_since_epoch() {
            prop_assert!(t.month > 0 && t.day > 0);
            prop_assert_eq!(
                t.micros_since_epoch().unwrap().div_euclid(86_400_000_000),
                i64::from(days)
            );
        }
    }
}

// ---- no panics on any input ---------------------------------------------

/// Runs every decoder over `b`; each must return, Ok or Err.
fn decode_everything(b: &[u8], small: u8, other: u8) {
    let mut cur = b;
    let _ = number::read_uvarint(&mut cur, "x");
    let mut cur = b;
    let _ = number::read_varint(&mut cur, "x");
    let mut cur = b;
    let _ = number::read_i64_cmp(&mut cur);
    let mut cur = b;
    let _ = number::read_f64_cmp(&mut cur);
    let _ = number::decode_compact_i64(b);
    let _ = number::decode_compact_u64(b);
    let mut out = Vec::new();
    let _ = memcomparable::decode_bytes_into(b, &mut out);
    let _ = memcomparable::decode_bytes_desc_into(b, &mut out);
    let _ = memcomparable::encoded_value_len(b);

    let _ = keys::split_key(b);
    let _ = keys::parse_raw_key(b);
    let _ = keys::strip_keyspace(b);
    let mut buf = Vec::new();
    if let Ok(k) = keys::decode_key(b, &mut buf) {
        if let RawKey::Record {
            handle: Handle::Common(h),
            ..
        } = k.kind
        {
            let _ = datum::decode_all(h);
        }
    }

    let _ = WriteRecord::parse(b);

    let mut cur = b;
    let _ = datum::decode_one(&mut cur);
    let _ = datum::peek_len(b);
    if let Ok(ds) = datum::decode_all(b) {
        for d in ds {
            let mut tmp = Vec::new();
            let _ = d.append_bytes(&mut tmp);
            if let Datum::Json(j) = d {
                let _ = j.to_text();
            }
            if let Datum::Decimal(dec) = d {
                let _ = dec.to_text();
                let _ = dec.to_i128_unscaled();
            }
        }
    }

    let _ = Decimal::decode_bin(b, small, other);
    let mut cur = b;
    if let Ok(d) = Decimal::read_with_header(&mut cur) {
        let _ = d.to_text();
        let _ = d.to_i128_unscaled();
    }

    if let Ok(j) = JsonRef::from_slot(b) {
        let _ = j.to_text();
    }
    for code in [json::TYPE_OBJECT, json::TYPE_ARRAY, small] {
        let _ = json::body_len(code, b);
        let _ = JsonRef {
            type_code: code,
            body: b,
        }
        .to_text();
    }

    if let Ok(row) = RowV1::parse(b) {
        for &(id, _) in row.columns() {
            let _ = row.lookup_datum(id);
        }
    }

    if let Ok(row) = RowV2::parse(b) {
        for (_, slot) in row.values() {
            let _ = row_v2::decode_int(slot);
            let _ = row_v2::decode_f64(slot);
            let _ = row_v2::decode_decimal(slot).map(|d| d.to_text());
            let _ = row_v2::decode_datetime(slot);
            let _ = row_v2::decode_json(slot).map(|j| j.to_text());
            let _ = row_v2::decode_vector_f32(slot).map(|v| v.iter().count());
        }
        let _ = row.lookup(i64::from(small));
        let _ = row.lookup(i64::from(other) << 8);
    }
    let _ = row_v2::decode_json(b);
    let _ = row_v2::decode_decimal(b);
    let _ = row_v2::decode_vector_f32(b);
    let mut s = String::new();
    let _ = row_v2::write_set(&["a", "b"], u64::from(small), &mut s);
    let _ = row_v2::write_bit_bytes(u64::from(other), i64::from(small) - 64, &mut Vec::new());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_bytes_never_panic(b in bytes(96), small in any::<u8>(), other in any::<u8>()) {
        decode_everything(&b, small, other);
        // Also behind each prefix a decoder dispatches on.
        let leads: [&[u8]; 11] = [
            &[0x80, 0x00],
            &[0x80, 0x01],
            &[0x80, 0x02],
            b"zt",
            b"P",
            &[0x01],
            &[0x03],
            &[0x0c],
            &[0x0a, 0x01],
            &[0x0a, 0x03],
            &[0x06, 0x0a, 0x02],
        ];
        for lead in leads {
            let mut v = lead.to_vec();
            v.extend_from_slice(&b);
            decode_everything(&v, small, other);
        }
    }

    #[test]
    fn corrupted_json_never_panics(value in json_value(), (e, cut) in edits()) {
        let mut slot = Vec::new();
        value.encode(&mut slot);
        let b = corrupt(slot, e, cut);
        if let Ok(j) = JsonRef::from_slot(&b) {
            let _ = j.to_text();
        }
        decode_everything(&b, 3, 7);
    }

    #[test]
    fn corrupted_rows_never_panic(
        cols in prop::collection::btree_map(0u32..300, prop::option::of(bytes(12)), 0..12),
        v1 in prop::collection::vec((any::<i64>(), any_datum()), 0..5),
        (e, cut) in edits(),
    ) {
        let list: Vec<(u32, Option<&[u8]>)> =
            cols.iter().map(|(id, v)| (*id, v.as_deref())).collect();
        let mut enc = Vec::new();
        row_v2::encode(&list, &mut enc);
        let b = corrupt(enc, e.clone(), cut);
        decode_everything(&b, 1, 2);
        let mut enc1 = Vec::new();
        for (id, v) in &v1 {
            enc1.push(datum::VARINT_FLAG);
            number::write_varint(&mut enc1, *id);
            v.encode(&mut enc1);
        }
        let b1 = corrupt(enc1, e, cut);
        decode_everything(&b1, 1, 2);
    }

    #[test]
    fn any_time_value_is_safe(v in any::<u64>(), ns in any::<i64>(), fsp in 0u8..=6) {
        if let Ok(t) = DateTime::from_packed(v) {
            prop_assert_eq!(t.to_packed(), v);
            let mut s = String::new();
            t.write_datetime(fsp, &mut s).unwrap();
            t.write_date(&mut s);
            let _ = t.micros_since_epoch();
        }
        if let Ok(t) = DateTime::from_core_time(v) {
            prop_assert_eq!(t.to_core_time(), v & !0xf);
        }
        let mut s = String::new();
        time::write_duration(ns, fsp, &mut s).unwrap();
        prop_assert!(s.contains(':'));
    }

    #[test]
    fn any_decimal_bytes_are_safe(b in bytes(40), p in any::<u8>(), f in any::<u8>()) {
        if let Ok((d, n)) = Decimal::decode_bin(&b, p, f) {
            prop_assert_eq!(n, decimal::bin_size(p, f).unwrap());
            let text = d.to_text();
            // Decoding what we print gives the same value back.
            prop_assert_eq!(Decimal::parse(&text, p, f).unwrap(), d);
        }
    }
}

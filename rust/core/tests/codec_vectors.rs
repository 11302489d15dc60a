//! Decodes every vector of `shared/fixtures/codec-vectors.json` (and
//! re-encodes where the codec has an encoder). The file sits beside the
//! repository; when it is absent a local run says so loudly and passes, and a
//! CI run (`CI=true`) fails.

use std::collections::BTreeSet;

use br_parquet_core::datum::{self, Datum};
use br_parquet_core::decimal::{bin_size, Decimal};
use br_parquet_core::json::JsonRef;
use br_parquet_core::keys::{self, DataPrefix, Handle, RawKey};
use br_parquet_core::memcomparable;
use br_parquet_core::number;
use br_parquet_core::row_v1::RowV1;
use br_parquet_core::row_v2::{self, Lookup, RowV2};
use br_parquet_core::time::{write_duration, DateTime};
use br_parquet_core::write_cf::{WriteRecord, WriteType};
use serde_json::Value;

mod common;

const VECTORS: &str = "codec-vectors.json";

/// Every kind a test below handles. A kind in the file but not here fails
/// `every_kind_is_handled`.
const HANDLED: &[&str] = &[
    "memcomparable_bytes_asc",
    "memcomparable_bytes_desc",
    "compact_bytes",
    "row_v2",
    "row_v2_payload_int",
    "row_v2_payload_float",
    "row_v2_payload_time",
    "row_v2_payload_decimal",
    "row_v2_payload_json",
    "row_v2_payload_duration",
    "row_v2_payload_year",
    "row_v2_payload_bit",
    "row_v2_payload_enum",
    "row_v2_payload_set",
    "row_v2_payload_vector_float32",
    "row_v2_with_checksum",
    "decimal_bin",
    "int64_comparable",
    "uint64_comparable",
    "ts_desc_suffix",
    "varint_zigzag",
    "uvarint",
    "float64_comparable",
    "record_key_int_handle",
    "record_key_common_handle",
    "index_key",
    "br_sst_key_write_cf",
    "br_sst_key_default_cf",
    "br_sst_key_write_cf_keyspace",
    "write_cf_value",
    "datum",
    "datum_json",
    "packed_time_uint64",
    "row_v1",
    "json_binary",
    "br_sst_default_cf_value",
];

fn all_vectors() -> Option<Vec<Value>> {
    let text = common::read_shared(VECTORS)?;
    Some(serde_json::from_str(&text).expect("codec-vectors.json is valid JSON"))
}

struct Vector {
    input: Vec<u8>,
    expected: Value,
    label: String,
}

/// The vectors of one kind; `None` (skip) when the file is absent.
fn vectors(kind: &str) -> Option<Vec<Vector>> {
    let all = all_vectors()?;
    let out: Vec<Vector> = all
        .iter()
        .filter(|v| v["kind"] == kind)
        .map(|v| {
            let input_hex = v["input_hex"].as_str().expect("input_hex");
            Vector {
                input: hex(input_hex),
                expected: v["expected"].clone(),
                label: format!("{kind} {input_hex}"),
            }
        })
        .collect();
    assert!(!out.is_empty(), "no vectors of kind {kind}");
    Some(out)
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn i64_of(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an i64: {v}"))
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Fraction digits in a time text such as `01:02:03.5` (→ 1).
fn fsp_of(text: &str) -> u8 {
    text.split_once('.').map_or(0, |(_, f)| f.len() as u8)
}

fn datetime_text(packed: u64, fsp: u8) -> String {
    let mut s = String::new();
    DateTime::from_packed(packed)
        .unwrap()
        .write_datetime(fsp, &mut s)
        .unwrap();
    s
}

fn date_text(packed: u64) -> String {
    let mut s = String::new();
    DateTime::from_packed(packed).unwrap().write_date(&mut s);
    s
}

fn duration_text(ns: i64, fsp: u8) -> String {
    let mut s = String::new();
    write_duration(ns, fsp, &mut s).unwrap();
    s
}

fn slot<'a>(row: &RowV2<'a>, id: i64) -> &'a [u8] {
    match row.lookup(id) {
        Lookup::Value(v) => v,
        other => panic!("column {id}: {other:?}"),
    }
}

#[test]
fn every_kind_is_handled() {
    let Some(all) = all_vectors() else { return };
    let handled: BTreeSet<&str> = HANDLED.iter().copied().collect();
    let in_file: BTreeSet<&str> = all.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    let unhandled: Vec<&&str> = in_file.difference(&handled).collect();
    assert!(
        unhandled.is_empty(),
        "vector kinds with no test: {unhandled:?}"
    );
    let stale: Vec<&&str> = handled.difference(&in_file).collect();
    assert!(
        stale.is_empty(),
        "handled kinds missing from the file: {stale:?}"
    );
}

#[test]
fn memcomparable_bytes_asc() {
    let Some(vs) = vectors("memcomparable_bytes_asc") else {
        return;
    };
    for v in vs {
        let (raw, n) = memcomparable::decode_bytes(&v.input).expect(&v.label);
        assert_eq!(n, v.input.len(), "{}", v.label);
        assert_eq!(to_hex(&raw), str_of(&v.expected["raw_hex"]), "{}", v.label);
        let mut enc = Vec::new();
        memcomparable::encode_bytes(&raw, &mut enc);
        assert_eq!(enc, v.input, "{}", v.label);
    }
}

#[test]
fn memcomparable_bytes_desc() {
    let Some(vs) = vectors("memcomparable_bytes_desc") else {
        return;
    };
    for v in vs {
        let (raw, n) = memcomparable::decode_bytes_desc(&v.input).expect(&v.label);
        assert_eq!(n, v.input.len(), "{}", v.label);
        assert_eq!(to_hex(&raw), str_of(&v.expected["raw_hex"]), "{}", v.label);
        let mut enc = Vec::new();
        memcomparable::encode_bytes_desc(&raw, &mut enc);
        assert_eq!(enc, v.input, "{}", v.label);
    }
}

#[test]
fn compact_bytes() {
    let Some(vs) = vectors("compact_bytes") else {
        return;
    };
    for v in vs {
        // The vector is the payload of datum flag 2.
        let mut with_flag = vec![datum::COMPACT_BYTES_FLAG];
        with_flag.extend_from_slice(&v.input);
        let mut cur = with_flag.as_slice();
        let Datum::Bytes(b) = datum::decode_one(&mut cur).expect(&v.label) else {
            panic!("{}", v.label)
        };
        assert!(cur.is_empty());
        assert_eq!(b.len() as u64, u64_of(&v.expected["length"]), "{}", v.label);
        assert_eq!(std::str::from_utf8(b).unwrap(), str_of(&v.expected["utf8"]));
        let mut enc = Vec::new();
        Datum::Bytes(b).encode(&mut enc);
        assert_eq!(enc, with_flag);
    }
}

/// Checks one expected row-v2 column against the row.
fn check_v2_column(row: &RowV2<'_>, id: i64, exp: &Value, label: &str) {
    if exp.is_null() || exp.get("value").is_some_and(Value::is_null) {
        assert_eq!(row.lookup(id), Lookup::Null, "{label} col {id}");
        return;
    }
    let s = slot(row, id);
    match exp {
        Value::Number(n) => {
            assert_eq!(
                row_v2::decode_int(s).unwrap(),
                n.as_i64().unwrap(),
                "{label} col {id}"
            )
        }
        Value::String(text) => {
            assert_eq!(std::str::from_utf8(s).unwrap(), text, "{label} col {id}")
        }
        Value::Object(o) if o.contains_key("decimal") => {
            let d = row_v2::decode_decimal(s).unwrap();
            assert_eq!(d.to_text(), str_of(&o["decimal"]), "{label} col {id}");
            if let Some(p) = o.get("precision") {
                assert_eq!(u64::from(d.precision()), u64_of(p));
                assert_eq!(u64::from(d.frac()), u64_of(&o["frac"]));
            }
        }
        Value::Object(o) => {
            let value = o.get("value").unwrap_or(&Value::Null);
            match o.get("type").and_then(Value::as_str) {
                Some("BIGINT UNSIGNED") => {
                    assert_eq!(row_v2::decode_uint(s).unwrap(), u64_of(value))
                }
                Some("DOUBLE") => {
                    assert_eq!(row_v2::decode_f64(s).unwrap(), value.as_f64().unwrap())
                }
                Some("VARCHAR/BLOB") => {
                    assert_eq!(std::str::from_utf8(s).unwrap(), str_of(&o["value_utf8"]))
                }
                Some(t) if t.starts_with("DATETIME") => {
                    let text = str_of(value);
                    let packed = row_v2::decode_packed_time(s).unwrap();
                    assert_eq!(
                        datetime_text(packed, fsp_of(text)),
                        text,
                        "{label} col {id}"
                    );
                }
                Some("DECIMAL") => {
                    let d = row_v2::decode_decimal(s).unwrap();
                    assert_eq!(d.to_text(), str_of(value));
                    assert_eq!(u64::from(d.precision()), u64_of(&o["precision"]));
                    assert_eq!(u64::from(d.frac()), u64_of(&o["frac"]));
                }
                Some("JSON") => {
                    assert_eq!(
                        row_v2::decode_json(s).unwrap().to_text().unwrap(),
                        str_of(value)
                    )
                }
                Some(t) if t.starts_with("TIME") => {
                    let ns = row_v2::decode_duration(s).unwrap();
                    assert_eq!(ns, i64_of(&o["value_ns"]));
                    let text = str_of(value);
                    assert_eq!(duration_text(ns, fsp_of(text)), text);
                }
                Some("BIGINT") | None => {
                    // Untyped columns of TiKV's tests are signed ints, except
                    // u64::MAX in the unsigned test.
                    match value.as_i64() {
                        Some(x) => {
                            assert_eq!(row_v2::decode_int(s).unwrap(), x, "{label} col {id}")
                        }
                        None => assert_eq!(row_v2::decode_uint(s).unwrap(), u64_of(value)),
                    }
                }
                Some(t) => panic!("{label}: unhandled column type {t}"),
            }
        }
        other => panic!("{label}: unhandled expectation {other}"),
    }
}

fn check_v2_row(row: &RowV2<'_>, expected: &Value, label: &str) {
    let columns = expected["columns"].as_object().expect("columns");
    for (id, exp) in columns {
        check_v2_column(row, id.parse().unwrap(), exp, label);
    }
    let stored = row.not_null_count() + row.null_count();
    assert_eq!(stored, columns.len(), "{label}: stored columns");
}

#[test]
fn row_v2() {
    let Some(vs) = vectors("row_v2") else { return };
    for v in vs {
        let row = RowV2::parse(&v.input).expect(&v.label);
        if let Some(flags) = v.expected.get("flags") {
            assert_eq!(row.is_large(), u64_of(flags) & 1 == 1, "{}", v.label);
        }
        if let Some(large) = v.expected.get("large") {
            assert_eq!(row.is_large(), large.as_bool().unwrap());
        }
        if let Some(ids) = v.expected.get("not_null_ids") {
            let want: Vec<u64> = ids.as_array().unwrap().iter().map(u64_of).collect();
            let got: Vec<u64> = row.values().map(|(id, _)| u64::from(id)).collect();
            assert_eq!(got, want, "{}", v.label);
        }
        if let Some(ids) = v.expected.get("null_ids") {
            let want: Vec<u64> = ids.as_array().unwrap().iter().map(u64_of).collect();
            let got: Vec<u64> = row.null_ids().map(u64::from).collect();
            assert_eq!(got, want, "{}", v.label);
        }
        check_v2_row(&row, &v.expected, &v.label);
        assert!(row.trailer().is_empty());
        // Re-encoding reproduces TiDB's bytes.
        let cols: Vec<(u32, Option<&[u8]>)> = row
            .values()
            .map(|(id, s)| (id, Some(s)))
            .chain(row.null_ids().map(|id| (id, None)))
            .collect();
        let mut enc = Vec::new();
        row_v2::encode(&cols, &mut enc);
        assert_eq!(enc, v.input, "{}", v.label);
    }
}

#[test]
fn row_v2_with_checksum() {
    let Some(vs) = vectors("row_v2_with_checksum") else {
        return;
    };
    for v in vs {
        let row = RowV2::parse(&v.input).expect(&v.label);
        assert!(row.has_checksum());
        check_v2_row(&row, &v.expected, &v.label);
        let trailer = row.trailer();
        let header = u64::from(trailer[0]);
        assert_eq!(header, u64_of(&v.expected["checksum_header"]));
        if let Some(ver) = v.expected.get("checksum_version") {
            assert_eq!(header & 0x7, u64_of(ver));
        }
        let extra = header & 0x8 != 0;
        assert_eq!(trailer.len(), if extra { 9 } else { 5 }, "{}", v.label);
        if let Some(e) = v.expected.get("has_extra_checksum") {
            assert_eq!(extra, e.as_bool().unwrap());
        }
        if let Some(crc) = v.expected.get("checksum_le_u32") {
            let got = u32::from_le_bytes(trailer[1..5].try_into().unwrap());
            assert_eq!(u64::from(got), u64_of(crc));
        }
    }
}

#[test]
fn row_v2_payload_int() {
    let Some(vs) = vectors("row_v2_payload_int") else {
        return;
    };
    for v in vs {
        let x = row_v2::decode_int(&v.input).expect(&v.label);
        assert_eq!(x, i64_of(&v.expected["value"]), "{}", v.label);
        let mut enc = Vec::new();
        row_v2::encode_int(x, &mut enc);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn row_v2_payload_year() {
    let Some(vs) = vectors("row_v2_payload_year") else {
        return;
    };
    for v in vs {
        assert_eq!(
            row_v2::decode_int(&v.input).unwrap(),
            i64_of(&v.expected["value"])
        );
    }
}

#[test]
fn row_v2_payload_float() {
    let Some(vs) = vectors("row_v2_payload_float") else {
        return;
    };
    for v in vs {
        if v.expected["type"] == "FLOAT" {
            let f = row_v2::decode_f32(&v.input).expect(&v.label);
            assert_eq!(
                f,
                v.expected["value_f32"].as_f64().unwrap() as f32,
                "{}",
                v.label
            );
            let mut enc = Vec::new();
            row_v2::encode_f64(f64::from(f), &mut enc);
            assert_eq!(enc, v.input);
        } else {
            let f = row_v2::decode_f64(&v.input).expect(&v.label);
            assert_eq!(f, v.expected["value"].as_f64().unwrap(), "{}", v.label);
            let mut enc = Vec::new();
            row_v2::encode_f64(f, &mut enc);
            assert_eq!(enc, v.input);
        }
    }
}

#[test]
fn row_v2_payload_time() {
    let Some(vs) = vectors("row_v2_payload_time") else {
        return;
    };
    for v in vs {
        let packed = row_v2::decode_packed_time(&v.input).expect(&v.label);
        if let Some(p) = v.expected.get("packed_uint64") {
            let p = u64::from_str_radix(str_of(p).trim_start_matches("0x"), 16).unwrap();
            assert_eq!(packed, p, "{}", v.label);
        }
        let text = str_of(&v.expected["value"]);
        if v.expected["type"] == "DATE" {
            assert_eq!(date_text(packed), text);
        } else {
            assert_eq!(datetime_text(packed, fsp_of(text)), text);
        }
        assert_eq!(
            row_v2::decode_datetime(&v.input).unwrap().to_packed(),
            packed
        );
        let mut enc = Vec::new();
        row_v2::encode_uint(packed, &mut enc);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn row_v2_payload_decimal() {
    let Some(vs) = vectors("row_v2_payload_decimal") else {
        return;
    };
    for v in vs {
        let d = row_v2::decode_decimal(&v.input).expect(&v.label);
        assert_eq!(u64::from(d.precision()), u64_of(&v.expected["precision"]));
        assert_eq!(u64::from(d.frac()), u64_of(&v.expected["frac"]));
        assert_eq!(d.to_text(), str_of(&v.expected["value"]));
        let mut enc = Vec::new();
        d.encode_with_header(&mut enc);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn row_v2_payload_json() {
    let Some(vs) = vectors("row_v2_payload_json") else {
        return;
    };
    for v in vs {
        let j = row_v2::decode_json(&v.input).expect(&v.label);
        assert_eq!(j.to_text().unwrap(), str_of(&v.expected["value"]));
    }
}

#[test]
fn row_v2_payload_duration() {
    let Some(vs) = vectors("row_v2_payload_duration") else {
        return;
    };
    for v in vs {
        let ns = row_v2::decode_duration(&v.input).expect(&v.label);
        assert_eq!(ns, i64_of(&v.expected["nanoseconds"]), "{}", v.label);
        let fsp = v.expected.get("fsp").map_or(0, |f| u64_of(f) as u8);
        assert_eq!(duration_text(ns, fsp), str_of(&v.expected["value"]));
        let mut enc = Vec::new();
        row_v2::encode_int(ns, &mut enc);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn row_v2_payload_bit() {
    let Some(vs) = vectors("row_v2_payload_bit") else {
        return;
    };
    for v in vs {
        let x = row_v2::decode_uint(&v.input).expect(&v.label);
        assert_eq!(x, u64_of(&v.expected["uint"]));
        let mut b = Vec::new();
        row_v2::write_bit_bytes(x, i64_of(&v.expected["flen"]), &mut b).unwrap();
        assert_eq!(to_hex(&b), str_of(&v.expected["bytes_hex"]));
    }
}

fn elems(v: &Value) -> Vec<String> {
    v["elems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| str_of(e).to_owned())
        .collect()
}

#[test]
fn row_v2_payload_enum() {
    let Some(vs) = vectors("row_v2_payload_enum") else {
        return;
    };
    for v in vs {
        let x = row_v2::decode_uint(&v.input).expect(&v.label);
        let e = elems(&v.expected);
        assert_eq!(
            row_v2::enum_name(&e, x).unwrap_or(""),
            str_of(&v.expected["value"])
        );
    }
}

#[test]
fn row_v2_payload_set() {
    let Some(vs) = vectors("row_v2_payload_set") else {
        return;
    };
    for v in vs {
        let x = row_v2::decode_uint(&v.input).expect(&v.label);
        let mut s = String::new();
        row_v2::write_set(&elems(&v.expected), x, &mut s).unwrap();
        assert_eq!(s, str_of(&v.expected["value"]));
    }
}

#[test]
fn row_v2_payload_vector_float32() {
    let Some(vs) = vectors("row_v2_payload_vector_float32") else {
        return;
    };
    for v in vs {
        let vec = row_v2::decode_vector_f32(&v.input).expect(&v.label);
        let want: Vec<f32> = v.expected["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(vec.iter().collect::<Vec<_>>(), want);
        let mut enc = Vec::new();
        datum::VectorF32::encode(&want, &mut enc);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn decimal_bin() {
    let Some(vs) = vectors("decimal_bin") else {
        return;
    };
    for v in vs {
        let p = u64_of(&v.expected["precision"]) as u8;
        let f = u64_of(&v.expected["frac"]) as u8;
        let (d, n) = Decimal::decode_bin(&v.input, p, f).expect(&v.label);
        assert_eq!(n, v.input.len(), "{}", v.label);
        if let Some(size) = v.expected.get("bin_size") {
            assert_eq!(bin_size(p, f).unwrap() as u64, u64_of(size));
        }
        let text = str_of(&v.expected["value"]);
        assert_eq!(d.to_text(), text, "{}", v.label);
        let parsed = Decimal::parse(text, p, f).unwrap();
        assert_eq!(parsed, d);
        let mut enc = Vec::new();
        parsed.encode_bin(&mut enc);
        assert_eq!(enc, v.input, "{}", v.label);
        if p <= 38 {
            let unscaled = d.to_i128_unscaled().unwrap();
            assert_eq!(Decimal::from_i128_unscaled(unscaled, p, f).unwrap(), d);
        }
    }
}

#[test]
fn int64_comparable() {
    let Some(vs) = vectors("int64_comparable") else {
        return;
    };
    for v in vs {
        let mut cur = v.input.as_slice();
        let x = number::read_i64_cmp(&mut cur).expect(&v.label);
        assert!(cur.is_empty());
        assert_eq!(x, i64_of(&v.expected["value"]), "{}", v.label);
        let mut enc = Vec::new();
        number::write_i64_cmp(&mut enc, x);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn uint64_comparable() {
    let Some(vs) = vectors("uint64_comparable") else {
        return;
    };
    for v in vs {
        let mut cur = v.input.as_slice();
        let x = number::read_u64_be(&mut cur).expect(&v.label);
        assert_eq!(x, u64_of(&v.expected["value"]), "{}", v.label);
        let mut enc = Vec::new();
        number::write_u64_be(&mut enc, x);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn ts_desc_suffix() {
    let Some(vs) = vectors("ts_desc_suffix") else {
        return;
    };
    for v in vs {
        let ts = u64_of(&v.expected["ts"]);
        let mut enc = Vec::new();
        number::write_u64_desc(&mut enc, ts);
        assert_eq!(enc, v.input, "{}", v.label);
        let mut cur = v.input.as_slice();
        assert_eq!(number::read_u64_desc(&mut cur).unwrap(), ts);
        // As the suffix of a key: the ts comes off the end.
        let mut key = Vec::new();
        keys::encode_key(b"t", ts, DataPrefix::Z, &mut key);
        assert!(key.ends_with(&v.input));
        assert_eq!(keys::split_key(&key).unwrap().ts, ts);
    }
}

#[test]
fn varint_zigzag() {
    let Some(vs) = vectors("varint_zigzag") else {
        return;
    };
    for v in vs {
        let mut cur = v.input.as_slice();
        let x = number::read_varint(&mut cur, "varint").expect(&v.label);
        assert!(cur.is_empty());
        assert_eq!(x, i64_of(&v.expected["value"]), "{}", v.label);
        let mut enc = Vec::new();
        number::write_varint(&mut enc, x);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn uvarint() {
    let Some(vs) = vectors("uvarint") else { return };
    for v in vs {
        let mut cur = v.input.as_slice();
        let x = number::read_uvarint(&mut cur, "uvarint").expect(&v.label);
        assert!(cur.is_empty());
        assert_eq!(x, u64_of(&v.expected["value"]), "{}", v.label);
        let mut enc = Vec::new();
        number::write_uvarint(&mut enc, x);
        assert_eq!(enc, v.input);
    }
}

#[test]
fn float64_comparable() {
    let Some(vs) = vectors("float64_comparable") else {
        return;
    };
    for v in vs {
        let mut cur = v.input.as_slice();
        let f = number::read_f64_cmp(&mut cur).expect(&v.label);
        match &v.expected["value"] {
            Value::String(s) if s == "-0.0" => assert!(f == 0.0 && f.is_sign_negative()),
            x => assert_eq!(f, x.as_f64().unwrap(), "{}", v.label),
        }
        let mut enc = Vec::new();
        number::write_f64_cmp(&mut enc, f);
        assert_eq!(enc, v.input, "{}", v.label);
    }
}

#[test]
fn record_key_int_handle() {
    let Some(vs) = vectors("record_key_int_handle") else {
        return;
    };
    for v in vs {
        let RawKey::Record {
            table_id,
            handle: Handle::Int(h),
        } = keys::parse_raw_key(&v.input)
        else {
            panic!("{}", v.label)
        };
        assert_eq!(table_id, i64_of(&v.expected["table_id"]));
        assert_eq!(h, i64_of(&v.expected["handle"]));
        if let Some(u) = v.expected.get("as_unsigned_pk") {
            assert_eq!(h as u64, u64_of(u));
        }
        let mut enc = Vec::new();
        keys::encode_record_key_int(table_id, h, &mut enc);
        assert_eq!(enc, v.input);
    }
}

/// Compares a decoded datum with `{"flag": n, "int"|"bytes_utf8": …}`.
fn check_datum(d: &Datum<'_>, exp: &Value, label: &str) {
    assert_eq!(u64::from(d.flag()), u64_of(&exp["flag"]), "{label}");
    if let Some(i) = exp.get("int") {
        assert_eq!(d.as_i64(), Some(i64_of(i)), "{label}");
    }
    if let Some(s) = exp.get("bytes_utf8") {
        let mut raw = Vec::new();
        assert!(d.append_bytes(&mut raw).unwrap());
        assert_eq!(std::str::from_utf8(&raw).unwrap(), str_of(s), "{label}");
    }
}

#[test]
fn record_key_common_handle() {
    let Some(vs) = vectors("record_key_common_handle") else {
        return;
    };
    for v in vs {
        let RawKey::Record {
            table_id,
            handle: Handle::Common(h),
        } = keys::parse_raw_key(&v.input)
        else {
            panic!("{}", v.label)
        };
        assert_eq!(table_id, i64_of(&v.expected["table_id"]));
        let datums = datum::decode_all(h).expect(&v.label);
        let want = v.expected["handle_datums"].as_array().unwrap();
        assert_eq!(datums.len(), want.len());
        for (d, exp) in datums.iter().zip(want) {
            check_datum(d, exp, &v.label);
        }
    }
}

#[test]
fn index_key() {
    let Some(vs) = vectors("index_key") else {
        return;
    };
    for v in vs {
        let RawKey::Index {
            table_id,
            index_id,
            values,
        } = keys::parse_raw_key(&v.input)
        else {
            panic!("{}", v.label)
        };
        assert_eq!(table_id, i64_of(&v.expected["table_id"]));
        assert_eq!(index_id, i64_of(&v.expected["index_id"]));
        let datums = datum::decode_all(values).unwrap();
        let strings = v.expected["values"].as_array().unwrap();
        assert_eq!(datums.len(), strings.len() + 1);
        for (d, s) in datums.iter().zip(strings) {
            let mut raw = Vec::new();
            assert!(d.append_bytes(&mut raw).unwrap());
            assert_eq!(std::str::from_utf8(&raw).unwrap(), str_of(s));
        }
        assert_eq!(
            datums.last().and_then(Datum::as_i64),
            Some(i64_of(&v.expected["handle_suffix_int"]))
        );
    }
}

fn check_sst_key(v: &Vector) {
    let mut buf = Vec::new();
    let k = keys::decode_key(&v.input, &mut buf).expect(&v.label);
    let e = &v.expected;
    if let Some(p) = e.get("data_prefix") {
        assert_eq!(str_of(p), "z");
        assert_eq!(k.prefix, DataPrefix::Z);
    }
    assert_eq!(to_hex(k.raw), str_of(&e["raw_key_hex"]), "{}", v.label);
    assert_eq!(k.ts, u64_of(&e["ts"]), "{}", v.label);
    if let Some(ks) = e.get("keyspace_id") {
        assert_eq!(k.keyspace.map(u64::from), Some(u64_of(ks)));
    } else {
        assert_eq!(k.keyspace, None);
    }
    if let Some(t) = e.get("table_id") {
        assert_eq!(
            k.kind,
            RawKey::Record {
                table_id: i64_of(t),
                handle: Handle::Int(i64_of(&e["handle"]))
            }
        );
    }
    let mut enc = Vec::new();
    keys::encode_key(k.raw, k.ts, k.prefix, &mut enc);
    assert_eq!(enc, v.input, "{}", v.label);
}

#[test]
fn br_sst_key_write_cf() {
    let Some(vs) = vectors("br_sst_key_write_cf") else {
        return;
    };
    vs.iter().for_each(check_sst_key);
}

#[test]
fn br_sst_key_default_cf() {
    let Some(vs) = vectors("br_sst_key_default_cf") else {
        return;
    };
    vs.iter().for_each(check_sst_key);
}

#[test]
fn br_sst_key_write_cf_keyspace() {
    let Some(vs) = vectors("br_sst_key_write_cf_keyspace") else {
        return;
    };
    for v in &vs {
        check_sst_key(v);
        let mut buf = Vec::new();
        let k = keys::decode_key(&v.input, &mut buf).unwrap();
        assert_eq!(
            k.kind,
            RawKey::Record {
                table_id: 45,
                handle: Handle::Int(1)
            }
        );
    }
}

#[test]
fn write_cf_value() {
    let Some(vs) = vectors("write_cf_value") else {
        return;
    };
    for v in vs {
        let r = WriteRecord::parse(&v.input).expect(&v.label);
        let e = &v.expected;
        let t = match str_of(&e["write_type"]) {
            "Put" => WriteType::Put,
            "Delete" => WriteType::Delete,
            "Lock" => WriteType::Lock,
            "Rollback" => WriteType::Rollback,
            other => panic!("write type {other}"),
        };
        assert_eq!(r.write_type, t, "{}", v.label);
        assert_eq!(r.start_ts, u64_of(&e["start_ts"]), "{}", v.label);
        match e.get("short_value_hex") {
            Some(Value::Null) => assert_eq!(r.short_value, None),
            Some(h) => assert_eq!(r.short_value.map(to_hex).as_deref(), Some(str_of(h))),
            None => {}
        }
        if let Some(s) = e.get("short_value_utf8") {
            assert_eq!(r.short_value, Some(str_of(s).as_bytes()));
        }
        if e.get("protected_rollback").and_then(Value::as_bool) == Some(true) {
            assert_eq!(
                (r.write_type, r.short_value),
                (WriteType::Rollback, Some(&b"p"[..]))
            );
        }
        let flag = e.get("has_overlapped_rollback").and_then(Value::as_bool);
        assert_eq!(r.has_overlapped_rollback, flag.unwrap_or(false));
        assert_eq!(r.gc_fence, e.get("gc_fence").map(u64_of));
        assert_eq!(
            r.last_change.map(|l| l.ts),
            e.get("last_change_ts").map(u64_of)
        );
        assert_eq!(
            r.last_change.map(|l| l.versions),
            e.get("versions_to_last_change").map(u64_of)
        );
        assert_eq!(r.txn_source, e.get("txn_source").map(u64_of));
        let mut enc = Vec::new();
        r.encode(&mut enc).unwrap();
        assert_eq!(enc, v.input, "{}", v.label);
    }
}

/// `"intFlag(3)"` → 3; `"NilFlag"` → 0.
fn flag_number(name: &str) -> u8 {
    if name == "NilFlag" {
        return 0;
    }
    let inner = name.split_once('(').and_then(|(_, r)| r.strip_suffix(')'));
    inner
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("flag name {name}"))
}

#[test]
fn datum() {
    let Some(vs) = vectors("datum") else { return };
    for v in vs {
        let mut cur = v.input.as_slice();
        let d = datum::decode_one(&mut cur).expect(&v.label);
        assert!(cur.is_empty(), "{}", v.label);
        assert_eq!(datum::peek_len(&v.input).unwrap(), v.input.len());
        let e = &v.expected;
        assert_eq!(d.flag(), flag_number(str_of(&e["flag"])), "{}", v.label);
        match d {
            Datum::Null => assert!(e["value"].is_null()),
            Datum::Int(x) | Datum::VarInt(x) => assert_eq!(x, i64_of(&e["value"]), "{}", v.label),
            Datum::UVarInt(x) => assert_eq!(x, u64_of(&e["value"])),
            Datum::Uint(x) => match e.get("packed") {
                Some(p) => {
                    assert_eq!(x, u64_of(p));
                    let text = str_of(&e["value_if_DATETIME(3)"]);
                    assert_eq!(datetime_text(x, 3), text);
                }
                None => assert_eq!(x, u64_of(&e["value"])),
            },
            Datum::ComparableBytes(_) | Datum::Bytes(_) => {
                let mut raw = Vec::new();
                d.append_bytes(&mut raw).unwrap();
                assert_eq!(std::str::from_utf8(&raw).unwrap(), str_of(&e["value_utf8"]));
            }
            Datum::Float(f) => assert_eq!(f, e["value"].as_f64().unwrap()),
            Datum::Decimal(dec) => {
                assert_eq!(dec.to_text(), str_of(&e["value"]));
                assert_eq!(u64::from(dec.precision()), u64_of(&e["precision"]));
                assert_eq!(u64::from(dec.frac()), u64_of(&e["frac"]));
            }
            Datum::Duration(ns) => {
                assert_eq!(ns, i64_of(&e["nanoseconds"]));
                // "-01:02:03.5 (fsp from column)"
                let text = str_of(&e["value"]).split(' ').next().unwrap();
                assert_eq!(duration_text(ns, fsp_of(text)), text);
            }
            other => panic!("{}: unexpected {other:?}", v.label),
        }
        let mut enc = Vec::new();
        d.encode(&mut enc);
        assert_eq!(enc, v.input, "{}", v.label);
    }
}

#[test]
fn datum_json() {
    let Some(vs) = vectors("datum_json") else {
        return;
    };
    for v in vs {
        let mut cur = v.input.as_slice();
        let Datum::Json(j) = datum::decode_one(&mut cur).expect(&v.label) else {
            panic!("{}", v.label)
        };
        assert!(cur.is_empty());
        assert_eq!(j.to_text().unwrap(), str_of(&v.expected["value"]));
    }
}

#[test]
fn packed_time_uint64() {
    let Some(vs) = vectors("packed_time_uint64") else {
        return;
    };
    for v in vs {
        let packed = u64::from_be_bytes(v.input.as_slice().try_into().unwrap());
        let t = DateTime::from_packed(packed).expect(&v.label);
        assert_eq!(t.to_packed(), packed);
        let text = str_of(&v.expected["value"]);
        let fsp = v.expected.get("fsp").map_or(0, |f| u64_of(f) as u8);
        let got = if v.expected["kind"] == "date" {
            date_text(packed)
        } else {
            datetime_text(packed, fsp)
        };
        assert_eq!(got, text, "{}", v.label);
    }
}

#[test]
fn row_v1() {
    let Some(vs) = vectors("row_v1") else { return };
    for v in vs {
        let row = RowV1::parse(&v.input).expect(&v.label);
        let columns = v.expected["columns"].as_object().unwrap();
        assert_eq!(row.columns().len(), columns.len(), "{}", v.label);
        for (id, exp) in columns {
            let d = row
                .lookup_datum(id.parse().unwrap())
                .unwrap()
                .unwrap_or_else(|| panic!("{} col {id}", v.label));
            match exp {
                Value::Null => assert!(d.is_null()),
                Value::Number(n) if n.is_f64() => assert_eq!(d, Datum::Float(n.as_f64().unwrap())),
                Value::Number(n) => assert_eq!(d.as_i64(), n.as_i64()),
                Value::String(s) => assert_eq!(d, Datum::Bytes(s.as_bytes())),
                Value::Object(o) => {
                    if let Some(text) = o.get("decimal") {
                        let Datum::Decimal(dec) = d else {
                            panic!("col {id}: {d:?}")
                        };
                        assert_eq!(dec.to_text(), str_of(text));
                    } else if let Some(text) = o.get("DATETIME") {
                        let text = str_of(text);
                        assert_eq!(datetime_text(d.as_u64().unwrap(), fsp_of(text)), text);
                    } else if let Some(ns) = o.get("TIME_ns") {
                        assert_eq!(d.as_i64(), Some(i64_of(ns)));
                        let text = str_of(&o["value"]);
                        assert_eq!(duration_text(i64_of(ns), fsp_of(text)), text);
                    } else if let Some(text) = o.get("JSON") {
                        let Datum::Json(j) = d else {
                            panic!("col {id}: {d:?}")
                        };
                        assert_eq!(j.to_text().unwrap(), str_of(text));
                    } else {
                        panic!("{}: unhandled {exp}", v.label);
                    }
                }
                other => panic!("{}: unhandled {other}", v.label),
            }
        }
    }
}

#[test]
fn json_binary() {
    let Some(vs) = vectors("json_binary") else {
        return;
    };
    for v in vs {
        let j = JsonRef::from_slot(&v.input).expect(&v.label);
        assert_eq!(u64::from(j.type_code), u64_of(&v.expected["type_code"]));
        assert_eq!(
            j.to_text().expect(&v.label),
            str_of(&v.expected["text"]),
            "{}",
            v.label
        );
        // The same bytes as a datum (flag 10) have the same length.
        let mut d = vec![datum::JSON_FLAG];
        d.extend_from_slice(&v.input);
        assert_eq!(datum::peek_len(&d).unwrap(), d.len());
    }
}

#[test]
fn br_sst_default_cf_value() {
    let Some(vs) = vectors("br_sst_default_cf_value") else {
        return;
    };
    for v in vs {
        assert_eq!(v.expected["row_format"], "v2");
        let row = RowV2::parse(&v.input).expect(&v.label);
        let cols = v.expected["columns"].as_object().unwrap();
        assert_eq!(
            row_v2::decode_int(slot(&row, 2)).unwrap(),
            i64_of(&cols["2"])
        );
        assert_eq!(slot(&row, 3), "x".repeat(300).as_bytes());
        let w = hex(str_of(&v.expected["paired_write_cf_value_hex"]));
        let rec = WriteRecord::parse(&w).unwrap();
        assert_eq!(rec.write_type, WriteType::Put);
        assert_eq!(rec.short_value, None);
        assert!(v.input.len() > 255, "a value this long is never inlined");
    }
}

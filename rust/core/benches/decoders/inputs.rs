//! Bench inputs, built with the crate's own encoders from a fixed seed: the
//! 12-column table of `benches/datagen.py` (distinct values per row, some
//! rows long enough for the default CF) and value slots per type class.
use br_parquet_core::datum::{encode_comparable_bytes, Datum};
use br_parquet_core::decimal::Decimal;
use br_parquet_core::json::build::Value;
use br_parquet_core::json::JsonRef;
use br_parquet_core::keys::{encode_key, encode_record_key_int, DataPrefix};
use br_parquet_core::number::{f64_to_cmp_u64, i64_to_cmp, write_compact_i64, write_compact_u64};
use br_parquet_core::row_v1;
use br_parquet_core::row_v2;
use br_parquet_core::schema::{flag, tp};
use br_parquet_core::time::DateTime;
use br_parquet_core::write_cf::{WriteRecord, WriteType};

pub const TABLE_ID: i64 = 112;
pub const COMMIT_TS: u64 = 445_063_339_262_394_369;
pub const START_TS: u64 = COMMIT_TS - 7;

/// splitmix64: a fixed, dependency-free sequence.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn signed(&mut self, bound: i64) -> i64 {
        (self.below(2 * bound as u64) as i64) - bound
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: [&str; 24] = [
    "amber", "basalt", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kestrel", "lagoon", "meadow", "nickel", "orchid", "pepper", "quartz", "raven", "saffron",
    "timber", "umber", "violet", "willow", "zephyr",
];
const CITIES: [&str; 8] = [
    "Amsterdam",
    "Berlin",
    "Chengdu",
    "Dublin",
    "Lisbon",
    "Osaka",
    "Santiago",
    "Toronto",
];
pub const ENUM_ELEMS: [&str; 6] = [
    "new",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "returned",
];
pub const SET_ELEMS: [&str; 8] = [
    "gift", "express", "fragile", "insured", "signed", "bulk", "return", "promo",
];

fn words(rng: &mut Rng, max_len: usize) -> String {
    let mut s = String::new();
    let target = 4 + rng.below(max_len as u64 - 4) as usize;
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(rng.pick(&WORDS));
    }
    s.truncate(max_len);
    s
}

/// `count` words, at most 255 bytes.
fn word_run(rng: &mut Rng, count: usize) -> String {
    let mut s = (0..count)
        .map(|_| rng.pick(&WORDS))
        .collect::<Vec<_>>()
        .join(" ");
    s.truncate(255);
    s
}

/// A DATETIME between 2015 and 2026, with microseconds when `fsp` > 0.
fn datetime(rng: &mut Rng, fsp: bool) -> DateTime {
    DateTime {
        year: 2015 + rng.below(12) as u16,
        month: 1 + rng.below(12) as u8,
        day: 1 + rng.below(28) as u8,
        hour: rng.below(24) as u8,
        minute: rng.below(60) as u8,
        second: rng.below(60) as u8,
        micro: if fsp { rng.below(1_000_000) as u32 } else { 0 },
    }
}

fn decimal(rng: &mut Rng, precision: u8, frac: u8) -> Decimal {
    let int_digits = u32::from(precision - frac).min(18);
    let int = rng.below(10u64.pow(int_digits));
    let mut text = String::new();
    if rng.below(8) == 0 {
        text.push('-');
    }
    text.push_str(&int.to_string());
    if frac > 0 {
        text.push('.');
        for _ in 0..frac {
            text.push(char::from(b'0' + rng.below(10) as u8));
        }
    }
    Decimal::parse(&text, precision, frac).expect("decimal in range")
}

/// A JSON object of about 100 bytes of text (the bench table's `c_json`).
fn json_small(rng: &mut Rng, id: i64) -> Value {
    Value::Object(vec![
        (
            b"city".to_vec(),
            Value::String(rng.pick(&CITIES).as_bytes().to_vec()),
        ),
        (b"id".to_vec(), Value::Int(id % 1_000_000_000)),
        (b"ok".to_vec(), Value::Bool(rng.below(2) == 0)),
        (
            b"score".to_vec(),
            Value::Float(rng.below(10_000) as f64 / 100.0),
        ),
        (
            b"tag".to_vec(),
            Value::String(rng.pick(&WORDS).as_bytes().to_vec()),
        ),
    ])
}

/// A nested JSON document of about 1 KiB of text.
fn json_large(rng: &mut Rng, id: i64) -> Value {
    let items = (0..8)
        .map(|i| {
            Value::Object(vec![
                (
                    b"price".to_vec(),
                    Value::Float(rng.below(100_000) as f64 / 100.0),
                ),
                (b"qty".to_vec(), Value::Int(1 + rng.below(20) as i64)),
                (
                    b"sku".to_vec(),
                    Value::String(format!("SKU-{id}-{i}").into_bytes()),
                ),
                (
                    b"title".to_vec(),
                    Value::String(words(rng, 40).into_bytes()),
                ),
            ])
        })
        .collect();
    Value::Object(vec![
        (b"customer".to_vec(), json_small(rng, id)),
        (b"items".to_vec(), Value::Array(items)),
        (b"note".to_vec(), Value::Null),
    ])
}

pub fn json_slot(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out);
    out
}

fn compact_i64(v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    write_compact_i64(&mut out, v);
    out
}

fn compact_u64(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_compact_u64(&mut out, v);
    out
}

fn decimal_slot(d: &Decimal) -> Vec<u8> {
    let mut out = Vec::new();
    d.encode_with_header(&mut out);
    out
}

/// A column's TiDB `FieldType`.
#[derive(Clone, Copy)]
struct Type {
    tp: u8,
    flag: u32,
    flen: i64,
    decimal: i64,
    elems: &'static [&'static str],
}

const fn ty(tp: u8, flag: u32, flen: i64, decimal: i64) -> Type {
    Type {
        tp,
        flag,
        flen,
        decimal,
        elems: &[],
    }
}

/// MySQL's BINARY flag: binary charset and collation.
const BINARY: u32 = 128;
const JSON_FLEN: i64 = 4_294_967_295;

/// The TableInfo JSON of one column.
fn column_json(id: i64, name: &str, t: Type) -> String {
    let text = matches!(
        t.tp,
        tp::VARCHAR | tp::VAR_STRING | tp::STRING | tp::ENUM | tp::SET
    ) && t.flag & BINARY == 0;
    let (charset, collate) = if text {
        ("utf8mb4", "utf8mb4_bin")
    } else {
        ("binary", "binary")
    };
    let elems = if t.elems.is_empty() {
        "null".to_string()
    } else {
        let quoted: Vec<String> = t.elems.iter().map(|e| format!("{e:?}")).collect();
        format!("[{}]", quoted.join(","))
    };
    let Type {
        tp,
        flag,
        flen,
        decimal,
        ..
    } = t;
    format!(
        r#"{{"id":{id},"name":{{"O":"{name}","L":"{name}"}},"offset":{},"state":5,"version":2,
          "type":{{"Tp":{tp},"Flag":{flag},"Flen":{flen},"Decimal":{decimal},"Charset":"{charset}","Collate":"{collate}","Elems":{elems}}}}}"#,
        id - 1
    )
}

fn table_json(id: i64, name: &str, cols: &[String]) -> String {
    format!(
        r#"{{"id":{id},"name":{{"O":"{name}","L":"{name}"}},"pk_is_handle":true,"state":5,"cols":[{}],"index_info":[]}}"#,
        cols.join(",")
    )
}

/// The 12-column bench table: `c_id` BIGINT PRIMARY KEY is the handle.
pub fn bench_table_json() -> String {
    let cols = [
        (
            "c_id",
            ty(tp::LONGLONG, flag::NOT_NULL | flag::PRI_KEY, 20, 0),
        ),
        ("c_int", ty(tp::LONG, 0, 11, 0)),
        ("c_ubigint", ty(tp::LONGLONG, flag::UNSIGNED, 20, 0)),
        ("c_decimal", ty(tp::NEWDECIMAL, 0, 12, 2)),
        ("c_name", ty(tp::VARCHAR, 0, 32, 0)),
        ("c_text", ty(tp::VARCHAR, 0, 255, 0)),
        ("c_datetime", ty(tp::DATETIME, 0, 19, 0)),
        ("c_timestamp", ty(tp::TIMESTAMP, 0, 19, 0)),
        ("c_json", ty(tp::JSON, BINARY, JSON_FLEN, 0)),
        (
            "c_enum",
            Type {
                elems: &ENUM_ELEMS,
                ..ty(tp::ENUM, 0, 9, 0)
            },
        ),
        ("c_double", ty(tp::DOUBLE, 0, 22, -1)),
        ("c_tinyint", ty(tp::TINY, 0, 4, 0)),
    ];
    let cols: Vec<String> = (1..)
        .zip(cols)
        .map(|(id, (name, t))| column_json(id, name, t))
        .collect();
    table_json(TABLE_ID, "bench", &cols)
}

/// One column of the per-type-class benches: its TableInfo and its slots.
pub struct SlotColumn {
    /// The bench group ("ints", "floats", ...).
    pub class: &'static str,
    pub name: &'static str,
    pub slots: Vec<Vec<u8>>,
}

type Gen = Box<dyn FnMut(&mut Rng, i64) -> Vec<u8>>;

/// A table with one column per benched type, and `n` slots of each.
pub fn slot_columns(n: usize) -> (String, Vec<SlotColumn>) {
    fn f64_slot(v: f64) -> Vec<u8> {
        f64_to_cmp_u64(v).to_be_bytes().to_vec()
    }
    fn packed(r: &mut Rng, fsp: bool) -> Vec<u8> {
        compact_u64(datetime(r, fsp).to_packed())
    }
    let specs: Vec<(&str, &str, Type, Gen)> = vec![
        (
            "ints",
            "bigint",
            ty(tp::LONGLONG, 0, 20, 0),
            Box::new(|r, _| compact_i64(r.signed(1 << 40))),
        ),
        (
            "ints",
            "int",
            ty(tp::LONG, 0, 11, 0),
            Box::new(|r, _| compact_i64(r.signed(1 << 31))),
        ),
        (
            "ints",
            "tinyint",
            ty(tp::TINY, 0, 4, 0),
            Box::new(|r, _| compact_i64(r.signed(128))),
        ),
        (
            "ints",
            "bigint_unsigned",
            ty(tp::LONGLONG, flag::UNSIGNED, 20, 0),
            Box::new(|r, _| compact_u64(r.next())),
        ),
        (
            "floats",
            "double",
            ty(tp::DOUBLE, 0, 22, -1),
            Box::new(|r, _| f64_slot(r.signed(1 << 40) as f64 / 1024.0)),
        ),
        (
            "floats",
            "float",
            ty(tp::FLOAT, 0, 12, -1),
            Box::new(|r, _| f64_slot(f64::from(r.signed(1 << 20) as f32 / 64.0))),
        ),
        (
            "decimals",
            "decimal_12_2",
            ty(tp::NEWDECIMAL, 0, 12, 2),
            Box::new(|r, _| decimal_slot(&decimal(r, 12, 2))),
        ),
        (
            "decimals",
            "decimal_30_10",
            ty(tp::NEWDECIMAL, 0, 30, 10),
            Box::new(|r, _| decimal_slot(&decimal(r, 30, 10))),
        ),
        (
            "strings",
            "varchar_32",
            ty(tp::VARCHAR, 0, 32, 0),
            Box::new(|r, _| words(r, 32).into_bytes()),
        ),
        (
            "strings",
            "varchar_255",
            ty(tp::VARCHAR, 0, 255, 0),
            Box::new(|r, _| words(r, 255).into_bytes()),
        ),
        (
            "strings",
            "blob",
            ty(tp::BLOB, BINARY, 65_535, 0),
            Box::new(|r, _| (0..16 + r.below(112)).map(|_| r.next() as u8).collect()),
        ),
        (
            "time",
            "date",
            ty(tp::DATE, 0, 10, 0),
            Box::new(|r, _| {
                let mut d = datetime(r, false);
                (d.hour, d.minute, d.second) = (0, 0, 0);
                compact_u64(d.to_packed())
            }),
        ),
        (
            "time",
            "datetime",
            ty(tp::DATETIME, 0, 19, 0),
            Box::new(|r, _| packed(r, false)),
        ),
        (
            "time",
            "datetime_6",
            ty(tp::DATETIME, 0, 26, 6),
            Box::new(|r, _| packed(r, true)),
        ),
        (
            "time",
            "timestamp",
            ty(tp::TIMESTAMP, 0, 19, 0),
            Box::new(|r, _| packed(r, false)),
        ),
        (
            "time",
            "time",
            ty(tp::DURATION, 0, 10, 0),
            Box::new(|r, _| compact_i64(r.signed(838 * 3600) * 1_000_000_000)),
        ),
        (
            "json",
            "json_100b",
            ty(tp::JSON, BINARY, JSON_FLEN, 0),
            Box::new(|r, id| json_slot(&json_small(r, id))),
        ),
        (
            "json",
            "json_1k",
            ty(tp::JSON, BINARY, JSON_FLEN, 0),
            Box::new(|r, id| json_slot(&json_large(r, id))),
        ),
        (
            "enum_set_bit",
            "enum",
            Type {
                elems: &ENUM_ELEMS,
                ..ty(tp::ENUM, 0, 9, 0)
            },
            Box::new(|r, _| compact_u64(1 + r.below(6))),
        ),
        (
            "enum_set_bit",
            "set",
            Type {
                elems: &SET_ELEMS,
                ..ty(tp::SET, 0, 40, 0)
            },
            Box::new(|r, _| compact_u64(r.below(256))),
        ),
        (
            "enum_set_bit",
            "bit_12",
            ty(tp::BIT, flag::UNSIGNED, 12, 0),
            Box::new(|r, _| compact_u64(r.below(1 << 12))),
        ),
    ];
    let mut rng = Rng::new(7);
    let mut cols_json = Vec::new();
    let mut columns = Vec::new();
    for (id, (class, name, t, mut gen)) in (1..).zip(specs) {
        cols_json.push(column_json(id, name, t));
        let slots = (0..n as i64).map(|i| gen(&mut rng, i)).collect();
        columns.push(SlotColumn { class, name, slots });
    }
    (table_json(TABLE_ID + 1, "types", &cols_json), columns)
}

/// One row of the bench table, with its slots in column id order (ids 2..=12;
/// `c_id` is the handle and not stored in the row).
pub struct BenchRow {
    pub handle: i64,
    pub slots: Vec<(u32, Option<Vec<u8>>)>,
    decimal: Decimal,
}

/// Rows shaped like `benches/datagen.py`'s: a VARCHAR(255) that is NULL in
/// 1/16 of the rows and long in 1/4 (those rows pass 255 bytes and go to the
/// default CF), mostly 24-bit INTs, a sometimes NULL TINYINT.
pub fn bench_rows(n: usize) -> Vec<BenchRow> {
    let mut rng = Rng::new(42);
    (0..n as i64)
        .map(|i| {
            let handle = 1_000_000 + i;
            let decimal = decimal(&mut rng, 7, 2);
            let name = format!(
                "{}_{}{}",
                rng.pick(&WORDS),
                rng.pick(&WORDS),
                rng.below(10_000)
            );
            let text = match rng.below(16) {
                0 => None,
                1..=4 => {
                    let count = 12 + rng.below(23) as usize;
                    Some(word_run(&mut rng, count))
                }
                _ => {
                    let count = 1 + rng.below(5) as usize;
                    Some(word_run(&mut rng, count))
                }
            };
            let ubigint = if rng.below(4) == 0 {
                rng.next()
            } else {
                rng.below(1 << 32)
            };
            let tinyint = (rng.below(32) != 0).then(|| compact_i64(rng.signed(128)));
            let slots = vec![
                (2, Some(compact_i64(rng.signed(1 << 23)))),
                (3, Some(compact_u64(ubigint))),
                (4, Some(decimal_slot(&decimal))),
                (5, Some(name.into_bytes())),
                (6, text.map(String::into_bytes)),
                (7, Some(compact_u64(datetime(&mut rng, false).to_packed()))),
                (8, Some(compact_u64(datetime(&mut rng, false).to_packed()))),
                (9, Some(json_slot(&json_small(&mut rng, handle)))),
                (10, Some(compact_u64(1 + rng.below(6)))),
                (
                    11,
                    Some(
                        f64_to_cmp_u64(rng.signed(1_000_000) as f64 / 1000.0)
                            .to_be_bytes()
                            .to_vec(),
                    ),
                ),
                (12, tinyint),
            ];
            BenchRow {
                handle,
                slots,
                decimal,
            }
        })
        .collect()
}

impl BenchRow {
    /// The row in format v2; with `id_offset` > 0 the ids pass 255 and the
    /// large form is used.
    pub fn encode_v2(&self, id_offset: u32) -> Vec<u8> {
        let cols: Vec<(u32, Option<&[u8]>)> = self
            .slots
            .iter()
            .map(|(id, v)| (id + id_offset, v.as_deref()))
            .collect();
        let mut out = Vec::new();
        row_v2::encode(&cols, &mut out);
        out
    }

    /// The row in format v1, with the datum kinds TiDB's old row encoder uses.
    pub fn encode_v1(&self) -> Vec<u8> {
        use br_parquet_core::number::{decode_compact_i64, decode_compact_u64};
        let cols: Vec<(i64, Datum<'_>)> = self
            .slots
            .iter()
            .map(|(id, slot)| {
                let d = match (id, slot.as_deref()) {
                    (_, None) => Datum::Null,
                    (2 | 12, Some(s)) => Datum::VarInt(decode_compact_i64(s).unwrap()),
                    (3 | 10, Some(s)) => Datum::UVarInt(decode_compact_u64(s).unwrap()),
                    (4, Some(_)) => Datum::Decimal(self.decimal),
                    (5 | 6, Some(s)) => Datum::Bytes(s),
                    (7 | 8, Some(s)) => Datum::Uint(decode_compact_u64(s).unwrap()),
                    (9, Some(s)) => Datum::Json(JsonRef::from_slot(s).unwrap()),
                    (11, Some(s)) => Datum::Float(row_v2::decode_f64(s).unwrap()),
                    (id, _) => unreachable!("column {id}"),
                };
                (i64::from(*id), d)
            })
            .collect();
        let mut out = Vec::new();
        row_v1::encode(&cols, &mut out);
        out
    }
}

/// An SST user key of a record with an integer handle.
pub fn record_key(table_id: i64, handle: i64, ts: u64) -> Vec<u8> {
    let mut raw = Vec::new();
    encode_record_key_int(table_id, handle, &mut raw);
    let mut key = Vec::new();
    encode_key(&raw, ts, DataPrefix::Z, &mut key);
    key
}

/// Raw clustered-handle record keys: `(VARCHAR(32), BIGINT)` primary keys.
pub fn common_handles(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(3);
    (0..n as i64)
        .map(|i| {
            let mut h = Vec::new();
            encode_comparable_bytes(words(&mut rng, 32).as_bytes(), &mut h);
            Datum::Int(i).encode(&mut h);
            h
        })
        .collect()
}

/// SST user keys of records with a clustered handle.
pub fn common_record_keys(handles: &[Vec<u8>]) -> Vec<Vec<u8>> {
    handles
        .iter()
        .map(|h| {
            let mut raw = vec![b't'];
            raw.extend_from_slice(&i64_to_cmp(TABLE_ID));
            raw.extend_from_slice(b"_r");
            raw.extend_from_slice(h);
            let mut key = Vec::new();
            encode_key(&raw, COMMIT_TS, DataPrefix::Z, &mut key);
            key
        })
        .collect()
}

/// SST user keys of a non-unique secondary index on `(VARCHAR(32))`.
pub fn index_keys(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(5);
    (0..n as i64)
        .map(|i| {
            let mut raw = vec![b't'];
            raw.extend_from_slice(&i64_to_cmp(TABLE_ID));
            raw.extend_from_slice(b"_i");
            raw.extend_from_slice(&i64_to_cmp(2));
            encode_comparable_bytes(words(&mut rng, 32).as_bytes(), &mut raw);
            Datum::Int(1_000_000 + i).encode(&mut raw);
            let mut key = Vec::new();
            encode_key(&raw, COMMIT_TS, DataPrefix::Z, &mut key);
            key
        })
        .collect()
}

/// A Put write-CF record: the row as its short value when it fits, else
/// none (the row is in the default CF). Every eighth carries a txn source.
pub fn put_record(row: &[u8], i: usize) -> Vec<u8> {
    let mut rec = WriteRecord::new(WriteType::Put, START_TS);
    rec.short_value = (row.len() <= 255).then_some(row);
    if i % 8 == 0 {
        rec.txn_source = Some(1);
    }
    let mut out = Vec::new();
    rec.encode(&mut out).expect("short value fits");
    out
}

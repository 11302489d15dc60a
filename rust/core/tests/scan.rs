//! One SST through the whole decode path: write-CF records (short values and
//! default-CF values), index entries, other tables → Arrow batches.
#![cfg(feature = "sst")]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use br_parquet_core::datum::encode_comparable_bytes;
use br_parquet_core::keys::{encode_key, encode_record_key_int, DataPrefix};
use br_parquet_core::number::{f64_to_cmp_u64, i64_to_cmp, write_compact_i64};
use br_parquet_core::row_v2;
use br_parquet_core::scan::{HandleRange, KeyRange, ScanOptions, ScanStats, SstScan};
use br_parquet_core::schema::{TableSchema, TypeMapping};
use br_parquet_core::sst::{write_sst, SstReader, SstWriteOptions};
use br_parquet_core::write_cf::{WriteRecord, WriteType};

const COMMIT_TS: u64 = 445_063_339_262_394_369;
const START_TS: u64 = COMMIT_TS - 7;

fn table_json(id: i64) -> String {
    // `id BIGINT PRIMARY KEY` (the handle), `name VARCHAR(300)`, `score DOUBLE NOT NULL`.
    format!(
        r#"{{"id":{id},"name":{{"O":"t{id}","L":"t{id}"}},"pk_is_handle":true,"cols":[
        {{"id":1,"name":{{"O":"id","L":"id"}},"offset":0,"state":5,
          "type":{{"Tp":8,"Flag":4099,"Flen":20,"Decimal":0,"Charset":"binary","Collate":"binary","Elems":null}}}},
        {{"id":2,"name":{{"O":"name","L":"name"}},"offset":1,"state":5,
          "type":{{"Tp":15,"Flag":0,"Flen":300,"Decimal":0,"Charset":"utf8mb4","Collate":"utf8mb4_bin","Elems":null}}}},
        {{"id":3,"name":{{"O":"score","L":"score"}},"offset":2,"state":5,
          "type":{{"Tp":5,"Flag":1,"Flen":22,"Decimal":-1,"Charset":"binary","Collate":"binary","Elems":null}}}}
        ],"index_info":[]}}"#
    )
}

fn row(name: Option<&str>, score: f64) -> Vec<u8> {
    let score = f64_to_cmp_u64(score).to_be_bytes();
    let mut out = Vec::new();
    row_v2::encode(&[(2, name.map(str::as_bytes)), (3, Some(&score))], &mut out);
    out
}

fn data_key(raw: &[u8], ts: u64) -> Vec<u8> {
    let mut k = Vec::new();
    encode_key(raw, ts, DataPrefix::Z, &mut k);
    k
}

fn record_key(table: i64, handle: i64) -> Vec<u8> {
    let mut raw = Vec::new();
    encode_record_key_int(table, handle, &mut raw);
    raw
}

fn put(short: Option<&[u8]>) -> Vec<u8> {
    let mut rec = WriteRecord::new(WriteType::Put, START_TS);
    rec.short_value = short;
    let mut out = Vec::new();
    rec.encode(&mut out).unwrap();
    out
}

struct Fixture {
    _dir: tempdir::TempDir,
    write: SstReader,
    default: Option<SstReader>,
}

fn fixture(extra: &[(Vec<u8>, Vec<u8>)]) -> Fixture {
    let dir = tempdir::TempDir::new();
    let long = "y".repeat(280);
    let mut write: Vec<(Vec<u8>, Vec<u8>)> = vec![];
    let mut default: Vec<(Vec<u8>, Vec<u8>)> = vec![];
    // Table 50: three rows, one stored in the default CF; one index entry.
    let mut index = b"t".to_vec();
    index.extend_from_slice(&record_key(50, 0)[1..9]);
    index.extend_from_slice(
        b"_i\x80\x00\x00\x00\x00\x00\x00\x01\x03\x80\x00\x00\x00\x00\x00\x00\x01",
    );
    write.push((data_key(&index, COMMIT_TS), put(Some(b"0"))));
    for (h, name, score) in [(-3i64, Some("a"), 1.5), (7, None, -2.0)] {
        write.push((
            data_key(&record_key(50, h), COMMIT_TS),
            put(Some(&row(name, score))),
        ));
    }
    let big = row(Some(&long), 9.25);
    write.push((data_key(&record_key(50, 9), COMMIT_TS), put(None)));
    default.push((data_key(&record_key(50, 9), START_TS), big));
    // Table 51 (not selected).
    write.push((
        data_key(&record_key(51, 1), COMMIT_TS),
        put(Some(&row(Some("b"), 0.0))),
    ));
    write.extend(extra.iter().cloned());
    write.sort();
    let wp = dir.path().join("w.sst");
    let dp = dir.path().join("d.sst");
    write_sst(
        &wp,
        write.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        &SstWriteOptions::default(),
    )
    .unwrap();
    write_sst(
        &dp,
        default.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        &SstWriteOptions::default(),
    )
    .unwrap();
    Fixture {
        write: SstReader::open(&wp).unwrap(),
        default: Some(SstReader::open(&dp).unwrap()),
        _dir: dir,
    }
}

fn scan_all(f: &Fixture, mapping: TypeMapping) -> (Vec<RecordBatch>, ScanStats) {
    let schema = TableSchema::from_json(table_json(50).as_bytes(), mapping).unwrap();
    scan_schema(f, schema, None).unwrap()
}

/// All batches of one table, 2 rows per batch.
fn scan_schema(
    f: &Fixture,
    schema: TableSchema,
    handle_range: Option<HandleRange>,
) -> Result<(Vec<RecordBatch>, ScanStats), String> {
    let options = ScanOptions {
        batch_rows: 2,
        handle_range,
    };
    let mut scan = SstScan::open(
        "w.sst",
        &f.write,
        f.default.as_ref(),
        vec![Arc::new(schema)],
        options,
    )
    .map_err(|e| e.to_string())?;
    let mut out = vec![];
    while let Some((idx, batch)) = scan.next_batch().map_err(|e| e.to_string())? {
        assert_eq!(idx, 0);
        out.push(batch);
    }
    Ok((out, scan.stats()))
}

#[test]
fn rows_come_from_short_values_and_the_default_cf() {
    let f = fixture(&[]);
    let (batches, stats) = scan_all(&f, TypeMapping::Compat);
    assert_eq!(
        batches
            .iter()
            .map(RecordBatch::num_rows)
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    let all = arrow_select_concat(&batches);
    let ids: Vec<i64> = all.column(2).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, vec![-3, 7, 9]);
    let handles: Vec<i64> = all.column(1).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(handles, ids);
    let names = all.column(3).as_string::<i32>();
    assert_eq!(names.value(0), "a");
    assert!(names.is_null(1));
    assert_eq!(names.value(2).len(), 280);
    let scores: Vec<f64> = all
        .column(4)
        .as_primitive::<Float64Type>()
        .values()
        .to_vec();
    assert_eq!(scores, vec![1.5, -2.0, 9.25]);
    assert_eq!(stats.rows, 3);
    assert_eq!(stats.index_kvs, 1);
    assert_eq!(stats.unselected_kvs, 1);
    assert_eq!(stats.default_cf_values, 1);
}

fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).unwrap()
}

#[test]
fn corrupted_row_names_sst_key_and_column() {
    // Row with a 3-byte score slot: not a valid DOUBLE.
    let mut bad = Vec::new();
    row_v2::encode(&[(2, Some(b"z")), (3, Some(&[1, 2, 3]))], &mut bad);
    let key = data_key(&record_key(50, 100), COMMIT_TS);
    let f = fixture(&[(key.clone(), put(Some(&bad)))]);
    let schema =
        Arc::new(TableSchema::from_json(table_json(50).as_bytes(), TypeMapping::Compat).unwrap());
    let mut scan = SstScan::open(
        "w.sst",
        &f.write,
        f.default.as_ref(),
        vec![schema],
        ScanOptions::default(),
    )
    .unwrap();
    let err = loop {
        match scan.next_batch() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("corruption not detected"),
            Err(e) => break e.to_string(),
        }
    };
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(err.contains("w.sst"), "{err}");
    assert!(err.contains(&hex), "{err}");
    assert!(err.contains("column score"), "{err}");
}

#[test]
fn put_without_default_value_is_an_error() {
    let key = data_key(&record_key(50, 200), COMMIT_TS);
    let f = fixture(&[(key, put(None))]);
    let schema =
        Arc::new(TableSchema::from_json(table_json(50).as_bytes(), TypeMapping::Compat).unwrap());
    let mut scan = SstScan::open(
        "w.sst",
        &f.write,
        f.default.as_ref(),
        vec![schema],
        ScanOptions::default(),
    )
    .unwrap();
    let mut err = None;
    loop {
        match scan.next_batch() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                err = Some(e.to_string());
                break;
            }
        }
    }
    let err = err.expect("missing default value must fail");
    assert!(err.contains("which is not there"), "{err}");
}

#[test]
fn int_handle_fills_the_primary_key_column_in_typed_mode() {
    let f = fixture(&[]);
    let (batches, _) = scan_all(&f, TypeMapping::Typed);
    let all = arrow_select_concat(&batches);
    let schema = all.schema();
    let fields: Vec<(&str, bool)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.is_nullable()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("_tidb_table_id", false),
            ("_tidb_handle", false),
            ("id", false),
            ("name", true),
            ("score", false)
        ]
    );
    // The PK is not stored in the row: it comes from the key's handle.
    let ids: Vec<i64> = all.column(2).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, vec![-3, 7, 9]);
}

fn schema50(mapping: TypeMapping) -> TableSchema {
    TableSchema::from_json(table_json(50).as_bytes(), mapping).unwrap()
}

fn names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[test]
fn default_layout_is_every_column_after_the_pseudo_columns() {
    let schema = schema50(TypeMapping::Compat);
    let all = ["_tidb_table_id", "_tidb_handle", "id", "name", "score"];
    assert_eq!(
        schema.project(&all).unwrap().arrow_schema(),
        schema.arrow_schema()
    );
}

#[test]
fn projection_outputs_the_named_columns_in_order() {
    let f = fixture(&[]);
    for mapping in [TypeMapping::Compat, TypeMapping::Typed] {
        let full = arrow_select_concat(&scan_all(&f, mapping).0);
        for cols in [
            &["score", "_tidb_handle", "name"][..],
            &["name", "_tidb_table_id"],
            &["_tidb_handle"],
            &["score", "id", "_tidb_table_id", "_tidb_handle", "name"],
        ] {
            let schema = schema50(mapping).project(cols).unwrap();
            assert_eq!(
                schema.columns.len(),
                cols.iter().filter(|c| !c.starts_with("_tidb")).count()
            );
            let (batches, stats) = scan_schema(&f, schema, None).unwrap();
            assert_eq!(stats.rows, 3);
            let got = arrow_select_concat(&batches);
            assert_eq!(names(&got), cols);
            for (i, name) in cols.iter().enumerate() {
                let want = full.column_by_name(name).unwrap();
                assert_eq!(got.column(i), want, "{name} ({mapping:?})");
                let field = full.schema().field_with_name(name).unwrap().clone();
                assert_eq!(got.schema().field(i), &field);
            }
        }
    }
}

#[test]
fn int_pk_column_comes_from_the_key_without_the_handle_column() {
    let f = fixture(&[]);
    let schema = schema50(TypeMapping::Typed).project(&["id"]).unwrap();
    let got = arrow_select_concat(&scan_schema(&f, schema, None).unwrap().0);
    assert_eq!(got.num_columns(), 1);
    let ids: Vec<i64> = got.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, vec![-3, 7, 9]);
}

#[test]
fn unprojected_columns_are_not_decoded() {
    // The extra row's score slot is 3 bytes: not a valid DOUBLE.
    let mut bad = Vec::new();
    row_v2::encode(&[(2, Some(b"z")), (3, Some(&[1, 2, 3]))], &mut bad);
    let f = fixture(&[(data_key(&record_key(50, 100), COMMIT_TS), put(Some(&bad)))]);
    let schema = schema50(TypeMapping::Compat);
    let projected = schema.project(&["name", "_tidb_handle"]).unwrap();
    let (batches, _) = scan_schema(&f, projected, None).unwrap();
    let got = arrow_select_concat(&batches);
    assert_eq!(got.column(0).as_string::<i32>().value(3), "z");
    let err = scan_schema(&f, schema.project(&["score"]).unwrap(), None).unwrap_err();
    assert!(err.contains("column score"), "{err}");
}

#[test]
fn bad_projections_are_refused() {
    let schema = schema50(TypeMapping::Compat);
    let err = schema.project(&[]).unwrap_err().to_string();
    assert!(err.contains("at least one column"), "{err}");
    let err = schema
        .project(&["name", "id", "name"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"name\" is projected twice"), "{err}");
    let err = schema
        .project(&["_tidb_handle", "_tidb_handle"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("twice"), "{err}");
    let err = schema.project(&["id", "nope"]).unwrap_err().to_string();
    assert!(err.starts_with("table t50 (id 50): "), "{err}");
    assert!(err.contains("\"nope\""), "{err}");
    assert!(
        err.contains("available: _tidb_table_id, _tidb_handle, id, name, score"),
        "{err}"
    );
    // Names are case-sensitive, as in the output schema.
    assert!(schema.project(&["Name"]).is_err());
}

fn handles_in(f: &Fixture, lo: Option<i64>, hi: Option<i64>) -> (Vec<i64>, ScanStats) {
    let schema = schema50(TypeMapping::Compat)
        .project(&["_tidb_handle"])
        .unwrap();
    let (batches, stats) = scan_schema(f, schema, Some(HandleRange { lo, hi })).unwrap();
    let handles = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    (handles, stats)
}

#[test]
fn handle_range_keeps_lo_inclusive_to_hi_exclusive() {
    // Table 50 has handles -3, 7 and 9 (9 in the default CF); 51 has 1.
    let f = fixture(&[]);
    let cases: [(Option<i64>, Option<i64>, &[i64]); 7] = [
        (None, None, &[-3, 7, 9]),
        (Some(-3), Some(9), &[-3, 7]),
        (Some(-2), Some(10), &[7, 9]),
        (None, Some(7), &[-3]),
        (Some(8), None, &[9]),
        (Some(i64::MIN), Some(i64::MAX), &[-3, 7, 9]),
        (Some(100), None, &[]),
    ];
    for (lo, hi, want) in cases {
        let (got, stats) = handles_in(&f, lo, hi);
        assert_eq!(got, want, "{lo:?}..{hi:?}");
        assert_eq!(stats.rows, want.len() as u64);
        assert_eq!(stats.out_of_range, 3 - want.len() as u64);
        // Other entries are classified as without a range.
        assert_eq!((stats.index_kvs, stats.unselected_kvs), (1, 1));
        // Skipped before the value is looked up.
        assert_eq!(stats.default_cf_values, u64::from(want.contains(&9)));
    }
}

#[test]
fn handle_range_applies_to_full_rows_too() {
    let f = fixture(&[]);
    let range = HandleRange {
        lo: Some(0),
        hi: None,
    };
    let (batches, stats) = scan_schema(&f, schema50(TypeMapping::Typed), Some(range)).unwrap();
    let got = arrow_select_concat(&batches);
    let (full, _) = scan_all(&f, TypeMapping::Typed);
    assert_eq!(got, arrow_select_concat(&full).slice(1, 2));
    assert_eq!((stats.rows, stats.out_of_range), (2, 1));
}

const CLUSTERED_JSON: &str = r#"{"id":60,"name":{"O":"c60","L":"c60"},"is_common_handle":true,
    "common_handle_version":1,"cols":[
    {"id":1,"name":{"O":"k","L":"k"},"offset":0,"state":5,
     "type":{"Tp":15,"Flag":4099,"Flen":20,"Decimal":0,"Charset":"utf8mb4","Collate":"utf8mb4_bin","Elems":null}},
    {"id":2,"name":{"O":"v","L":"v"},"offset":1,"state":5,
     "type":{"Tp":8,"Flag":0,"Flen":20,"Decimal":0,"Charset":"binary","Collate":"binary","Elems":null}}
    ],"index_info":[{"id":1,"idx_name":{"O":"PRIMARY","L":"primary"},"is_primary":true,
     "is_unique":true,"state":5,"idx_cols":[{"name":{"O":"k","L":"k"},"offset":0,"length":-1}]}]}"#;

/// Table 60 clustered on `k VARCHAR`; rows store only `v`.
fn clustered_fixture() -> (Fixture, Vec<Vec<u8>>) {
    let dir = tempdir::TempDir::new();
    let mut write = vec![];
    let mut handles = vec![];
    for (k, v) in [("apple", 1i64), ("kiwi", -2)] {
        let mut handle = Vec::new();
        encode_comparable_bytes(k.as_bytes(), &mut handle);
        let mut raw = b"t".to_vec();
        raw.extend_from_slice(&i64_to_cmp(60));
        raw.extend_from_slice(b"_r");
        raw.extend_from_slice(&handle);
        let mut slot = Vec::new();
        write_compact_i64(&mut slot, v);
        let mut value = Vec::new();
        row_v2::encode(&[(2, Some(&slot))], &mut value);
        write.push((data_key(&raw, COMMIT_TS), put(Some(&value))));
        handles.push(handle);
    }
    let wp = dir.path().join("w.sst");
    write_sst(
        &wp,
        write.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        &SstWriteOptions::default(),
    )
    .unwrap();
    let f = Fixture {
        write: SstReader::open(&wp).unwrap(),
        default: None,
        _dir: dir,
    };
    (f, handles)
}

#[test]
fn clustered_pk_column_comes_from_the_common_handle() {
    let (f, handles) = clustered_fixture();
    let schema = TableSchema::from_json(CLUSTERED_JSON.as_bytes(), TypeMapping::Typed).unwrap();
    let projected = schema.project(&["v", "k"]).unwrap();
    let got = arrow_select_concat(&scan_schema(&f, projected, None).unwrap().0);
    assert_eq!(names(&got), ["v", "k"]);
    let v: Vec<i64> = got.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(v, [1, -2]);
    let k = got.column(1).as_string::<i32>();
    assert_eq!((k.value(0), k.value(1)), ("apple", "kiwi"));
    let projected = schema.project(&["_tidb_handle"]).unwrap();
    let got = arrow_select_concat(&scan_schema(&f, projected, None).unwrap().0);
    let h = got.column(0).as_binary::<i32>();
    assert_eq!((h.value(0), h.value(1)), (&handles[0][..], &handles[1][..]));
}

#[test]
fn handle_range_on_a_clustered_table_is_refused() {
    let (f, _) = clustered_fixture();
    let schema = TableSchema::from_json(CLUSTERED_JSON.as_bytes(), TypeMapping::Compat).unwrap();
    let range = HandleRange {
        lo: Some(0),
        hi: None,
    };
    let err = scan_schema(&f, schema, Some(range)).unwrap_err();
    assert!(err.contains("table c60 has a clustered"), "{err}");
}

mod tempdir {
    use std::path::{Path, PathBuf};

    /// A directory removed on drop.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!(
                "brpq-scan-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn first_error(f: &Fixture, range: Option<KeyRange>) -> String {
    let schema =
        Arc::new(TableSchema::from_json(table_json(50).as_bytes(), TypeMapping::Compat).unwrap());
    let scan = SstScan::open(
        "w.sst",
        &f.write,
        f.default.as_ref(),
        vec![schema],
        ScanOptions::default(),
    )
    .unwrap();
    let mut scan = match range {
        Some(r) => scan.with_key_range(r),
        None => scan,
    };
    loop {
        match scan.next_batch() {
            Ok(Some(_)) => continue,
            Ok(None) => return String::new(),
            Err(e) => return e.to_string(),
        }
    }
}

/// Table 50's record and index key space plus table 51's first row: the
/// fixture's keys all lie in `[t50, t51_r2)`.
fn fixture_range() -> KeyRange {
    KeyRange {
        start: record_key(50, 0)[..9].to_vec(),
        end: record_key(51, 2),
    }
}

#[test]
fn keys_inside_the_file_range_are_read() {
    let f = fixture(&[]);
    assert_eq!(first_error(&f, Some(fixture_range())), "");
    let unbounded = KeyRange {
        start: vec![],
        end: vec![],
    };
    assert_eq!(first_error(&f, Some(unbounded)), "");
}

#[test]
fn a_key_outside_the_file_range_is_an_error() {
    let outside = data_key(&record_key(52, 1), COMMIT_TS);
    let f = fixture(&[(outside.clone(), put(Some(&row(Some("c"), 1.0))))]);
    let err = first_error(&f, Some(fixture_range()));
    let hex: String = outside.iter().map(|b| format!("{b:02x}")).collect();
    assert!(err.contains(&hex), "{err}");
    assert!(err.contains("outside the file's range"), "{err}");
    // Without a range (a caller that does not know it) the key is another table's.
    assert_eq!(first_error(&f, None), "");
}

#[test]
fn a_key_that_is_no_row_or_index_entry_is_an_error() {
    let meta_key = data_key(b"mDB:1\x00\x00\x00\x00\x00\x00\x00\x00hTable:5", COMMIT_TS);
    let f = fixture(&[(meta_key, put(Some(b"x")))]);
    let err = first_error(&f, None);
    assert!(err.contains("neither a row"), "{err}");
}

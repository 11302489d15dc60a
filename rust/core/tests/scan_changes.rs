//! Change columns (`_tidb_op`, `_tidb_commit_ts`), Delete tombstones and the
//! clip range of `SstScan`, on SSTs shaped like an incremental backup's.
#![cfg(feature = "sst")]

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::RecordBatch;
use br_parquet_core::datum::encode_comparable_bytes;
use br_parquet_core::keys::{encode_key, encode_record_key_int, DataPrefix};
use br_parquet_core::number::{f64_to_cmp_u64, i64_to_cmp, write_compact_i64};
use br_parquet_core::row_v2;
use br_parquet_core::scan::{
    FileChecksums, HandleRange, KeyRange, ScanOptions, ScanStats, SstScan,
};
use br_parquet_core::schema::{ChangeColumns, TableSchema, TypeMapping};
use br_parquet_core::sst::{write_sst, SstReader, SstWriteOptions};
use br_parquet_core::write_cf::{WriteRecord, WriteType};

const BASE_TS: u64 = 445_063_339_262_394_369;

/// The commit ts of the write record of handle `h` (each key its own).
fn commit_ts(h: i64) -> u64 {
    BASE_TS + 1000 * h.unsigned_abs()
}

fn table_json(id: i64, extra_col: &str) -> String {
    // `id BIGINT PRIMARY KEY` (the handle), `name VARCHAR(300)`, `score DOUBLE NOT NULL`.
    format!(
        r#"{{"id":{id},"name":{{"O":"t{id}","L":"t{id}"}},"pk_is_handle":true,"cols":[
        {{"id":1,"name":{{"O":"id","L":"id"}},"offset":0,"state":5,
          "type":{{"Tp":8,"Flag":4099,"Flen":20,"Decimal":0,"Charset":"binary","Collate":"binary","Elems":null}}}},
        {{"id":2,"name":{{"O":"name","L":"name"}},"offset":1,"state":5,
          "type":{{"Tp":15,"Flag":0,"Flen":300,"Decimal":0,"Charset":"utf8mb4","Collate":"utf8mb4_bin","Elems":null}}}},
        {{"id":3,"name":{{"O":"score","L":"score"}},"offset":2,"state":5,
          "type":{{"Tp":5,"Flag":1,"Flen":22,"Decimal":-1,"Charset":"binary","Collate":"binary","Elems":null}}}}
        {extra_col}],"index_info":[]}}"#
    )
}

const CLUSTERED_JSON: &str = r#"{"id":60,"name":{"O":"c60","L":"c60"},"is_common_handle":true,
    "common_handle_version":1,"cols":[
    {"id":1,"name":{"O":"k","L":"k"},"offset":0,"state":5,
     "type":{"Tp":15,"Flag":4099,"Flen":20,"Decimal":0,"Charset":"utf8mb4","Collate":"utf8mb4_bin","Elems":null}},
    {"id":2,"name":{"O":"v","L":"v"},"offset":1,"state":5,
     "type":{"Tp":8,"Flag":1,"Flen":20,"Decimal":0,"Charset":"binary","Collate":"binary","Elems":null}}
    ],"index_info":[{"id":1,"idx_name":{"O":"PRIMARY","L":"primary"},"is_primary":true,
     "is_unique":true,"state":5,"idx_cols":[{"name":{"O":"k","L":"k"},"offset":0,"length":-1}]}]}"#;

fn schema(json: &str, op: bool, commit_ts: bool) -> TableSchema {
    TableSchema::from_json(json.as_bytes(), TypeMapping::Typed)
        .unwrap()
        .with_change_columns(ChangeColumns { op, commit_ts })
        .unwrap()
}

fn schema50(op: bool, commit_ts: bool) -> TableSchema {
    schema(&table_json(50, ""), op, commit_ts)
}

fn row(name: &str, score: f64) -> Vec<u8> {
    let score = f64_to_cmp_u64(score).to_be_bytes();
    let mut out = Vec::new();
    row_v2::encode(&[(2, Some(name.as_bytes())), (3, Some(&score))], &mut out);
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

fn common_record_key(table: i64, handle: &[u8]) -> Vec<u8> {
    let mut raw = b"t".to_vec();
    raw.extend_from_slice(&i64_to_cmp(table));
    raw.extend_from_slice(b"_r");
    raw.extend_from_slice(handle);
    raw
}

fn record(write_type: WriteType, start_ts: u64, short: Option<&[u8]>) -> Vec<u8> {
    let mut rec = WriteRecord::new(write_type, start_ts);
    rec.short_value = short;
    let mut out = Vec::new();
    rec.encode(&mut out).unwrap();
    out
}

struct Fixture {
    dir: PathBuf,
    write: SstReader,
    default: Option<SstReader>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_files(
    tag: &str,
    mut write: Vec<(Vec<u8>, Vec<u8>)>,
    default: Vec<(Vec<u8>, Vec<u8>)>,
) -> Fixture {
    let dir = std::env::temp_dir().join(format!(
        "brpq-scan-changes-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    write.sort();
    let file = |name: &str, kvs: &[(Vec<u8>, Vec<u8>)]| {
        let path = dir.join(name);
        write_sst(
            &path,
            kvs.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
            &SstWriteOptions::default(),
        )
        .unwrap();
        SstReader::open(&path).unwrap()
    };
    Fixture {
        write: file("w.sst", &write),
        default: (!default.is_empty()).then(|| file("d.sst", &default)),
        dir,
    }
}

/// Table 50 as an incremental backup holds it: Puts of handles 1, 2 (its
/// row in the default CF) and 4; Deletes of 3 and 5; a Lock (6) and a
/// Rollback (7) record; an index entry; a Delete of unselected table 51.
fn incremental() -> Fixture {
    let mut write = vec![];
    let mut default = vec![];
    for (h, name) in [(1, "one"), (4, "four")] {
        let value = row(name, h as f64);
        let rec = record(WriteType::Put, commit_ts(h) - 3, Some(&value));
        write.push((data_key(&record_key(50, h), commit_ts(h)), rec));
    }
    let long = row(&"y".repeat(280), 2.0);
    write.push((
        data_key(&record_key(50, 2), commit_ts(2)),
        record(WriteType::Put, commit_ts(2) - 3, None),
    ));
    default.push((data_key(&record_key(50, 2), commit_ts(2) - 3), long));
    for (h, t) in [
        (3, WriteType::Delete),
        (5, WriteType::Delete),
        (6, WriteType::Lock),
        (7, WriteType::Rollback),
    ] {
        let key = data_key(&record_key(50, h), commit_ts(h));
        write.push((key, record(t, commit_ts(h) - 3, None)));
    }
    let mut index = record_key(50, 0)[..9].to_vec();
    index.extend_from_slice(
        b"_i\x80\x00\x00\x00\x00\x00\x00\x01\x03\x80\x00\x00\x00\x00\x00\x00\x01",
    );
    write.push((
        data_key(&index, BASE_TS),
        record(WriteType::Put, BASE_TS - 3, Some(b"0")),
    ));
    write.push((
        data_key(&record_key(51, 1), BASE_TS),
        record(WriteType::Delete, BASE_TS - 3, None),
    ));
    write_files("incr", write, default)
}

#[derive(Debug)]
struct Scanned {
    batch: Option<RecordBatch>,
    stats: ScanStats,
    checksums: Option<FileChecksums>,
}

fn scan(
    f: &Fixture,
    schema: TableSchema,
    handle_range: Option<HandleRange>,
    clip: Option<KeyRange>,
    checksums: bool,
) -> Result<Scanned, String> {
    let options = ScanOptions {
        batch_rows: 2,
        handle_range,
    };
    let schema = Arc::new(schema);
    let mut s = SstScan::open(
        "w.sst",
        &f.write,
        f.default.as_ref(),
        vec![Arc::clone(&schema)],
        options,
    )
    .map_err(|e| e.to_string())?
    .with_checksums(checksums);
    if let Some(range) = clip {
        s = s.with_clip_range(range);
    }
    let mut batches = vec![];
    while let Some((idx, batch)) = s.next_batch().map_err(|e| e.to_string())? {
        assert_eq!(idx, 0);
        assert!(batch.num_rows() <= 2);
        assert_eq!(batch.schema(), schema.arrow_schema());
        batches.push(batch);
    }
    let batch = (!batches.is_empty())
        .then(|| arrow_select::concat::concat_batches(&schema.arrow_schema(), &batches).unwrap());
    assert_eq!(s.table_rows(), [s.stats().rows]);
    Ok(Scanned {
        batch,
        stats: s.stats(),
        checksums: s.checksums(),
    })
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let col = batch.column_by_name(name).unwrap();
    col.as_primitive::<Int64Type>().iter().collect()
}

fn strs(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch.column_by_name(name).unwrap();
    col.as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect()
}

fn fields(s: &TableSchema) -> Vec<(String, bool)> {
    s.arrow_schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.is_nullable()))
        .collect()
}

fn owned(v: &[(&str, bool)]) -> Vec<(String, bool)> {
    v.iter().map(|(n, b)| (n.to_string(), *b)).collect()
}

#[test]
fn the_schema_gains_the_change_columns_and_nullable_table_columns() {
    let plain = owned(&[
        ("_tidb_table_id", false),
        ("_tidb_handle", false),
        ("id", false),
        ("name", true),
        ("score", false),
    ]);
    assert_eq!(fields(&schema50(false, false)), plain);
    let mut with_ts = plain.clone();
    with_ts.insert(2, ("_tidb_commit_ts".into(), false));
    assert_eq!(fields(&schema50(false, true)), with_ts);
    let both = owned(&[
        ("_tidb_table_id", false),
        ("_tidb_handle", false),
        ("_tidb_op", false),
        ("_tidb_commit_ts", false),
        ("id", true),
        ("name", true),
        ("score", true),
    ]);
    let s = schema50(true, true);
    assert_eq!(fields(&s), both);
    let types: Vec<String> = s
        .arrow_schema()
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    assert_eq!(types[2..4], ["Utf8", "Int64"]);
    // The default layout is the projection onto every name.
    let names: Vec<&str> = both.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(s.project(&names).unwrap().arrow_schema(), s.arrow_schema());
}

#[test]
fn deletes_are_skipped_without_the_op_column() {
    let f = incremental();
    for commit in [false, true] {
        let got = scan(&f, schema50(false, commit), None, None, false).unwrap();
        let batch = got.batch.unwrap();
        assert_eq!(ints(&batch, "_tidb_handle"), [Some(1), Some(2), Some(4)]);
        let st = got.stats;
        assert_eq!((st.rows, st.deletes, st.delete_rows), (3, 2, 0));
        assert_eq!(
            (st.locks_and_rollbacks, st.index_kvs, st.unselected_kvs),
            (2, 1, 1)
        );
        if commit {
            let want: Vec<Option<i64>> = [1, 2, 4].map(|h| Some(commit_ts(h) as i64)).into();
            assert_eq!(ints(&batch, "_tidb_commit_ts"), want);
        }
    }
}

#[test]
fn deletes_become_tombstones_in_key_order() {
    let f = incremental();
    let got = scan(&f, schema50(true, true), None, None, false).unwrap();
    let batch = got.batch.unwrap();
    let handles = [1, 2, 3, 4, 5];
    assert_eq!(ints(&batch, "_tidb_handle"), handles.map(Some));
    assert_eq!(ints(&batch, "_tidb_table_id"), [Some(50); 5]);
    let ops = strs(&batch, "_tidb_op");
    let want_ops = ["put", "put", "delete", "put", "delete"].map(|s| Some(s.to_string()));
    assert_eq!(ops, want_ops);
    let ts: Vec<Option<i64>> = handles.map(|h| Some(commit_ts(h) as i64)).into();
    assert_eq!(ints(&batch, "_tidb_commit_ts"), ts);
    // Puts are decoded as before (the PK from the key, a long row from the
    // default CF); tombstones are NULL in every table column.
    assert_eq!(ints(&batch, "id"), [Some(1), Some(2), None, Some(4), None]);
    let names = strs(&batch, "name");
    assert_eq!(names[0].as_deref(), Some("one"));
    assert_eq!(names[1].as_ref().map(String::len), Some(280));
    assert_eq!((names[2].as_ref(), names[4].as_ref()), (None, None));
    let scores = batch.column_by_name("score").unwrap();
    let scores: Vec<Option<f64>> = scores.as_primitive::<Float64Type>().iter().collect();
    assert_eq!(scores, [Some(1.0), Some(2.0), None, Some(4.0), None]);
    let st = got.stats;
    assert_eq!((st.rows, st.deletes, st.delete_rows), (5, 2, 2));
    assert_eq!((st.locks_and_rollbacks, st.unselected_kvs), (2, 1));
    assert_eq!(st.default_cf_values, 1);
}

#[test]
fn projections_keep_the_change_options() {
    let f = incremental();
    let s = schema50(true, true);
    // Tombstones are rows even when `_tidb_op` is not output.
    let p = s.project(&["_tidb_handle", "score"]).unwrap();
    assert_eq!(p.change, s.change);
    let batch = scan(&f, p, None, None, false).unwrap().batch.unwrap();
    assert_eq!(batch.num_rows(), 5);
    assert!(batch.schema().field(1).is_nullable());
    let p = s.project(&["_tidb_commit_ts", "_tidb_op"]).unwrap();
    let batch = scan(&f, p, None, None, false).unwrap().batch.unwrap();
    assert_eq!(
        strs(&batch, "_tidb_op")
            .iter()
            .filter(|o| o.as_deref() == Some("delete"))
            .count(),
        2
    );
    // A change column that is off is no column.
    let off = schema50(false, true);
    let err = off.project(&["_tidb_op"]).unwrap_err().to_string();
    assert!(
        err.contains("available: _tidb_table_id, _tidb_handle, _tidb_commit_ts, id, name, score"),
        "{err}"
    );
    assert!(schema50(true, false).project(&["_tidb_commit_ts"]).is_err());
    let err = s
        .project(&["_tidb_op", "_tidb_op"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("twice"), "{err}");
}

#[test]
fn a_table_column_named_like_a_change_column_is_refused_when_on() {
    let col = r#",{"id":4,"name":{"O":"_tidb_op","L":"_tidb_op"},"offset":3,"state":5,
        "type":{"Tp":3,"Flag":0,"Flen":11,"Decimal":0,"Charset":"binary","Collate":"binary","Elems":null}}"#;
    let base = TableSchema::from_json(table_json(50, col).as_bytes(), TypeMapping::Compat).unwrap();
    let ts_only = ChangeColumns {
        op: false,
        commit_ts: true,
    };
    assert!(base.clone().with_change_columns(ts_only).is_ok());
    let err = base
        .with_change_columns(ChangeColumns {
            op: true,
            commit_ts: false,
        })
        .unwrap_err();
    assert_eq!(err.column.as_deref(), Some("_tidb_op"));
    assert!(
        err.to_string()
            .starts_with("table t50 (id 50): column _tidb_op: "),
        "{err}"
    );
}

#[test]
fn the_handle_range_applies_to_tombstones() {
    let f = incremental();
    let range = HandleRange {
        lo: Some(3),
        hi: Some(5),
    };
    let got = scan(&f, schema50(true, false), Some(range), None, false).unwrap();
    let batch = got.batch.unwrap();
    assert_eq!(ints(&batch, "_tidb_handle"), [Some(3), Some(4)]);
    assert_eq!(
        strs(&batch, "_tidb_op"),
        [Some("delete".to_string()), Some("put".to_string())]
    );
    // 1, 2, 5, 6 and 7 are out of range, whatever their write type.
    let st = got.stats;
    assert_eq!(
        (st.rows, st.deletes, st.delete_rows, st.out_of_range),
        (2, 1, 1, 5)
    );
}

#[test]
fn clustered_tables_get_tombstones_with_the_common_handle() {
    let mut handles = vec![];
    let mut write = vec![];
    for (i, k) in ["apple", "kiwi", "pear"].iter().enumerate() {
        let mut handle = Vec::new();
        encode_comparable_bytes(k.as_bytes(), &mut handle);
        let key = data_key(&common_record_key(60, &handle), BASE_TS + i as u64);
        let value = if i == 1 {
            record(WriteType::Delete, BASE_TS - 9, None)
        } else {
            let mut slot = Vec::new();
            write_compact_i64(&mut slot, i as i64 * 10);
            let mut row = Vec::new();
            row_v2::encode(&[(2, Some(&slot))], &mut row);
            record(WriteType::Put, BASE_TS - 9, Some(&row))
        };
        write.push((key, value));
        handles.push(handle);
    }
    let f = write_files("clustered", write, vec![]);
    let got = scan(&f, schema(CLUSTERED_JSON, true, true), None, None, false).unwrap();
    let batch = got.batch.unwrap();
    let h = batch
        .column_by_name("_tidb_handle")
        .unwrap()
        .as_binary::<i32>();
    let h: Vec<&[u8]> = h.iter().map(Option::unwrap).collect();
    assert_eq!(h, handles.iter().map(Vec::as_slice).collect::<Vec<_>>());
    assert_eq!(
        strs(&batch, "_tidb_op"),
        ["put", "delete", "put"].map(|s| Some(s.to_string()))
    );
    let ts: Vec<Option<i64>> = (0..3).map(|i| Some((BASE_TS + i) as i64)).collect();
    assert_eq!(ints(&batch, "_tidb_commit_ts"), ts);
    // `k` comes from the handle for puts; `v` (NOT NULL) is NULL only in the tombstone.
    assert_eq!(
        strs(&batch, "k"),
        [Some("apple".to_string()), None, Some("pear".to_string())]
    );
    assert_eq!(ints(&batch, "v"), [Some(0), None, Some(20)]);
    assert_eq!((got.stats.deletes, got.stats.delete_rows), (1, 1));
}

#[test]
fn a_commit_ts_beyond_int64_is_an_error_only_when_output() {
    let huge = 1u64 << 63;
    let key = data_key(&record_key(50, 1), huge);
    let value = row("x", 1.0);
    let f = write_files(
        "huge-ts",
        vec![(key.clone(), record(WriteType::Put, 5, Some(&value)))],
        vec![],
    );
    assert!(scan(&f, schema50(true, false), None, None, false).is_ok());
    let err = scan(&f, schema50(false, true), None, None, false).unwrap_err();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(err.starts_with("w.sst: key "), "{err}");
    assert!(err.contains(&hex), "{err}");
    assert!(err.contains("does not fit _tidb_commit_ts"), "{err}");
}

fn clip(start: Vec<u8>, end: Vec<u8>) -> Option<KeyRange> {
    Some(KeyRange { start, end })
}

#[test]
fn the_clip_range_skips_keys_outside_it() {
    let f = incremental();
    let cases: [(Option<KeyRange>, &[i64], u64); 5] = [
        (clip(record_key(50, 2), record_key(50, 5)), &[2, 3, 4], 6),
        // Empty end: unbounded (table 51's Delete is inside, unselected).
        (clip(record_key(50, 4), vec![]), &[4, 5], 4),
        // The index entry sorts before the rows.
        (clip(vec![], record_key(50, 0)), &[], 8),
        (clip(vec![], vec![]), &[1, 2, 3, 4, 5], 0),
        (clip(record_key(52, 0), vec![]), &[], 9),
    ];
    for (range, want, clipped) in cases {
        let got = scan(&f, schema50(true, false), None, range.clone(), false).unwrap();
        let handles = got
            .batch
            .map_or_else(Vec::new, |b| ints(&b, "_tidb_handle"));
        let want: Vec<Option<i64>> = want.iter().copied().map(Some).collect();
        assert_eq!(handles, want, "{range:?}");
        assert_eq!(got.stats.clipped, clipped, "{range:?}");
        assert_eq!(got.stats.write_kvs, 9);
        assert_eq!(
            got.stats.delete_rows,
            want.iter().filter(|h| matches!(h, Some(3 | 5))).count() as u64
        );
    }
}

#[test]
fn keys_outside_the_clip_range_are_no_errors() {
    let mut write = vec![];
    // A meta key (no row or index) and a record key of a clustered shape
    // under an integer-handle table: both errors when decoded.
    write.push((
        data_key(b"mDB:1\x00\x00\x00\x00\x00\x00\x00\x00hTable:5", BASE_TS),
        record(WriteType::Put, BASE_TS - 1, Some(b"x")),
    ));
    write.push((
        data_key(&common_record_key(50, b"\x01abc"), BASE_TS),
        record(WriteType::Delete, BASE_TS - 1, None),
    ));
    let value = row("ok", 1.0);
    write.push((
        data_key(&record_key(50, 7), BASE_TS),
        record(WriteType::Put, BASE_TS - 1, Some(&value)),
    ));
    let f = write_files("clip-errors", write, vec![]);
    let err = scan(&f, schema50(true, false), None, None, false).unwrap_err();
    assert!(err.contains("neither a row"), "{err}");
    let range = clip(record_key(50, 0)[..9].to_vec(), vec![]);
    let err = scan(&f, schema50(true, false), None, range, false).unwrap_err();
    assert!(err.contains("clustered (common) handle"), "{err}");
    let range = clip(record_key(50, 0), record_key(51, 0));
    let got = scan(&f, schema50(true, false), None, range, true).unwrap();
    assert_eq!(ints(&got.batch.unwrap(), "_tidb_handle"), [Some(7)]);
    assert_eq!((got.stats.clipped, got.stats.rows), (2, 1));
    assert_eq!(got.checksums.unwrap().write.total_kvs, 3);
}

#[test]
fn clipped_scans_keep_the_file_checksums_and_partition_the_rows() {
    let f = incremental();
    let full = scan(&f, schema50(true, true), None, None, true).unwrap();
    let want_sums = full.checksums.unwrap();
    assert_eq!(
        want_sums.write.total_kvs + want_sums.default.unwrap().total_kvs,
        9
    );
    let full_rows = full.batch.unwrap();
    let cuts = [
        vec![],
        record_key(50, 2),
        record_key(50, 3),
        record_key(50, 5),
        vec![],
    ];
    let mut parts = vec![];
    for pair in cuts.windows(2) {
        let got = scan(
            &f,
            schema50(true, true),
            None,
            clip(pair[0].clone(), pair[1].clone()),
            true,
        )
        .unwrap();
        assert_eq!(got.checksums, Some(want_sums), "{pair:?}");
        parts.extend(got.batch);
    }
    let joined = arrow_select::concat::concat_batches(&full_rows.schema(), &parts).unwrap();
    assert_eq!(joined, full_rows);
}

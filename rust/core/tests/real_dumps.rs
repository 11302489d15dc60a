//! Decodes real TiKV/TiDB bytes from `shared/fixtures/real/` (see its
//! PROVENANCE.md): TiFlash's hex dumps of write-CF records and row v2 values
//! with their TableInfo, and keys/values printed in the TiDB docs. Keys in
//! these dumps have no `z` prefix. When the files are absent a local run says
//! so loudly and passes; a CI run (`CI=true`) fails.

use br_parquet_core::datum::{self, Datum};
use br_parquet_core::keys::{self, DataPrefix, Handle, RawKey};
use br_parquet_core::memcomparable;
use br_parquet_core::row_v1::{self, RowV1};
use br_parquet_core::row_v2::{self, Lookup, RowV2};
use br_parquet_core::write_cf::{WriteRecord, WriteType};
use serde_json::Value;

mod common;

fn load(rel: &str) -> Option<Value> {
    let text = common::read_shared(&format!("real/{rel}"))?;
    Some(serde_json::from_str(&text).expect("valid JSON"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn tiflash() -> Option<Value> {
    load("tiflash-kv-hex-dumps/region_block_reader_kv_dumps.json")
}

fn kvs(test: &Value) -> Vec<(Vec<u8>, Vec<u8>)> {
    test["kvs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| {
            (
                hex(kv["key_hex"].as_str().unwrap()),
                hex(kv["value_hex"].as_str().unwrap()),
            )
        })
        .collect()
}

/// Decodes a TiFlash dump key: no `z`, an int-handle row of `table_id`.
fn row_key(key: &[u8], table_id: i64) -> (i64, u64) {
    let mut buf = Vec::new();
    let k = keys::decode_key(key, &mut buf).expect("key decodes");
    assert_eq!(k.prefix, DataPrefix::Absent);
    assert_eq!(k.keyspace, None);
    match k.kind {
        RawKey::Record {
            table_id: t,
            handle: Handle::Int(h),
        } => {
            assert_eq!(t, table_id);
            (h, k.ts)
        }
        other => panic!("not an int-handle row key: {other:?}"),
    }
}

#[test]
fn tiflash_write_cf_records() {
    let Some(d) = tiflash() else { return };
    let t = &d["ReadFromRegion"];
    let mut case_no = Vec::new();
    for (key, value) in kvs(t) {
        let (handle, ts) = row_key(&key, 77);
        let rec = WriteRecord::parse(&value).expect("write record");
        assert!(rec.start_ts < ts || rec.write_type == WriteType::Lock);
        match rec.write_type {
            WriteType::Lock => assert_eq!(rec.short_value, None),
            WriteType::Put => {
                let row = RowV2::parse(rec.short_value.expect("inline row")).unwrap();
                let Lookup::Value(v) = row.lookup(1) else {
                    panic!("case_no missing")
                };
                case_no.push(String::from_utf8(v.to_vec()).unwrap());
                // Columns 2 and 3 are absent from these rows.
                assert_eq!(row.lookup(2), Lookup::Missing);
                assert_eq!(row.lookup(3), Lookup::Missing);
                assert_eq!(handle.to_string(), case_no.last().unwrap().as_str());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let want: Vec<String> = t["expected_from_test_assertions"]["case_no"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(case_no, want);
}

#[test]
fn tiflash_default_value_rows() {
    let Some(d) = tiflash() else { return };
    let t = &d["ReadFromRegionDefaultValue"];
    let mut c1 = Vec::new();
    for (key, value) in kvs(t) {
        row_key(&key, 681);
        let rec = WriteRecord::parse(&value).unwrap();
        assert_eq!(rec.write_type, WriteType::Put);
        let row = RowV2::parse(rec.short_value.unwrap()).unwrap();
        // c2 FLOAT (id 4), c5 and c4 DECIMAL(10,0) (ids 5, 6), c1 BIGINT (id 7).
        let Lookup::Value(c2) = row.lookup(4) else {
            panic!()
        };
        assert!(row_v2::decode_f32(c2).unwrap().is_finite());
        for id in [5, 6] {
            let Lookup::Value(s) = row.lookup(id) else {
                panic!()
            };
            let dec = row_v2::decode_decimal(s).unwrap();
            assert_eq!((dec.precision(), dec.frac()), (10, 0));
        }
        c1.push(match row.lookup(7) {
            Lookup::Value(s) => row_v2::decode_int(s).unwrap(),
            Lookup::Missing => 0,
            Lookup::Null => panic!("c1 stored as NULL"),
        });
    }
    // The test's expectation for c1 (the missing one falls back to 0 there).
    assert_eq!(c1, [-2051270087, -2051270087, 0]);
}

/// Decodes every stored column of a real row by its TableInfo type.
fn decode_by_schema(table_info: &Value, row: &RowV2<'_>) -> usize {
    let mut decoded = 0;
    for col in table_info["cols"].as_array().unwrap() {
        let id = col["id"].as_i64().unwrap();
        let tp = col["type"]["Tp"].as_u64().unwrap();
        let flag = col["type"]["Flag"].as_u64().unwrap();
        let frac = col["type"]["Decimal"].as_i64().unwrap();
        let Lookup::Value(s) = row.lookup(id) else {
            continue;
        };
        let mut text = String::new();
        match tp {
            1 | 2 | 3 | 8 | 9 | 13 if flag & 32 != 0 => {
                row_v2::decode_uint(s).unwrap();
            }
            1 | 2 | 3 | 8 | 9 | 13 => {
                row_v2::decode_int(s).unwrap();
            }
            4 | 5 => {
                row_v2::decode_f64(s).unwrap();
            }
            246 => {
                let d = row_v2::decode_decimal(s).unwrap();
                assert_eq!(i64::from(d.frac()), frac, "column {id}");
                d.write_text(&mut text);
            }
            7 | 10 | 12 => {
                let t = row_v2::decode_datetime(s).unwrap();
                t.write_datetime(frac.clamp(0, 6) as u8, &mut text).unwrap();
                assert!(t.micros_since_epoch().is_some(), "column {id}: {text}");
            }
            15 | 254 | 252 => {
                std::str::from_utf8(s).unwrap();
            }
            other => panic!("column {id}: type {other} not expected in this table"),
        }
        decoded += 1;
    }
    decoded
}

#[test]
fn tiflash_tpcc_rows() {
    let Some(d) = tiflash() else { return };
    for (name, table_id, not_null, nulls) in [
        (
            "ReadFromRegion2_customer_partitioned",
            5028,
            22,
            vec![47u32],
        ),
        (
            "ReadFromRegion2_stock_added_timestamp_col",
            2686,
            19,
            vec![],
        ),
    ] {
        let t = &d[name];
        let info: Value =
            serde_json::from_str(t["table_info_json_verbatim"].as_str().unwrap()).unwrap();
        for (key, value) in kvs(t) {
            let (handle, _ts) = row_key(&key, table_id);
            assert!(handle > 0);
            assert!(!row_v1::is_v1(&value));
            let row = RowV2::parse(&value).expect(name);
            assert_eq!(row.not_null_count(), not_null, "{name}");
            assert_eq!(row.null_ids().collect::<Vec<_>>(), nulls, "{name}");
            assert!(row.trailer().is_empty());
            let decoded = decode_by_schema(&info, &row);
            // Every stored column known to the schema decoded; the stock row
            // also holds id 51, a dropped column.
            let known = row
                .values()
                .filter(|(id, _)| {
                    info["cols"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|c| c["id"].as_u64() == Some(u64::from(*id)))
                })
                .count();
            assert_eq!(decoded, known, "{name}");
            if name.contains("stock") {
                assert!(matches!(row.lookup(51), Lookup::Value(_)));
                assert_eq!(known, not_null - 1);
            }
        }
    }
}

fn docs() -> Option<Value> {
    load("docs-key-examples/key_value_examples.json")
}

#[test]
fn docs_decode_key_examples() {
    let Some(d) = docs() else { return };
    let examples = d["tidb_decode_key"].as_array().unwrap();
    // Region keys: memcomparable only, no `z` and no ts.
    let k0 = hex(examples[0]["key_hex"].as_str().unwrap());
    let (raw, n) = memcomparable::decode_bytes(&k0).unwrap();
    assert_eq!(n, k0.len());
    assert_eq!(
        keys::parse_raw_key(&raw),
        RawKey::Record {
            table_id: 59,
            handle: Handle::Int(1958897)
        }
    );
    assert_eq!(examples[0]["expected"]["_tidb_rowid"], 1958897);

    let k1 = hex(examples[1]["key_hex"].as_str().unwrap());
    let (raw, n) = memcomparable::decode_bytes(&k1).unwrap();
    assert_eq!(n, k1.len());
    let RawKey::Record {
        table_id,
        handle: Handle::Common(h),
    } = keys::parse_raw_key(&raw)
    else {
        panic!("not a clustered row key")
    };
    assert_eq!(table_id, 62);
    // PRIMARY KEY (a tinyint unsigned, id binary(36)).
    let datums = datum::decode_all(h).unwrap();
    assert_eq!(datums.len(), 2);
    let expected = &examples[1]["expected"]["handle"];
    assert_eq!(datums[0], Datum::Uint(6));
    assert_eq!(expected["a"], "6");
    let mut id = Vec::new();
    assert!(datums[1].append_bytes(&mut id).unwrap());
    assert_eq!(
        std::str::from_utf8(&id).unwrap(),
        expected["id"].as_str().unwrap()
    );
}

#[test]
fn docs_raw_scan_row_v1() {
    let Some(d) = docs() else { return };
    let scans = d["tikv_ctl_raw_scan"].as_array().unwrap();
    let mut seen = Vec::new();
    for s in scans {
        let key = hex(s["key_hex"].as_str().unwrap());
        let mut buf = Vec::new();
        let k = keys::decode_key(&key, &mut buf).unwrap();
        assert_eq!(k.prefix, DataPrefix::Z);
        let RawKey::Record {
            table_id,
            handle: Handle::Int(handle),
        } = k.kind
        else {
            panic!("not an int-handle row: {:?}", k.kind)
        };
        let value = hex(s["value_hex"].as_str().unwrap());
        assert!(row_v1::is_v1(&value));
        let row = RowV1::parse(&value).unwrap();
        let Some(Datum::Bytes(name)) = row.lookup_datum(1).unwrap() else {
            panic!()
        };
        let mut second = Vec::new();
        assert!(row
            .lookup_datum(2)
            .unwrap()
            .unwrap()
            .append_bytes(&mut second)
            .unwrap());
        seen.push((
            table_id,
            handle,
            String::from_utf8(name.to_vec()).unwrap(),
            second,
        ));
        // Every pair is (varint id, value datum) and every value decodes.
        for &(_, v) in row.columns() {
            let mut cur = v;
            datum::decode_one(&mut cur).unwrap();
            assert!(cur.is_empty());
        }
    }
    // The fixture's note calls both rows "table 5"; the second key's bytes
    // (`\025`) say table 21.
    assert_eq!((seen[0].0, seen[0].1), (5, 1));
    assert_eq!(seen[0].2, "%");
    assert_eq!(seen[0].3, b"root");
    assert_eq!((seen[1].0, seen[1].1), (21, 19));
    assert_eq!(seen[1].2, "slow_query_log_file");
    assert_eq!(seen[1].3, b"/usr/local/mysql/data/localhost-slow.log");
}

#[test]
fn docs_mysql_user_row_is_all_pairs() {
    let Some(d) = docs() else { return };
    let value = hex(d["tikv_ctl_raw_scan"][0]["value_hex"].as_str().unwrap());
    let mut pairs = Vec::new();
    row_v1::parse_into(&value, &mut pairs).unwrap();
    // Host, User, authentication_string, then privilege flags as uvarints.
    assert!(pairs.len() > 20);
    let ids: Vec<i64> = pairs.iter().map(|&(id, _)| id).collect();
    assert_eq!(&ids[..4], &[1, 2, 3, 4]);
    let mut cur = pairs[3].1;
    assert_eq!(datum::decode_one(&mut cur).unwrap(), Datum::UVarInt(2));
}

//! Throughput of each decoder of the core, so that a regression shows per
//! component: SST keys, write-CF records, row v2 (parse and lookup, then each
//! type class through its Arrow column builder in both type mappings), row
//! v1, decimals, times, binary JSON, rows to Arrow columns in memory, and one
//! SST through the whole scan beside RocksDB's bare iteration of it.
//!
//! `cargo bench -p br-parquet-core --bench decoders -- --noplot` (`make bench`
//! runs it); a name filter such as `-- slot_time` runs one group. Inputs are
//! built here with the crate's encoders (`inputs.rs`); nothing else is read.
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use br_parquet_core::column::{ColumnBuilder, ValueStats};
use br_parquet_core::datum::{self, Datum};
use br_parquet_core::json::JsonRef;
use br_parquet_core::keys::decode_key;
use br_parquet_core::row_v1::RowV1;
use br_parquet_core::row_v2::{self, Lookup, RowV2};
use br_parquet_core::schema::{ColumnSpec, TableSchema, TypeMapping};
use br_parquet_core::slot::datum_to_slot;
use br_parquet_core::time::write_duration;
use br_parquet_core::write_cf::WriteRecord;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};

mod inputs;

use inputs::{BenchRow, SlotColumn, COMMIT_TS, TABLE_ID};

/// Values (keys, records, rows) per iteration: one default scan batch.
const N: usize = 8192;

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn group<'a>(c: &'a mut Criterion, name: &str, elements: usize) -> Group<'a> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(elements as u64));
    g
}

/// A group whose iterations take milliseconds: equal samples, so that ten of
/// them fit the measurement time.
fn slow_group<'a>(c: &'a mut Criterion, name: &str, elements: usize) -> Group<'a> {
    let mut g = group(c, name, elements);
    g.sampling_mode(SamplingMode::Flat);
    g
}

fn schema(json: &str, mapping: TypeMapping) -> TableSchema {
    TableSchema::from_json(json.as_bytes(), mapping).expect("bench TableInfo")
}

const MAPPINGS: [(&str, TypeMapping); 2] = [
    ("typed", TypeMapping::Typed),
    ("compat", TypeMapping::Compat),
];

fn keys(c: &mut Criterion) {
    let int_keys: Vec<Vec<u8>> = (0..N as i64)
        .map(|i| inputs::record_key(TABLE_ID, 1_000_000 + i, COMMIT_TS))
        .collect();
    let handles = inputs::common_handles(N);
    let common_keys = inputs::common_record_keys(&handles);
    let index_keys = inputs::index_keys(N);
    let mut g = group(c, "keys", N);
    for (name, keys) in [
        ("decode/record_int_handle", &int_keys),
        ("decode/record_common_handle", &common_keys),
        ("decode/index", &index_keys),
    ] {
        g.bench_function(name, |b| {
            let mut buf = Vec::with_capacity(128);
            b.iter(|| {
                for k in keys {
                    black_box(decode_key(k, &mut buf).expect("valid key"));
                }
            })
        });
    }
    // A clustered handle's datums, as its PK columns are filled from them.
    g.bench_function("common_handle_datums", |b| {
        let mut datums = Vec::with_capacity(4);
        let mut bytes = Vec::with_capacity(64);
        b.iter(|| {
            for h in &handles {
                datum::decode_all_into(h, &mut datums).expect("valid handle");
                for d in &datums {
                    bytes.clear();
                    if !d.append_bytes(&mut bytes).expect("valid bytes") {
                        black_box(d.as_i64());
                    }
                    black_box(&bytes);
                }
            }
        })
    });
    g.finish();
}

fn write_cf(c: &mut Criterion, rows: &[Vec<u8>]) {
    let short: Vec<Vec<u8>> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.len() <= 255)
        .map(|(i, r)| inputs::put_record(r, i))
        .collect();
    let short: Vec<Vec<u8>> = short.iter().cycle().take(N).cloned().collect();
    let long: Vec<Vec<u8>> = (0..N).map(|i| inputs::put_record(&[0; 256], i)).collect();
    let mut g = group(c, "write_cf", N);
    for (name, records) in [
        ("parse/put_short_value", &short),
        ("parse/put_long_value", &long),
    ] {
        assert_eq!(records.len(), N);
        g.bench_function(name, |b| {
            b.iter(|| {
                for r in records {
                    black_box(WriteRecord::parse(r).expect("valid record"));
                }
            })
        });
    }
    g.finish();
}

fn row_v2_rows(c: &mut Criterion, rows: &[BenchRow]) {
    let mut g = slow_group(c, "row_v2", N);
    for (name, offset) in [("parse_lookup/small", 0), ("parse_lookup/large", 300)] {
        let encoded: Vec<Vec<u8>> = rows.iter().map(|r| r.encode_v2(offset)).collect();
        let ids: Vec<i64> = (2..=12).map(|id| i64::from(id + offset)).collect();
        g.bench_function(name, |b| {
            b.iter(|| {
                for row in &encoded {
                    let row = RowV2::parse(row).expect("valid row");
                    for &id in &ids {
                        black_box(row.lookup(id));
                    }
                }
            })
        });
    }
    g.finish();
}

/// Each type class's slots through `ColumnBuilder` into an Arrow array, in
/// both mappings (once where both give the same output kind).
fn slots(c: &mut Criterion, table: &str, columns: &[SlotColumn]) {
    let schemas = MAPPINGS.map(|(name, m)| (name, schema(table, m)));
    let mut classes: Vec<&str> = columns.iter().map(|c| c.class).collect();
    classes.dedup();
    for class in classes {
        let name = format!("slot_{class}");
        let mut g = if class == "json" {
            slow_group(c, &name, N)
        } else {
            group(c, &name, N)
        };
        for col in columns.iter().filter(|c| c.class == class) {
            let specs = schemas.each_ref().map(|(mapping, s)| {
                let spec = s.columns.iter().find(|s| s.name == col.name);
                (*mapping, Arc::new(spec.expect("bench column").clone()))
            });
            let same = specs[0].1.kind == specs[1].1.kind;
            for (mapping, spec) in specs.iter().take(if same { 1 } else { 2 }) {
                let id = if same {
                    col.name.to_string()
                } else {
                    format!("{}/{mapping}", col.name)
                };
                g.bench_function(id, |b| {
                    b.iter(|| {
                        let mut builder = ColumnBuilder::new(Arc::clone(spec), N);
                        let mut stats = ValueStats::default();
                        for s in &col.slots {
                            builder.append_slot(s, &mut stats).expect("valid slot");
                        }
                        builder.finish()
                    })
                });
            }
        }
        g.finish();
    }
}

fn slots_of<'a>(columns: &'a [SlotColumn], name: &str) -> &'a [Vec<u8>] {
    &columns
        .iter()
        .find(|c| c.name == name)
        .expect("bench column")
        .slots
}

fn decimal(c: &mut Criterion, columns: &[SlotColumn]) {
    let mut g = group(c, "decimal", N);
    for (name, column) in [("12_2", "decimal_12_2"), ("30_10", "decimal_30_10")] {
        let slots = slots_of(columns, column);
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                for s in slots {
                    black_box(row_v2::decode_decimal(s).expect("valid decimal"));
                }
            })
        });
        g.bench_function(format!("to_i128/{name}"), |b| {
            b.iter(|| {
                for s in slots {
                    let d = row_v2::decode_decimal(s).expect("valid decimal");
                    black_box(d.to_i128_unscaled());
                }
            })
        });
        g.bench_function(format!("to_text/{name}"), |b| {
            let mut text = String::with_capacity(64);
            b.iter(|| {
                for s in slots {
                    text.clear();
                    row_v2::decode_decimal(s)
                        .expect("valid decimal")
                        .write_text(&mut text);
                    black_box(&text);
                }
            })
        });
    }
    g.finish();
}

fn time(c: &mut Criterion, columns: &[SlotColumn]) {
    let datetimes = slots_of(columns, "datetime_6");
    let dates = slots_of(columns, "date");
    let durations = slots_of(columns, "time");
    let mut g = group(c, "time", N);
    g.bench_function("datetime/micros", |b| {
        b.iter(|| {
            for s in datetimes {
                let t = row_v2::decode_datetime(s).expect("valid datetime");
                black_box(t.micros_since_epoch());
            }
        })
    });
    for fsp in [0u8, 6] {
        g.bench_function(format!("datetime/text_fsp{fsp}"), |b| {
            let mut text = String::with_capacity(32);
            b.iter(|| {
                for s in datetimes {
                    text.clear();
                    let t = row_v2::decode_datetime(s).expect("valid datetime");
                    t.write_datetime(fsp, &mut text).expect("valid fsp");
                    black_box(&text);
                }
            })
        });
    }
    g.bench_function("date/days", |b| {
        b.iter(|| {
            for s in dates {
                let t = row_v2::decode_datetime(s).expect("valid date");
                black_box(t.days_since_epoch());
            }
        })
    });
    g.bench_function("duration/text", |b| {
        let mut text = String::with_capacity(32);
        b.iter(|| {
            for s in durations {
                text.clear();
                let nanos = row_v2::decode_duration(s).expect("valid duration");
                write_duration(nanos, 0, &mut text).expect("valid fsp");
                black_box(&text);
            }
        })
    });
    g.finish();
}

fn json(c: &mut Criterion, columns: &[SlotColumn]) {
    let mut g = slow_group(c, "json", N);
    for (name, column) in [("100b", "json_100b"), ("1k", "json_1k")] {
        let slots = slots_of(columns, column);
        g.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| {
                for s in slots {
                    black_box(JsonRef::from_slot(s).expect("valid JSON"));
                }
            })
        });
        g.bench_function(format!("to_text/{name}"), |b| {
            let mut text = String::with_capacity(2048);
            b.iter(|| {
                for s in slots {
                    text.clear();
                    let j = JsonRef::from_slot(s).expect("valid JSON");
                    j.write_text(&mut text).expect("renderable JSON");
                    black_box(&text);
                }
            })
        });
    }
    g.finish();
}

fn row_v1(c: &mut Criterion, rows: &[BenchRow]) {
    let encoded: Vec<Vec<u8>> = rows.iter().map(BenchRow::encode_v1).collect();
    let table = inputs::bench_table_json();
    let typed = schema(&table, TypeMapping::Typed);
    let specs: Vec<&ColumnSpec> = typed.columns.iter().filter(|c| c.id >= 2).collect();
    let mut g = slow_group(c, "row_v1", N);
    g.bench_function("parse_lookup", |b| {
        b.iter(|| {
            for row in &encoded {
                let row = RowV1::parse(row).expect("valid row");
                for spec in &specs {
                    black_box(row.lookup_datum(spec.id).expect("valid datum"));
                }
            }
        })
    });
    // What the scan does with a v1 row: each datum to its column's slot form.
    g.bench_function("to_slots", |b| {
        let mut slot = Vec::with_capacity(64);
        b.iter(|| {
            for row in &encoded {
                let row = RowV1::parse(row).expect("valid row");
                for spec in &specs {
                    let d = row.lookup_datum(spec.id).expect("valid datum");
                    let d = d.unwrap_or(Datum::Null);
                    black_box(datum_to_slot(&d, spec, &mut slot).expect("fitting datum"));
                }
            }
        })
    });
    g.finish();
}

/// Rows (already in memory) to one batch of Arrow columns of the 12-column
/// table: parse, look up each column, build. The SST scan below adds keys,
/// write-CF records and RocksDB.
fn rows_to_arrow(c: &mut Criterion, rows: &[BenchRow]) {
    let v2: Vec<Vec<u8>> = rows.iter().map(|r| r.encode_v2(0)).collect();
    let v1: Vec<Vec<u8>> = rows.iter().map(BenchRow::encode_v1).collect();
    let table = inputs::bench_table_json();
    let mut g = slow_group(c, "rows_to_arrow", N);
    for (mapping, m) in MAPPINGS {
        let s = schema(&table, m);
        let specs: Vec<Arc<ColumnSpec>> = s
            .columns
            .iter()
            .filter(|c| c.id >= 2)
            .map(|c| Arc::new(c.clone()))
            .collect();
        let builders = || -> Vec<ColumnBuilder> {
            specs
                .iter()
                .map(|s| ColumnBuilder::new(Arc::clone(s), N))
                .collect()
        };
        g.bench_function(format!("v2/{mapping}"), |b| {
            let mut stats = ValueStats::default();
            b.iter(|| {
                let mut cols = builders();
                for row in &v2 {
                    let row = RowV2::parse(row).expect("valid row");
                    for col in &mut cols {
                        match row.lookup(col.spec().id) {
                            Lookup::Value(slot) => {
                                col.append_slot(slot, &mut stats).expect("valid slot")
                            }
                            _ => col.append_null(),
                        }
                    }
                }
                cols.iter_mut()
                    .map(ColumnBuilder::finish)
                    .collect::<Vec<_>>()
            })
        });
        g.bench_function(format!("v1/{mapping}"), |b| {
            let mut stats = ValueStats::default();
            let mut slot = Vec::with_capacity(64);
            b.iter(|| {
                let mut cols = builders();
                for row in &v1 {
                    let row = RowV1::parse(row).expect("valid row");
                    for col in &mut cols {
                        let d = row.lookup_datum(col.spec().id).expect("valid datum");
                        let d = d.unwrap_or(Datum::Null);
                        if datum_to_slot(&d, col.spec(), &mut slot).expect("fitting datum") {
                            col.append_slot(&slot, &mut stats).expect("valid slot");
                        } else {
                            col.append_null();
                        }
                    }
                }
                cols.iter_mut()
                    .map(ColumnBuilder::finish)
                    .collect::<Vec<_>>()
            })
        });
    }
    g.finish();
}

#[cfg(feature = "sst")]
mod sst {
    //! One backup SST pair (write CF + default CF, zstd, as BR writes them)
    //! of the 12-column table: RocksDB's iteration alone, then `SstScan`.
    use std::path::PathBuf;

    use br_parquet_core::scan::{ScanOptions, SstScan};
    use br_parquet_core::sst::{write_sst, SstReader, SstWriteOptions};

    use super::*;
    use crate::inputs::{put_record, record_key, START_TS};

    /// Rows in the SST: four batches, a fraction of a real region.
    const ROWS: usize = 32_768;

    /// A directory removed on drop.
    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    struct Files {
        _dir: TempDir,
        write: SstReader,
        default: SstReader,
    }

    fn files() -> Files {
        let dir = std::env::temp_dir().join(format!("brpq-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let dir = TempDir(dir);
        let (mut write, mut default) = (Vec::with_capacity(ROWS), Vec::new());
        for (i, row) in inputs::bench_rows(ROWS).iter().enumerate() {
            let value = row.encode_v2(0);
            write.push((
                record_key(TABLE_ID, row.handle, COMMIT_TS),
                put_record(&value, i),
            ));
            if value.len() > 255 {
                default.push((record_key(TABLE_ID, row.handle, START_TS), value));
            }
        }
        let path = |name: &str| dir.0.join(name);
        fn as_slices(v: &[(Vec<u8>, Vec<u8>)]) -> impl Iterator<Item = (&[u8], &[u8])> {
            v.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
        }
        let write_opts = SstWriteOptions {
            whole_key_filtering: false,
            ..SstWriteOptions::default()
        };
        write_sst(&path("write.sst"), as_slices(&write), &write_opts).expect("write SST");
        write_sst(
            &path("default.sst"),
            as_slices(&default),
            &SstWriteOptions::default(),
        )
        .expect("default SST");
        Files {
            write: SstReader::open(path("write.sst")).expect("open"),
            default: SstReader::open(path("default.sst")).expect("open"),
            _dir: dir,
        }
    }

    fn scan(f: &Files, schema: &Arc<TableSchema>, checksums: bool) -> u64 {
        let mut scan = SstScan::open(
            "write.sst",
            &f.write,
            Some(&f.default),
            vec![Arc::clone(schema)],
            ScanOptions::default(),
        )
        .expect("scan opens")
        .with_checksums(checksums);
        while let Some((_, batch)) = scan.next_batch().expect("valid SST") {
            black_box(batch);
        }
        scan.stats().rows
    }

    pub fn sst(c: &mut Criterion) {
        let f = files();
        let table = inputs::bench_table_json();
        // Throughput in rows for every line, so times compare directly.
        let mut g = slow_group(c, "sst", ROWS);
        g.measurement_time(Duration::from_secs(3));
        g.bench_function("raw_kvs", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for r in [&f.write, &f.default] {
                    let mut entries = r.entries().expect("iterator");
                    while let Some((k, v)) = entries.next_entry().expect("valid SST") {
                        n += k.len() + v.len();
                    }
                }
                n
            })
        });
        for (mapping, m) in MAPPINGS {
            let s = Arc::new(schema(&table, m));
            assert_eq!(scan(&f, &s, false), ROWS as u64);
            g.bench_function(format!("scan/{mapping}"), |b| {
                b.iter(|| scan(&f, &s, false))
            });
            g.bench_function(format!("scan_checksums/{mapping}"), |b| {
                b.iter(|| scan(&f, &s, true))
            });
        }
        g.finish();
    }
}

fn sst(c: &mut Criterion) {
    #[cfg(feature = "sst")]
    sst::sst(c);
    #[cfg(not(feature = "sst"))]
    let _ = c;
}

fn decoders(c: &mut Criterion) {
    let rows = inputs::bench_rows(N);
    let v2: Vec<Vec<u8>> = rows.iter().map(|r| r.encode_v2(0)).collect();
    let (types_table, columns) = inputs::slot_columns(N);
    let mean = |lens: &mut dyn Iterator<Item = usize>| {
        let (n, sum) = lens.fold((0, 0), |(n, s), l| (n + 1, s + l));
        sum / n.max(1)
    };
    let text_len = |name| {
        mean(&mut slots_of(&columns, name).iter().map(|s| {
            let j = JsonRef::from_slot(s).expect("valid JSON");
            j.to_text().expect("renderable JSON").len()
        }))
    };
    println!(
        "inputs: {N} values per iteration; bench-table rows of {} bytes on average, {} of {N} \
         over 255 bytes (default CF); JSON texts of {} and {} bytes on average",
        mean(&mut v2.iter().map(Vec::len)),
        v2.iter().filter(|r| r.len() > 255).count(),
        text_len("json_100b"),
        text_len("json_1k"),
    );
    keys(c);
    write_cf(c, &v2);
    row_v2_rows(c, &rows);
    slots(c, &types_table, &columns);
    decimal(c, &columns);
    time(c, &columns);
    json(c, &columns);
    row_v1(c, &rows);
    rows_to_arrow(c, &rows);
    sst(c);
}

criterion_group! {
    name = benches;
    // Short runs: the whole suite takes about two minutes on two cores; pass
    // `--measurement-time 5 --sample-size 30` for steadier figures.
    config = Criterion::default()
        .sample_size(10)
        .nresamples(10_000)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = decoders
}
criterion_main!(benches);

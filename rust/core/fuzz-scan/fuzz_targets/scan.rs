//! The whole decode path: bytes → a table schema and a list of write-CF and
//! default-CF entries → SST files written with the project's SST writer →
//! record batches from `SstScan`, checksums on. Errors are fine; panics,
//! aborts, sanitizer reports and broken invariants are not.
//!
//! Input (see `seeds.py`, which writes it from real fixtures):
//!
//! ```text
//! flags u8     bit0 typed mapping, bit1 key range, bit2 handle range,
//!              bit3 no default-CF file, bits4-5 compression, bits6-7 builtin table
//! batch u8     rows per batch (0: 8192)
//! more u8      bit0 builtin table as a second table, bits1-2 format_version 2..=5,
//!              bit3 256-byte blocks, bit4 checksums off, bit5 project columns,
//!              bit6 change columns (`_tidb_op`, `_tidb_commit_ts`), bit7 clip range
//! [lo i8 hi i8]            only with the handle range
//! [lo i8 hi i8]            only with the clip range: first table's handles, hi -128 unbounded
//! json blob    TableInfo JSON; a builtin table when empty or invalid
//! entries      op u8 + fields, until the input ends (at most MAX_ENTRIES)
//! ```
//!
//! A blob is a u16 LE length and that many bytes (fewer at the end of input).
//! With `BR_PARQUET_FUZZ_TRACE` set, each input prints its rows, stats and error.
#![no_main]
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;
use br_parquet_core::keys::{encode_key, encode_record_key_int, DataPrefix};
use br_parquet_core::number::i64_to_cmp;
use br_parquet_core::scan::{HandleRange, KeyRange, ScanOptions, SstScan};
use br_parquet_core::schema::{ChangeColumns, TableSchema, TypeMapping};
use br_parquet_core::sst::{write_sst, SstCompression, SstReader, SstWriteOptions};
use br_parquet_core::write_cf::{WriteRecord, WriteType};
use libfuzzer_sys::fuzz_target;

const COMMIT_TS: u64 = 445_063_339_262_394_369;
const MAX_ENTRIES: usize = 512;

/// Entry kinds (low 3 bits of the op byte; the high bits are variants).
mod op {
    /// table, handle i64, row blob: a row Put (short value or default CF).
    pub const PUT: u8 = 0;
    /// raw-key blob, row blob: a Put under any raw key.
    pub const PUT_RAW: u8 = 1;
    /// table, handle i64, type u8: Delete, Lock, Rollback or a bad type.
    pub const NON_PUT: u8 = 2;
    /// table, index id u8, values blob: an index entry.
    pub const INDEX: u8 = 3;
    /// raw-key blob, value blob: any write-CF value under a raw key.
    pub const WRITE_VALUE: u8 = 4;
    /// key blob, value blob: a write-CF entry as given.
    pub const RAW_WRITE: u8 = 5;
    /// key blob, value blob: a default-CF entry as given.
    pub const RAW_DEFAULT: u8 = 6;
    /// table, handle blob, row blob: a Put with a common (clustered) handle.
    pub const PUT_COMMON: u8 = 7;
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn blob(&mut self) -> &'a [u8] {
        let lo = self.u8().unwrap_or(0);
        let hi = self.u8().unwrap_or(0);
        self.bytes(usize::from(u16::from_le_bytes([lo, hi])))
    }

    fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        let got = self.bytes(8);
        b[..got.len()].copy_from_slice(got);
        i64::from_le_bytes(b)
    }

    /// A physical table id: mostly the schema's, sometimes a neighbour
    /// (usually not selected) or any id.
    fn table(&mut self, ids: &[i64]) -> i64 {
        match self.u8().unwrap_or(0) {
            b @ 0..=0x7f => ids[usize::from(b) % ids.len()],
            b @ 0x80..=0xef => ids[0].wrapping_add(i64::from(b & 0x0f) - 8),
            _ => self.i64(),
        }
    }
}

fn col(id: i64, name: &str, tp: u8, flag: u32, flen: i64, dec: i64, rest: &str) -> String {
    let charset = match tp {
        15 | 245 | 247 | 248 => r#""Charset":"utf8mb4","Collate":"utf8mb4_bin""#,
        _ => r#""Charset":"binary","Collate":"binary""#,
    };
    format!(
        r#"{{"id":{id},"name":{{"O":"{name}","L":"{name}"}},"offset":{off},"state":5,"type":{{"Tp":{tp},"Flag":{flag},"Flen":{flen},"Decimal":{dec},{charset},"Elems":{elems}}}{rest}}}"#,
        off = id - 1,
        elems = match tp {
            247 => r#"["a","b"]"#,
            248 => r#"["x","y"]"#,
            _ => "null",
        },
    )
}

/// Tables for inputs without a usable TableInfo: an integer-PK table of
/// every type family (some with origin defaults), a clustered table, a
/// partitioned `_tidb_rowid` table, and a table of one NOT NULL column.
fn builtin_json(i: u8) -> String {
    let table = |id: i64, name: &str, cols: &[String], extra: &str| {
        format!(
            r#"{{"id":{id},"name":{{"O":"{name}","L":"{name}"}},"cols":[{}]{extra}}}"#,
            cols.join(",")
        )
    };
    match i % 4 {
        0 => table(
            100,
            "wide",
            &[
                col(1, "id", 8, 3, 20, 0, ""),
                col(2, "i1", 1, 0, 4, 0, ""),
                col(3, "u2", 2, 32, 6, 0, ""),
                col(4, "i3", 9, 0, 9, 0, ""),
                col(5, "i4", 3, 1, 11, 0, r#","origin_default":"7""#),
                col(6, "f4", 4, 0, 12, -1, ""),
                col(7, "f8", 5, 0, 22, -1, ""),
                col(8, "dec", 246, 0, 10, 2, r#","origin_default":"12.50""#),
                col(9, "vc", 15, 0, 20, 0, r#","origin_default":"hi""#),
                col(10, "ch", 254, 0, 4, 0, ""),
                col(11, "bl", 252, 0, 65535, 0, ""),
                col(12, "d", 10, 0, 10, 0, ""),
                col(13, "dt", 12, 0, 23, 3, ""),
                col(
                    14,
                    "ts",
                    7,
                    0,
                    19,
                    0,
                    r#","origin_default":"2024-01-02 03:04:05","version":1"#,
                ),
                col(15, "tm", 11, 0, 13, 2, ""),
                col(16, "y", 13, 32, 4, 0, ""),
                col(17, "j", 245, 0, -1, 0, ""),
                col(18, "e", 247, 0, 1, 0, r#","origin_default":"b""#),
                col(19, "s", 248, 0, 3, 0, ""),
                col(20, "bit", 16, 32, 4, 0, r#","origin_default_bit":"BQ==""#),
                col(21, "u8", 8, 32, 20, 0, ""),
                col(22, "vec", 225, 0, 3, 0, ""),
            ],
            r#","pk_is_handle":true,"index_info":[]"#,
        ),
        1 => table(
            200,
            "clustered",
            &[
                col(1, "a", 15, 3, 20, 0, ""),
                col(2, "b", 3, 3, 11, 0, ""),
                col(3, "c", 246, 0, 30, 5, ""),
                col(4, "d", 245, 0, -1, 0, ""),
            ],
            r#","is_common_handle":true,"common_handle_version":1,"index_info":[{"id":1,"idx_name":{"O":"PRIMARY","L":"primary"},"idx_cols":[{"name":{"O":"a","L":"a"},"offset":0,"length":-1},{"name":{"O":"b","L":"b"},"offset":1,"length":-1}],"state":5,"is_primary":true,"is_unique":true}]"#,
        ),
        2 => table(
            300,
            "parted",
            &[
                col(1, "x", 3, 0, 11, 0, ""),
                col(2, "y", 15, 0, 10, 0, ""),
                col(3, "z", 12, 1, 19, 0, ""),
                col(4, "w", 247, 1, 1, 0, r#","origin_default":"a""#),
            ],
            r#","partition":{"enable":true,"definitions":[{"id":301,"name":{"O":"p0","L":"p0"}},{"id":302,"name":{"O":"p1","L":"p1"}}]}"#,
        ),
        _ => table(400, "one", &[col(1, "v", 8, 1, 20, 0, "")], ""),
    }
}

/// One directory per process, in memory where possible: the SST writer
/// syncs every file it finishes.
fn work_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("br-parquet-fuzz-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz work dir");
        dir
    })
}

fn data_key(raw: &[u8], ts: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(raw.len() + 20);
    encode_key(raw, ts, DataPrefix::Z, &mut k);
    k
}

fn record(write_type: WriteType, start_ts: u64, short: Option<&[u8]>, op: u8) -> Option<Vec<u8>> {
    let mut rec = WriteRecord::new(write_type, start_ts);
    rec.short_value = short;
    rec.has_overlapped_rollback = op & 0x20 != 0;
    rec.txn_source = (op & 0x40 != 0).then_some(1);
    let mut out = Vec::new();
    rec.encode(&mut out).ok()?;
    Some(out)
}

#[derive(Default)]
struct Entries {
    write: Vec<(Vec<u8>, Vec<u8>)>,
    default: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Entries {
    /// A row Put: inline when it fits (and the op does not say otherwise),
    /// else in the default CF (which the op may leave out).
    fn put(&mut self, raw: &[u8], row: &[u8], op: u8) {
        let commit_ts = COMMIT_TS + u64::from(op >> 7);
        let start_ts = commit_ts - 7;
        let key = data_key(raw, commit_ts);
        if row.len() <= 255 && op & 0x08 == 0 {
            if let Some(v) = record(WriteType::Put, start_ts, Some(row), op) {
                self.write.push((key, v));
            }
            return;
        }
        if let Some(v) = record(WriteType::Put, start_ts, None, op) {
            self.write.push((key, v));
        }
        if op & 0x10 == 0 {
            self.default.push((data_key(raw, start_ts), row.to_vec()));
        }
    }
}

fn entries(input: &mut Input<'_>, ids: &[i64]) -> Entries {
    let mut out = Entries::default();
    let mut raw = Vec::with_capacity(64);
    while out.write.len() + out.default.len() < MAX_ENTRIES {
        let Some(op) = input.u8() else { break };
        raw.clear();
        match op & 7 {
            op::PUT => {
                encode_record_key_int(input.table(ids), input.i64(), &mut raw);
                out.put(&raw, input.blob(), op);
            }
            op::PUT_RAW => {
                let raw = input.blob();
                out.put(raw, input.blob(), op);
            }
            op::NON_PUT => {
                encode_record_key_int(input.table(ids), input.i64(), &mut raw);
                let value = match input.u8().unwrap_or(0) % 4 {
                    0 => record(WriteType::Delete, COMMIT_TS - 7, None, op),
                    1 => record(WriteType::Lock, COMMIT_TS - 7, None, op),
                    2 => record(WriteType::Rollback, COMMIT_TS - 7, None, op),
                    _ => Some(vec![input.u8().unwrap_or(0)]),
                };
                if let Some(v) = value {
                    out.write.push((data_key(&raw, COMMIT_TS), v));
                }
            }
            op::INDEX => {
                raw.push(b't');
                raw.extend_from_slice(&i64_to_cmp(input.table(ids)));
                raw.extend_from_slice(b"_i");
                raw.extend_from_slice(&i64_to_cmp(i64::from(input.u8().unwrap_or(1))));
                raw.extend_from_slice(input.blob());
                out.put(&raw, b"0", op & !0x08);
            }
            op::WRITE_VALUE => {
                let key = data_key(input.blob(), COMMIT_TS);
                out.write.push((key, input.blob().to_vec()));
            }
            op::RAW_WRITE => {
                let key = input.blob().to_vec();
                out.write.push((key, input.blob().to_vec()));
            }
            op::RAW_DEFAULT => {
                let key = input.blob().to_vec();
                out.default.push((key, input.blob().to_vec()));
            }
            op::PUT_COMMON => {
                raw.push(b't');
                raw.extend_from_slice(&i64_to_cmp(input.table(ids)));
                raw.extend_from_slice(b"_r");
                raw.extend_from_slice(input.blob());
                out.put(&raw, input.blob(), op);
            }
            _ => unreachable!("ops are 3 bits"),
        }
    }
    out
}

/// Sorts and drops repeated keys (the writer needs strictly ascending keys).
fn sorted(mut kvs: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Vec<u8>, Vec<u8>)> {
    kvs.sort_by(|a, b| a.0.cmp(&b.0));
    kvs.dedup_by(|a, b| a.0 == b.0);
    kvs
}

fn write_file(name: &str, kvs: &[(Vec<u8>, Vec<u8>)], opts: &SstWriteOptions) -> Option<SstReader> {
    let path = work_dir().join(name);
    let iter = kvs.iter().map(|(k, v)| (k.as_slice(), v.as_slice()));
    // RocksDB refuses empty files; an error here is not the scan's.
    write_sst(&path, iter, opts).ok()?;
    Some(SstReader::open(&path).expect("an SST just written opens"))
}

fn prefix_key(table_id: i64) -> Vec<u8> {
    let mut k = vec![b't'];
    k.extend_from_slice(&i64_to_cmp(table_id));
    k
}

fn run(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.u8().unwrap_or(0);
    let batch_rows = match input.u8().unwrap_or(0) {
        0 => 8192,
        n => usize::from(n),
    };
    let more = input.u8().unwrap_or(0);
    let handle_range = (flags & 0x04 != 0).then(|| HandleRange {
        lo: Some(i64::from(input.u8().unwrap_or(0) as i8)),
        hi: Some(i64::from(input.u8().unwrap_or(0) as i8)),
    });
    let clip = (more & 0x80 != 0).then(|| {
        let lo = input.u8().unwrap_or(0) as i8;
        let hi = input.u8().unwrap_or(0) as i8;
        (i64::from(lo), (hi != i8::MIN).then_some(i64::from(hi)))
    });
    let change = ChangeColumns {
        op: more & 0x40 != 0,
        commit_ts: more & 0x40 != 0,
    };
    let mapping = if flags & 1 == 0 {
        TypeMapping::Compat
    } else {
        TypeMapping::Typed
    };
    let json = input.blob();
    let schema = match TableSchema::from_json(json, mapping) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            TableSchema::from_json(builtin_json(flags >> 6).as_bytes(), mapping)
                .expect("builtin tables are valid")
        }
    };
    let schema = match schema.clone().with_change_columns(change) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            schema
        }
    };
    let schema = if more & 0x20 != 0 {
        // Every other column, backwards, with the pseudo columns.
        let mut names: Vec<&str> = schema
            .columns
            .iter()
            .rev()
            .step_by(2)
            .map(|c| c.name.as_str())
            .collect();
        names.push("_tidb_handle");
        if change.op {
            names.push("_tidb_op");
        }
        match schema.project(&names) {
            Ok(p) => p,
            Err(_) => schema,
        }
    } else {
        schema
    };
    let mut tables = vec![Arc::new(schema)];
    if more & 1 != 0 {
        let second = TableSchema::from_json(builtin_json((flags >> 6) + 1).as_bytes(), mapping)
            .and_then(|s| s.with_change_columns(change))
            .expect("builtin tables are valid");
        tables.push(Arc::new(second));
    }
    let ids: Vec<i64> = tables.iter().flat_map(|t| t.physical_ids.clone()).collect();
    let Entries { write, default } = entries(&mut input, &ids);
    let (write, default) = (sorted(write), sorted(default));

    let opts = SstWriteOptions {
        compression: [
            SstCompression::Zstd,
            SstCompression::None,
            SstCompression::Lz4,
            SstCompression::Snappy,
        ][usize::from(flags >> 4) & 3],
        format_version: 2 + i32::from((more >> 1) & 3),
        block_size: if more & 0x08 != 0 { 256 } else { 32 << 10 },
        whole_key_filtering: false,
    };
    let Some(write_reader) = write_file("w.sst", &write, &opts) else {
        return;
    };
    let default_reader = if flags & 0x08 == 0 {
        write_file(
            "d.sst",
            &default,
            &SstWriteOptions {
                whole_key_filtering: true,
                ..opts.clone()
            },
        )
    } else {
        None
    };

    let options = ScanOptions {
        batch_rows,
        handle_range,
    };
    let mut scan = match SstScan::open(
        "w.sst",
        &write_reader,
        default_reader.as_ref(),
        tables.clone(),
        options,
    ) {
        Ok(s) => s,
        Err(e) => {
            let _ = (e.to_string(), e.key_hex());
            return;
        }
    };
    let checksums = more & 0x10 == 0;
    scan = scan.with_checksums(checksums).with_default_name("d.sst");
    if flags & 0x02 != 0 {
        let first = tables[0].physical_ids[0];
        scan = scan.with_key_range(KeyRange {
            start: prefix_key(first),
            end: prefix_key(first.saturating_add(1)),
        });
    }

    if let Some((lo, hi)) = clip {
        let first = tables[0].physical_ids[0];
        let mut start = Vec::new();
        encode_record_key_int(first, lo, &mut start);
        let mut end = Vec::new();
        if let Some(hi) = hi {
            encode_record_key_int(first, hi, &mut end);
        }
        scan = scan.with_clip_range(KeyRange { start, end });
    }

    let mut rows = 0u64;
    let mut rows_per_table = vec![0u64; tables.len()];
    let result = loop {
        match scan.next_batch() {
            Ok(Some((idx, batch))) => {
                check_batch(&batch, &tables[idx], batch_rows);
                rows += batch.num_rows() as u64;
                rows_per_table[idx] += batch.num_rows() as u64;
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let stats = scan.stats();
    if std::env::var_os("BR_PARQUET_FUZZ_TRACE").is_some() {
        // Replaying inputs: what each one did.
        eprintln!("{rows} rows, {stats:?}, {result:?}");
    }
    let written = write.len() as u64;
    assert!(stats.write_kvs <= written, "{stats:?} > {written} entries");
    assert!(stats.delete_rows <= stats.deletes, "{stats:?}");
    assert!(stats.delete_rows <= stats.rows, "{stats:?}");
    if !tables.iter().any(|t| t.change.op) {
        assert_eq!(stats.delete_rows, 0, "{stats:?}");
    }
    if clip.is_none() {
        assert_eq!(stats.clipped, 0, "{stats:?}");
    }
    // Tombstones are in `rows` and in `deletes`.
    let skipped = stats.index_kvs
        + stats.unselected_kvs
        + (stats.deletes - stats.delete_rows)
        + stats.locks_and_rollbacks
        + stats.out_of_range
        + stats.clipped;
    assert!(
        stats.rows + skipped <= stats.write_kvs,
        "more outcomes than entries: {stats:?}"
    );
    match result {
        Err(e) => {
            let _ = (e.to_string(), e.reason(), e.key_hex());
            assert!(rows <= stats.rows, "batches hold {rows} rows: {stats:?}");
        }
        Ok(()) => {
            assert_eq!(rows, stats.rows, "{stats:?}");
            assert_eq!(scan.table_rows(), rows_per_table.as_slice());
            assert_eq!(stats.write_kvs, written, "the scan stopped early");
            let sums = scan.checksums();
            assert_eq!(sums.is_some(), checksums);
            if let Some(sums) = sums {
                // Each write-CF entry counts once, in the file with its value.
                let default_kvs = sums.default.map_or(0, |d| d.total_kvs);
                assert_eq!(sums.write.total_kvs + default_kvs, written, "{sums:?}");
                assert!(default_kvs <= default.len() as u64, "{sums:?}");
                assert!(stats.default_cf_values <= default_kvs, "{stats:?}");
            }
        }
    }
}

fn check_batch(batch: &RecordBatch, schema: &TableSchema, batch_rows: usize) {
    assert!(batch.num_rows() > 0 && batch.num_rows() <= batch_rows);
    assert_eq!(batch.schema(), schema.arrow_schema());
    for column in batch.columns() {
        column
            .to_data()
            .validate_full()
            .expect("the scan builds valid Arrow arrays");
    }
    if let Some(ops) = batch.column_by_name("_tidb_op") {
        let ops = ops.as_string::<i32>();
        assert!(ops.iter().all(|o| matches!(o, Some("put" | "delete"))));
    }
}

fuzz_target!(|data: &[u8]| run(data));

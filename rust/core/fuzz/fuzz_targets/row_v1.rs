//! Row format v1: parse, look up and decode every column.
#![no_main]
use br_parquet_core::row_v1::RowV1;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(row) = RowV1::parse(data) {
        let ids: Vec<i64> = row.columns().iter().map(|(id, _)| *id).collect();
        for id in ids {
            let _ = row.lookup_datum(id);
        }
    }
});

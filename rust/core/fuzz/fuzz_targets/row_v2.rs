//! Row format v2: parse, look up every id, run every slot decoder on every value.
#![no_main]
use br_parquet_core::row_v2::{self, Lookup, RowV2};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(row) = RowV2::parse(data) else { return };
    let ids: Vec<u32> = row
        .values()
        .map(|(id, _)| id)
        .chain(row.null_ids())
        .collect();
    for id in ids {
        if let Lookup::Value(slot) = row.lookup(i64::from(id)) {
            let _ = row_v2::decode_int(slot);
            let _ = row_v2::decode_uint(slot);
            let _ = row_v2::decode_f64(slot);
            let _ = row_v2::decode_decimal(slot).map(|d| d.to_text());
            let _ = row_v2::decode_datetime(slot);
            let _ = row_v2::decode_duration(slot);
            let _ = row_v2::decode_json(slot).map(|j| j.to_text());
            let _ = row_v2::decode_vector_f32(slot).map(|v| v.iter().count());
        }
    }
    let _ = row.lookup(-1);
    let _ = row.lookup(i64::MAX);
});

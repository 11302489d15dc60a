//! TiDB binary JSON: parse a slot (type byte + body) and render its text.
#![no_main]
use br_parquet_core::json::JsonRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(j) = JsonRef::from_slot(data) {
        let _ = j.to_text();
    }
});

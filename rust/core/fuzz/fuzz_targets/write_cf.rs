//! Write-CF records: parse, and re-encode what parsed.
#![no_main]
use br_parquet_core::write_cf::WriteRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = WriteRecord::parse(data) {
        let mut out = Vec::new();
        if rec.encode(&mut out).is_ok() {
            let again = WriteRecord::parse(&out).expect("re-encoded record parses");
            assert_eq!(again, rec);
        }
    }
});

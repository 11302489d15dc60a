//! SST user keys: split, memcomparable-decode, classify. Re-encoding a decoded
//! key gives the input back.
#![no_main]
use br_parquet_core::keys::{decode_key, encode_key, parse_raw_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = Vec::new();
    if let Ok(k) = decode_key(data, &mut buf) {
        let (prefix, ts) = (k.prefix, k.ts);
        let _ = parse_raw_key(k.raw);
        let mut again = Vec::new();
        encode_key(&buf, ts, prefix, &mut again);
        assert_eq!(again, data);
    }
    let _ = parse_raw_key(data);
});

//! Datums: decode one, iterate all, skip; re-encode decoded datums.
#![no_main]
use br_parquet_core::datum;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut cur = data;
    if let Ok(d) = datum::decode_one(&mut cur) {
        let mut out = Vec::new();
        d.encode(&mut out);
        let mut again = out.as_slice();
        let d2 = datum::decode_one(&mut again).expect("re-encoded datum decodes");
        assert_eq!(d2.flag(), d.flag());
    }
    for d in datum::iter(data) {
        if d.is_err() {
            break;
        }
    }
    let mut cur = data;
    let _ = datum::skip_one(&mut cur);
});

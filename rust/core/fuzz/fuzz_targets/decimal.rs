//! MyDecimal binary: the first two bytes choose precision and frac; decode,
//! render, convert, and re-encode what decoded.
#![no_main]
use br_parquet_core::decimal::Decimal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut cur = data;
    if let Ok(d) = Decimal::read_with_header(&mut cur) {
        let text = d.to_text();
        let _ = d.to_i128_unscaled();
        let mut out = Vec::new();
        d.encode_with_header(&mut out);
        let mut again = out.as_slice();
        let d2 = Decimal::read_with_header(&mut again).expect("re-encoded decimal decodes");
        assert_eq!(d2.to_text(), text);
    }
    if let [p, f, bin @ ..] = data {
        let _ = Decimal::decode_bin(bin, *p, *f);
    }
});

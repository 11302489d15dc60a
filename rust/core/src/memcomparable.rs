//! TiKV/TiDB memcomparable bytes: the raw bytes cut into groups of 8, each
//! followed by a marker byte (`0xFF` for a full group that is not the last,
//! `0xFF - pad` for the final group right-padded with `pad` zero bytes).
//! The descending form inverts every byte. Used for the key part of TiKV data
//! keys and for datum flag 1 (comparable strings).

use crate::error::{CodecError, Result};

const GROUP: usize = 8;
const CHUNK: usize = GROUP + 1;

/// Encoded length of `raw_len` raw bytes: there is always a final group.
#[inline]
pub fn encoded_len(raw_len: usize) -> usize {
    (raw_len / GROUP + 1) * CHUNK
}

fn encode_impl<const DESC: bool>(raw: &[u8], out: &mut Vec<u8>) {
    let flip = if DESC { 0xFF } else { 0 };
    out.reserve(encoded_len(raw.len()));
    let mut groups = raw.chunks_exact(GROUP);
    for g in groups.by_ref() {
        out.extend(g.iter().map(|b| b ^ flip));
        out.push(0xFF ^ flip);
    }
    let rest = groups.remainder();
    let pad = GROUP - rest.len();
    out.extend(rest.iter().map(|b| b ^ flip));
    out.resize(out.len() + pad, flip);
    out.push((0xFF - pad as u8) ^ flip);
}

/// Appends the ascending memcomparable encoding of `raw`.
pub fn encode_bytes(raw: &[u8], out: &mut Vec<u8>) {
    encode_impl::<false>(raw, out);
}

/// Appends the descending memcomparable encoding of `raw`.
pub fn encode_bytes_desc(raw: &[u8], out: &mut Vec<u8>) {
    encode_impl::<true>(raw, out);
}

/// Walks the groups of one encoded value, appending the raw bytes to `out`
/// when given; returns the number of encoded bytes consumed.
#[inline]
fn decode_impl<const DESC: bool>(input: &[u8], mut out: Option<&mut Vec<u8>>) -> Result<usize> {
    let flip: u8 = if DESC { 0xFF } else { 0 };
    let mut offset = 0usize;
    loop {
        let Some((chunk, _)) = input
            .get(offset..)
            .and_then(|rest| rest.split_first_chunk::<CHUNK>())
        else {
            return Err(CodecError::truncated(
                "memcomparable bytes",
                offset + CHUNK,
                input.len(),
            ));
        };
        // A 9-byte array: both indexes are in bounds by construction.
        let (group, marker) = (&chunk[..GROUP], chunk[GROUP] ^ flip);
        let pad = usize::from(0xFF - marker);
        if pad > GROUP {
            return Err(CodecError::BadMemcomparableMarker {
                offset,
                marker: marker ^ flip,
            });
        }
        let (real, padding) = group.split_at(GROUP - pad);
        if padding.iter().any(|&b| b != flip) {
            return Err(CodecError::BadMemcomparablePadding { offset });
        }
        if let Some(out) = out.as_deref_mut() {
            if DESC {
                out.extend(real.iter().map(|b| !b));
            } else {
                out.extend_from_slice(real);
            }
        }
        offset += CHUNK;
        if pad != 0 {
            return Ok(offset);
        }
    }
}

fn decode_into_checked<const DESC: bool>(input: &[u8], out: &mut Vec<u8>) -> Result<usize> {
    let start = out.len();
    out.reserve(input.len() / CHUNK * GROUP);
    decode_impl::<DESC>(input, Some(out)).inspect_err(|_| out.truncate(start))
}

/// Decodes one ascending value from the front of `input`, appending the raw
/// bytes to `out`. Returns the encoded bytes consumed; on error `out` is
/// left as it was.
#[inline]
pub fn decode_bytes_into(input: &[u8], out: &mut Vec<u8>) -> Result<usize> {
    decode_into_checked::<false>(input, out)
}

/// Like [`decode_bytes_into`] for the descending form.
pub fn decode_bytes_desc_into(input: &[u8], out: &mut Vec<u8>) -> Result<usize> {
    decode_into_checked::<true>(input, out)
}

/// Validates one ascending value at the front of `input` without decoding it;
/// returns its encoded length.
#[inline]
pub fn encoded_value_len(input: &[u8]) -> Result<usize> {
    decode_impl::<false>(input, None)
}

/// Decodes one ascending value into a new vector; returns it with the
/// encoded bytes consumed.
pub fn decode_bytes(input: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let n = decode_bytes_into(input, &mut out)?;
    Ok((out, n))
}

/// Decodes one descending value into a new vector.
pub fn decode_bytes_desc(input: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let n = decode_bytes_desc_into(input, &mut out)?;
    Ok((out, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(raw: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_bytes(raw, &mut v);
        v
    }

    #[test]
    fn known_encodings() {
        assert_eq!(enc(b""), [0, 0, 0, 0, 0, 0, 0, 0, 0xf7]);
        assert_eq!(enc(&[1, 2, 3]), [1, 2, 3, 0, 0, 0, 0, 0, 0xfa]);
        assert_eq!(
            enc(&[1, 2, 3, 4, 5, 6, 7, 8]),
            [1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0xf7]
        );
        let mut d = Vec::new();
        encode_bytes_desc(&[1, 2, 3], &mut d);
        assert_eq!(d, [0xfe, 0xfd, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05]);
    }

    #[test]
    fn decode_stops_at_final_group() {
        let mut input = enc(b"hello world");
        input.extend_from_slice(&[0xde, 0xad]);
        let mut out = b"x".to_vec();
        let n = decode_bytes_into(&input, &mut out).unwrap();
        assert_eq!(n, input.len() - 2);
        assert_eq!(out, b"xhello world");
        assert_eq!(encoded_value_len(&input).unwrap(), n);
    }

    #[test]
    fn decode_errors_leave_output_unchanged() {
        let mut out = b"keep".to_vec();
        // Full first group, then truncated.
        let bad = [1, 2, 3, 4, 5, 6, 7, 8, 0xff, 1];
        assert_eq!(
            decode_bytes_into(&bad, &mut out),
            Err(CodecError::truncated("memcomparable bytes", 18, 10))
        );
        assert_eq!(out, b"keep");
        assert_eq!(
            decode_bytes_into(&[0, 0, 0, 0, 0, 0, 0, 0, 0xf6], &mut out),
            Err(CodecError::BadMemcomparableMarker {
                offset: 0,
                marker: 0xf6
            })
        );
        assert_eq!(
            decode_bytes_into(&[1, 2, 3, 0, 0, 0, 0, 1, 0xfa], &mut out),
            Err(CodecError::BadMemcomparablePadding { offset: 0 })
        );
        assert_eq!(out, b"keep");
    }

    #[test]
    fn descending_round_trip() {
        for raw in [&b""[..], b"a", b"abcdefgh", b"abcdefghi"] {
            let mut e = Vec::new();
            encode_bytes_desc(raw, &mut e);
            let (d, n) = decode_bytes_desc(&e).unwrap();
            assert_eq!(d, raw);
            assert_eq!(n, e.len());
        }
    }

    #[test]
    fn order_is_preserved() {
        let keys: [&[u8]; 6] = [b"", b"\0", b"a", b"a\0", b"abcdefgh", b"abcdefgh\0"];
        for w in keys.windows(2) {
            assert!(enc(w[0]) < enc(w[1]));
        }
    }
}

//! MyDecimal's binary form (TiDB/MySQL `decimal2bin`): base-10⁹ groups of
//! 9 digits in 4 big-endian bytes, partial groups in `DIG2BYTES[n]` bytes,
//! integer part right-aligned and fraction left-aligned. Negative values have
//! every byte inverted; all values have the first byte's top bit flipped.

use crate::error::{CodecError, Result};
use crate::number::{read_bytes, read_u8};

/// Largest precision TiDB accepts (`mysql.MaxDecimalWidth`).
pub const MAX_PRECISION: u8 = 65;
/// Largest scale TiDB accepts (`mysql.MaxDecimalScale`).
pub const MAX_FRAC: u8 = 30;

const DIGITS_PER_WORD: usize = 9;
const WORD_SIZE: usize = 4;
const WORD_MAX: u32 = 999_999_999;
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
const POW10: [u32; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];
/// Upper bound on groups for precision ≤ 65 (the worst case is 9).
const MAX_GROUPS: usize = 10;
/// Upper bound on the bin size for precision ≤ 65 (the worst case is 30).
const MAX_BIN_SIZE: usize = 32;

/// Reads successive big-endian groups of a sign-decoded bin.
struct GroupReader<'a> {
    bin: &'a [u8],
    pos: usize,
    idx: usize,
}

impl GroupReader<'_> {
    #[inline]
    fn read(&mut self, nbytes: usize, max: u32, groups: &mut [u32; MAX_GROUPS]) -> Result<()> {
        let end = self.pos + nbytes;
        let bytes = self.bin.get(self.pos..end).unwrap_or_default();
        let v = match *bytes {
            [a, b, c, d] => u32::from_be_bytes([a, b, c, d]),
            _ => bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)),
        };
        if v > max {
            return Err(group_too_large(self.idx, v, max));
        }
        if let Some(slot) = groups.get_mut(self.idx) {
            *slot = v;
        }
        self.pos = end;
        self.idx += 1;
        Ok(())
    }
}

#[cold]
fn group_too_large(idx: usize, v: u32, max: u32) -> CodecError {
    CodecError::invalid("decimal", format!("group {idx} holds {v}, above {max}"))
}

/// How (precision, frac) splits into groups, in bin order.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// Digits of the leading partial integer group (0 when none).
    lead: usize,
    int_words: usize,
    frac_words: usize,
    /// Digits of the trailing partial fraction group (0 when none).
    trail: usize,
}

impl Layout {
    #[inline]
    fn new(precision: u8, frac: u8) -> Layout {
        let intg = usize::from(precision.saturating_sub(frac));
        let frac = usize::from(frac);
        Layout {
            lead: intg % DIGITS_PER_WORD,
            int_words: intg / DIGITS_PER_WORD,
            frac_words: frac / DIGITS_PER_WORD,
            trail: frac % DIGITS_PER_WORD,
        }
    }

    #[inline]
    fn int_groups(&self) -> usize {
        usize::from(self.lead > 0) + self.int_words
    }

    #[inline]
    fn groups(&self) -> usize {
        self.int_groups() + self.frac_words + usize::from(self.trail > 0)
    }

    #[inline]
    fn bin_size(&self) -> usize {
        DIG2BYTES[self.lead]
            + self.int_words * WORD_SIZE
            + self.frac_words * WORD_SIZE
            + DIG2BYTES[self.trail]
    }

    /// (digits, bytes) of group `i`.
    #[inline]
    fn group(&self, i: usize) -> (usize, usize) {
        let has_lead = usize::from(self.lead > 0);
        if has_lead == 1 && i == 0 {
            (self.lead, DIG2BYTES[self.lead])
        } else if i < self.int_groups() + self.frac_words {
            (DIGITS_PER_WORD, WORD_SIZE)
        } else {
            (self.trail, DIG2BYTES[self.trail])
        }
    }
}

/// Checks precision 1..=65, frac 0..=30 and frac ≤ precision.
#[inline]
pub fn check_precision(precision: u8, frac: u8) -> Result<()> {
    if precision == 0 || precision > MAX_PRECISION || frac > MAX_FRAC || frac > precision {
        return Err(bad_precision(precision, frac));
    }
    Ok(())
}

#[cold]
fn bad_precision(precision: u8, frac: u8) -> CodecError {
    CodecError::invalid(
        "decimal precision",
        format!("({precision}, {frac}) outside 1..=65 / 0..=30 / frac <= precision"),
    )
}

/// Bytes of the binary form for (precision, frac).
#[inline]
pub fn bin_size(precision: u8, frac: u8) -> Result<usize> {
    check_precision(precision, frac)?;
    Ok(Layout::new(precision, frac).bin_size())
}

/// A decoded decimal: sign, the stored precision/frac and its digit groups.
/// Zero is never negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    precision: u8,
    frac: u8,
    negative: bool,
    groups: [u32; MAX_GROUPS],
}

impl Decimal {
    /// The precision stored with the value.
    #[inline]
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// The number of fraction digits stored with the value.
    #[inline]
    pub fn frac(&self) -> u8 {
        self.frac
    }

    #[inline]
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    #[inline]
    pub fn is_zero(&self) -> bool {
        self.groups.iter().all(|&g| g == 0)
    }

    #[inline]
    fn layout(&self) -> Layout {
        Layout::new(self.precision, self.frac)
    }

    /// Decodes the binary form at the front of `bin`; returns the value and
    /// the bytes consumed (`bin_size(precision, frac)`).
    pub fn decode_bin(bin: &[u8], precision: u8, frac: u8) -> Result<(Decimal, usize)> {
        check_precision(precision, frac)?;
        let layout = Layout::new(precision, frac);
        let size = layout.bin_size();
        let Some(bin) = bin.get(..size) else {
            return Err(CodecError::truncated("decimal", size, bin.len()));
        };
        // Undo the sign encoding on a stack copy, then read plain BE groups.
        let mut buf = [0u8; MAX_BIN_SIZE];
        let Some(work) = buf.get_mut(..size) else {
            return Err(CodecError::invalid("decimal", format!("bin size {size}")));
        };
        work.copy_from_slice(bin);
        let negative = work.first().is_some_and(|b| b & 0x80 == 0);
        if let Some(b) = work.first_mut() {
            *b ^= 0x80;
        }
        if negative {
            work.iter_mut().for_each(|b| *b = !*b);
        }
        let mut groups = [0u32; MAX_GROUPS];
        let mut reader = GroupReader {
            bin: work,
            pos: 0,
            idx: 0,
        };
        if layout.lead > 0 {
            reader.read(DIG2BYTES[layout.lead], POW10[layout.lead] - 1, &mut groups)?;
        }
        for _ in 0..layout.int_words + layout.frac_words {
            reader.read(WORD_SIZE, WORD_MAX, &mut groups)?;
        }
        if layout.trail > 0 {
            reader.read(
                DIG2BYTES[layout.trail],
                POW10[layout.trail] - 1,
                &mut groups,
            )?;
        }
        let mut d = Decimal {
            precision,
            frac,
            negative,
            groups,
        };
        if d.is_zero() {
            d.negative = false;
        }
        Ok((d, size))
    }

    /// Reads `[precision][frac][bin]` (datum flag 6 payload, row v2 slot).
    pub fn read_with_header(input: &mut &[u8]) -> Result<Decimal> {
        let mut cur = *input;
        let precision = read_u8(&mut cur, "decimal precision")?;
        let frac = read_u8(&mut cur, "decimal frac")?;
        let (d, n) = Decimal::decode_bin(cur, precision, frac)?;
        read_bytes(&mut cur, n, "decimal")?;
        *input = cur;
        Ok(d)
    }

    /// Appends the binary form.
    pub fn encode_bin(&self, out: &mut Vec<u8>) {
        let layout = self.layout();
        let start = out.len();
        for i in 0..layout.groups() {
            let (_, nbytes) = layout.group(i);
            let be = self
                .groups
                .get(i)
                .copied()
                .unwrap_or_default()
                .to_be_bytes();
            out.extend_from_slice(be.get(WORD_SIZE - nbytes..).unwrap_or_default());
        }
        let bin = out.get_mut(start..).unwrap_or_default();
        if self.negative {
            bin.iter_mut().for_each(|b| *b = !*b);
        }
        if let Some(b) = bin.first_mut() {
            *b ^= 0x80;
        }
    }

    /// Appends `[precision][frac][bin]`.
    pub fn encode_with_header(&self, out: &mut Vec<u8>) {
        out.push(self.precision);
        out.push(self.frac);
        self.encode_bin(out);
    }

    /// Appends the text form: optional `-`, the integer digits without
    /// leading zeros (`0` when none), then `.` and exactly `frac` digits.
    pub fn write_text(&self, out: &mut String) {
        let layout = self.layout();
        if self.negative {
            out.push('-');
        }
        let int_groups = layout.int_groups();
        let mut started = false;
        for i in 0..int_groups {
            let g = self.groups.get(i).copied().unwrap_or_default();
            let (digits, _) = layout.group(i);
            if started {
                push_padded(out, g, digits);
            } else if g != 0 {
                push_padded(out, g, 0);
                started = true;
            }
        }
        if !started {
            out.push('0');
        }
        if self.frac > 0 {
            out.push('.');
            for i in int_groups..layout.groups() {
                let (digits, _) = layout.group(i);
                push_padded(out, self.groups.get(i).copied().unwrap_or_default(), digits);
            }
        }
    }

    /// The text form as a new string.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(usize::from(self.precision) + 3);
        self.write_text(&mut s);
        s
    }

    /// The value × 10^frac, for Arrow decimal128 (always fits when
    /// precision ≤ 38; `None` only on i128 overflow).
    pub fn to_i128_unscaled(&self) -> Option<i128> {
        let layout = self.layout();
        let mut acc: i128 = 0;
        for i in 0..layout.groups() {
            let (digits, _) = layout.group(i);
            let g = i128::from(self.groups.get(i).copied().unwrap_or_default());
            acc = acc.checked_mul(i128::from(POW10[digits]))?.checked_add(g)?;
        }
        Some(if self.negative { -acc } else { acc })
    }

    /// Builds a decimal from its unscaled value (`value × 10^frac`).
    pub fn from_i128_unscaled(value: i128, precision: u8, frac: u8) -> Result<Decimal> {
        check_precision(precision, frac)?;
        let mut digits = [0u8; MAX_PRECISION as usize];
        let total = usize::from(precision);
        let mut abs = value.unsigned_abs();
        for d in digits.get_mut(..total).unwrap_or_default().iter_mut().rev() {
            *d = (abs % 10) as u8;
            abs /= 10;
        }
        if abs != 0 {
            return Err(CodecError::invalid(
                "decimal",
                format!("{value} has more than {precision} digits"),
            ));
        }
        Ok(Decimal::from_digits(
            value < 0,
            digits.get(..total).unwrap_or_default(),
            precision,
            frac,
        ))
    }

    /// Parses `[-]digits[.digits]` into a decimal of the given precision and
    /// frac; more digits than the type holds is an error (no rounding).
    pub fn parse(text: &str, precision: u8, frac: u8) -> Result<Decimal> {
        check_precision(precision, frac)?;
        let bad = |detail: &str| CodecError::invalid("decimal text", format!("{text:?}: {detail}"));
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("no digits"));
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(bad("not a decimal number"));
        }
        let int_part = int_part.trim_start_matches('0');
        let intg = usize::from(precision - frac);
        if int_part.len() > intg || frac_part.len() > usize::from(frac) {
            return Err(bad("too many digits for the precision"));
        }
        let mut digits = [0u8; MAX_PRECISION as usize];
        let int_start = intg - int_part.len();
        for (d, b) in digits.iter_mut().skip(int_start).zip(int_part.bytes()) {
            *d = b - b'0';
        }
        for (d, b) in digits.iter_mut().skip(intg).zip(frac_part.bytes()) {
            *d = b - b'0';
        }
        Ok(Decimal::from_digits(
            negative,
            digits.get(..usize::from(precision)).unwrap_or_default(),
            precision,
            frac,
        ))
    }

    /// `digits` holds exactly `precision` decimal digits, integer part first.
    fn from_digits(negative: bool, digits: &[u8], precision: u8, frac: u8) -> Decimal {
        let layout = Layout::new(precision, frac);
        let mut groups = [0u32; MAX_GROUPS];
        let mut pos = 0usize;
        for (i, slot) in groups.iter_mut().enumerate().take(layout.groups()) {
            let (n, _) = layout.group(i);
            *slot = digits
                .iter()
                .skip(pos)
                .take(n)
                .fold(0u32, |acc, &d| acc * 10 + u32::from(d));
            pos += n;
        }
        let mut d = Decimal {
            precision,
            frac,
            negative,
            groups,
        };
        if d.is_zero() {
            d.negative = false;
        }
        d
    }
}

/// Appends `v` in decimal, zero-padded to `width` digits.
#[inline]
fn push_padded(out: &mut String, mut v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    while v > 0 && i > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(buf.len().saturating_sub(width.max(1)));
    for &b in buf.get(start..).unwrap_or_default() {
        out.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn dec(bin: &str, p: u8, f: u8) -> Decimal {
        let b = hex(bin);
        let (d, n) = Decimal::decode_bin(&b, p, f).unwrap();
        assert_eq!(n, b.len());
        d
    }

    #[test]
    fn documented_examples() {
        assert_eq!(dec("810dfb38d204d2", 14, 4).to_text(), "1234567890.1234");
        assert_eq!(dec("7ef204c72dfb2d", 14, 4).to_text(), "-1234567890.1234");
        assert_eq!(dec("800004d238", 10, 2).to_text(), "1234.56");
        assert_eq!(dec("7efa", 2, 1).to_text(), "-1.5");
        assert_eq!(dec("8000000000", 10, 2).to_text(), "0.00");
        assert_eq!(dec("8132", 3, 2).to_text(), "1.50");
        assert_eq!(dec("8000000001", 10, 9).to_text(), "0.000000001");
    }

    #[test]
    fn fixed_buffers_fit_every_precision() {
        for p in 1..=MAX_PRECISION {
            for f in 0..=p.min(MAX_FRAC) {
                let l = Layout::new(p, f);
                assert!(l.bin_size() <= MAX_BIN_SIZE, "({p}, {f})");
                assert!(l.groups() <= MAX_GROUPS, "({p}, {f})");
            }
        }
    }

    #[test]
    fn negative_zero_prints_unsigned() {
        // All bytes inverted from zero: the sign bit says negative.
        let d = dec("7fffffffff", 10, 2);
        assert!(!d.is_negative());
        assert_eq!(d.to_text(), "0.00");
        let d = dec("7ffa", 2, 1);
        assert_eq!(d.to_text(), "-0.5");
    }

    #[test]
    fn unscaled() {
        assert_eq!(dec("800004d238", 10, 2).to_i128_unscaled(), Some(123456));
        assert_eq!(dec("7efa", 2, 1).to_i128_unscaled(), Some(-15));
        let max = Decimal::parse(&"9".repeat(38), 38, 0).unwrap();
        assert_eq!(max.to_i128_unscaled(), Some(10i128.pow(38) - 1));
        let big = Decimal::parse(&"9".repeat(65), 65, 0).unwrap();
        assert_eq!(big.to_i128_unscaled(), None);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            Decimal::decode_bin(&[0x81], 0, 0),
            Err(CodecError::InvalidValue { .. })
        ));
        assert!(Decimal::decode_bin(&[0x81], 66, 0).is_err());
        assert!(Decimal::decode_bin(&[0x81], 40, 31).is_err());
        assert!(Decimal::decode_bin(&[0x81], 2, 3).is_err());
        assert_eq!(
            Decimal::decode_bin(&[0x81, 0], 14, 4),
            Err(CodecError::truncated("decimal", 7, 2))
        );
        // Leading group of 1 digit holding 10.
        assert!(Decimal::decode_bin(&[0x8a], 1, 0).is_err());
        // Full word above 999999999.
        assert!(Decimal::decode_bin(&hex("bb9aca00"), 9, 0).is_err());
        // Trailing fraction group of 2 digits holding 100.
        assert!(Decimal::decode_bin(&hex("8064"), 3, 2).is_err());
    }

    #[test]
    fn encode_round_trip() {
        for (text, p, f) in [
            ("1234567890.1234", 14, 4),
            ("-1234567890.1234", 14, 4),
            ("0.00", 10, 2),
            ("-0.50", 10, 2),
            (
                "99999999999999999999999999999999999.999999999999999999999999999999",
                65,
                30,
            ),
            ("-123456789012345.12345", 20, 5),
            ("7", 1, 0),
        ] {
            let d = Decimal::parse(text, p, f).unwrap();
            assert_eq!(d.to_text(), text);
            let mut bin = Vec::new();
            d.encode_bin(&mut bin);
            assert_eq!(bin.len(), bin_size(p, f).unwrap());
            let (back, _) = Decimal::decode_bin(&bin, p, f).unwrap();
            assert_eq!(back, d);
        }
        let mut bin = Vec::new();
        Decimal::parse("1234567890.1234", 14, 4)
            .unwrap()
            .encode_bin(&mut bin);
        assert_eq!(bin, hex("810dfb38d204d2"));
    }

    #[test]
    fn from_unscaled() {
        let d = Decimal::from_i128_unscaled(-50, 10, 2).unwrap();
        assert_eq!(d.to_text(), "-0.50");
        assert!(Decimal::from_i128_unscaled(1000, 3, 0).is_err());
        assert!(Decimal::parse("1.234", 5, 2).is_err());
        assert!(Decimal::parse("abc", 5, 2).is_err());
        assert_eq!(Decimal::parse(".5", 2, 1).unwrap().to_text(), "0.5");
    }

    #[test]
    fn header_reader() {
        let b = hex("0a02800004d238ff");
        let mut c = b.as_slice();
        let d = Decimal::read_with_header(&mut c).unwrap();
        assert_eq!((d.precision(), d.frac()), (10, 2));
        assert_eq!(d.to_text(), "1234.56");
        assert_eq!(c, &[0xff]);
        let mut short: &[u8] = &[10];
        assert!(Decimal::read_with_header(&mut short).is_err());
        assert_eq!(short, &[10]);
    }
}

//! TiDB times. DATE/DATETIME/TIMESTAMP are stored as the packed u64
//! (`((year*13+month)<<5|day)<<17|hms)<<24|micro`), TIME as i64 nanoseconds,
//! and binary JSON times in the in-memory CoreTime bit layout.
//! Text follows TiDB: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.frac]` and
//! `[-]HH:MM:SS[.frac]`, fractions truncated (not rounded) to `fsp` digits.

use crate::error::{CodecError, Result};

/// Largest fractional-seconds precision.
pub const MAX_FSP: u8 = 6;

const MICROS_PER_DAY: i64 = 86_400_000_000;
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// A calendar date and wall-clock time as TiDB stores it. Month and day may
/// be 0 (zero dates and `2020-00-00`-style partial dates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micro: u32,
}

impl DateTime {
    /// Decodes the packed u64 of rows and keys. Packed 0 is the zero date.
    pub fn from_packed(v: u64) -> Result<DateTime> {
        let ymd = v >> 41;
        let ym = ymd >> 5;
        let hms = (v >> 24) & 0x1_ffff;
        DateTime {
            year: u16::try_from(ym / 13).unwrap_or(u16::MAX),
            month: (ym % 13) as u8,
            day: (ymd & 0x1f) as u8,
            hour: (hms >> 12) as u8,
            minute: ((hms >> 6) & 0x3f) as u8,
            second: (hms & 0x3f) as u8,
            micro: (v & 0xff_ffff) as u32,
        }
        .checked("packed time", v)
    }

    /// The packed u64 form.
    pub fn to_packed(&self) -> u64 {
        let ymd = ((u64::from(self.year) * 13 + u64::from(self.month)) << 5) | u64::from(self.day);
        let hms =
            (u64::from(self.hour) << 12) | (u64::from(self.minute) << 6) | u64::from(self.second);
        (((ymd << 17) | hms) << 24) | u64::from(self.micro)
    }

    /// Decodes the CoreTime layout used inside binary JSON: year 50..63,
    /// month 46..49, day 41..45, hour 36..40, minute 30..35, second 24..29,
    /// microsecond 4..23; the low 4 bits (fsp and type) are ignored.
    pub fn from_core_time(v: u64) -> Result<DateTime> {
        DateTime {
            year: (v >> 50) as u16,
            month: ((v >> 46) & 0xf) as u8,
            day: ((v >> 41) & 0x1f) as u8,
            hour: ((v >> 36) & 0x1f) as u8,
            minute: ((v >> 30) & 0x3f) as u8,
            second: ((v >> 24) & 0x3f) as u8,
            micro: ((v >> 4) & 0xf_ffff) as u32,
        }
        .checked("JSON time", v)
    }

    /// The CoreTime form (fsp/type bits left 0).
    pub fn to_core_time(&self) -> u64 {
        (u64::from(self.year) << 50)
            | (u64::from(self.month) << 46)
            | (u64::from(self.day) << 41)
            | (u64::from(self.hour) << 36)
            | (u64::from(self.minute) << 30)
            | (u64::from(self.second) << 24)
            | (u64::from(self.micro) << 4)
    }

    fn checked(self, what: &'static str, raw: u64) -> Result<DateTime> {
        if self.year > 9999
            || self.month > 12
            || self.day > 31
            || self.hour > 23
            || self.minute > 59
            || self.second > 59
            || self.micro > 999_999
        {
            return Err(CodecError::invalid(
                what,
                format!("{raw:#018x} decodes to out-of-range fields {self:?}"),
            ));
        }
        Ok(self)
    }

    /// `0000-00-00 00:00:00`.
    #[inline]
    pub fn is_zero(&self) -> bool {
        *self == DateTime::default()
    }

    /// The text `YYYY-MM-DD HH:MM:SS` when every field has its usual
    /// width (a valid time); `None` otherwise.
    #[inline]
    fn fixed_text(&self) -> Option<[u8; 19]> {
        let fits = self.year <= 9999
            && self.month <= 99
            && self.day <= 99
            && self.hour <= 99
            && self.minute <= 99
            && self.second <= 99;
        if !fits {
            return None;
        }
        let two = |v: u8| [b'0' + v / 10, b'0' + v % 10];
        let y = self.year;
        let digit = |v: u16| b'0' + (v % 10) as u8;
        let [mo0, mo1] = two(self.month);
        let [d0, d1] = two(self.day);
        let [h0, h1] = two(self.hour);
        let [mi0, mi1] = two(self.minute);
        let [s0, s1] = two(self.second);
        Some([
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            mo0,
            mo1,
            b'-',
            d0,
            d1,
            b' ',
            h0,
            h1,
            b':',
            mi0,
            mi1,
            b':',
            s0,
            s1,
        ])
    }

    /// Appends `YYYY-MM-DD`.
    pub fn write_date(&self, out: &mut String) {
        if let Some(text) = self.fixed_text() {
            push_ascii(text.get(..10), out);
            return;
        }
        let mut b = AsciiBuf::new();
        self.put_date(&mut b);
        b.flush(out);
    }

    fn put_date(&self, b: &mut AsciiBuf) {
        b.num(u64::from(self.year), 4);
        b.byte(b'-');
        b.num(u64::from(self.month), 2);
        b.byte(b'-');
        b.num(u64::from(self.day), 2);
    }

    /// Appends `YYYY-MM-DD HH:MM:SS`, plus `.` and `fsp` digits when fsp > 0.
    pub fn write_datetime(&self, fsp: u8, out: &mut String) -> Result<()> {
        check_fsp(fsp)?;
        if let Some(text) = self.fixed_text() {
            push_ascii(Some(&text), out);
            if fsp > 0 {
                let mut b = AsciiBuf::new();
                b.frac(self.micro, fsp);
                b.flush(out);
            }
            return Ok(());
        }
        let mut b = AsciiBuf::new();
        self.put_date(&mut b);
        b.byte(b' ');
        b.num(u64::from(self.hour), 2);
        b.byte(b':');
        b.num(u64::from(self.minute), 2);
        b.byte(b':');
        b.num(u64::from(self.second), 2);
        b.frac(self.micro, fsp);
        b.flush(out);
        Ok(())
    }

    /// Days since 1970-01-01 (Arrow date32); `None` for zero dates, month or
    /// day 0, and days past the end of the month.
    pub fn days_since_epoch(&self) -> Option<i32> {
        let (y, m, d) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        if m == 0 || d == 0 || d > i64::from(days_in_month(self.year, self.month)) {
            return None;
        }
        // Proleptic Gregorian day count (Hinnant's days_from_civil).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        i32::try_from(era * 146_097 + doe - 719_468).ok()
    }

    /// Microseconds since the epoch (Arrow timestamp[us]); `None` where
    /// [`DateTime::days_since_epoch`] is `None`.
    pub fn micros_since_epoch(&self) -> Option<i64> {
        let days = i64::from(self.days_since_epoch()?);
        let secs =
            i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second);
        Some(days * MICROS_PER_DAY + secs * 1_000_000 + i64::from(self.micro))
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 0,
    }
}

#[inline]
fn check_fsp(fsp: u8) -> Result<()> {
    if fsp > MAX_FSP {
        return Err(CodecError::invalid(
            "fsp",
            format!("{fsp} is above {MAX_FSP}"),
        ));
    }
    Ok(())
}

/// Appends ASCII text built on the stack.
#[inline]
fn push_ascii(text: Option<&[u8]>, out: &mut String) {
    out.push_str(std::str::from_utf8(text.unwrap_or_default()).unwrap_or_default());
}

/// A stack buffer for one time text, flushed into the output in one copy.
/// 40 bytes hold the longest text (5-digit year or 7-digit hours, fsp 6).
struct AsciiBuf {
    buf: [u8; 40],
    len: usize,
}

impl AsciiBuf {
    #[inline]
    fn new() -> AsciiBuf {
        AsciiBuf {
            buf: [0; 40],
            len: 0,
        }
    }

    #[inline]
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// `v` in decimal, zero-padded to at least `width` digits.
    #[inline]
    fn num(&mut self, mut v: u64, width: usize) {
        // The fields of a valid time: exactly `width` digits, no loop.
        if width == 2 && v < 100 {
            let v = v as u8;
            self.byte(b'0' + v / 10);
            self.byte(b'0' + v % 10);
            return;
        }
        if width == 4 && v < 10_000 {
            let v = v as u16;
            self.byte(b'0' + (v / 1000) as u8);
            self.byte(b'0' + (v / 100 % 10) as u8);
            self.byte(b'0' + (v / 10 % 10) as u8);
            self.byte(b'0' + (v % 10) as u8);
            return;
        }
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        while v > 0 && i > 0 {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        let start = i.min(digits.len().saturating_sub(width));
        for &d in digits.get(start..).unwrap_or_default() {
            self.byte(d);
        }
    }

    /// `.` and the first `fsp` digits of the 6-digit microseconds.
    #[inline]
    fn frac(&mut self, micro: u32, fsp: u8) {
        if fsp == 0 {
            return;
        }
        self.byte(b'.');
        let mut digits = [b'0'; 6];
        let mut v = micro.min(999_999);
        for d in digits.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        for &d in digits.iter().take(usize::from(fsp)) {
            self.byte(d);
        }
    }

    #[inline]
    fn flush(&self, out: &mut String) {
        // Only ASCII digits and separators were written.
        let text = self.buf.get(..self.len).unwrap_or_default();
        out.push_str(std::str::from_utf8(text).unwrap_or_default());
    }
}

/// Appends a TIME value: `[-]HH:MM:SS`, plus `.` and `fsp` digits when
/// fsp > 0. Hours have at least two digits and may exceed 24.
pub fn write_duration(nanos: i64, fsp: u8, out: &mut String) -> Result<()> {
    check_fsp(fsp)?;
    let mut b = AsciiBuf::new();
    if nanos < 0 {
        b.byte(b'-');
    }
    let abs = nanos.unsigned_abs();
    let secs = abs / NANOS_PER_SECOND;
    let micro = ((abs % NANOS_PER_SECOND) / 1_000) as u32;
    b.num(secs / 3600, 2);
    b.byte(b':');
    b.num((secs / 60) % 60, 2);
    b.byte(b':');
    b.num(secs % 60, 2);
    b.frac(micro, fsp);
    b.flush(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datetime_text(packed: u64, fsp: u8) -> String {
        let mut s = String::new();
        DateTime::from_packed(packed)
            .unwrap()
            .write_datetime(fsp, &mut s)
            .unwrap();
        s
    }

    fn date_text(packed: u64) -> String {
        let mut s = String::new();
        DateTime::from_packed(packed).unwrap().write_date(&mut s);
        s
    }

    fn duration_text(ns: i64, fsp: u8) -> String {
        let mut s = String::new();
        write_duration(ns, fsp, &mut s).unwrap();
        s
    }

    /// Every field width, padded and not, against `format!`.
    #[test]
    fn datetime_text_matches_format() {
        for (year, month, day, hour, minute, second, micro) in [
            (0, 0, 0, 0, 0, 0, 0),
            (5, 1, 9, 3, 7, 9, 5),
            (999, 12, 31, 23, 59, 59, 999_999),
            (1000, 10, 10, 10, 10, 10, 100_000),
            (9999, 2, 29, 12, 0, 1, 42),
            (10_000, 100, 200, 100, 255, 99, 1_000_000),
        ] {
            let t = DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micro,
            };
            for fsp in 0..=MAX_FSP {
                let mut s = String::new();
                t.write_datetime(fsp, &mut s).unwrap();
                let mut want =
                    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
                if fsp > 0 {
                    let frac = format!("{:06}", micro.min(999_999));
                    want = format!("{want}.{}", &frac[..usize::from(fsp)]);
                }
                assert_eq!(s, want);
            }
            let mut s = String::new();
            t.write_date(&mut s);
            assert_eq!(s, format!("{year:04}-{month:02}-{day:02}"));
        }
    }

    #[test]
    fn packed_examples() {
        assert_eq!(date_text(0x19b2_ba00_0000_0000), "2024-02-29");
        assert_eq!(
            datetime_text(0x19b1_ff7e_fb0f_423f, 6),
            "2023-12-31 23:59:59.999999"
        );
        assert_eq!(
            datetime_text(0x199e_e633_8700_0000, 0),
            "2018-01-19 03:14:07"
        );
        assert_eq!(datetime_text(0, 0), "0000-00-00 00:00:00");
        assert_eq!(datetime_text(0, 6), "0000-00-00 00:00:00.000000");
        assert_eq!(date_text(0x19a5_0000_0000_0000), "2020-00-00");
        // DATETIME(3) of 12:34:56.789.
        assert_eq!(
            datetime_text(0x19b2_bac8_b80c_0a08, 3),
            "2024-02-29 12:34:56.789"
        );
        assert_eq!(
            datetime_text(0x19b2_bac8_b80c_0a08, 2),
            "2024-02-29 12:34:56.78"
        );
    }

    #[test]
    fn packed_round_trip() {
        let t = DateTime {
            year: 2023,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 59,
            micro: 999_999,
        };
        assert_eq!(t.to_packed(), 0x19b1_ff7e_fb0f_423f);
        assert_eq!(DateTime::from_packed(t.to_packed()).unwrap(), t);
    }

    #[test]
    fn rejects_out_of_range_fields() {
        // month 13 can't come out of ym % 13, but hour 24 and micro ≥ 1e6 can.
        let hour24 = DateTime {
            year: 2020,
            month: 1,
            day: 1,
            hour: 24,
            ..DateTime::default()
        };
        assert!(DateTime::from_packed(hour24.to_packed()).is_err());
        assert!(DateTime::from_packed(1_000_000).is_err());
        assert!(DateTime::from_packed(u64::MAX).is_err());
        assert!(DateTime::from_core_time(u64::MAX).is_err());
    }

    #[test]
    fn epoch_conversions() {
        let t = DateTime::from_packed(0x1902_c200_0000_0000).unwrap();
        assert_eq!((t.year, t.month, t.day), (1970, 1, 1));
        assert_eq!(t.days_since_epoch(), Some(0));
        assert_eq!(t.micros_since_epoch(), Some(0));
        let d = DateTime::from_packed(0x19b2_ba00_0000_0000).unwrap();
        assert_eq!(d.days_since_epoch(), Some(19782));
        let dt = DateTime::from_packed(0x19b1_ff7e_fb0f_423f).unwrap();
        assert_eq!(dt.micros_since_epoch(), Some(1_704_067_199_999_999));
        let before = DateTime {
            year: 1969,
            month: 12,
            day: 31,
            hour: 23,
            ..DateTime::default()
        };
        assert_eq!(before.micros_since_epoch(), Some(-3_600_000_000));
        assert_eq!(DateTime::from_packed(0).unwrap().days_since_epoch(), None);
        assert_eq!(
            DateTime::from_packed(0x19a5_0000_0000_0000)
                .unwrap()
                .days_since_epoch(),
            None
        );
        let feb30 = DateTime {
            year: 2023,
            month: 2,
            day: 29,
            ..DateTime::default()
        };
        assert_eq!(feb30.days_since_epoch(), None);
        let max = DateTime {
            year: 9999,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 59,
            micro: 999_999,
        };
        assert_eq!(max.days_since_epoch(), Some(2_932_896));
        let min = DateTime {
            year: 1,
            month: 1,
            day: 1,
            ..DateTime::default()
        };
        assert_eq!(min.days_since_epoch(), Some(-719_162));
    }

    #[test]
    fn core_time() {
        let t = DateTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 12,
            minute: 34,
            second: 56,
            micro: 123_456,
        };
        assert_eq!(DateTime::from_core_time(t.to_core_time() | 0xc).unwrap(), t);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text(1_000_000_000, 0), "00:00:01");
        assert_eq!(duration_text(-3_723_500_000_000, 1), "-01:02:03.5");
        assert_eq!(duration_text(-3_723_000_000_000, 0), "-01:02:03");
        assert_eq!(duration_text(3_723_000_000_000, 6), "01:02:03.000000");
        let max = (838 * 3600 + 59 * 60 + 59) * 1_000_000_000 + 999_999_000;
        assert_eq!(duration_text(max, 6), "838:59:59.999999");
        assert_eq!(duration_text(-max, 3), "-838:59:59.999");
        assert_eq!(duration_text(1_999, 6), "00:00:00.000001");
        assert!(duration_text(i64::MIN, 6).starts_with("-2562047:"));
        let mut s = String::new();
        assert!(write_duration(0, 7, &mut s).is_err());
    }
}

//! `@timestamp` as Logstash writes it, both ways.
//!
//! Logstash 8 keeps an event's `@timestamp` as an instant with nanosecond
//! precision and writes it (`Timestamp.toString`, so also in the JSON this
//! sidecar receives) as ISO 8601 in UTC with at least three fraction
//! digits, more in groups of three when the instant has them:
//! `2015-05-17T10:05:03.000Z`, `2015-05-17T10:05:03.123456Z`. Years past
//! 9999 get a `+` and years before 0 a `-` (`+10000-01-01T00:00:00.000Z`,
//! `-0001-06-01T00:00:00.000Z`), as java.time's `ISO_INSTANT` writes them.
//!
//! [`Timestamp::parse`] reads that form (a fraction of zero to nine digits,
//! years up to nine digits), which is also what the date and json filters
//! write. [`Timestamp::parse_iso8601`] reads what Logstash takes as an
//! `@timestamp` text from outside: ISO 8601 with an offset or a zone.

mod iso8601;

use crate::civil::{civil_from_days, days_from_civil, days_in_month};

/// An instant: whole seconds since 1970-01-01T00:00:00Z (negative before
/// it) and the nanoseconds after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    seconds: i64,
    nanos: u32,
}

/// The largest year [`Timestamp::parse`] reads, and its negative the
/// smallest: every year the date filter writes (Joda-Time's, about 292
/// million either way; `ISO8601` reads `20150517` as the year 20,150,517),
/// inside java.time's, which Logstash reads `@timestamp` with.
pub const MAX_YEAR: i64 = 999_999_999;

impl Timestamp {
    /// The instant `seconds` and `nanos` (below 1e9) after the epoch.
    pub fn new(seconds: i64, nanos: u32) -> Timestamp {
        assert!(nanos < 1_000_000_000, "nanos out of range: {nanos}");
        Timestamp { seconds, nanos }
    }

    /// The instant `nanos` nanoseconds after the epoch, as the host's clock
    /// ([`crate::host::now_unix_nanos`]) gives it.
    pub fn from_unix_nanos(nanos: i64) -> Timestamp {
        Timestamp {
            seconds: nanos.div_euclid(1_000_000_000),
            nanos: nanos.rem_euclid(1_000_000_000) as u32,
        }
    }

    /// The instant `millis` milliseconds after the epoch.
    pub fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp {
            seconds: millis.div_euclid(1000),
            nanos: millis.rem_euclid(1000) as u32 * 1_000_000,
        }
    }

    /// Milliseconds since the epoch, rounded down; `None` past an i64's
    /// (about 292 million years either way).
    pub fn unix_millis(&self) -> Option<i64> {
        let millis = i64::from(self.nanos / 1_000_000);
        self.seconds.checked_mul(1000)?.checked_add(millis)
    }

    /// Whole seconds since the epoch, rounded down (`-1` for
    /// 1969-12-31T23:59:59.5Z), as Java's `Instant.getEpochSecond`.
    pub fn seconds(&self) -> i64 {
        self.seconds
    }

    /// Nanoseconds after [`Timestamp::seconds`].
    pub fn nanos(&self) -> u32 {
        self.nanos
    }

    /// Reads a timestamp written as Logstash writes `@timestamp`
    /// (`2015-05-17T10:05:03.123Z`); `None` for any other text.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let bytes = text.as_bytes();
        let (negative, signed) = match bytes.first()? {
            b'-' => (true, true),
            b'+' => (false, true),
            _ => (false, false),
        };
        let mut at = usize::from(signed);
        let year_digits = bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        // Four digits, or (with a sign) up to nine.
        let longest = if signed { 9 } else { 4 };
        if !(4..=longest).contains(&year_digits) {
            return None;
        }
        let year = digits(&bytes[at..at + year_digits])?;
        let year = if negative { -year } else { year };
        at += year_digits;
        // The rest is fixed: -MM-DDTHH:MM:SS, then an optional fraction, Z.
        let rest = &bytes[at..];
        if rest.len() < 16 || rest[0] != b'-' || rest[3] != b'-' || rest[6] != b'T' {
            return None;
        }
        if rest[9] != b':' || rest[12] != b':' {
            return None;
        }
        let month = digits(&rest[1..3])?;
        let day = digits(&rest[4..6])?;
        let hour = digits(&rest[7..9])?;
        let minute = digits(&rest[10..12])?;
        let second = digits(&rest[13..15])?;
        let valid = (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60
            && year.abs() <= MAX_YEAR;
        if !valid {
            return None;
        }
        let mut nanos = 0;
        let tail = match &rest[15..] {
            [b'.', fraction @ ..] => {
                let len = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
                if !(1..=9).contains(&len) {
                    return None;
                }
                nanos = digits(&fraction[..len])? as u32 * 10u32.pow(9 - len as u32);
                &fraction[len..]
            }
            tail => tail,
        };
        if tail != b"Z" {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(Timestamp {
            seconds: days * 86_400 + hour * 3600 + minute * 60 + second,
            nanos,
        })
    }

    /// Reads a time as Logstash 8 reads an `@timestamp` given as text (an
    /// event's own, or a json document's): ISO 8601 with an optional time
    /// and zone (`2015-05-17`, `2015-05-17T12:05:03.5+02:00`). `None` where
    /// Logstash's parser refuses the text; the accepted forms are listed in
    /// the `iso8601` module.
    pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
        iso8601::parse(text)
    }

    /// The year the instant falls in, in UTC.
    pub fn year(&self) -> i64 {
        civil_from_days(self.seconds.div_euclid(86_400)).0
    }

    /// The timestamp as Logstash writes `@timestamp`, in a new string.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(30);
        self.write(&mut out);
        out
    }

    /// Appends the timestamp as Logstash writes `@timestamp`.
    pub fn write(&self, out: &mut String) {
        self.write_on(civil_from_days(self.seconds.div_euclid(86_400)), out);
    }

    /// [`Timestamp::write`], the instant's date already known. It is
    /// written into a fixed template, digit by digit: this runs once per
    /// event in the date and json filters, in WebAssembly, where pushing
    /// the parts one by one cost the date filter 1,235 more instructions per
    /// event. A year beyond four digits, or before year 0, goes first with
    /// its sign, and the template from its `-` on.
    fn write_on(&self, (year, month, day): (i64, i64, i64), out: &mut String) {
        let from = if (0..=9999).contains(&year) {
            0
        } else {
            out.push(if year < 0 { '-' } else { '+' });
            push_digits(out, year.unsigned_abs(), 4);
            4
        };
        let in_day = self.seconds.rem_euclid(86_400);
        let nanos = u64::from(self.nanos);
        let (fraction, width) = match nanos {
            _ if nanos % 1_000_000 == 0 => (nanos / 1_000_000, 3),
            _ if nanos % 1000 == 0 => (nanos / 1000, 6),
            _ => (nanos, 9),
        };
        let mut text = *b"0000-00-00T00:00:00.000000000Z";
        let fields = [
            (0..4, year.rem_euclid(10_000) as u64),
            (5..7, month as u64),
            (8..10, day as u64),
            (11..13, (in_day / 3600) as u64),
            (14..16, (in_day / 60 % 60) as u64),
            (17..19, (in_day % 60) as u64),
            (20..20 + width, fraction),
        ];
        for (span, mut value) in fields {
            for digit in text[span].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        let end = 20 + width;
        text[end] = b'Z';
        // SAFETY: ASCII digits and separators are UTF-8.
        out.push_str(unsafe { std::str::from_utf8_unchecked(&text[from..=end]) });
    }
}

/// The value of a run of ASCII digits (at most 18 of them).
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i64::from(byte - b'0'))
    })
}

/// Appends `value` in decimal, with zeros in front up to `width` digits.
/// Written out rather than through `format!`, whose machinery is slow in
/// WebAssembly.
pub(crate) fn push_digits(out: &mut String, value: u64, width: usize) {
    let mut buffer = [0u8; 20];
    let mut at = buffer.len();
    let mut rest = value;
    loop {
        at -= 1;
        buffer[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for _ in buffer.len() - at..width {
        out.push('0');
    }
    // SAFETY: ASCII digits are UTF-8.
    out.push_str(unsafe { std::str::from_utf8_unchecked(&buffer[at..]) });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Option<String> {
        let mut out = String::new();
        Timestamp::parse(text)?.write(&mut out);
        Some(out)
    }

    #[test]
    fn logstash_texts_are_read_and_written_back_as_logstash_writes_them() {
        for text in [
            "2015-05-17T10:05:03.000Z",
            "2015-05-17T10:05:03.120Z",
            "2015-05-17T10:05:03.123456Z",
            "2015-05-17T10:05:03.123456789Z",
            "1969-12-31T23:59:59.500Z",
            "0000-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
            "+10000-01-01T00:00:00.000Z",
            "-0001-02-03T04:05:06.000Z",
            "+999999-12-31T23:59:59.999Z",
            "+292278994-08-17T07:12:55.807Z",
            "-292275055-05-16T16:47:04.192Z",
            "2016-02-29T00:00:00.000Z",
        ] {
            assert_eq!(round_trip(text).as_deref(), Some(text));
        }
        // Other fraction lengths are read and written in Logstash's form.
        for (text, written) in [
            ("2015-05-17T10:05:03Z", "2015-05-17T10:05:03.000Z"),
            ("2015-05-17T10:05:03.1Z", "2015-05-17T10:05:03.100Z"),
            ("2015-05-17T10:05:03.1234Z", "2015-05-17T10:05:03.123400Z"),
            ("+2015-05-17T10:05:03Z", "2015-05-17T10:05:03.000Z"),
        ] {
            assert_eq!(round_trip(text).as_deref(), Some(written), "{text}");
        }
        let time = Timestamp::parse("1969-12-31T23:59:59.500Z").unwrap();
        assert_eq!((time.seconds(), time.nanos()), (-1, 500_000_000));
        assert_eq!(Timestamp::from_unix_nanos(-500_000_000), time);
    }

    #[test]
    fn anything_else_is_not_a_timestamp() {
        for text in [
            "",
            "2015-05-17",
            "2015-05-17T10:05:03",
            "2015-05-17T10:05:03.Z",
            "2015-05-17T10:05:03.1234567890Z",
            "2015-05-17T10:05:03+02:00",
            "2015-05-17 10:05:03Z",
            "2015-05-17t10:05:03z",
            "2015-02-29T10:05:03Z",
            "2015-13-01T10:05:03Z",
            "2015-05-17T24:00:00Z",
            "2015-05-17T10:60:00Z",
            "2015-05-17T10:05:60Z",
            "12015-05-17T10:05:03Z",
            "+1000000000-05-17T10:05:03Z",
            "15-05-17T10:05:03Z",
            "2015-5-17T10:05:03Z",
            "2015-05-17T10:05:03.000Zx",
            "٢٠١٥-05-17T10:05:03Z",
        ] {
            assert_eq!(Timestamp::parse(text), None, "{text}");
        }
    }

    #[test]
    fn digits_are_padded_to_width() {
        let mut out = String::new();
        push_digits(&mut out, 7, 3);
        push_digits(&mut out, 1234, 2);
        push_digits(&mut out, 0, 1);
        push_digits(&mut out, u64::MAX, 0);
        assert_eq!(out, format!("0071234{}{}", 0, u64::MAX));
    }
}

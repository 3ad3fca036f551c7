//! The texts Logstash 8 reads as a time where it makes `@timestamp` from
//! text: an event's own `@timestamp` as an input brings it, and a json
//! document's, which the json filter reads (Java's `Timestamp(String)`).
//!
//! They are: a date `yyyy-MM-dd`, optionally `T` and a time
//! `HH:mm[:ss[.fraction]]` (up to nine digits), optionally a zone `Z`,
//! `±HH`, `±HH:mm`, `±HHmm` (with seconds too), or `UTC`/`GMT`/`UT` with or
//! without an offset, then optionally a compact offset that overrides it;
//! letters in any case. A year has four digits, or a sign and more, as
//! `ISO_LOCAL_DATE` reads it (`+10000`, `-0001`). Region ids
//! (`Europe/Paris`), which java.time also reads there, are not: the SDK
//! carries no zone database. A time without a zone is read in UTC
//! (Logstash reads it in its machine's zone), and a day past its month's
//! end is its month's last day, as Java's default resolver makes it.

use super::{MAX_YEAR, Timestamp};
use crate::civil::{days_from_civil, days_in_month};

/// The instant `text` names, or `None` where Logstash's parser refuses it.
pub(super) fn parse(text: &str) -> Option<Timestamp> {
    let mut at = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = at.year()?;
    at.byte(b'-')?;
    let month = at.digits(2)?;
    at.byte(b'-')?;
    let day = at.digits(2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let day = day.min(days_in_month(year, month));
    let (mut seconds, mut nanos) = (0, 0);
    if at.peek().is_some_and(|b| b.eq_ignore_ascii_case(&b'T')) {
        at.at += 1;
        (seconds, nanos) = at.time()?;
    }
    // `24:00` is the next day's start, and that day must be a date too.
    if seconds == 86_400 && (year, month, day) == (MAX_YEAR, 12, 31) {
        return None;
    }
    if !at.done() {
        seconds -= at.zone()?;
    }
    if !at.done() {
        return None;
    }
    Some(Timestamp::new(
        days_from_civil(year, month, day) * 86_400 + seconds,
        nanos,
    ))
}

struct Cursor<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.peek() == Some(expected)).then(|| self.at += 1)
    }

    /// A year as java.time's `ISO_LOCAL_DATE` reads one: four digits, or
    /// a sign and four or more (`+` only past four), up to ten digits and
    /// within the ±999,999,999 years java.time holds.
    fn year(&mut self) -> Option<i64> {
        let sign = match self.peek() {
            Some(b'+') => Some(1),
            Some(b'-') => Some(-1),
            _ => None,
        };
        let start = self.at + usize::from(sign.is_some());
        let run = self.bytes.get(start..)?;
        let len = run
            .iter()
            .take(10)
            .take_while(|b| b.is_ascii_digit())
            .count();
        let shape_ok = match sign {
            None => len == 4,
            Some(1) => len > 4,
            Some(_) => len >= 4,
        };
        if !shape_ok {
            return None;
        }
        self.at = start;
        let year = self.digits(len)? * sign.unwrap_or(1);
        // A strict parse takes no minus zero (`-0000`); `+00000` is year 0.
        if sign == Some(-1) && year == 0 {
            return None;
        }
        (year.abs() <= MAX_YEAR).then_some(year)
    }

    /// Exactly `count` ASCII digits, as a number.
    fn digits(&mut self, count: usize) -> Option<i64> {
        let run = self.bytes.get(self.at..self.at + count)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += count;
        Some(run.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    /// `HH:mm[:ss[.fraction]]`: seconds into the day and nanoseconds. `24:00`
    /// is the end of the day, as Java's default resolver reads it.
    fn time(&mut self) -> Option<(i64, u32)> {
        let hour = self.digits(2)?;
        self.byte(b':')?;
        let minute = self.digits(2)?;
        let (mut second, mut nanos) = (0, 0);
        if self.byte(b':').is_some() {
            second = self.digits(2)?;
            if self.byte(b'.').is_some() {
                let mut width = 0;
                while let Some(digit) = self.peek().filter(u8::is_ascii_digit) {
                    if width == 9 {
                        return None;
                    }
                    nanos = nanos * 10 + u32::from(digit - b'0');
                    width += 1;
                    self.at += 1;
                }
                nanos *= 10u32.pow(9 - width);
            }
        }
        let end_of_day = hour == 24 && minute == 0 && second == 0 && nanos == 0;
        if (hour > 23 && !end_of_day) || minute > 59 || second > 59 {
            return None;
        }
        Some((hour * 3600 + minute * 60 + second, nanos))
    }

    /// A zone, as Logstash's parser reads one: optionally a zone id or an
    /// offset with colons (`Z`, `UTC`, `GMT+01:00`, `+01:00`), then
    /// optionally a compact offset (`+0100`, `+01`, `Z`), which wins when
    /// both are there (`Z+0530` is +05:30, as in java.time). Returns the
    /// offset from UTC in seconds.
    fn zone(&mut self) -> Option<i64> {
        let start = self.at;
        let id = self.zone_id();
        if id.is_none() {
            self.at = start;
        }
        if self.done() {
            return id;
        }
        self.compact_offset()
    }

    /// `Z`, or `UTC`, `GMT` or `UT` with an optional offset with colons, or
    /// such an offset alone.
    fn zone_id(&mut self) -> Option<i64> {
        if self.peek()?.eq_ignore_ascii_case(&b'Z') {
            self.at += 1;
            return Some(0);
        }
        let rest = &self.bytes[self.at..];
        let prefix = [&b"UTC"[..], b"GMT", b"UT"]
            .into_iter()
            .find(|name| rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name));
        let Some(prefix) = prefix else {
            return self.offset(true);
        };
        self.at += prefix.len();
        let after_prefix = self.at;
        Some(self.offset(true).unwrap_or_else(|| {
            self.at = after_prefix;
            0
        }))
    }

    /// `Z`, or `±HH`, `±HHmm` or `±HHmmss`.
    fn compact_offset(&mut self) -> Option<i64> {
        if self.peek()?.eq_ignore_ascii_case(&b'Z') {
            self.at += 1;
            return Some(0);
        }
        self.offset(false)
    }

    /// `±HH:mm` or `±HH:mm:ss` (`with_colons`), or `±HH`, `±HHmm` or
    /// `±HHmmss`; at most 18 hours.
    fn offset(&mut self, with_colons: bool) -> Option<i64> {
        let sign = match self.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.at += 1;
        let hours = self.digits(2)?;
        // The parts after the hours: with colons, minutes are required and
        // seconds optional; without, both are optional.
        let part = |cursor: &mut Self, required: bool| -> Option<i64> {
            let before = cursor.at;
            let value = (!with_colons || cursor.byte(b':').is_some())
                .then(|| cursor.digits(2))
                .flatten();
            if value.is_none() {
                cursor.at = before;
                if required {
                    return None;
                }
            }
            Some(value.unwrap_or(0))
        };
        let minutes = part(self, with_colons)?;
        let seconds = part(self, false)?;
        let total = hours * 3600 + minutes * 60 + seconds;
        (minutes < 60 && seconds < 60 && total <= 18 * 3600).then_some(sign * total)
    }
}

#[cfg(test)]
mod tests {
    use crate::timestamp::Timestamp;

    #[test]
    fn iso_8601_texts_are_read_as_logstash_8_reads_them() {
        for (text, expected) in [
            ("2021-06-30T08:15:00.250Z", Some("2021-06-30T08:15:00.250Z")),
            ("2021-06-30T08:15:00Z", Some("2021-06-30T08:15:00.000Z")),
            ("2021-06-30t08:15z", Some("2021-06-30T08:15:00.000Z")),
            (
                "2021-06-30T08:15:00.1+02:00",
                Some("2021-06-30T06:15:00.100Z"),
            ),
            ("2021-06-30T23:30:00-0130", Some("2021-07-01T01:00:00.000Z")),
            (
                "2021-06-30T08:15:00.123456Z",
                Some("2021-06-30T08:15:00.123456Z"),
            ),
            (
                "2021-06-30T08:15:00.1234567Z",
                Some("2021-06-30T08:15:00.123456700Z"),
            ),
            ("2021-06-30T08:15:00+05", Some("2021-06-30T03:15:00.000Z")),
            ("2021-06-30T08:15:00UTC", Some("2021-06-30T08:15:00.000Z")),
            (
                "2021-06-30T08:15:00GMT+01:00",
                Some("2021-06-30T07:15:00.000Z"),
            ),
            ("2021-06-30", Some("2021-06-30T00:00:00.000Z")),
            ("2021-06-30T08:15:00", Some("2021-06-30T08:15:00.000Z")),
            ("2023-02-30T00:00:00Z", Some("2023-02-28T00:00:00.000Z")),
            ("2024-02-30T00:00:00Z", Some("2024-02-29T00:00:00.000Z")),
            ("2021-12-31T24:00Z", Some("2022-01-01T00:00:00.000Z")),
            ("1969-12-31T23:59:59.5Z", Some("1969-12-31T23:59:59.500Z")),
            ("2021-06-30T08:15:60Z", None),
            ("2021-13-01T00:00:00Z", None),
            ("2021-06-32", None),
            ("2021-6-30", None),
            ("2021-06-30 08:15:00Z", None),
            ("2021-06-30T08Z", None),
            ("2021-06-30T08:15:00+19:00", None),
            ("2021-06-30T08:15:00.1234567890Z", None),
            ("2021-06-30T08:15:00Zjunk", None),
            ("yesterday", None),
            ("", None),
            // Years as ISO_LOCAL_DATE reads them, written as ISO_INSTANT.
            ("+10000-01-01T00:00:00Z", Some("+10000-01-01T00:00:00.000Z")),
            (
                "9999-12-31T23:59:59-01:00",
                Some("+10000-01-01T00:59:59.000Z"),
            ),
            ("-0001-06-01", Some("-0001-06-01T00:00:00.000Z")),
            ("+999999999-12-31", Some("+999999999-12-31T00:00:00.000Z")),
            ("10000-01-01T00:00:00Z", None),
            ("+2021-06-30", None),
            ("-001-06-01", None),
            ("+1000000000-01-01", None),
            // As JDK 17 reads them (the json filter's oracle's parser).
            ("-0000-01-01T00:00:00Z", None),
            ("-00000-06-01", None),
            ("+00000-01-01", Some("0000-01-01T00:00:00.000Z")),
            ("+999999999-12-31T24:00Z", None),
            (
                "+999999999-12-31T23:59Z",
                Some("+999999999-12-31T23:59:00.000Z"),
            ),
            (
                "-999999999-01-01T00:00+18:00",
                Some("-1000000000-12-31T06:00:00.000Z"),
            ),
            ("-0001-01-01T24:00", Some("-0001-01-02T00:00:00.000Z")),
        ] {
            let read = Timestamp::parse_iso8601(text).map(|time| time.text());
            assert_eq!(read.as_deref(), expected, "{text}");
        }
    }
}

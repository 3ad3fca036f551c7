//! Joda-Time patterns, as Logstash users write them in `match`.
//!
//! A pattern compiles once, at init, into a list of tokens; parsing walks the
//! tokens over the text and fills in [`Fields`]. The pattern is split as
//! Joda's `DateTimeFormat` splits it, by the SDK's
//! [`wasmstash_sdk::logstash::date_format::joda::tokens`] (which sprintf's `%{+...}`
//! prints with too): a run of one letter is one field, `'...'` is quoted
//! text, anything else is a literal. Numbers take as many digits as
//! letters, and at least their usual width (two; three for the day of the
//! year, one for `e`), as Joda's `appendDecimal` does; years up to nine
//! unless a number follows directly (`yyMMdd`); and the whole text must be
//! consumed.

use wasmstash_sdk::logstash::date_format::joda::{self, Token as Run};

use crate::bucket::Saved;
use crate::names::Names;
use crate::zone::{self, Zone};

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    tokens: Vec<Token>,
    has_year: bool,
    keeps_read_zone: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(String),
    Number {
        field: Numeric,
        max_digits: usize,
    },
    /// `yy`: two digits mapped into a century around today; `lenient`
    /// accepts a full year when more digits are present, as Joda does when
    /// no number follows.
    TwoDigitYear {
        lenient: bool,
    },
    /// `SSS...`: the digits are a fraction of a second, at most this many.
    Fraction(usize),
    MonthName,
    WeekdayName,
    HalfDay,
    /// `Z` / `ZZ`: `+0200`, `+02:00` or `Z`.
    Offset,
    /// `ZZZ`: a zone name such as `Europe/Paris`.
    ZoneId,
    /// `z` to `zzz`: a short name such as `PST` (see `Zone::parse_short_name`).
    ZoneShortName,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Numeric {
    Year,
    /// `Y`: the year of the era, which Joda reads without a sign, from 1.
    YearOfEra,
    Month,
    Day,
    DayOfYear,
    Weekday,
    Hour,
    ClockHourOfDay,
    HourOfHalfDay,
    ClockHourOfHalfDay,
    Minute,
    Second,
}

/// What a pattern read from one text: the fields, in the order read, which
/// `bucket::compute` sets as Joda does (anything not read keeps Joda's
/// defaults: January 1st of the start year or 1970, midnight), and the
/// offset or zone.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fields {
    pub saved: Vec<Saved>,
    /// A UTC offset read from the text, in milliseconds east of UTC.
    pub offset_millis: Option<i32>,
    pub zone: Option<Zone>,
}

impl Pattern {
    /// Compiles a Joda pattern; an error names the offending part.
    pub fn compile(pattern: &str) -> Result<Pattern, String> {
        let runs = joda::tokens(pattern);
        if runs.is_empty() {
            return Err("empty date pattern".into());
        }
        let mut tokens = Vec::with_capacity(runs.len());
        for (index, run) in runs.iter().enumerate() {
            let (letter, len) = match run {
                Run::Literal(text) => {
                    tokens.push(Token::Literal(text.clone()));
                    continue;
                }
                Run::Letters(letter, len) => (*letter, *len),
            };
            let number_follows = runs.get(index + 1).is_some_and(Run::is_numeric);
            // Joda's `appendDecimal(field, letters, usual)` reads up to the
            // larger of the two, so `ddd` takes `024`.
            let number = |field, usual: usize| Token::Number {
                field,
                max_digits: len.max(usual),
            };
            tokens.push(match letter {
                'y' | 'Y' => match len {
                    2 => Token::TwoDigitYear {
                        lenient: !number_follows,
                    },
                    _ => {
                        let field = match letter {
                            'Y' => Numeric::YearOfEra,
                            _ => Numeric::Year,
                        };
                        // Joda's `appendYear(letters, 9)`: more letters
                        // than nine raise the most digits read to their count.
                        let max_digits = if number_follows { len } else { len.max(9) };
                        Token::Number { field, max_digits }
                    }
                },
                'M' if len >= 3 => Token::MonthName,
                'M' => number(Numeric::Month, 2),
                'd' => number(Numeric::Day, 2),
                'D' => number(Numeric::DayOfYear, 3),
                'E' => Token::WeekdayName,
                'e' => number(Numeric::Weekday, 1),
                'a' => Token::HalfDay,
                'H' => number(Numeric::Hour, 2),
                'k' => number(Numeric::ClockHourOfDay, 2),
                'K' => number(Numeric::HourOfHalfDay, 2),
                'h' => number(Numeric::ClockHourOfHalfDay, 2),
                'm' => number(Numeric::Minute, 2),
                's' => number(Numeric::Second, 2),
                // Joda's `appendFractionOfSecond(len, len)` reads up to
                // `len` digits, but never more than 18.
                'S' => Token::Fraction(len.min(18)),
                'Z' if len <= 2 => Token::Offset,
                'Z' => Token::ZoneId,
                'z' if len <= 3 => Token::ZoneShortName,
                // Joda takes the pattern and then throws "Parsing not
                // supported" on every value.
                'z' => {
                    return Err(
                        "`zzzz` (long zone names like Pacific Standard Time) cannot be parsed, as in Logstash; use `z` for PST, `Z` for +0200 or `ZZZ` for Europe/Paris"
                            .into(),
                    );
                }
                'G' | 'C' | 'x' | 'w' => {
                    return Err(format!(
                        "`{letter}` (era, century, week-year or week) is not supported"
                    ));
                }
                other => {
                    return Err(format!(
                        "unknown pattern letter `{other}`; quote literal text like 'T'"
                    ));
                }
            });
        }
        // Logstash's `JodaParser` decides by the text alone (`hasYear =
        // pattern.contains("Y") || pattern.contains("y")`), so a `y` in
        // quoted text (`'Day'`) turns the year guess off too, and the date
        // is read as Joda reads it (see `format::resolve`).
        let has_year = pattern.contains(['y', 'Y']);
        // Without a year, it parses to a local time (`parseLocalDateTime`)
        // unless the text holds a `Z` (`hasZone`), and a local time keeps no
        // zone: `Jun 01 12:00:00 PST` read with `MMM dd HH:mm:ss z` is noon
        // in `timezone`, the `PST` read and thrown away.
        let keeps_read_zone = has_year || pattern.contains('Z');
        Ok(Pattern {
            tokens,
            has_year,
            keeps_read_zone,
        })
    }

    /// Whether the pattern reads month or day names, or AM/PM: the only
    /// letters that need the locale's names.
    pub fn reads_names(&self) -> bool {
        (self.tokens.iter())
            .any(|t| matches!(t, Token::MonthName | Token::WeekdayName | Token::HalfDay))
    }

    /// Whether Logstash takes the pattern to have a year; those it takes to
    /// have none (syslog's `MMM d HH:mm:ss`) get one from the clock.
    pub fn has_year(&self) -> bool {
        self.has_year
    }

    /// Whether an offset or zone the text gives is used, or dropped as
    /// Logstash drops it (see `compile`).
    pub fn keeps_read_zone(&self) -> bool {
        self.keeps_read_zone
    }

    /// Reads `text`, which must match the whole pattern.
    pub fn parse(&self, text: &str, names: &Names, now_year: i32) -> Result<Fields, String> {
        let mut fields = Fields::default();
        let mut rest = text;
        for token in &self.tokens {
            let malformed = || format!("`{text}` is malformed at `{rest}`");
            match token {
                Token::Literal(literal) => {
                    let len = literal_at_start(rest, literal).ok_or_else(malformed)?;
                    rest = &rest[len..];
                }
                Token::Number { field, max_digits } => {
                    let (value, len) =
                        number(rest, *max_digits, *field == Numeric::Year).ok_or_else(malformed)?;
                    rest = &rest[len..];
                    fields.saved.push(saved(*field, value, text)?);
                }
                Token::TwoDigitYear { lenient } => {
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    let (year, len) = if *lenient && digits != 2 {
                        number(rest, 9, true).ok_or_else(malformed)?
                    } else if digits >= 2 {
                        (two_digit_year(rest[..2].parse().unwrap(), now_year), 2)
                    } else {
                        return Err(malformed());
                    };
                    let year = i32::try_from(year).map_err(|_| malformed())?;
                    fields.saved.push(Saved::Year(year));
                    rest = &rest[len..];
                }
                Token::Fraction(max_digits) => {
                    let digits = rest
                        .bytes()
                        .take(*max_digits)
                        .take_while(u8::is_ascii_digit)
                        .count();
                    if digits == 0 {
                        return Err(malformed());
                    }
                    // Joda keeps milliseconds; nine digits hold them all.
                    let kept = digits.min(9);
                    let value: u32 = rest[..kept].parse().unwrap();
                    fields
                        .saved
                        .push(Saved::Fraction(value * 10u32.pow(9 - kept as u32)));
                    rest = &rest[digits..];
                }
                Token::MonthName => {
                    let (month, len) = names.month(rest).ok_or_else(malformed)?;
                    fields.saved.push(Saved::Month(month));
                    rest = &rest[len..];
                }
                Token::WeekdayName => {
                    let (day, len) = names.weekday(rest).ok_or_else(malformed)?;
                    fields.saved.push(Saved::DayOfWeek(day));
                    rest = &rest[len..];
                }
                Token::HalfDay => {
                    let (pm, len) = names.half_day(rest).ok_or_else(malformed)?;
                    fields.saved.push(Saved::HalfDay(pm));
                    rest = &rest[len..];
                }
                Token::Offset => {
                    let (offset, len) = zone::offset(rest).ok_or_else(malformed)?;
                    fields.offset_millis = Some(offset);
                    rest = &rest[len..];
                }
                Token::ZoneId | Token::ZoneShortName => {
                    let found = match token {
                        Token::ZoneId => Zone::parse_prefix(rest),
                        _ => Zone::parse_short_name(rest),
                    };
                    let (zone, len) = found.ok_or_else(malformed)?;
                    fields.zone = Some(zone);
                    rest = &rest[len..];
                }
            }
        }
        if !rest.is_empty() {
            return Err(format!("`{text}` has extra text at `{rest}`"));
        }
        Ok(fields)
    }
}

/// Up to `max_digits` digits at the start of `text` (with a sign, for years).
pub(crate) fn number(text: &str, max_digits: usize, signed: bool) -> Option<(i64, usize)> {
    let bytes = text.as_bytes();
    let sign_len = usize::from(signed && matches!(bytes.first(), Some(b'-' | b'+')));
    // Joda's reader wants room for a digit after the sign within its limit,
    // so a one-digit year (`y` before a number) takes no sign.
    if sign_len == 1 && max_digits < 2 {
        return None;
    }
    // Summed here rather than counted and then handed to `str::parse`, which
    // would read them again (a date has six numbers, on every event). Up to
    // 18 digits cannot overflow; longer runs go to `parse` after all.
    let mut digits = 0;
    let mut value: i64 = 0;
    for &byte in bytes[sign_len..].iter().take(max_digits) {
        if !byte.is_ascii_digit() {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(i64::from(byte - b'0'));
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    if digits > 18 {
        value = text[sign_len..sign_len + digits].parse().ok()?;
    }
    let value = if bytes[0] == b'-' { -value } else { value };
    Some((value, sign_len + digits))
}

/// The length of `literal` at the start of `text`, matched as Joda matches
/// quoted text: in any case, letter by letter (`'à'` takes `À`).
fn literal_at_start(text: &str, literal: &str) -> Option<usize> {
    if let Some(head) = text.get(..literal.len())
        && head.eq_ignore_ascii_case(literal)
    {
        return Some(literal.len());
    }
    if literal.is_ascii() {
        return None;
    }
    let mut len = 0;
    let mut chars = text.chars();
    for expected in literal.chars() {
        let found = chars.next()?;
        let same = found == expected
            || found.to_uppercase().eq(expected.to_uppercase())
            || found.to_lowercase().eq(expected.to_lowercase());
        if !same {
            return None;
        }
        len += found.len_utf8();
    }
    Some(len)
}

/// Joda's two-digit year: the century is chosen so the year falls within
/// 80 years before and 20 years after `now_year`.
fn two_digit_year(value: i64, now_year: i32) -> i64 {
    let low = i64::from(now_year) - 80;
    let low_in_century = low.rem_euclid(100);
    value + low - low_in_century + if value < low_in_century { 100 } else { 0 }
}

/// The field Joda saves for a number read, checked against the field's
/// range (a day of the month or year is checked again against the date it
/// lands on, when set).
fn saved(field: Numeric, value: i64, text: &str) -> Result<Saved, String> {
    let in_range = |low: i64, high: i64, name: &str| {
        if (low..=high).contains(&value) {
            Ok(value as u32)
        } else {
            Err(format!(
                "`{text}`: {name} {value} is out of range {low}-{high}"
            ))
        }
    };
    Ok(match field {
        Numeric::Year => {
            Saved::Year(i32::try_from(value).map_err(|_| format!("`{text}`: year out of range"))?)
        }
        // Joda's ranges; `y` is checked against them when set.
        Numeric::YearOfEra => Saved::YearOfEra(in_range(1, 292_278_993, "year of era")? as i32),
        Numeric::Month => Saved::Month(in_range(1, 12, "month")?),
        Numeric::Day => Saved::DayOfMonth(in_range(1, 31, "day")?),
        Numeric::DayOfYear => Saved::DayOfYear(in_range(1, 366, "day of year")?),
        Numeric::Weekday => Saved::DayOfWeek(in_range(1, 7, "day of week")?),
        Numeric::Hour => Saved::HourOfDay(in_range(0, 23, "hour")?),
        Numeric::ClockHourOfDay => Saved::HourOfDay(in_range(1, 24, "hour")? % 24),
        Numeric::HourOfHalfDay => Saved::HourOfHalfDay(in_range(0, 11, "hour")?),
        Numeric::ClockHourOfHalfDay => Saved::HourOfHalfDay(in_range(1, 12, "hour")? % 12),
        Numeric::Minute => Saved::Minute(in_range(0, 59, "minute")?),
        Numeric::Second => Saved::Second(in_range(0, 59, "second")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::Saved::*;
    use crate::names;

    fn parse(pattern: &str, text: &str) -> Result<Fields, String> {
        let en = names::for_locale(None).unwrap();
        Pattern::compile(pattern).unwrap().parse(text, &en, 2026)
    }

    /// The fields `text` reads as, in the order read.
    fn saved(pattern: &str, text: &str) -> Vec<Saved> {
        parse(pattern, text).unwrap().saved
    }

    #[test]
    fn apache_access_log_timestamp() {
        let f = parse("dd/MMM/yyyy:HH:mm:ss Z", "17/May/2015:10:05:03 +0000").unwrap();
        assert_eq!(
            f.saved,
            [
                DayOfMonth(17),
                Month(5),
                Year(2015),
                HourOfDay(10),
                Minute(5),
                Second(3)
            ]
        );
        assert_eq!(f.offset_millis, Some(0));
        let f = parse("dd/MMM/yyyy:HH:mm:ss Z", "17/May/2015:10:05:03 -05:30").unwrap();
        assert_eq!(f.offset_millis, Some(-(5 * 3600 + 30 * 60) * 1000));
    }

    #[test]
    fn year_of_era_and_literals_as_joda_reads_them() {
        // Joda 2.10: `Y` takes no sign and no year 0; `y` takes both.
        assert!(parse("YYYY-MM-dd", "+2015-05-17").is_err());
        assert!(parse("YYYY-MM-dd", "0000-05-17").is_err());
        assert_eq!(saved("YYYY-MM-dd", "0001-05-17")[0], YearOfEra(1));
        assert_eq!(saved("yyyy-MM-dd", "+2015-05-17")[0], Year(2015));
        // Quoted text in any case, beyond ASCII too.
        assert_eq!(
            saved("dd/MM/yyyy 'à' HH:mm", "17/05/2015 À 10:05")[3],
            HourOfDay(10)
        );
        assert_eq!(
            saved("dd/MM/yyyy 'T' HH:mm", "17/05/2015 t 10:05")[3],
            HourOfDay(10)
        );
        assert!(parse("dd/MM/yyyy 'à' HH:mm", "17/05/2015 a 10:05").is_err());
    }

    #[test]
    fn numbers_are_read_with_their_sign_width_and_range() {
        assert_eq!(number("2015-05", 9, true), Some((2015, 4)));
        assert_eq!(number("-0042x", 9, true), Some((-42, 5)));
        assert_eq!(number("+7", 9, true), Some((7, 2)));
        assert_eq!(number("-7", 9, false), None);
        // Joda 2.10.14 refuses `ydd` on `-110`, and reads `yyyMM` on
        // `-12103` as the year -121.
        assert_eq!(number("-110", 1, true), None);
        assert_eq!(number("-12103", 3, true), Some((-121, 4)));
        assert_eq!(number("123456", 2, false), Some((12, 2)));
        let eighteen = "999999999999999999";
        assert_eq!(
            number(eighteen, 30, false),
            Some((999_999_999_999_999_999, 18))
        );
        assert_eq!(
            number("9223372036854775807", 30, false),
            Some((i64::MAX, 19))
        );
        assert_eq!(number("9223372036854775808", 30, false), None);
        assert_eq!(number("x1", 9, false), None);
    }

    #[test]
    fn fractions_and_literal_text() {
        let f = saved("yyyy-MM-dd HH:mm:ss,SSS", "2015-10-18 18:01:47,978");
        assert_eq!(f[6], Fraction(978_000_000));
        let f = saved("yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "2015-10-18T18:01:47.5");
        assert_eq!(f[6], Fraction(500_000_000));
        assert!(parse("yyyy-MM-dd HH:mm:ss,SSS", "2015-10-18 18:01:47,9781").is_err());
        // Up to 18 digits, whatever the letters, as Joda; nanoseconds kept.
        let f = saved("HH:mm:ss.SSSSSSSSSS", "18:01:47.1234567891");
        assert_eq!(f[3], Fraction(123_456_789));
        let twenty = format!("ss.{}", "S".repeat(20));
        assert!(parse(&twenty, "47.123456789012345678").is_ok());
        assert!(parse(&twenty, "47.1234567890123456789").is_err());
        assert_eq!(saved("'at' H 'o''clock'", "AT 7 o'clock"), [HourOfDay(7)]);
        // A quote left open runs to the end, as Joda reads it.
        assert_eq!(saved("HH 'open", "10 open"), [HourOfDay(10)]);
        assert!(parse("HH 'open", "10 'open").is_err());
    }

    #[test]
    fn syslog_patterns_without_a_year() {
        let pattern = Pattern::compile("MMM  d HH:mm:ss").unwrap();
        assert!(!pattern.has_year());
        // Logstash looks for a `y` in the text, quoted or not.
        assert!(Pattern::compile("MMM d HH:mm:ss 'Day'").unwrap().has_year());
        let f = saved("MMM  d HH:mm:ss", "Jun  9 06:06:20");
        assert_eq!(f[..2], [Month(6), DayOfMonth(9)]);
        assert!(parse("MMM d HH:mm:ss", "Jun  9 06:06:20").is_err());
        assert!(parse("MMM dd HH:mm:ss", "Jun 14 15:16:01").is_ok());
        assert!(parse("MMM dd HH:mm:ss", "Jun 9 15:16:01").is_ok());
    }

    #[test]
    fn adjacent_numbers_and_two_digit_years() {
        let f = saved("yyMMdd HHmmss", "081109 203615");
        assert_eq!(f[..3], [Year(2008), Month(11), DayOfMonth(9)]);
        assert_eq!(f[3..], [HourOfDay(20), Minute(36), Second(15)]);
        assert_eq!(saved("yy", "50"), [Year(1950)]);
        assert_eq!(saved("yy", "45"), [Year(2045)]);
        // Without a number after it, `yy` also takes a full year, as in Joda.
        assert_eq!(saved("yy-MM", "1999-01")[0], Year(1999));
        let f = saved("yyyyMMddHHmmss", "20150517100503");
        assert_eq!((f[0], f[5]), (Year(2015), Second(3)));
    }

    #[test]
    fn day_names_twelve_hour_clock_and_zone_ids() {
        let f = saved("EEE MMM dd HH:mm:ss yyyy", "Sun Dec 04 04:47:44 2005");
        assert_eq!(f[..3], [DayOfWeek(7), Month(12), DayOfMonth(4)]);
        assert_eq!((f[3], f[6]), (HourOfDay(4), Year(2005)));
        let f = saved(
            "EEEE, MMMM d, yyyy h:mm a",
            "Tuesday, March 3, 2020 12:05 AM",
        );
        assert_eq!(f[4..], [HourOfHalfDay(0), Minute(5), HalfDay(false)]);
        assert_eq!(saved("h:mm a", "1:05 PM")[2], HalfDay(true));
        let f = parse("yyyy-MM-dd HH:mm ZZZ", "2020-03-03 10:00 Europe/Paris").unwrap();
        assert!(f.zone.is_some());
        // Joda's zone-ID reader takes a `/` in the next 11 characters for the
        // end of an area: Joda 2.10.14 refuses the first three, reads the rest.
        assert!(parse("HH:mm ZZZ dd/MM", "10:05 UTC 17/05").is_err());
        assert!(parse("HH:mm ZZZ'/'SSS", "10:05 EST/123").is_err());
        assert!(parse("HH:mm ZZZ dd yyy/MM", "10:05 UTC 17 015/05").is_err());
        assert!(parse("HH:mm ZZZ dd yyyy/MM", "10:05 UTC 17 2015/05").is_ok());
        assert!(parse("ZZZ/dd", "Europe/Paris/17").is_ok());
    }

    #[test]
    fn out_of_range_and_malformed_text_fail_with_the_reason() {
        assert!(parse("HH:mm", "24:00").unwrap_err().contains("hour 24"));
        assert!(
            parse("MMM", "Foo")
                .unwrap_err()
                .contains("malformed at `Foo`")
        );
        assert!(
            parse("HH:mm", "10:00 extra")
                .unwrap_err()
                .contains("extra text")
        );
        assert!(parse("HH:mm", "").is_err());
    }

    #[test]
    fn unsupported_letters_are_init_errors() {
        assert!(
            Pattern::compile("HH:mm zzzz")
                .unwrap_err()
                .contains("cannot be parsed")
        );
        assert!(
            Pattern::compile("yyyy-MM-ddTHH")
                .unwrap_err()
                .contains("unknown pattern letter `T`")
        );
        assert!(Pattern::compile("").is_err());
    }
}

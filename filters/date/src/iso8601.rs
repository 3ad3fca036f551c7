//! `ISO8601` as Logstash reads it: Joda-Time's ISO date-time parser, then,
//! if that fails, four "almost ISO" patterns with a space for the `T`
//! (`yyyy-MM-dd HH:mm:ss.SSSZ`, the same without the offset, and both with
//! a comma before the fraction), tried in that order.
//!
//! Joda's ISO parser reads more than the common `2015-05-17T10:05:03Z`, and
//! Logstash users get all of it: fields of fewer digits (`2015-5-7T1:2:3`),
//! a year of one to nine digits with a sign, ordinal dates (`2015-137`),
//! week dates (`2015-W20-3`), a fraction on the last time field, hours or
//! minutes included (`T10.5` is 10:30), a `T` with no time, and a time with
//! no date (`T10:30`, on 1970-01-01). `compat/JodaOracle.java` checked this
//! grammar against Joda itself; see `tests/joda_cases.rs`.

use chrono::{Datelike, NaiveDate, Weekday};

use crate::bucket::Saved;
use crate::names::Names;
use crate::pattern::{self, Fields, Pattern};
use crate::zone;

/// The parsers `ISO8601` tries, compiled once.
pub struct Iso8601 {
    almost: Vec<Pattern>,
}

impl Iso8601 {
    pub fn new() -> Iso8601 {
        let almost = [
            "yyyy-MM-dd HH:mm:ss.SSSZ",
            "yyyy-MM-dd HH:mm:ss.SSS",
            "yyyy-MM-dd HH:mm:ss,SSSZ",
            "yyyy-MM-dd HH:mm:ss,SSS",
        ];
        Iso8601 {
            almost: (almost.iter())
                .map(|pattern| Pattern::compile(pattern).expect("a valid built-in pattern"))
                .collect(),
        }
    }

    /// The fields of `text`; the error is the ISO parser's, which says more
    /// than the patterns'.
    pub fn parse(&self, text: &str, names: &Names, init_year: i32) -> Result<Fields, String> {
        date_time(text).or_else(|iso_error| {
            (self.almost.iter())
                .find_map(|pattern| pattern.parse(text, names, init_year).ok())
                .ok_or(iso_error)
        })
    }
}

/// Joda's `ISODateTimeFormat.dateTimeParser()`: a date, then optionally `T`,
/// a time and an offset; or `T`, a time and an offset alone.
fn date_time(text: &str) -> Result<Fields, String> {
    let malformed = |at: &str| format!("`{text}` is not ISO 8601 (malformed at `{at}`)");
    let mut fields = Fields::default();
    let rest = match text.strip_prefix(['T', 't']) {
        // No date: Joda's default year is for dates, so 1970.
        Some(time) => time_of_day(time, &mut fields).ok_or_else(|| malformed(time))?,
        None => {
            let rest = date(text, &mut fields).ok_or_else(|| malformed(text))?;
            match rest.strip_prefix(['T', 't']) {
                None if rest.is_empty() => return Ok(fields),
                None => return Err(malformed(rest)),
                Some(time) if time.starts_with(|c: char| c.is_ascii_digit()) => {
                    time_of_day(time, &mut fields).ok_or_else(|| malformed(time))?
                }
                Some(no_time) => no_time,
            }
        }
    };
    if !rest.is_empty() {
        let (offset, len) = zone::offset(rest).ok_or_else(|| malformed(rest))?;
        if len != rest.len() {
            return Err(malformed(&rest[len..]));
        }
        fields.offset_millis = Some(offset);
    }
    Ok(fields)
}

/// `[+-]y{1,9}`, then `-M{1,2}[-d{1,2}]`, `-D{1,3}` or `-Ww{1,2}[-e]`.
/// Where a calendar and an ordinal date both fit, the longer wins, and the
/// calendar date on a tie (`2015-12` is December), as in Joda. Returns what
/// follows the date.
fn date<'t>(text: &'t str, fields: &mut Fields) -> Option<&'t str> {
    let (year, len) = pattern::number(text, 9, true)?;
    let year = i32::try_from(year).ok()?;
    let rest = &text[len..];
    let Some(after) = rest.strip_prefix('-') else {
        fields.saved.push(Saved::Year(year));
        return Some(rest);
    };
    if let Some(week_date) = after.strip_prefix(['W', 'w']) {
        let (week, mut rest) = number(week_date, 2)?;
        let mut weekday = 1;
        if let Some((day, after_day)) = rest.strip_prefix('-').and_then(|r| number(r, 1)) {
            weekday = day;
            rest = after_day;
        }
        let weekday = Weekday::try_from(u8::try_from(weekday).ok()?.checked_sub(1)?).ok()?;
        // ISO weeks repeat every 400 years (146,097 days are whole weeks),
        // so a year past `chrono`'s is placed whole cycles nearer.
        let cycles = year / 400 - year.clamp(-200_000, 200_000) / 400;
        let date = NaiveDate::from_isoywd_opt(year - cycles * 400, week, weekday)?;
        fields.saved.extend([
            Saved::Year(date.year() + cycles * 400),
            Saved::Month(date.month()),
            Saved::DayOfMonth(date.day()),
        ]);
        return Some(rest);
    }
    let (month, mut calendar_rest) = number(after, 2)?;
    let mut day = None;
    if let Some((value, after_day)) = calendar_rest.strip_prefix('-').and_then(|r| number(r, 2)) {
        day = Some(value);
        calendar_rest = after_day;
    }
    let (ordinal, ordinal_rest) = number(after, 3)?;
    fields.saved.push(Saved::Year(year));
    if ordinal_rest.len() < calendar_rest.len() {
        fields.saved.push(Saved::DayOfYear(ordinal));
        return Some(ordinal_rest);
    }
    fields.saved.push(Saved::Month(month));
    fields.saved.extend(day.map(Saved::DayOfMonth));
    Some(calendar_rest)
}

/// `H{1,2}`, then `:m{1,2}` and `:s{1,2}`, the last field read with an
/// optional fraction after `.` or `,`. Returns what follows.
fn time_of_day<'t>(text: &'t str, fields: &mut Fields) -> Option<&'t str> {
    let (hour, mut rest) = number(text, 2)?;
    let (mut minute, mut second, mut nanos) = (0, 0, 0);
    // The field a fraction would belong to, as its length in milliseconds.
    let mut unit = 3_600_000;
    for slot in [&mut minute, &mut second] {
        let Some((value, after)) = rest.strip_prefix(':').and_then(|r| number(r, 2)) else {
            break;
        };
        *slot = value;
        rest = after;
        unit /= 60;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if let Some(after) = rest.strip_prefix(['.', ','])
        && let Some(count) = Some(digit_count(after, 9)).filter(|&count| count > 0)
    {
        let millis = fraction_millis(&after[..count], unit);
        minute += millis / 60_000;
        second += millis / 1000 % 60;
        nanos = millis % 1000 * 1_000_000;
        rest = &after[count..];
    }
    fields.saved.extend([
        Saved::HourOfDay(hour),
        Saved::Minute(minute),
        Saved::Second(second),
        Saved::Fraction(nanos),
    ]);
    Some(rest)
}

/// Joda's reading of a fraction of `unit_millis`: each digit is worth a
/// tenth of the one before, in whole tenths of milliseconds, so digits past
/// the unit's precision count for nothing and the result is cut, not
/// rounded (`T10.123456789` is 10:07:24.443, not .444).
fn fraction_millis(digits: &str, unit_millis: u32) -> u32 {
    let mut place = u64::from(unit_millis) * 10;
    let mut tenths = 0;
    for digit in digits.bytes() {
        place /= 10;
        tenths += u64::from(digit - b'0') * place;
    }
    (tenths / 10) as u32
}

/// One to `max` ASCII digits at the start of `text` (pattern's reader,
/// without a sign), and what follows.
fn number(text: &str, max: usize) -> Option<(u32, &str)> {
    let (value, len) = pattern::number(text, max, false)?;
    Some((u32::try_from(value).ok()?, &text[len..]))
}

fn digit_count(text: &str, max: usize) -> usize {
    text.bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::Saved::*;

    fn parse(text: &str) -> Result<Fields, String> {
        let english = crate::names::for_locale(None).unwrap();
        Iso8601::new().parse(text, &english, 2026)
    }

    /// The fields `text` reads as, in order.
    fn saved(text: &str) -> Vec<Saved> {
        parse(text).unwrap().saved
    }

    fn time(hour: u32, minute: u32, second: u32, nanos: u32) -> [Saved; 4] {
        [
            HourOfDay(hour),
            Minute(minute),
            Second(second),
            Fraction(nanos),
        ]
    }

    #[test]
    fn the_common_forms() {
        let f = parse("2015-05-17T10:05:03.123456Z").unwrap();
        assert_eq!(f.saved[..3], [Year(2015), Month(5), DayOfMonth(17)]);
        assert_eq!(f.saved[3..], time(10, 5, 3, 123_000_000));
        assert_eq!(f.offset_millis, Some(0));
        let f = parse("2003-10-11T22:14:15.003-07:00").unwrap();
        assert_eq!(f.offset_millis, Some(-7 * 3_600_000));
        let f = parse("2003-10-11T22:14+0200").unwrap();
        assert_eq!(f.saved[3..], time(22, 14, 0, 0));
        assert_eq!(f.offset_millis, Some(7_200_000));
        let f = parse("2003-10-11").unwrap();
        assert_eq!(f.saved, [Year(2003), Month(10), DayOfMonth(11)]);
        assert_eq!(f.offset_millis, None);
        assert_eq!(
            saved("2015-10-18 18:01:47,978")[3..],
            [HourOfDay(18), Minute(1), Second(47), Fraction(978_000_000)]
        );
        let f = parse("2015-10-18 18:01:47.978+0100").unwrap();
        assert_eq!(f.offset_millis, Some(3_600_000));
    }

    #[test]
    fn what_else_joda_reads() {
        // Each answer below is Joda 2.10's for the same text.
        let f = saved("2015-5-7T1:2:3.4");
        assert_eq!(f[..3], [Year(2015), Month(5), DayOfMonth(7)]);
        assert_eq!(f[3..], time(1, 2, 3, 400_000_000));
        assert_eq!(saved("197"), [Year(197)]);
        assert_eq!(saved("-2015"), [Year(-2015)]);
        assert_eq!(saved("2015-123"), [Year(2015), DayOfYear(123)]);
        assert_eq!(saved("2015-12"), [Year(2015), Month(12)]);
        let f = saved("2015-W01-1T10");
        assert_eq!(f[..3], [Year(2014), Month(12), DayOfMonth(29)]);
        assert_eq!(f[3..], time(10, 0, 0, 0));
        assert_eq!(
            saved("2015-01-02T10.123456789")[3..],
            time(10, 7, 24, 443_000_000)
        );
        assert_eq!(saved("2015-01-02T10:30,5")[3..], time(10, 30, 30, 0));
        let f = parse("T10:30Z").unwrap();
        assert_eq!(f.saved, time(10, 30, 0, 0));
        assert_eq!(f.offset_millis, Some(0));
        let f = parse("2015-01-02T+05:00").unwrap();
        assert_eq!(f.saved, [Year(2015), Month(1), DayOfMonth(2)]);
        assert_eq!(f.offset_millis, Some(5 * 3_600_000));
        assert!(parse("2015-01-02T").is_ok());
        assert_eq!(saved("2015-w20-3")[2], DayOfMonth(13));
        // Past `chrono`'s years, as Joda: the 53rd week's Friday of 1001305
        // is in 1001306.
        let f = saved("1001305-W53-5");
        assert_eq!(f, [Year(1_001_306), Month(1), DayOfMonth(1)]);
        let f = saved("-1996702-W12-5");
        assert_eq!(f, [Year(-1_996_702), Month(3), DayOfMonth(21)]);
    }

    #[test]
    fn what_joda_refuses() {
        for bad in [
            "",
            "T",
            "Tz",
            " 2015",
            "2015 ",
            "++2015",
            "1234567890",
            "2015-1234",
            "2015-12-123",
            "2015W203",
            "2015-W54",
            "2015-01-02Z",
            "2015-01-02 10:30",
            "2015-01-02T1030",
            "2015-01-02T10:",
            "2015-01-02T24:00",
            "2015-01-02T10:30:15.",
            "2015-01-02T10:30:15.1234567891",
            "2015-01-02T10+5",
            "2015-10-18 18:01:47",
            "2015-10-18 18:01:47.9781",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

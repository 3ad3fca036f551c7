//! One entry of `match` after the field name: a named format or a Joda
//! pattern, and how its result becomes an instant.
//!
//! Year-less patterns (syslog's `MMM d HH:mm:ss`) get their year the way
//! Logstash gives it: the clock's current year, except that a December date
//! read in January belongs to last year and a January date read in December
//! to next year. "Now" comes from the host's clock import, so tests can pin
//! it.

use chrono::{Datelike, NaiveDateTime};

use crate::bucket::{self, CYCLE_MILLIS};
use crate::iso8601::Iso8601;
use crate::names::Names;
use crate::pattern::{Fields, Pattern};
use crate::special;
use crate::zone::Zone;

pub enum Format {
    Joda(Pattern),
    Iso8601(Iso8601),
    Unix,
    UnixMs,
    Tai64n,
}

/// What parsing needs besides the text.
pub struct Context<'a> {
    pub names: &'a Names,
    /// For text without an offset or zone of its own; an error when a
    /// `%{field}` gave no zone, which fails the text formats only (the
    /// epoch formats never read it, in Logstash either).
    pub zone: Result<Zone, String>,
    /// The host's clock, read once per event, for year-less patterns.
    pub now_millis: i64,
    /// The year the filter started in, taken once at init as Logstash
    /// does: `yy` centres on it, and a date without a year is read in it.
    pub init_year: i32,
}

/// The clock as Logstash's `JodaParser` reads it (`clock.read()`): a
/// `DateTime` in the JVM's default zone, for which the sandbox, having no
/// zone of its own, stands UTC. Both of its readings, the start year at init
/// and "now" at each year guess, come through here, so that they cannot be
/// taken in different zones (one in `timezone` put a November date read on
/// Tokyo's New Year's morning eleven months ahead).
pub fn clock_reading(now_millis: i64) -> Option<NaiveDateTime> {
    Zone::UTC.local(now_millis)
}

impl Format {
    pub fn compile(format: &str) -> Result<Format, String> {
        Ok(match format {
            "ISO8601" => Format::Iso8601(Iso8601::new()),
            "UNIX" => Format::Unix,
            "UNIX_MS" => Format::UnixMs,
            "TAI64N" => Format::Tai64n,
            pattern => Format::Joda(Pattern::compile(pattern).map_err(|e| {
                // As in Logstash, only the capitals name a special format.
                let special = ["ISO8601", "UNIX", "UNIX_MS", "TAI64N"]
                    .into_iter()
                    .find(|name| name.eq_ignore_ascii_case(pattern));
                match special {
                    Some(name) => format!("{e}; did you mean `{name}`? (written in capitals)"),
                    None => e,
                }
            })?),
        })
    }

    /// Whether a JSON number can be read with this format: Logstash reads
    /// numbers only with `UNIX` and `UNIX_MS`; its TAI64N parser, like the
    /// text patterns, refuses one.
    pub fn reads_numbers(&self) -> bool {
        matches!(self, Format::Unix | Format::UnixMs)
    }

    /// Whether the locale's names are read (see `Pattern::reads_names`).
    pub fn reads_names(&self) -> bool {
        matches!(self, Format::Joda(pattern) if pattern.reads_names())
    }

    /// Whether the value is a count from an epoch, read in no zone.
    pub fn is_epoch(&self) -> bool {
        matches!(self, Format::Unix | Format::UnixMs)
    }

    /// Whether parsing reads the clock (a pattern without a year).
    pub fn needs_clock(&self) -> bool {
        matches!(self, Format::Joda(pattern) if !pattern.has_year())
    }

    /// The instant `text` denotes, in milliseconds since the epoch.
    pub fn parse(&self, text: &str, context: &Context) -> Result<i64, String> {
        match self {
            Format::Joda(pattern) => {
                let mut fields = pattern.parse(text, context.names, context.init_year)?;
                if !pattern.keeps_read_zone() {
                    (fields.offset_millis, fields.zone) = (None, None);
                }
                resolve(fields, !pattern.has_year(), context)
            }
            Format::Iso8601(iso) => resolve(
                iso.parse(text, context.names, context.init_year)?,
                false,
                context,
            ),
            Format::Unix => special::unix(text),
            Format::UnixMs => special::unix_ms(text),
            Format::Tai64n => special::tai64n(text),
        }
    }
}

/// Turns read fields into an instant: sets them as Joda does (see
/// [`bucket`]), gives the date the guessed year if `year_less` (a pattern
/// Logstash takes to have no year), and applies the offset or zone.
fn resolve(fields: Fields, year_less: bool, context: &Context) -> Result<i64, String> {
    // Joda reads a date without a year in its default year, which the date
    // filter sets to the year the pipeline started in, so a day of the week
    // moves the date within a week of that year, a day of the year counts
    // in it, and Feb 29 fails unless it is a leap year. The date filter
    // then gives the date the guessed year.
    let timezone = context.zone.clone()?;
    let (read, cycles_millis) = bucket::compute(fields.saved, context.init_year)?;
    let zone = match (fields.offset_millis, fields.zone) {
        (Some(millis), _) => Zone::Fixed(millis),
        (None, Some(zone)) => zone,
        (None, None) => timezone,
    };
    let instant = zone.to_utc_millis(read)?;
    if !year_less {
        // Past Joda's edges its arithmetic overflows; here that fails.
        return (instant.checked_add(cycles_millis)).ok_or_else(|| {
            let year = i64::from(read.year()) + cycles_millis / CYCLE_MILLIS * 400;
            format!("{year}-{:02} is past what an instant holds", read.month())
        });
    }
    // The date filter guesses the year from the month on the wall clock of
    // `timezone`, and moves the date there, even when the text has an
    // offset or zone of its own: read in Paris in June, `Dec 31 23:30:00
    // +0000` is 00:30 on January 1st, so it becomes January 1st of this
    // year. (A day name may also have moved the date into another year.)
    let wall = match fields.offset_millis.is_some() || fields.zone.is_some() {
        true => timezone.local(instant).ok_or("date out of range")?,
        false => read,
    };
    let year = guess_year(wall.month(), context)?;
    if year == wall.year() {
        return Ok(instant);
    }
    let moved = bucket::with_year(wall.date(), year)?;
    timezone.to_utc_millis_moved(instant, moved.and_time(wall.time()))
}

/// Logstash's year for a date read without one (see the module comment).
fn guess_year(event_month: u32, context: &Context) -> Result<i32, String> {
    let now = clock_reading(context.now_millis).ok_or("the host clock is out of range")?;
    Ok(match (event_month, now.month()) {
        (12, 1) => now.year() - 1,
        (1, 12) => now.year() + 1,
        _ => now.year(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{format_timestamp, names};

    fn at(format: &str, text: &str, zone: &str, now: &str) -> Result<String, String> {
        let now_millis = Format::compile("ISO8601")
            .unwrap()
            .parse(now, &context(Ok(Zone::UTC), 0))
            .unwrap();
        let context = context(Zone::parse(zone), now_millis);
        let millis = Format::compile(format)?.parse(text, &context)?;
        Ok(format_timestamp(millis))
    }

    static ENGLISH: std::sync::LazyLock<names::Names> =
        std::sync::LazyLock::new(|| names::for_locale(None).unwrap());

    fn context(zone: Result<Zone, String>, now_millis: i64) -> Context<'static> {
        Context {
            names: &ENGLISH,
            zone,
            now_millis,
            init_year: 2026,
        }
    }

    #[test]
    fn year_less_dates_take_the_current_year_with_rollover() {
        let now = "2026-06-10T12:00:00Z";
        assert_eq!(
            at("MMM d HH:mm:ss", "Jun 9 06:06:20", "UTC", now).unwrap(),
            "2026-06-09T06:06:20.000Z"
        );
        assert_eq!(
            at("MMM d HH:mm:ss", "Dec 31 23:59:59", "UTC", now).unwrap(),
            "2026-12-31T23:59:59.000Z"
        );
        // Read in early January, December is last year's...
        let january = "2026-01-02T00:10:00Z";
        assert_eq!(
            at("MMM dd HH:mm:ss", "Dec 31 23:59:59", "UTC", january).unwrap(),
            "2025-12-31T23:59:59.000Z"
        );
        // ... and read in December, January is next year's.
        let december = "2026-12-31T23:50:00Z";
        assert_eq!(
            at("MMM dd HH:mm:ss", "Jan 01 00:00:05", "UTC", december).unwrap(),
            "2027-01-01T00:00:05.000Z"
        );
    }

    #[test]
    fn the_year_guess_reads_the_clock_in_utc_and_the_date_in_the_zone() {
        // 23:30 UTC on Dec 31st is already January in Paris, but the clock
        // (UTC, standing for the JVM's zone) says December 2026: a March
        // date is this year's, a January one next year's.
        let now = "2026-12-31T23:30:00Z";
        assert_eq!(
            at("MMM dd HH:mm:ss", "Mar 01 10:00:00", "Europe/Paris", now).unwrap(),
            "2026-03-01T09:00:00.000Z"
        );
        assert_eq!(
            at("MMM dd HH:mm:ss", "Dec 31 23:00:00", "Europe/Paris", now).unwrap(),
            "2026-12-31T22:00:00.000Z"
        );
        assert_eq!(
            at("MMM dd HH:mm:ss", "Jan 01 00:20:00", "Europe/Paris", now).unwrap(),
            "2026-12-31T23:20:00.000Z"
        );
    }

    #[test]
    fn zones_offsets_and_calendar_checks() {
        let now = "2026-06-10T12:00:00Z";
        assert_eq!(
            at(
                "yyyy-MM-dd HH:mm:ss",
                "2015-07-01 12:00:00",
                "Europe/Paris",
                now
            )
            .unwrap(),
            "2015-07-01T10:00:00.000Z"
        );
        // An offset in the text wins over the configured zone.
        assert_eq!(
            at(
                "dd/MMM/yyyy:HH:mm:ss Z",
                "17/May/2015:10:05:03 +0200",
                "Europe/Paris",
                now
            )
            .unwrap(),
            "2015-05-17T08:05:03.000Z"
        );
        assert_eq!(
            at("ISO8601", "2015-05-17T10:05:03", "America/New_York", now).unwrap(),
            "2015-05-17T14:05:03.000Z"
        );
        assert!(
            at("yyyy-MM-dd", "2015-02-29", "UTC", now)
                .unwrap_err()
                .contains("day 29 is not in 2015-02")
        );
        // As Joda with the start year (2026) as its default year: no Feb
        // 29th, day 60 is March 1st, and a time in the year's gap fails.
        assert!(at("MMM d", "Feb 29", "UTC", now).is_err());
        assert!(at("MMM d", "Feb 30", "UTC", now).is_err());
        assert_eq!(
            at("D HH:mm", "60 10:00", "UTC", now).unwrap(),
            "2026-03-01T10:00:00.000Z"
        );
        assert_eq!(
            at("MMM dd HH:mm:ss", "Mar 26 02:30:00", "Europe/Paris", now).unwrap(),
            "2026-03-26T01:30:00.000Z"
        );
        assert!(
            at("MMM dd HH:mm:ss", "Mar 29 02:30:00", "Europe/Paris", now)
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(
            at(
                "yyyy MMM dd HH:mm:ss",
                "2026 Mar 29 02:30:00",
                "Europe/Paris",
                now
            )
            .unwrap_err()
            .contains("does not exist")
        );
        assert_eq!(
            at("yyyy D", "2016 366", "UTC", now).unwrap(),
            "2016-12-31T00:00:00.000Z"
        );
    }

    /// Each (pattern, text, zone, Joda 2.10's answer as the date filter
    /// gives it), read with "now" in June 2026 and 2026 as the start year.
    fn as_joda(cases: &[(&str, &str, &str, &str)]) {
        for (pattern, text, zone, joda) in cases {
            let ours = at(pattern, text, zone, "2026-06-10T12:00:00Z");
            assert_eq!(ours.as_deref(), Ok(*joda), "{pattern} {text} in {zone}");
        }
    }

    #[test]
    fn a_day_name_without_a_day_of_the_month_moves_the_date_as_in_joda() {
        as_joda(&[
            // Joda's first pass ends on Monday, December 29th, 2025; the
            // second gives that day the year 2026 again, then moves it to
            // its Monday.
            ("EEE HH:mm", "Mon 10:00", "UTC", "2026-12-28T10:00:00.000Z"),
            ("EEE HH:mm", "Thu 10:00", "UTC", "2026-01-01T10:00:00.000Z"),
            (
                "EEE MMM yyyy",
                "Mon Jan 2015",
                "UTC",
                "2015-01-26T00:00:00.000Z",
            ),
            (
                "e yyyy MMM",
                "1 2016 Mar",
                "UTC",
                "2016-03-28T00:00:00.000Z",
            ),
            // With a day of the month, the second pass changes nothing.
            (
                "EEE MMM d yyyy",
                "Mon Jan 1 2015",
                "UTC",
                "2014-12-29T00:00:00.000Z",
            ),
        ]);
    }

    /// Each (pattern, text, Joda 2.10.14's answer, `None` for a refusal),
    /// read in UTC with "now" in June 2026 and 2026 as the start year.
    fn as_joda_or_refused(cases: &[(&str, &str, Option<&str>)]) {
        for (pattern, text, joda) in cases {
            let ours = at(pattern, text, "UTC", "2026-06-10T12:00:00Z");
            assert_eq!(ours.as_deref().ok(), *joda, "{pattern} {text}: {ours:?}");
        }
    }

    #[test]
    fn fields_are_set_in_jodas_order_twice_each_checked_where_it_lands() {
        // A day of the year after the month, before the day of the month;
        // a weekday last among days, whose move the second pass follows
        // (into February, which has no 30th); two hours in Joda's order.
        as_joda_or_refused(&[
            ("yyyy-MM-DD", "2024-03-05", Some("2024-01-05T00:00:00.000Z")),
            (
                "yyyy-MM-dd DDD",
                "2024-07-15 100",
                Some("2024-04-15T00:00:00.000Z"),
            ),
            (
                "MMM DD HH:mm:ss",
                "Mar 05 10:00:00",
                Some("2026-01-05T10:00:00.000Z"),
            ),
            // Joda: Cannot parse "Sun 30 10:00:00": Value 30 for dayOfMonth must be in the range [1,28]
            ("EEE dd HH:mm:ss", "Sun 30 10:00:00", None),
            ("d-EEEE", "3-Tuesday", Some("2026-12-01T00:00:00.000Z")),
            (
                "yyyy-MM-dd HH:mm:ss KK",
                "2024-03-05 01:00:00 07",
                Some("2024-03-05T07:00:00.000Z"),
            ),
            ("yyyy KK HH", "2020 07 01", Some("2020-01-01T07:00:00.000Z")),
            ("yyyy HH h", "2020 13 5", Some("2020-01-01T17:00:00.000Z")),
            ("yyyy HH a", "2020 10 PM", Some("2020-01-01T10:00:00.000Z")),
            ("yyyy a HH", "2020 PM 10", Some("2020-01-01T10:00:00.000Z")),
            (
                "yyyy h a HH",
                "2020 5 PM 13",
                Some("2020-01-01T17:00:00.000Z"),
            ),
            ("yyyy YYYY", "2015 2016", Some("2016-01-01T00:00:00.000Z")),
            // Two years, one past `chrono`'s: the one set last holds.
            (
                "yy YYYY",
                "06 1001306",
                Some("+1001306-01-01T00:00:00.000Z"),
            ),
            ("yyyy yy", "-1996703 03", Some("2003-01-01T00:00:00.000Z")),
            ("YYYY yyyy", "2016 2015", Some("2015-01-01T00:00:00.000Z")),
            // Joda: Cannot parse "2023-02-28 366": Value 366 for dayOfYear must be in the range [1,365]
            ("yyyy-MM-dd D", "2023-02-28 366", None),
            // Joda: Cannot parse "31 01 2016 60": Value 31 for dayOfMonth must be in the range [1,29]
            ("dd MM yyyy D", "31 01 2016 60", None),
            (
                "dd MM yyyy D",
                "29 01 2016 60",
                Some("2016-02-29T00:00:00.000Z"),
            ),
            (
                "EEE yyyy-MM-dd",
                "Mon 2015-01-01",
                Some("2014-12-29T00:00:00.000Z"),
            ),
            (
                "yyyy-MM-dd EEE",
                "2015-01-01 Sun",
                Some("2015-01-04T00:00:00.000Z"),
            ),
            ("D EEE yyyy", "1 Sun 2016", Some("2016-01-03T00:00:00.000Z")),
            (
                "yyyy MM EEE dd",
                "2026 02 Sun 28",
                Some("2026-03-01T00:00:00.000Z"),
            ),
            (
                "yyyy-MM-dd HH:mm:ss.SSS a",
                "2024-03-05 15:00:00.250 AM",
                Some("2024-03-05T15:00:00.250Z"),
            ),
        ]);
    }

    #[test]
    fn numbers_take_as_many_digits_as_letters() {
        as_joda_or_refused(&[
            (
                "ddd/MMM/yyyy",
                "024/Sep/2036",
                Some("2036-09-24T00:00:00.000Z"),
            ),
            (
                "yyyy HHH:mm",
                "2020 013:58",
                Some("2020-01-01T13:58:00.000Z"),
            ),
            (
                "yyyy-MM-dd HH:mm:sss",
                "2020-01-02 10:05:007",
                Some("2020-01-02T10:05:07.000Z"),
            ),
            ("DDDD yyyy", "0100 2020", Some("2020-04-09T00:00:00.000Z")),
            (
                "eee yyyy-MM-dd",
                "003 2020-01-02",
                Some("2020-01-01T00:00:00.000Z"),
            ),
        ]);
    }

    #[test]
    fn a_year_less_time_with_an_offset_takes_its_year_in_the_filters_zone() {
        let utc_text = "Dec 31 23:30:00 +0000";
        as_joda(&[
            // In Paris this is 00:30 on January 1st, 2027, which the year
            // guess puts in 2026: a year before the text's own reading.
            (
                "MMM dd HH:mm:ss Z",
                utc_text,
                "Europe/Paris",
                "2025-12-31T23:30:00.000Z",
            ),
            (
                "MMM dd HH:mm:ss Z",
                "Jan 01 00:30:00 +0200",
                "UTC",
                "2026-12-31T22:30:00.000Z",
            ),
            (
                "MMM dd HH:mm:ss Z",
                "Jun 01 00:30:00 +0200",
                "UTC",
                "2026-05-31T22:30:00.000Z",
            ),
        ]);
    }

    #[test]
    fn a_year_less_pattern_without_a_capital_z_drops_the_zone_it_read() {
        // Logstash parses such a pattern to a local time, in `timezone`.
        as_joda(&[
            (
                "MMM dd HH:mm:ss z",
                "Jun 01 12:00:00 PST",
                "UTC",
                "2026-06-01T12:00:00.000Z",
            ),
            (
                "EEE MMM dd HH:mm:ss zzz",
                "Mon Jun 01 12:00:00 EDT",
                "UTC",
                "2026-06-01T12:00:00.000Z",
            ),
            (
                "MMM dd HH:mm:ss z",
                "Jun 01 12:00:00 UTC",
                "Europe/Paris",
                "2026-06-01T10:00:00.000Z",
            ),
            // A `Z` anywhere keeps it, and so does a year.
            (
                "MMM dd HH:mm:ss z 'Z'",
                "Jun 01 12:00:00 PST Z",
                "UTC",
                "2026-06-01T19:00:00.000Z",
            ),
            (
                "yyyy MMM dd HH:mm:ss z",
                "2026 Jun 01 12:00:00 PST",
                "UTC",
                "2026-06-01T19:00:00.000Z",
            ),
        ]);
    }

    #[test]
    fn years_past_chronos_range_are_read_as_joda_reads_them() {
        let minute = "yyyy-MM-dd HH:mm";
        as_joda(&[
            (
                minute,
                "20260922-06-01 12:00",
                "Europe/Paris",
                "+20260922-06-01T10:00:00.000Z",
            ),
            // Before Paris's history, its local mean time (+00:09:21).
            (
                minute,
                "-300000-06-01 12:00",
                "Europe/Paris",
                "-300000-06-01T11:50:39.000Z",
            ),
            (
                "EEE yyyy-MM-dd",
                "Mon 20260922-09-22",
                "UTC",
                "+20260922-09-21T00:00:00.000Z",
            ),
            (
                "yyyy-MM-dd",
                "292278994-08-17",
                "UTC",
                "+292278994-08-17T00:00:00.000Z",
            ),
            (
                "ISO8601",
                "20260922",
                "America/New_York",
                "+20260922-01-01T05:00:00.000Z",
            ),
        ]);
        let fails = |format: &str, text: &str, zone: &str| {
            at(format, text, zone, "2026-06-10T12:00:00Z").unwrap_err()
        };
        // Summer time begins on the last Sunday of March there too.
        assert!(fails(minute, "20260922-03-29 02:30", "Europe/Paris").contains("does not exist"));
        assert!(fails("yyyy-MM-dd", "292278995-01-01", "UTC").contains("outside Joda-Time's"));
        assert!(fails("YYYY-MM-dd", "292278994-01-01", "UTC").contains("year of era"));
    }

    #[test]
    fn named_formats() {
        let now = "2026-06-10T12:00:00Z";
        assert_eq!(
            at("UNIX", "1431857103.25", "Europe/Paris", now).unwrap(),
            "2015-05-17T10:05:03.250Z"
        );
        assert_eq!(
            at("UNIX_MS", "1431857103123", "UTC", now).unwrap(),
            "2015-05-17T10:05:03.123Z"
        );
        assert_eq!(
            at(
                "EEE MMM dd HH:mm:ss yyyy",
                "Sun Dec 04 04:47:44 2005",
                "UTC",
                now
            )
            .unwrap(),
            "2005-12-04T04:47:44.000Z"
        );
    }
}

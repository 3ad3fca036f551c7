//! Time zones: the `timezone` option and `ZZZ` in patterns.
//!
//! Local times in logs need the zone's full history (a 2005 log from New York
//! follows the DST rules of 2005, not today's), so named zones come from the
//! IANA database compiled in by `chrono-tz`. That costs module size (see the
//! README); a hand-made table of today's rules would be smaller but wrong for
//! old logs.

use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// The characters Joda's zone-ID reader looks through for an area's `/`:
/// its longest area with the slash, `Antarctica/`.
const LONGEST_AREA: usize = 11;

/// The last year `chrono-tz`'s tables cover: after it they stop changing.
const LAST_TABLED_YEAR: i32 = 2099;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// A fixed offset east of UTC, in milliseconds.
    Fixed(i32),
    Named(Tz),
}

impl Zone {
    pub const UTC: Zone = Zone::Fixed(0);

    /// An IANA name (`Europe/Paris`, `UTC`) or a fixed offset (`+02:00`,
    /// `-0500`), as Joda's `DateTimeZone.forID` takes them: it reads an
    /// offset only after a sign, so `Z`, which a pattern's `Z` reads in the
    /// text, is no zone there, and Logstash refuses it.
    pub fn parse(name: &str) -> Result<Zone, String> {
        if name.starts_with(['+', '-'])
            && let Some((millis, len)) = offset(name)
            && len == name.len()
        {
            return Ok(Zone::Fixed(millis));
        }
        name.parse::<Tz>().map(Zone::Named).map_err(|_| {
            let hint = match name {
                "Z" | "z" => " (Joda-Time, and so Logstash, does not take `Z` as a zone)",
                _ => "",
            };
            format!(
                "unknown time zone `{name}`{hint}: use an IANA name like `Europe/Paris` or `America/New_York`, `UTC`, or an offset like `+02:00`"
            )
        })
    }

    /// The zone name at the start of `text`, and its length, as Joda's
    /// zone-ID reader (`DateTimeFormatterBuilder.TimeZoneId`) finds it: the
    /// longest ID that starts the text, among those of one area. A `/`
    /// within the first [`LONGEST_AREA`] characters ends the area (so
    /// `UTC 17/05/2015` has the area `UTC 17/`, in which no ID is, and
    /// fails), and the ID must go on past it; with no `/` there, only IDs
    /// without one (`UTC`, `EST`) can match.
    pub fn parse_prefix(text: &str) -> Option<(Zone, usize)> {
        let area_end = (text.char_indices().take(LONGEST_AREA))
            .find(|&(_, c)| c == '/')
            .map(|(at, _)| at + 1);
        // The longest IANA name has 32 characters; the cap keeps hostile
        // input from making this quadratic.
        let run = text
            .bytes()
            .take(40)
            .take_while(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(b))
            .count();
        let shortest = area_end.map_or(1, |end| end + 1);
        (shortest..=run).rev().find_map(|len| {
            let name = &text[..len];
            if area_end.is_none() && name.contains('/') {
                return None;
            }
            name.parse::<Tz>().ok().map(|tz| (Zone::Named(tz), len))
        })
    }

    /// The short zone name at the start of `text` (`z`), and its length, as
    /// Joda 2.x reads one: only the names of its default table
    /// (`DateTimeUtils.getDefaultTimeZoneNames`), case and all, the longest
    /// that starts the text. Each stands for a region, not an offset:
    /// `PST` on a July date is read as Los Angeles's summer time, as Joda
    /// reads it.
    pub fn parse_short_name(text: &str) -> Option<(Zone, usize)> {
        const NAMES: [(&str, Tz); 11] = [
            ("UTC", Tz::UTC),
            ("UT", Tz::UTC),
            ("GMT", Tz::UTC),
            ("EST", Tz::America__New_York),
            ("EDT", Tz::America__New_York),
            ("CST", Tz::America__Chicago),
            ("CDT", Tz::America__Chicago),
            ("MST", Tz::America__Denver),
            ("MDT", Tz::America__Denver),
            ("PST", Tz::America__Los_Angeles),
            ("PDT", Tz::America__Los_Angeles),
        ];
        (NAMES.iter())
            .filter(|(name, _)| text.starts_with(name))
            .max_by_key(|(name, _)| name.len())
            .map(|&(name, tz)| (Zone::Named(tz), name.len()))
    }

    /// The instant, in milliseconds since the epoch, of a local wall-clock
    /// time. A time that falls in a daylight-saving gap does not exist and is
    /// an error (Joda refuses it too); one that occurs twice, in the autumn
    /// overlap, is taken at its first occurrence, as Joda does.
    pub fn to_utc_millis(self, local: NaiveDateTime) -> Result<i64, String> {
        let tz = match self {
            Zone::Fixed(millis) => {
                return Ok(local.and_utc().timestamp_millis() - i64::from(millis));
            }
            Zone::Named(tz) => tz,
        };
        // The compiled tables stop in 2099; Joda goes on with the zone's
        // last recurring rules, so a later year is read in one before it
        // with the same calendar (same leap year, same first weekday), where
        // those rules fall on the same dates.
        let rules_year = match local.year() {
            year if year > LAST_TABLED_YEAR => same_calendar_in_tables(year),
            year => year,
        };
        let in_tables = local.with_year(rules_year).unwrap_or(local);
        match tz.from_local_datetime(&in_tables) {
            LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => {
                let offset = i64::from(time.offset().fix().local_minus_utc());
                Ok(local.and_utc().timestamp_millis() - offset * 1000)
            }
            LocalResult::None => Err(format!(
                "{local} does not exist in {} (skipped by a daylight-saving change)",
                tz.name()
            )),
        }
    }

    /// The instant of `local`, the wall-clock time here of the instant
    /// `utc_read` given another year, as Logstash does to a time read
    /// without a year around New Year. Joda's year change keeps the offset
    /// `utc_read` had if it still holds in the new year, and otherwise takes
    /// the offset there; a time in a gap moves forward by the gap.
    pub fn to_utc_millis_moved(self, utc_read: i64, local: NaiveDateTime) -> Result<i64, String> {
        let offset_at = |utc_millis: i64| {
            (self.local(utc_millis)).map(|wall| wall.and_utc().timestamp_millis() - utc_millis)
        };
        let offset_read = offset_at(utc_read).ok_or("date out of range")?;
        let local_millis = local.and_utc().timestamp_millis();
        let kept = local_millis - offset_read;
        if offset_at(kept) == Some(offset_read) {
            return Ok(kept);
        }
        self.to_utc_millis(local).or_else(|_| {
            // In a gap, the offset read at the local time taken as UTC and
            // the one read an offset away are the two sides of it; the
            // smaller is the offset before the gap.
            let first = offset_at(local_millis).ok_or("date out of range")?;
            let second = offset_at(local_millis - first).ok_or("date out of range")?;
            Ok(local_millis - first.min(second))
        })
    }

    /// The wall-clock time in this zone at `utc_millis`.
    pub fn local(self, utc_millis: i64) -> Option<NaiveDateTime> {
        let utc = chrono::DateTime::from_timestamp_millis(utc_millis)?;
        Some(match self {
            Zone::Fixed(millis) => {
                utc.naive_utc() + chrono::Duration::milliseconds(i64::from(millis))
            }
            Zone::Named(tz) => utc.with_timezone(&tz).naive_local(),
        })
    }
}

/// A UTC offset as Joda reads one for `Z`, `ZZ` and ISO 8601, and its
/// length: `Z` (either case), or a sign and two-digit hours, then optionally
/// minutes, seconds and milliseconds, all with colons (`+02:00:00.000`) or
/// none (`+0200`). Reading stops before a character that does not continue
/// the offset (`+02` then a space is two hours), but a part once begun must
/// be whole (`+02:0`, `+023` fail). The offset is in milliseconds east of
/// UTC.
pub fn offset(text: &str) -> Option<(i32, usize)> {
    let bytes = text.as_bytes();
    if matches!(bytes.first(), Some(b'Z' | b'z')) {
        return Some((0, 1));
    }
    let sign = match bytes.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits_at = |at: usize, max: usize| {
        bytes.get(at..).map_or(0, |rest| {
            rest.iter()
                .take(max)
                .take_while(|b| b.is_ascii_digit())
                .count()
        })
    };
    let value_at = |at: usize, count: usize| {
        bytes[at..at + count]
            .iter()
            .fold(0, |value, digit| value * 10 + i32::from(digit - b'0'))
    };
    if digits_at(1, 2) < 2 {
        return None;
    }
    let hours = value_at(1, 2);
    if hours > 23 {
        return None;
    }
    let mut millis = hours * 3_600_000;
    let mut at = 3;
    let separated = bytes.get(at) == Some(&b':');
    // Minutes, then seconds: two digits each, each after a colon if the
    // offset uses them.
    for (index, unit) in [60_000, 1000].into_iter().enumerate() {
        let Some(&next) = bytes.get(at) else {
            return Some((sign * millis, at));
        };
        if separated {
            if next != b':' {
                return Some((sign * millis, at));
            }
            at += 1;
        } else if index == 0 && !next.is_ascii_digit() {
            return Some((sign * millis, at));
        }
        match digits_at(at, 2) {
            0 if !separated => return Some((sign * millis, at)),
            2 => {}
            _ => return None,
        }
        let value = value_at(at, 2);
        if value > 59 {
            return None;
        }
        millis += value * unit;
        at += 2;
    }
    // Milliseconds: one to three digits, after `.` or `,` if separated.
    if separated {
        if !matches!(bytes.get(at), Some(b'.' | b',')) {
            return Some((sign * millis, at));
        }
        at += 1;
    }
    let count = digits_at(at, 3);
    if count == 0 {
        return if separated {
            None
        } else {
            Some((sign * millis, at))
        };
    }
    for (i, digit) in bytes[at..at + count].iter().enumerate() {
        millis += i32::from(digit - b'0') * [100, 10, 1][i];
    }
    Some((sign * millis, at + count))
}

/// The latest year of 2072-2099 whose calendar is `year`'s. Those 28 years,
/// with no skipped leap year among them, hold every pairing of leap year
/// and first weekday. The latest, because a few zones still have one-off
/// changes in those years (Morocco's around Ramadan, up to 2087 in
/// chrono-tz's tables) that the recurring rules after them do not repeat; a
/// leap year pairing found only before 2088 can still meet one.
fn same_calendar_in_tables(year: i32) -> i32 {
    let calendar = |year: i32| {
        NaiveDate::from_ymd_opt(year, 1, 1).map(|first| (first.weekday(), first.leap_year()))
    };
    let wanted = calendar(year);
    (LAST_TABLED_YEAR - 27..=LAST_TABLED_YEAR)
        .rev()
        .find(|&candidate| calendar(candidate) == wanted)
        .unwrap_or(LAST_TABLED_YEAR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn iso(millis: i64) -> String {
        crate::format_timestamp(millis)
    }

    #[test]
    fn a_year_change_keeps_the_offset_where_it_holds() {
        // Joda 2.10's `withYear`, from 2000 to 2026 (Logstash does this
        // around New Year, from the year it started in to the next).
        let at = |zone: &str, month: u32, day: u32, hour: u32, minute: u32| {
            let zone = Zone::parse(zone).unwrap();
            let read = zone.to_utc_millis(local(2000, month, day, hour, minute))?;
            zone.to_utc_millis_moved(read, local(2026, month, day, hour, minute))
                .map(iso)
        };
        // The time must exist in the year it was read in.
        let error = at("America/New_York", 4, 2, 2, 30).unwrap_err();
        assert!(
            error.contains("2000-04-02 02:30:00 does not exist"),
            "{error}"
        );
        // In a gap of the new year, moved forward by the gap.
        let paris_gap = at("Europe/Paris", 3, 29, 2, 30);
        assert_eq!(paris_gap.unwrap(), "2026-03-29T01:30:00.000Z");
        let new_york_gap = at("America/New_York", 3, 8, 2, 30);
        assert_eq!(new_york_gap.unwrap(), "2026-03-08T07:30:00.000Z");
        // In an overlap of the new year, the old offset: summer time in
        // Paris (October 25th, 2000 was before the change), winter time in
        // New York.
        let paris_overlap = at("Europe/Paris", 10, 25, 2, 30);
        assert_eq!(paris_overlap.unwrap(), "2026-10-25T00:30:00.000Z");
        let new_york_overlap = at("America/New_York", 11, 1, 1, 30);
        assert_eq!(new_york_overlap.unwrap(), "2026-11-01T06:30:00.000Z");
        // Sydney's summer time began early in 2000; the offset still holds.
        let sydney = at("Australia/Sydney", 10, 4, 2, 30);
        assert_eq!(sydney.unwrap(), "2026-10-03T16:30:00.000Z");
        let ordinary = at("America/New_York", 10, 29, 1, 30);
        assert_eq!(ordinary.unwrap(), "2026-10-29T05:30:00.000Z");
    }

    #[test]
    fn daylight_saving_goes_on_past_the_tables() {
        // Joda 2.10's answers: summer time in 2215 and 7996 as in 2026.
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(
            iso(paris.to_utc_millis(local(2215, 4, 7, 19, 0)).unwrap()),
            "2215-04-07T17:00:00.000Z"
        );
        assert_eq!(
            iso(paris.to_utc_millis(local(7996, 5, 13, 9, 51)).unwrap()),
            "7996-05-13T07:51:00.000Z"
        );
        assert_eq!(
            iso(paris.to_utc_millis(local(2215, 1, 7, 19, 0)).unwrap()),
            "2215-01-07T18:00:00.000Z"
        );
        // 2100 starts on a Friday and is no leap year, like 2094; 2096, a
        // leap year, would put every date after February a day off.
        assert_eq!(same_calendar_in_tables(2100), 2094);
        // Morocco's last one-off change is in 2087: 2100 in July is +01,
        // as Joda gives it.
        let casablanca = Zone::parse("Africa/Casablanca").unwrap();
        assert_eq!(
            iso(casablanca.to_utc_millis(local(2100, 7, 18, 12, 0)).unwrap()),
            "2100-07-18T11:00:00.000Z"
        );
    }

    #[test]
    fn named_zones_follow_daylight_saving_history() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(
            iso(paris.to_utc_millis(local(2020, 1, 15, 12, 0)).unwrap()),
            "2020-01-15T11:00:00.000Z"
        );
        assert_eq!(
            iso(paris.to_utc_millis(local(2020, 7, 15, 12, 0)).unwrap()),
            "2020-07-15T10:00:00.000Z"
        );
        // New York's DST started on April 3rd in 2005 and on March 11th in 2007.
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(
            iso(ny.to_utc_millis(local(2005, 3, 20, 12, 0)).unwrap()),
            "2005-03-20T17:00:00.000Z"
        );
        assert_eq!(
            iso(ny.to_utc_millis(local(2007, 3, 20, 12, 0)).unwrap()),
            "2007-03-20T16:00:00.000Z"
        );
    }

    #[test]
    fn gaps_fail_and_overlaps_take_the_first_occurrence() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        let gap = paris.to_utc_millis(local(2020, 3, 29, 2, 30)).unwrap_err();
        assert!(gap.contains("does not exist in Europe/Paris"), "{gap}");
        let overlap = paris.to_utc_millis(local(2020, 10, 25, 2, 30)).unwrap();
        assert_eq!(iso(overlap), "2020-10-25T00:30:00.000Z");
    }

    #[test]
    fn offsets_and_unknown_names() {
        assert_eq!(Zone::parse("+02:00").unwrap(), Zone::Fixed(7_200_000));
        assert_eq!(Zone::parse("-0530").unwrap(), Zone::Fixed(-19_800_000));
        assert!(matches!(Zone::parse("UTC").unwrap(), Zone::Named(_)));
        // Joda's `forID` answers: an offset needs its sign.
        assert_eq!(Zone::parse("+01").unwrap(), Zone::Fixed(3_600_000));
        assert_eq!(Zone::parse("-00:00").unwrap(), Zone::UTC);
        for refused in ["Z", "z", "+1", "01:00", "utc"] {
            assert!(Zone::parse(refused).is_err(), "{refused}");
        }
        assert!(
            Zone::parse("Mars/Olympus")
                .unwrap_err()
                .contains("unknown time zone `Mars/Olympus`")
        );
        assert_eq!(
            Zone::parse_prefix("Asia/Tokyo]").map(|(_, len)| len),
            Some(10)
        );
    }
}

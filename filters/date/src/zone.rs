//! Time zones: the `timezone` option and `ZZZ` in patterns.
//!
//! Local times in logs need the zone's full history (a 2005 log from New York
//! follows the DST rules of 2005, not today's), so named zones come from the
//! IANA database compiled in by `chrono-tz`. That costs module size (see the
//! README); a hand-made table of today's rules would be smaller but wrong for
//! old logs.

use chrono::{LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// A fixed offset east of UTC, in milliseconds.
    Fixed(i32),
    Named(Tz),
}

impl Zone {
    pub const UTC: Zone = Zone::Fixed(0);

    /// An IANA name (`Europe/Paris`, `UTC`) or a fixed offset (`+02:00`,
    /// `-0500`, `Z`), as Joda's `DateTimeZone.forID` takes them.
    pub fn parse(name: &str) -> Result<Zone, String> {
        if let Some((millis, len)) = offset(name)
            && len == name.len()
        {
            return Ok(Zone::Fixed(millis));
        }
        name.parse::<Tz>().map(Zone::Named).map_err(|_| {
            format!(
                "unknown time zone `{name}`: use an IANA name like `Europe/Paris` or `America/New_York`, `UTC`, or an offset like `+02:00`"
            )
        })
    }

    /// The longest zone name at the start of `text`, and its length.
    pub fn parse_prefix(text: &str) -> Option<(Zone, usize)> {
        // The longest IANA name has 32 characters; the cap keeps hostile
        // input from making this quadratic.
        let run = text
            .bytes()
            .take(40)
            .take_while(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(b))
            .count();
        (1..=run).rev().find_map(|len| {
            text[..len]
                .parse::<Tz>()
                .ok()
                .map(|tz| (Zone::Named(tz), len))
        })
    }

    /// The instant, in milliseconds since the epoch, of a local wall-clock
    /// time. A time that falls in a daylight-saving gap does not exist and is
    /// an error (Joda refuses it too); one that occurs twice, in the autumn
    /// overlap, is taken at its first occurrence, as Joda does.
    pub fn to_utc_millis(self, local: NaiveDateTime) -> Result<i64, String> {
        match self {
            Zone::Fixed(millis) => Ok(local.and_utc().timestamp_millis() - i64::from(millis)),
            Zone::Named(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => {
                    Ok(time.timestamp_millis())
                }
                LocalResult::None => Err(format!(
                    "{local} does not exist in {} (skipped by a daylight-saving change)",
                    tz.name()
                )),
            },
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn iso(millis: i64) -> String {
        crate::format_timestamp(millis).unwrap()
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

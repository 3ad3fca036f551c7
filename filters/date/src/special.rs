//! The named formats Logstash accepts besides Joda patterns: `ISO8601`,
//! `UNIX`, `UNIX_MS` and `TAI64N`.

use crate::pattern::{self, Fields};

/// ISO 8601 as Logstash reads it: Joda's ISO date-time parser (a date, then
/// optionally `T` and a time with any fraction, then an optional offset),
/// plus the "almost ISO" form with a space that Logstash also accepts
/// (`2015-10-18 18:01:47.978`, fraction of one to three digits required).
/// Week dates (`2015-W20`) and ordinal dates (`2015-137`) are not read.
pub fn iso8601(text: &str) -> Result<Fields, String> {
    let malformed = |at: &str| format!("`{text}` is not ISO 8601 (malformed at `{at}`)");
    let mut fields = Fields::default();
    let mut rest = text;

    let sign_len = usize::from(rest.starts_with(['+', '-']));
    let year_digits = digits(&rest[sign_len..]);
    if !(4..=9).contains(&year_digits) {
        return Err(malformed(rest));
    }
    let year: i32 = rest[sign_len..sign_len + year_digits].parse().unwrap();
    fields.year = Some(if rest.starts_with('-') { -year } else { year });
    rest = &rest[sign_len + year_digits..];
    if let Some(after) = rest.strip_prefix('-') {
        let (month, after) = two_digits(after).ok_or_else(|| malformed(rest))?;
        fields.month = Some(month);
        rest = after;
        if let Some(after) = rest.strip_prefix('-') {
            let (day, after) = two_digits(after).ok_or_else(|| malformed(rest))?;
            fields.day = Some(day);
            rest = after;
        }
    }
    let mut has_time = true;
    if let Some(after) = rest.strip_prefix('T').or(rest.strip_prefix('t')) {
        rest = time(after, &mut fields, 9, false).ok_or_else(|| malformed(after))?;
    } else if rest.starts_with(' ') && fields.day.is_some() {
        rest = time(&rest[1..], &mut fields, 3, true).ok_or_else(|| malformed(&rest[1..]))?;
    } else {
        has_time = false;
    }
    if !rest.is_empty() {
        if !has_time {
            return Err(malformed(rest));
        }
        let (offset, len) = iso_offset(rest).ok_or_else(|| malformed(rest))?;
        if len != rest.len() {
            return Err(malformed(&rest[len..]));
        }
        fields.offset_seconds = Some(offset);
    }
    Ok(fields)
}

/// `HH[:mm[:ss[(.|,)fraction]]]`; the almost-ISO form needs all of
/// `HH:mm:ss.f`. Returns what follows.
fn time<'t>(
    text: &'t str,
    fields: &mut Fields,
    max_fraction: usize,
    full: bool,
) -> Option<&'t str> {
    let (hour, mut rest) = two_digits(text)?;
    fields.hour = hour;
    let mut parts = 1;
    for slot in [&mut fields.minute, &mut fields.second] {
        let Some(after) = rest.strip_prefix(':') else {
            break;
        };
        let (value, after) = two_digits(after)?;
        *slot = value;
        rest = after;
        parts += 1;
    }
    if hour > 23 || fields.minute > 59 || fields.second > 59 {
        return None;
    }
    if parts == 3
        && let Some(after) = rest.strip_prefix(['.', ','])
    {
        let count = digits(after);
        if count == 0 || count > max_fraction {
            return None;
        }
        let value: u32 = after[..count].parse().ok()?;
        fields.nanos = value * 10u32.pow(9 - count as u32);
        rest = &after[count..];
    } else if full {
        return None;
    }
    Some(rest)
}

/// `Z`, `±HH`, `±HHmm` or `±HH:mm`.
fn iso_offset(text: &str) -> Option<(i32, usize)> {
    if let Some(found) = pattern::offset(text) {
        return Some(found);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, rest) = two_digits(&text[1..])?;
    (hours <= 23 && rest.is_empty()).then_some((sign * hours as i32 * 3600, 3))
}

/// Seconds since the epoch, with an optional fraction (`1431857103.123`);
/// digits past milliseconds are dropped.
pub fn unix(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a UNIX time (seconds since 1970, like 1431857103.5)");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if whole.is_empty() || digits(whole) != whole.len() || digits(fraction) != fraction.len() {
        return Err(bad());
    }
    if unsigned.contains('.') && fraction.is_empty() {
        return Err(bad());
    }
    let seconds: i64 = whole.parse().map_err(|_| bad())?;
    let mut millis_part = 0;
    for (i, digit) in fraction.bytes().take(3).enumerate() {
        millis_part += i64::from(digit - b'0') * 10i64.pow(2 - i as u32);
    }
    let millis = seconds
        .checked_mul(1000)
        .and_then(|m| m.checked_add(millis_part))
        .ok_or_else(bad)?;
    Ok(if negative { -millis } else { millis })
}

/// Milliseconds since the epoch.
pub fn unix_ms(text: &str) -> Result<i64, String> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    if unsigned.is_empty() || digits(unsigned) != unsigned.len() {
        return Err(format!(
            "`{text}` is not a UNIX_MS time (milliseconds since 1970)"
        ));
    }
    text.parse()
        .map_err(|_| format!("`{text}` is out of range for UNIX_MS"))
}

/// A TAI64N label (`@4000000050d506482dbdf024`, the `@` optional), as
/// daemontools writes it. Like Logstash, this takes TAI to be 10 s ahead of
/// UTC (the offset when TAI64 was defined; leap seconds since are ignored).
pub fn tai64n(text: &str) -> Result<i64, String> {
    let hex = text.strip_prefix('@').unwrap_or(text);
    let bad = || format!("`{text}` is not a TAI64N label (@ and 24 hex digits)");
    if hex.len() != 24 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let label = u64::from_str_radix(&hex[..16], 16).map_err(|_| bad())?;
    let nanos = u64::from_str_radix(&hex[16..], 16).map_err(|_| bad())?;
    let seconds = label
        .checked_sub(1 << 62)
        .filter(|s| *s < 1 << 40)
        .ok_or_else(bad)?;
    if nanos >= 1_000_000_000 {
        return Err(bad());
    }
    Ok(seconds as i64 * 1000 - 10_000 + (nanos / 1_000_000) as i64)
}

fn digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

fn two_digits(text: &str) -> Option<(u32, &str)> {
    let pair = text.get(..2)?;
    pair.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| (pair.parse().unwrap(), &text[2..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_forms() {
        let f = iso8601("2015-05-17T10:05:03.123456Z").unwrap();
        assert_eq!(
            (f.year, f.month, f.day, f.hour),
            (Some(2015), Some(5), Some(17), 10)
        );
        assert_eq!((f.nanos, f.offset_seconds), (123_456_000, Some(0)));
        let f = iso8601("2003-10-11T22:14:15.003-07:00").unwrap();
        assert_eq!(f.offset_seconds, Some(-7 * 3600));
        let f = iso8601("2003-10-11T22:14+0200").unwrap();
        assert_eq!((f.minute, f.offset_seconds), (14, Some(7200)));
        let f = iso8601("2003-10-11").unwrap();
        assert_eq!((f.day, f.hour, f.offset_seconds), (Some(11), 0, None));
        let f = iso8601("2015-10-18 18:01:47,978").unwrap();
        assert_eq!(f.nanos, 978_000_000);
        let f = iso8601("2015-10-18 18:01:47.978+0100").unwrap();
        assert_eq!(f.offset_seconds, Some(3600));
    }

    #[test]
    fn iso8601_rejects_near_misses() {
        for bad in [
            "2015-10-18 18:01:47",
            "2015-10-18 18:01:47.9781",
            "2015-5-17T10:05:03Z",
            "15-05-17",
            "2015-05-17T25:00:00Z",
            "2015-05-17T10:05:03 junk",
            "2015-05-17Z",
            "",
        ] {
            assert!(iso8601(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unix_times() {
        assert_eq!(unix("1431857103"), Ok(1_431_857_103_000));
        assert_eq!(unix("1431857103.5"), Ok(1_431_857_103_500));
        assert_eq!(unix("1431857103.123999"), Ok(1_431_857_103_123));
        assert_eq!(unix("-1.5"), Ok(-1500));
        for bad in ["", "1e9", "12a", "1.", ".5", "99999999999999999999"] {
            assert!(unix(bad).is_err(), "{bad}");
        }
        assert_eq!(unix_ms("1431857103123"), Ok(1_431_857_103_123));
        assert!(unix_ms("1431857103.1").is_err());
    }

    #[test]
    fn tai64n_labels() {
        // 0x50d50648 s is 2012-12-22T01:00:56 TAI, 10 s ahead of UTC as
        // Logstash counts; 0x2dbdf024 ns is .767422500.
        let millis = tai64n("@4000000050d506482dbdf024").unwrap();
        assert_eq!(
            crate::format_timestamp(millis).unwrap(),
            "2012-12-22T01:00:46.767Z"
        );
        assert_eq!(tai64n("4000000050d506482dbdf024"), Ok(millis));
        assert!(tai64n("@4000000050d50648").is_err());
        assert!(tai64n("@0000000050d506482dbdf024").is_err());
    }
}

//! Event time: `@timestamp` as Logstash and the date filter write it (ISO 8601
//! / RFC 3339), or epoch milliseconds. Parsed by hand because it runs on every
//! event and a date library would dominate the module's size.
use wasmstash_sdk::civil::{civil_from_days, days_from_civil, days_in_month};

/// Milliseconds since the Unix epoch, or `None` if `text` is no timestamp.
pub fn parse_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut pos = 19;
    let mut millis = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 3 {
                millis = millis * 10 + i64::from(b[pos] - b'0');
            }
            pos += 1;
        }
        if pos == start {
            return None;
        }
        for _ in (pos - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(pos) {
        None => 0,
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let hours = digits(pos + 1, 2)?;
            let (minutes, end) = if b.get(pos + 3) == Some(&b':') {
                (digits(pos + 4, 2)?, pos + 6)
            } else {
                (digits(pos + 3, 2)?, pos + 5)
            };
            // As RFC 3339 and the date filter: an offset is at most 23:59.
            if end != b.len() || hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            if sign == b'+' { total } else { -total }
        }
        Some(_) => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// `millis` as `2026-11-25T10:00:00Z` (whole seconds), for reasons.
pub fn format_millis(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_logstash_writes() {
        assert_eq!(parse_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(
            parse_millis("2026-11-25T10:00:00.123Z"),
            Some(1_795_600_800_123)
        );
        assert_eq!(
            parse_millis("2026-11-25T11:00:00.123+01:00"),
            Some(1_795_600_800_123)
        );
        assert_eq!(
            parse_millis("2026-11-25T09:30:00.123456-0030"),
            Some(1_795_600_800_123)
        );
        assert_eq!(parse_millis("2026-11-25 10:00:00"), Some(1_795_600_800_000));
        assert_eq!(
            parse_millis("2026-11-25T23:59:00+23:59"),
            Some(1_795_600_800_000 - 10 * 3_600_000)
        );
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-25T10:00:00Zx",
            "2026-11-25T10:00:00.",
            "2026-11-25T10:00:00+99:99",
            "2026-11-25T10:00:00+24:00",
            "2026-11-25T10:00:00-0060",
            // Not in the calendar: refused, not moved on into March.
            "2026-02-31T00:00:00Z",
            "2026-11-25T10:00:60Z",
        ] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_millis(1_795_600_800_123), "2026-11-25T10:00:00Z");
        assert_eq!(format_millis(0), "1970-01-01T00:00:00Z");
    }
}

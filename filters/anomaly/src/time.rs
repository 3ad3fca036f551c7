//! Event time in milliseconds: a timestamp's text read as Logstash reads an
//! `@timestamp` (the SDK's reader, so both read one set of forms), and the
//! whole-second text a reason shows.
use wasmstash_sdk::civil::civil_from_days;
use wasmstash_sdk::timestamp::Timestamp;

/// Milliseconds since the Unix epoch of a time written as text, read as
/// Logstash reads an `@timestamp` given as text (the SDK's
/// `Timestamp::parse_iso8601`); `None` where Logstash would refuse it.
pub fn parse_millis(text: &str) -> Option<i64> {
    Timestamp::parse_iso8601(text)?.unix_millis()
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
        // A date alone is its day's start, as Logstash reads it.
        assert_eq!(parse_millis("2026-11-25"), Some(1_795_564_800_000));
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-25T10:00:00Zx",
            "2026-11-25T10:00:00+99:99",
            "2026-11-25T10:00:00+24:00",
            "2026-11-25T10:00:00-0060",
            "2026-11-25T10:00:60Z",
            // Logstash's reader takes neither a space for the `T` nor an
            // offset past ±18:00 (java.time's bound).
            "2026-11-25 10:00:00",
            "2026-11-25T23:59:00+23:59",
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

//! Timestamps against what Logstash's `SYSLOGTIMESTAMP` and
//! `TIMESTAMP_ISO8601` take, followed by a space as in `SYSLOGLINE`.

use super::timestamp_len;

fn read(line: &str) -> Option<&str> {
    timestamp_len(line).map(|len| &line[..len])
}

#[test]
fn the_forms_grok_takes_are_read_whole() {
    for (line, timestamp) in [
        ("Oct 11 22:14:15 h a: x", "Oct 11 22:14:15"),
        ("Oct  1 00:00:00 h a: x", "Oct  1 00:00:00"),
        ("Oct    1 00:00:00 h a: x", "Oct    1 00:00:00"),
        ("Oct 01 9:05:03 h a: x", "Oct 01 9:05:03"),
        ("Oct 11 22:14:5 h a: x", "Oct 11 22:14:5"),
        ("Oct 11 22:14:15.123 h a: x", "Oct 11 22:14:15.123"),
        ("Oct 11 22:14:15,123 h a: x", "Oct 11 22:14:15,123"),
        ("Oct 11 22:14:15:123 h a: x", "Oct 11 22:14:15:123"),
        ("October 11 22:14:15 h a: x", "October 11 22:14:15"),
        ("Okt 11 22:14:15 h a: x", "Okt 11 22:14:15"),
        ("März 3 22:14:15 h a: x", "März 3 22:14:15"),
        ("Mai 3 22:14:15 h a: x", "Mai 3 22:14:15"),
        ("Dezember 24 22:14:15 h a: x", "Dezember 24 22:14:15"),
        ("sep 3 22:14:15 h a: x", "sep 3 22:14:15"),
        ("Dec 31 23:59:60", "Dec 31 23:59:60"),
        ("2019-03-01T10:00:00 h a: x", "2019-03-01T10:00:00"),
        ("2019-03-01 10:00:00 h a: x", "2019-03-01 10:00:00"),
        ("2019-03-01T10:00 h a: x", "2019-03-01T10:00"),
        ("2019-03-01T1000 h a: x", "2019-03-01T1000"),
        ("2019-03-01T100 h a: x", "2019-03-01T100"),
        ("2019-3-1T9:00:00 h a: x", "2019-3-1T9:00:00"),
        ("19-03-01T10:00:00 h a: x", "19-03-01T10:00:00"),
        (
            "2019-03-01T10:00:00.5+01:00 h a: x",
            "2019-03-01T10:00:00.5+01:00",
        ),
        (
            "2019-03-01T10:00:00,5-0130 h a: x",
            "2019-03-01T10:00:00,5-0130",
        ),
        (
            "2019-03-01T10:00:00+1:00 h a: x",
            "2019-03-01T10:00:00+1:00",
        ),
        ("2019-03-01T10:00+0100 h a: x", "2019-03-01T10:00+0100"),
        ("2019-03-01T10:00Z h a: x", "2019-03-01T10:00Z"),
        ("2024-12-01t00:00:00z h a: x", "2024-12-01t00:00:00z"),
        ("2023-02-31T23:59:60Z", "2023-02-31T23:59:60Z"),
    ] {
        assert_eq!(read(line), Some(timestamp), "{line}");
    }
}

/// Cisco ASA's year before the time and colon after it.
#[test]
fn asa_forms_are_read_too() {
    for (line, timestamp) in [
        (
            "Jun 14 2015 23:59:59.999 h a: x",
            "Jun 14 2015 23:59:59.999",
        ),
        ("Jun 27 2018 12:17:46: %ASA-6-1", "Jun 27 2018 12:17:46"),
        ("Jun 27 12:17:46: %ASA-6-1", "Jun 27 12:17:46"),
    ] {
        assert_eq!(read(line), Some(timestamp), "{line}");
    }
}

#[test]
fn what_grok_refuses_is_no_timestamp() {
    for line in [
        "Oct 41 22:14:15 h a: bad day",
        "Oct 0 22:14:15 h a: bad day",
        "Oct 00 22:14:15 h a: bad day",
        "Oct 32 22:14:15 h a: bad day",
        "Oct 11 99:99:99 h a: bad clock",
        "Oct 11 24:00:00 h a: bad hour",
        "Oct 11 23:60:00 h a: bad minute",
        "Oct 11 23:59:61 h a: bad second",
        "Oct 11 23:5:01 h a: one-digit minute",
        "Oct 11 22:14 h a: no seconds",
        "Oct 11 22:14:15. h a: a point without a fraction",
        "Oct 11  22:14:15 h a: two spaces before the time",
        "Oct11 22:14:15 h a: no space after the month",
        "Octo 11 22:14:15 h a: not a month",
        "Jun 14 2015 25:16:01 asa : %ASA-6-1: bad hour",
        "Oct 11 22:14:15x h a: text after the time",
        "2024-13-01T00:00:00Z h a: bad month",
        "2024-00-01T00:00:00Z h a: bad month",
        "2024-01-32T00:00:00Z h a: bad day",
        "2024-01-00T00:00:00Z h a: bad day",
        "2024-01-01T24:00:00Z h a: bad hour",
        "2024-01-01T00:60:00Z h a: bad minute",
        "2024-01-01T00:00:61Z h a: bad second",
        "2024-01-01 h a: no time",
        "2024-01-01  10:00:00 h a: two spaces",
        "024-01-01T10:00:00 h a: a three-digit year",
        "2019-03-01T10:00:00+++ h a: junk after the time",
        "2019-03-01T10:00:00::::Z-- h a: junk after the time",
        "2019-03-01T10:00:00+01 h a: a zone hour without its minute",
        "2019-03-01T10:00:00+24:00 h a: bad zone hour",
        "2019-03-01T10:00:00Z0 h a: text after the zone",
        "2019-03-01T10:00:00: h a: a colon after an ISO time",
        "",
    ] {
        assert_eq!(read(line), None, "{line}");
    }
}

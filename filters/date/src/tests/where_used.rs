//! Zone names in the text, and the `locale` and `timezone` options, each
//! against what Logstash's date filter does with them.

use super::*;

/// Short zone names (`z`), as Joda 2.x reads them (answers of Joda-Time
/// 2.10.14 on JDK 17, read with the filter's zone Europe/Berlin): its table's
/// names only, case and all, each standing for a region whose own rules
/// give the offset, whatever the name's season.
#[test]
fn short_zone_names_are_regions_as_joda_reads_them() {
    let config = json!({"match": ["t", "yyyy-MM-dd HH:mm:ss z"], "timezone": "Europe/Berlin"});
    let cases = [
        ("2024-01-15 12:00:00 UT", Some("2024-01-15T12:00:00.000Z")),
        ("2024-07-15 12:00:00 UTC", Some("2024-07-15T12:00:00.000Z")),
        ("2024-07-15 12:00:00 GMT", Some("2024-07-15T12:00:00.000Z")),
        ("2024-01-15 12:00:00 EST", Some("2024-01-15T17:00:00.000Z")),
        ("2024-07-15 12:00:00 EST", Some("2024-07-15T16:00:00.000Z")),
        ("2024-01-15 12:00:00 CDT", Some("2024-01-15T18:00:00.000Z")),
        ("2024-07-15 12:00:00 MST", Some("2024-07-15T18:00:00.000Z")),
        ("2024-01-15 12:00:00 PDT", Some("2024-01-15T20:00:00.000Z")),
        ("2024-07-15 12:00:00 PST", Some("2024-07-15T19:00:00.000Z")),
        ("2024-07-15 12:00:00 CEST", None),
        ("2024-07-15 12:00:00 IST", None),
        ("2024-07-15 12:00:00 Z", None),
        ("2024-07-15 12:00:00 est", None),
    ];
    for (text, expected) in cases {
        let out: Value =
            serde_json::from_str(&run(config.clone(), &json!({"t": text}).to_string())).unwrap();
        match expected {
            Some(instant) => assert_eq!(out["@timestamp"], json!(instant), "{text}"),
            None => assert_eq!(out["tags"], json!(["_dateparsefailure"]), "{text}"),
        }
    }
    // Java's `Date.toString()` layout.
    let config = json!({"match": ["t", "EEE MMM dd HH:mm:ss zzz yyyy"]});
    let out = run(config, r#"{"t":"Mon Jul 01 12:00:00 CDT 2024"}"#);
    assert!(
        out.ends_with(r#""@timestamp":"2024-07-01T17:00:00.000Z"}"#),
        "{out}"
    );
}

/// Logstash hands `locale` to `Locale.forLanguageTag` and `timezone` to
/// Joda only where they are used: any locale passes where no pattern reads
/// names, and any zone where only epoch formats read the field.
#[test]
fn locale_and_zone_are_checked_only_where_used() {
    let numeric = json!({"match": ["t", "yyyy-MM-dd HH:mm:ss"], "locale": "ja"});
    assert_eq!(
        run(numeric, r#"{"t":"2024-09-05 10:00:00"}"#),
        r#"{"t":"2024-09-05 10:00:00","@timestamp":"2024-09-05T10:00:00.000Z"}"#
    );
    let epoch = json!({"match": ["t", "UNIX", "UNIX_MS"], "timezone": "Bogus/Zone"});
    assert_eq!(
        run(epoch, r#"{"t":"1"}"#),
        r#"{"t":"1","@timestamp":"1970-01-01T00:00:01.000Z"}"#
    );
    let err = init_error(json!({"match": ["t", "UNIX", "HH:mm"], "timezone": "Bogus/Zone"}));
    assert!(err.contains("unknown time zone `Bogus/Zone`"), "{err}");
}

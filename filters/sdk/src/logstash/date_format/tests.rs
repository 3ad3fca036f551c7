//! Joda-style formats printed as Logstash's sprintf prints `%{+FORMAT}`.

use super::*;

fn print(format: Result<DateFormat, String>, time: &str) -> String {
    let mut out = String::new();
    format
        .unwrap()
        .write(&Timestamp::parse(time).unwrap(), &mut out);
    out
}

#[test]
fn index_names_and_messages_as_people_write_them() {
    let time = "2015-05-17T10:05:03.123456789Z";
    for (pattern, joda) in [
        ("YYYY.MM.dd", "2015.05.17"),
        ("xxxx-'W'ww", "2015-W20"),
        ("dd/MMM/yyyy:HH:mm:ss Z", "17/May/2015:10:05:03 +0000"),
        (
            "EEE, dd MMM yyyy HH:mm:ss ZZ",
            "Sun, 17 May 2015 10:05:03 +00:00",
        ),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "2015-05-17T10:05:03.123000"),
        ("h 'o''clock' a, EEEE, D", "10 o'clock AM, Sunday, 137"),
    ] {
        assert_eq!(print(DateFormat::joda(pattern), time), joda, "{pattern}");
    }
    for (pattern, java) in [
        ("yyyy.MM.dd", "2015.05.17"),
        ("YYYY-'W'ww", "2015-W21"),
        (
            "uuuu-MM-dd'T'HH:mm:ss.SSSSSSXXX",
            "2015-05-17T10:05:03.123456Z",
        ),
        ("[yyyy]'{'QQQ'}'", "2015{Q2}"),
    ] {
        assert_eq!(print(DateFormat::java(pattern), time), java, "{pattern}");
    }
}

#[test]
fn years_past_four_digits_and_before_the_era() {
    for (pattern, time, joda) in [
        ("yyyy", "+12345-06-07T08:09:10.011Z", "12345"),
        ("yyyy", "-0001-02-03T04:05:06Z", "-0001"),
        ("YYYY G", "-0001-02-03T04:05:06Z", "0002 BC"),
        ("yy", "-0001-02-03T04:05:06Z", "01"),
        ("yyyy", "0999-03-04T05:06:07Z", "0999"),
    ] {
        assert_eq!(
            print(DateFormat::joda(pattern), time),
            joda,
            "{pattern} {time}"
        );
    }
    for (pattern, time, java) in [
        ("yyyy", "+12345-06-07T08:09:10.011Z", "+12345"),
        ("uuuu", "-0001-02-03T04:05:06Z", "-0001"),
        ("yyyy GGGG", "-0001-02-03T04:05:06Z", "0002 Before Christ"),
    ] {
        assert_eq!(
            print(DateFormat::java(pattern), time),
            java,
            "{pattern} {time}"
        );
    }
}

#[test]
fn refused_patterns_say_why() {
    let error = DateFormat::joda("yyyy-MM-ddTHH").unwrap_err();
    assert!(
        error.contains("`T` is not a Joda-Time pattern letter"),
        "{error}"
    );
    assert!(DateFormat::joda("").is_err());
    // Joda takes a quote left open as running to the end.
    assert_eq!(
        print(DateFormat::joda("HH 'open"), "2015-05-17T10:05:03Z"),
        "10 open"
    );
    for (pattern, says) in [
        ("HH 'open", "never closed"),
        ("yyyy]", "closes no `[`"),
        ("{yyyy", "reserved"),
        ("aa", "no 2 of the pattern letter `a`"),
        ("TIME_NOW_", "`T` is not a java.time pattern letter"),
        ("ppH", "padding"),
    ] {
        let error = DateFormat::java(pattern).unwrap_err();
        assert!(error.contains(says), "{pattern}: {error}");
    }
}

#[test]
fn joda_tokens_as_date_time_format_splits_them() {
    use joda::Token::{Letters, Literal};
    assert_eq!(
        joda::tokens("yyyy-MM-dd'T'HH 'o''clock'''"),
        vec![
            Letters('y', 4),
            Literal("-".into()),
            Letters('M', 2),
            Literal("-".into()),
            Letters('d', 2),
            Literal("T".into()),
            Letters('H', 2),
            Literal(" o'clock'".into()),
        ]
    );
    assert_eq!(joda::tokens("''"), vec![Literal("'".into())]);
    assert_eq!(joda::tokens("é"), vec![Literal("é".into())]);
    assert!(Letters('M', 2).is_numeric() && !Letters('M', 3).is_numeric());
    assert!(!Letters('E', 3).is_numeric() && !Literal("1".into()).is_numeric());
}

//! The filter as a whole: options, field handling and failure tagging. The
//! formats have their own tests next to their code; the real access log and
//! Loghub sets run through the WebAssembly build in
//! `host/tests/syslog_date.rs` and `host/tests/dissect_kv.rs`.

use super::*;
use wasmstash_sdk::{NativeFilter, Outcome};

mod where_used;

/// 2026-06-10T12:00:00Z, the "now" of year-less tests.
const NOW: i64 = 1_781_092_800_000;

fn run(config: Value, input: &str) -> String {
    run_at(config, input, NOW)
}

/// [`run`] in a pipeline started at `now`, and still at it.
fn run_at(config: Value, input: &str, now: i64) -> String {
    let filter = Date::new(serde_json::from_value(config).unwrap())
        .unwrap()
        .started_at(now);
    let mut event = Event::parse(input.as_bytes()).unwrap();
    filter.process_at(&mut event, now);
    event.to_json()
}

fn init_error(config: Value) -> String {
    NativeFilter::<Date>::new(config.to_string().as_bytes()).expect_err("config must be refused")
}

#[test]
fn the_apache_pipeline_config_reads_grok_timestamps() {
    let config = json!({"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]});
    assert_eq!(
        run(config, r#"{"timestamp":"17/May/2015:10:05:03 +0000"}"#),
        r#"{"timestamp":"17/May/2015:10:05:03 +0000","@timestamp":"2015-05-17T10:05:03.000Z"}"#
    );
}

#[test]
fn formats_are_tried_in_order_and_syslog_dates_get_this_year() {
    let config = json!({
        "match": ["timestamp", "MMM  d HH:mm:ss", "MMM dd HH:mm:ss", "ISO8601"],
        "timezone": "Europe/Paris",
    });
    assert_eq!(
        run(config.clone(), r#"{"timestamp":"Jun  9 06:06:20"}"#),
        r#"{"timestamp":"Jun  9 06:06:20","@timestamp":"2026-06-09T04:06:20.000Z"}"#
    );
    assert_eq!(
        run(config.clone(), r#"{"timestamp":"Jan 14 15:16:01"}"#),
        r#"{"timestamp":"Jan 14 15:16:01","@timestamp":"2026-01-14T14:16:01.000Z"}"#
    );
    assert_eq!(
        run(config, r#"{"timestamp":"2003-10-11T22:14:15.003Z"}"#),
        r#"{"timestamp":"2003-10-11T22:14:15.003Z","@timestamp":"2003-10-11T22:14:15.003Z"}"#
    );
}

#[test]
fn failures_are_tagged_and_the_event_kept() {
    let config = json!({"match": ["t", "yyyy-MM-dd"], "tag_on_failure": ["bad_date", "x"]});
    assert_eq!(
        run(config.clone(), r#"{"t":"2015-13-01","tags":["a"]}"#),
        r#"{"t":"2015-13-01","tags":["a","bad_date","x"]}"#
    );
    assert_eq!(
        run(config.clone(), r#"{"t":{"nested":1}}"#),
        r#"{"t":{"nested":1},"tags":["bad_date","x"]}"#
    );
    let default = json!({"match": ["t", "UNIX"]});
    assert_eq!(
        run(default, r#"{"t":"yesterday"}"#),
        r#"{"t":"yesterday","tags":["_dateparsefailure"]}"#
    );
    // A missing field is not a failure, as in Logstash.
    assert_eq!(run(config, r#"{"other":1}"#), r#"{"other":1}"#);
}

/// A failure is logged at debug, naming the field as Logstash's "Failed
/// parsing date from field" does, with the last format's reason.
#[test]
fn a_failure_is_logged_with_its_field_and_reason() {
    use wasmstash_sdk::host::{Level, native_log};
    let config = json!({"match": ["[http][date]", "UNIX", "yyyy-MM-dd"]});
    let (out, lines) = native_log::during(|| run(config, r#"{"http":{"date":"2015-13-01"}}"#));
    assert!(out.contains("_dateparsefailure"), "{out}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (level, line) = &lines[0];
    assert_eq!(*level, Level::Debug);
    assert!(
        line.starts_with("Failed parsing date from field `[http][date]`: yyyy-MM-dd: "),
        "{line}"
    );
    assert!(line.contains("2015-13-01"), "{line}");
}

#[test]
fn numbers_arrays_targets_and_per_event_zones() {
    // Milliseconds are past the seconds UNIX reads, so UNIX_MS gets them.
    let config = json!({"match": ["[t][epoch]", "UNIX", "UNIX_MS"], "target": "[event][created]"});
    assert_eq!(
        run(config.clone(), r#"{"t":{"epoch":1431857103}}"#),
        r#"{"t":{"epoch":1431857103},"event":{"created":"2015-05-17T10:05:03.000Z"}}"#
    );
    // A list is read by no format, as in Logstash's Java date filter.
    assert_eq!(
        run(config.clone(), r#"{"t":{"epoch":[1431857103123,5]}}"#),
        r#"{"t":{"epoch":[1431857103123,5]},"tags":["_dateparsefailure"]}"#
    );
    // A float's whole milliseconds, as Logstash's `longValue()`.
    assert_eq!(
        run(config, r#"{"t":{"epoch":1431857103123.7}}"#),
        r#"{"t":{"epoch":1431857103123.7},"event":{"created":"2015-05-17T10:05:03.123Z"}}"#
    );
    // A text pattern is given text only: a number fails it. So it does
    // TAI64N, whose 24 hex digits a long number's digits could pass for.
    let config = json!({"match": ["d", "yyyyMMdd"], "add_tag": ["dated"]});
    assert_eq!(
        run(config.clone(), r#"{"d":20150517}"#),
        r#"{"d":20150517,"tags":["_dateparsefailure"]}"#
    );
    assert_eq!(
        run(
            json!({"match": ["d", "TAI64N"]}),
            r#"{"d":400000005000000000000000}"#
        ),
        r#"{"d":400000005000000000000000,"tags":["_dateparsefailure"]}"#
    );
    assert_eq!(
        run(config, r#"{"d":"20150517"}"#),
        r#"{"d":"20150517","@timestamp":"2015-05-17T00:00:00.000Z","tags":["dated"]}"#
    );
    let config = json!({"match": ["t", "yyyy-MM-dd HH:mm"], "timezone": "%{tz}"});
    assert_eq!(
        run(
            config.clone(),
            r#"{"t":"2020-01-01 12:00","tz":"Asia/Tokyo"}"#
        ),
        r#"{"t":"2020-01-01 12:00","tz":"Asia/Tokyo","@timestamp":"2020-01-01T03:00:00.000Z"}"#
    );
    assert_eq!(
        run(config, r#"{"t":"2020-01-01 12:00","tz":"Nowhere/Else"}"#),
        r#"{"t":"2020-01-01 12:00","tz":"Nowhere/Else","tags":["_dateparsefailure"]}"#
    );
    // Logstash's epoch parsers never read the zone: a `%{tz}` naming none
    // (or no field at all) fails the text formats only.
    let config =
        json!({"match": ["t", "yyyy-MM-dd", "UNIX", "UNIX_MS", "TAI64N"], "timezone": "%{tz}"});
    for (input, stamp) in [
        (
            r#""1431857103","tz":"Mars/Olympus""#,
            "2015-05-17T10:05:03.000Z",
        ),
        (r#"1431857103123"#, "2015-05-17T10:05:03.123Z"),
        (r#""@4000000050d506482dbdf024""#, "2012-12-22T01:00:46.767Z"),
    ] {
        let out = run(config.clone(), &format!(r#"{{"t":{input}}}"#));
        assert!(out.contains(&format!(r#""@timestamp":"{stamp}""#)), "{out}");
    }
    assert!(run(config, r#"{"t":"2015-05-17"}"#).contains("_dateparsefailure"));
    // A float past a long saturates, as Java's `longValue()`.
    let config = json!({"match": ["t", "UNIX_MS"]});
    assert_eq!(
        run(config, r#"{"t":1e300}"#),
        r#"{"t":1e300,"@timestamp":"+292278994-08-17T07:12:55.807Z"}"#
    );
}

#[test]
fn bad_configs_are_explained() {
    let err = init_error(json!({"match": ["timestamp"]}));
    assert!(err.contains("at least one format"), "{err}");
    let err = init_error(json!({"match": ["t", "yyyy-MM-dd", "HH:mm zzzz"]}));
    assert!(err.contains("match format `HH:mm zzzz`"), "{err}");
    let err = init_error(json!({"match": ["t", "ISO8601"], "timezone": "Europe/Pariss"}));
    assert!(err.contains("unknown time zone `Europe/Pariss`"), "{err}");
    let err = init_error(json!({"match": ["t", "ISO8601"], "timezone": "%{tz"}));
    assert!(err.contains("unknown time zone `%{tz`"), "{err}");
    let err = init_error(json!({"match": ["t", "dd MMM yyyy"], "locale": "sv-SE"}));
    assert!(err.contains("locale `sv-SE` is not built in"), "{err}");
    let err = init_error(json!({"match": ["t", "ISO8601"], "taget": "x"}));
    assert!(err.contains("unknown field `taget`"), "{err}");
    let err = init_error(json!({"match": ["[t", "ISO8601"]}));
    assert!(err.contains("malformed field reference"), "{err}");
    // A special format's name is only that in capitals, as in Logstash.
    let err = init_error(json!({"match": ["t", "unix_ms"]}));
    assert!(err.contains("did you mean `UNIX_MS`?"), "{err}");
}

#[test]
fn output_is_iso8601_utc_with_milliseconds() {
    assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999Z");
}

#[test]
fn mangled_values_never_panic() {
    let config = json!({"match": ["t",
        "dd/MMM/yyyy:HH:mm:ss Z", "EEE MMM dd HH:mm:ss yyyy", "yyMMdd HHmmss", "h:mm a ZZZ",
        "yyyy-MM-dd'T'HH:mm:ss.SSSSSSZZ", "MMM  d HH:mm:ss", "ISO8601", "UNIX", "UNIX_MS", "TAI64N"]});
    let filter = Date::new(serde_json::from_value(config).unwrap())
        .unwrap()
        .started_at(NOW);
    let seeds = [
        "17/May/2015:10:05:03 +0000",
        "Sun Dec 04 04:47:44 2005",
        "081109 203615",
        "12:05 PM Europe/Paris",
        "2015-05-17T10:05:03.123456+02:00",
        "Jun  9 06:06:20",
        "@4000000050d506482dbdf024",
        "1431857103.123",
    ];
    let pieces = [
        "é",
        "+",
        "-",
        ":",
        "9",
        "99999999999",
        " ",
        "Z",
        "'",
        ".",
        "/",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut below = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut parsed, mut tagged) = (0, 0);
    for round in 0..20_000 {
        let chars: Vec<char> = seeds[round % seeds.len()].chars().collect();
        let mut value: String = chars[..below(chars.len() + 1)].iter().collect();
        value.push_str(pieces[below(pieces.len())]);
        value.extend(&chars[below(chars.len() + 1)..]);
        let input = serde_json::to_vec(&json!({"t": value})).unwrap();
        let mut event = Event::parse(&input).unwrap();
        filter.process_at(&mut event, NOW);
        if event.has_tag("_dateparsefailure") {
            tagged += 1;
        } else {
            parsed += 1;
        }
    }
    assert!(parsed > 0 && tagged > 0, "{parsed} {tagged}");
}

/// Checks found by running logstash-filter-date's spec examples and reading
/// how Joda parses: each failed before the fix it names.
mod logstash_compat {
    use super::*;

    fn stamp(config: Value, input: Value) -> Value {
        stamp_at(config, input, NOW)
    }

    /// `@timestamp`, or the tags, with the clock (and the start) at `now`.
    fn stamp_at(config: Value, input: Value, now: i64) -> Value {
        let out: Value = serde_json::from_str(&run_at(config, &input.to_string(), now)).unwrap();
        out.get("@timestamp")
            .cloned()
            .unwrap_or(out["tags"].clone())
    }

    #[test]
    fn a_day_name_moves_the_date_within_its_week_as_joda_does() {
        let config = json!({"match": ["t", "EEE MMM dd yyyy HH:mm"]});
        // 2024-03-14 was a Thursday; "Mon" takes Monday of that week.
        assert_eq!(
            stamp(config.clone(), json!({"t": "Thu Mar 14 2024 08:00"})),
            "2024-03-14T08:00:00.000Z"
        );
        assert_eq!(
            stamp(config, json!({"t": "Mon Mar 14 2024 08:00"})),
            "2024-03-11T08:00:00.000Z"
        );
        // Without a year Logstash reads the date in the year the pipeline
        // started in (Mar 14 2026 is a Saturday), so Thursday is Mar 12.
        let config = json!({"match": ["t", "EEE MMM dd HH:mm:ss"]});
        assert_eq!(
            stamp(config, json!({"t": "Thu Mar 14 08:00:00"})),
            "2026-03-12T08:00:00.000Z"
        );
        let config = json!({"match": ["t", "e yyyy-MM-dd"]});
        assert_eq!(
            stamp(config, json!({"t": "7 2024-03-14"})),
            "2024-03-17T00:00:00.000Z"
        );
    }

    #[test]
    fn offsets_take_every_form_joda_reads() {
        let config = json!({"match": ["t", "yyyy-MM-dd HH:mm:ssZ"]});
        for (text, want) in [
            ("2024-03-14 10:00:00+05", "2024-03-14T05:00:00.000Z"),
            ("2024-03-14 10:00:00-0330", "2024-03-14T13:30:00.000Z"),
            ("2024-03-14 10:00:00+05:30:15", "2024-03-14T04:29:45.000Z"),
            ("2024-03-14 10:00:00+053015", "2024-03-14T04:29:45.000Z"),
            ("2024-03-14 10:00:00z", "2024-03-14T10:00:00.000Z"),
        ] {
            assert_eq!(stamp(config.clone(), json!({"t": text})), want, "{text}");
        }
        for text in [
            "2024-03-14 10:00:00+053",
            "2024-03-14 10:00:00+05:3",
            "2024-03-14 10:00:00+5",
        ] {
            assert_eq!(
                stamp(config.clone(), json!({"t": text})),
                json!(["_dateparsefailure"]),
                "{text}"
            );
        }
        let iso = json!({"match": ["t", "ISO8601"]});
        assert_eq!(
            stamp(iso, json!({"t": "2024-03-14T10:00:00-01:00:30.5"})),
            "2024-03-14T11:00:30.500Z"
        );
    }

    #[test]
    fn names_are_read_as_written_or_in_one_case() {
        let config = json!({"match": ["t", "dd/MMM/yyyy h a"]});
        assert_eq!(
            stamp(config.clone(), json!({"t": "14/MAR/2024 3 pm"})),
            "2024-03-14T15:00:00.000Z"
        );
        for text in ["14/mAR/2024 3 PM", "14/Mar/2024 3 Pm"] {
            assert_eq!(
                stamp(config.clone(), json!({"t": text})),
                json!(["_dateparsefailure"]),
                "{text}"
            );
        }
    }

    #[test]
    fn unix_reads_numbers_as_logstash_does() {
        let both = json!({"match": ["t", "UNIX", "UNIX_MS"]});
        // Past a Java int's maximum, UNIX fails and UNIX_MS reads it.
        assert_eq!(
            stamp(both.clone(), json!({"t": "4000000000"})),
            "1970-02-16T07:06:40.000Z"
        );
        assert_eq!(
            stamp(both, json!({"t": 4000000000u64})),
            "1970-02-16T07:06:40.000Z"
        );
        let unix = json!({"match": ["t", "UNIX"]});
        // A float's value times 1000, cut toward zero: 1.005 is 1004.99... ms.
        assert_eq!(
            stamp(unix.clone(), json!({"t": 1.005})),
            "1970-01-01T00:00:01.004Z"
        );
        // The sign belongs to the whole seconds only.
        assert_eq!(
            stamp(unix.clone(), json!({"t": "-3.25"})),
            "1969-12-31T23:59:57.250Z"
        );
        assert_eq!(
            stamp(unix, json!({"t": 3000000000.5})),
            json!(["_dateparsefailure"])
        );
    }

    #[test]
    fn the_start_year_and_now_are_read_on_one_clock_in_utc() {
        // JodaParser reads both from `clock.read()`, in the JVM's zone (UTC
        // here), not in `timezone`: at 20:00 UTC on 2027-12-31 it is
        // already 2028 in Tokyo, but Logstash's year is 2027.
        let tokyo = json!({"match": ["t", "MMM d HH:mm:ss"], "timezone": "Asia/Tokyo"});
        let now = 1_830_283_200_000; // 2027-12-31T20:00:00Z
        assert_eq!(
            stamp_at(tokyo, json!({"t": "Nov 30 12:00:00"}), now),
            "2027-11-30T03:00:00.000Z"
        );
        // And at 03:00 UTC on 2028-01-01, New York's 2027 is not its year.
        let new_york = json!({"match": ["t", "MMM d HH:mm:ss"], "timezone": "America/New_York"});
        let now = 1_830_308_400_000; // 2028-01-01T03:00:00Z
        assert_eq!(
            stamp_at(new_york, json!({"t": "Nov 30 12:00:00"}), now),
            "2028-11-30T17:00:00.000Z"
        );
    }

    #[test]
    fn fractions_take_up_to_eighteen_digits_as_joda() {
        // Joda's `appendFractionOfSecond(n, n)` caps `n` at 18 and keeps
        // milliseconds.
        let ten = json!({"match": ["t", "yyyy-MM-dd HH:mm:ss.SSSSSSSSSS"]});
        assert_eq!(
            stamp(ten.clone(), json!({"t": "2015-05-17 10:05:03.1234567891"})),
            "2015-05-17T10:05:03.123Z"
        );
        assert_eq!(
            stamp(ten, json!({"t": "2015-05-17 10:05:03.12345678912"})),
            json!(["_dateparsefailure"])
        );
        let twenty = format!("yyyy-MM-dd HH:mm:ss.{}", "S".repeat(20));
        let twenty = json!({"match": ["t", twenty]});
        assert_eq!(
            stamp(
                twenty.clone(),
                json!({"t": "2015-05-17 10:05:03.999999999999999999"})
            ),
            "2015-05-17T10:05:03.999Z"
        );
        assert_eq!(
            stamp(
                twenty,
                json!({"t": "2015-05-17 10:05:03.9999999999999999999"})
            ),
            json!(["_dateparsefailure"])
        );
    }

    #[test]
    fn years_outside_four_digits_are_written_as_logstash_writes_them() {
        // java.time's ISO_INSTANT, as Logstash 8's Timestamp prints them;
        // the answers are Joda's and the JDK's.
        for (format, input, want) in [
            (
                "yyyy-MM-dd",
                json!("12345-01-01"),
                "+12345-01-01T00:00:00.000Z",
            ),
            (
                "yyyy-MM-dd",
                json!("-0001-06-01"),
                "-0001-06-01T00:00:00.000Z",
            ),
            (
                "ISO8601",
                json!("10000-01-01T00:00:00Z"),
                "+10000-01-01T00:00:00.000Z",
            ),
            (
                "UNIX_MS",
                json!(253402300800000u64),
                "+10000-01-01T00:00:00.000Z",
            ),
            (
                "YYYYYYYYYY",
                json!("0000002015"),
                "2015-01-01T00:00:00.000Z",
            ),
            (
                "yyyyyyyyyyyy",
                json!("-00000002015"),
                "-2015-01-01T00:00:00.000Z",
            ),
            ("UNIX_MS", json!(i64::MAX), "+292278994-08-17T07:12:55.807Z"),
            ("UNIX_MS", json!(i64::MIN), "-292275055-05-16T16:47:04.192Z"),
            ("UNIX", json!(-1e300), "-292275055-05-16T16:47:04.192Z"),
            // Java's `long` arithmetic wraps, in Logstash as here.
            (
                "UNIX",
                json!("-9300000000000000"),
                "+289850751-02-21T17:05:51.616Z",
            ),
            (
                "TAI64N",
                json!("@400001000000000000000000"),
                "+36812-02-20T00:36:06.000Z",
            ),
            (
                "TAI64N",
                json!("@7fffffffffffffff7fffffff"),
                "1969-12-31T23:59:51.147Z",
            ),
        ] {
            let config = json!({"match": ["t", format]});
            assert_eq!(stamp(config, json!({"t": input})), want, "{format} {input}");
        }
    }

    #[test]
    fn a_quoted_y_turns_the_year_guess_off_as_in_logstash() {
        // JodaParser's `hasYear` is a text check that sees quoted text, so
        // Joda reads the date in its default year (the start year), and
        // a time alone on 1970-01-01, with no guess.
        let now = 1_796_472_000_000; // 2026-12-05T12:00:00Z
        let day = json!({"match": ["t", "MMM d HH:mm:ss 'Day'"]});
        assert_eq!(
            stamp_at(day, json!({"t": "Jan 5 10:00:00 Day"}), now),
            "2026-01-05T10:00:00.000Z"
        );
        let time = json!({"match": ["t", "HH:mm 'y'"]});
        assert_eq!(
            stamp_at(time, json!({"t": "10:00 y"}), now),
            "1970-01-01T10:00:00.000Z"
        );
    }

    #[test]
    fn z_is_no_time_zone_for_joda() {
        // `DateTimeZone.forID` reads an offset only after a sign.
        for zone in ["Z", "z"] {
            let config = json!({"match": ["t", "ISO8601"], "timezone": zone});
            let err = init_error(config);
            assert!(
                err.contains(&format!("unknown time zone `{zone}`")),
                "{err}"
            );
            assert!(err.contains("does not take `Z`"), "{err}");
        }
        let per_event = json!({"match": ["t", "yyyy-MM-dd HH:mm"], "timezone": "%{tz}"});
        assert_eq!(
            stamp(
                per_event.clone(),
                json!({"t": "2015-05-17 10:05", "tz": "Z"})
            ),
            json!(["_dateparsefailure"])
        );
        assert_eq!(
            stamp(per_event, json!({"t": "2015-05-17 10:05", "tz": "-00:00"})),
            "2015-05-17T10:05:00.000Z"
        );
    }
}

#[test]
fn the_date_specs_french_examples() {
    // logstash-filter-date's date_spec.rb: the same text under three
    // spellings of the French locale.
    for locale in ["fr", "fr-FR", "fr_FR"] {
        let config =
            json!({"match": ["message", "dd MMMM yyyy"], "locale": locale, "timezone": "UTC"});
        assert_eq!(
            run(config, r#"{"message":"14 juillet 1789"}"#),
            r#"{"message":"14 juillet 1789","@timestamp":"1789-07-14T00:00:00.000Z"}"#,
            "{locale}"
        );
    }
}

#[test]
fn date_filter_test_year_less_times_around_a_gap() {
    // DateFilterTest (commit 6eda34f): a pipeline started, and running, on
    // 2016-03-29; CET skipped 02:00-03:00 on March 27th, 2016.
    let now = 1_459_295_990_000; // 2016-03-29T23:59:50Z
    let config = json!({"match": ["t", "MMM dd hh:mm:ss.SSS"], "timezone": "%{tz}"});
    let filter = Date::new(serde_json::from_value(config).unwrap())
        .unwrap()
        .started_at(now);
    let read = |text: &str| {
        let input = json!({"t": text, "tz": "CET"}).to_string();
        let mut event = Event::parse(input.as_bytes()).unwrap();
        filter.process_at(&mut event, now);
        event.to_json()
    };
    assert!(read("Mar 27 01:59:59.999").contains(r#""@timestamp":"2016-03-27T00:59:59.999Z""#));
    assert!(read("Mar 27 03:00:01.000").contains(r#""@timestamp":"2016-03-27T01:00:01.000Z""#));
    assert!(read("Mar 27 02:00:01.000").contains("_dateparsefailure"));
}

/// The date filter runs `filter_matched` outside any rescue, so a set
/// Logstash's event refuses there stops Logstash's worker; here the event
/// fails (the host passes it on as it came, with the reason).
#[test]
fn a_common_option_logstash_refuses_fails_the_event() {
    let input = br#"{"t":"2020-01-01T00:00:00Z","host":"web-1","tags":["a"]}"#;
    for (field, why) in [
        ("[host][name]", "passes through a string"),
        ("[tags][0]", "nothing can be set under `tags`"),
        ("[@timestamp][z]", "`@timestamp` takes only a timestamp"),
    ] {
        let config = json!({"match": ["t", "ISO8601"], "add_field": {field: "v"}});
        let mut filter = NativeFilter::<Date>::new(config.to_string().as_bytes()).unwrap();
        let outcome = filter.process_events(&[input]).remove(0);
        let Outcome::Failed(reason) = outcome else {
            panic!("{field}: {outcome:?}");
        };
        assert!(
            reason.starts_with(&format!(
                "add_field: Logstash's event cannot set `{field}`: "
            )) && reason.contains(why),
            "{reason}"
        );
    }
}

/// The timestamp itself is set outside any rescue too: a `target` that
/// Logstash's event refuses a timestamp at fails the event, where the
/// set would have put text over what was there (`event` here) or done
/// nothing.
#[test]
fn a_target_logstash_refuses_fails_the_event() {
    let input = br#"{"t":"2020-01-01T00:00:00Z","event":"login","tags":["a"],"l":[1]}"#;
    for (target, why) in [
        ("[event][created]", "passes through a string"),
        ("tags", "`tags` takes only a string or a list of strings"),
        ("[tags][x]", "nothing can be set under `tags`"),
        ("@metadata", "`@metadata` takes only an object"),
        ("[@timestamp][x]", "`@timestamp` takes only a timestamp"),
        ("[l][-9]", "before its first member"),
    ] {
        let config = json!({"match": ["t", "ISO8601"], "target": target});
        let mut filter = NativeFilter::<Date>::new(config.to_string().as_bytes()).unwrap();
        let outcome = filter.process_events(&[input]).remove(0);
        let Outcome::Failed(reason) = outcome else {
            panic!("{target}: {outcome:?}");
        };
        assert!(
            reason.starts_with(&format!("target: Logstash's event cannot set `{target}`: "))
                && reason.contains(why),
            "{reason}"
        );
    }
    // Padding a list that far is this SDK's limit, not Logstash's.
    let config = json!({"match": ["t", "ISO8601"], "target": "[l][70000]"});
    let mut filter = NativeFilter::<Date>::new(config.to_string().as_bytes()).unwrap();
    let outcome = filter.process_events(&[input]).remove(0);
    let Outcome::Failed(reason) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        reason.starts_with("target: cannot set `[l][70000]` here: ") && reason.contains("65536"),
        "{reason}"
    );
    // Where the event takes it, it is set: at `@timestamp`, at a new
    // nested field, under `@metadata`, and over an existing value.
    for target in [
        "@timestamp",
        "[event2][created]",
        "[@metadata][t]",
        "event",
        "[l][0]",
    ] {
        let config = json!({"match": ["t", "ISO8601"], "target": target});
        let mut filter = NativeFilter::<Date>::new(config.to_string().as_bytes()).unwrap();
        let outcome = filter.process_events(&[input]).remove(0);
        let Outcome::Kept(out) = outcome else {
            panic!("{target}: {outcome:?}");
        };
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("2020-01-01T00:00:00.000Z"), "{target}: {out}");
    }
}

#[test]
fn a_malformed_field_reference_in_the_timezone_fails_init() {
    let error = init_error(json!({"match": ["t", "ISO8601"], "timezone": "%{tz[0]}"}));
    assert!(
        error.starts_with("timezone: `%{tz[0]}`: malformed field reference"),
        "{error}"
    );
}

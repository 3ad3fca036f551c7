//! The filter as a whole: options, field handling and failure tagging. The
//! formats have their own tests next to their code; the real access log and
//! Loghub sets run through the WebAssembly build in
//! `host/tests/syslog_date.rs` and `host/tests/dissect_kv.rs`.

use super::*;
use wasmstash_sdk::NativeFilter;

/// 2026-06-10T12:00:00Z, the "now" of year-less tests.
const NOW: i64 = 1_781_092_800_000;

fn run(config: Value, input: &str) -> String {
    let filter = Date::new(serde_json::from_value(config).unwrap()).unwrap();
    let mut event = Event::parse(input.as_bytes()).unwrap();
    filter.process_at(&mut event, NOW);
    event.to_json()
}

fn init_error(config: Value) -> String {
    NativeFilter::<Date>::new(config.to_string().as_bytes())
        .err()
        .expect("config must be refused")
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

#[test]
fn numbers_arrays_targets_and_per_event_zones() {
    // Milliseconds read as seconds fall past year 9999, so UNIX_MS gets them.
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
    // A text pattern is given text only: a number fails it.
    let config = json!({"match": ["d", "yyyyMMdd"], "add_tag": ["dated"]});
    assert_eq!(
        run(config.clone(), r#"{"d":20150517}"#),
        r#"{"d":20150517,"tags":["_dateparsefailure"]}"#
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
}

#[test]
fn bad_configs_are_explained() {
    let err = init_error(json!({"match": ["timestamp"]}));
    assert!(err.contains("at least one format"), "{err}");
    let err = init_error(json!({"match": ["t", "yyyy-MM-dd", "HH:mm zzz"]}));
    assert!(err.contains("match format `HH:mm zzz`"), "{err}");
    let err = init_error(json!({"match": ["t", "ISO8601"], "timezone": "Europe/Pariss"}));
    assert!(err.contains("unknown time zone `Europe/Pariss`"), "{err}");
    let err = init_error(json!({"match": ["t", "ISO8601"], "timezone": "%{tz"}));
    assert!(err.contains("unknown time zone `%{tz`"), "{err}");
    let err = init_error(json!({"match": ["t", "ISO8601"], "locale": "de"}));
    assert!(err.contains("only English"), "{err}");
    let err = init_error(json!({"match": ["t", "ISO8601"], "taget": "x"}));
    assert!(err.contains("unknown field `taget`"), "{err}");
    let err = init_error(json!({"match": ["[t", "ISO8601"]}));
    assert!(err.contains("malformed field reference"), "{err}");
}

#[test]
fn output_is_iso8601_utc_with_milliseconds() {
    assert_eq!(format_timestamp(0).unwrap(), "1970-01-01T00:00:00.000Z");
    assert_eq!(format_timestamp(-1).unwrap(), "1969-12-31T23:59:59.999Z");
    assert_eq!(format_timestamp(253_402_300_800_000), None);
}

#[test]
fn mangled_values_never_panic() {
    let config = json!({"match": ["t",
        "dd/MMM/yyyy:HH:mm:ss Z", "EEE MMM dd HH:mm:ss yyyy", "yyMMdd HHmmss", "h:mm a ZZZ",
        "yyyy-MM-dd'T'HH:mm:ss.SSSSSSZZ", "MMM  d HH:mm:ss", "ISO8601", "UNIX", "UNIX_MS", "TAI64N"]});
    let filter = Date::new(serde_json::from_value(config).unwrap()).unwrap();
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

//! What mutate logs when an event fails: Logstash's rescue logs the
//! exception at warn before it tags the event, and an operator reading
//! `_mutate_error` needs the reason as much there as here.

use super::*;
use wasmstash_sdk::host::{Level, native_log};

/// The event `input` after `config`, and the lines the run logged.
fn run_logged(config: Value, input: &str) -> (String, Vec<(Level, String)>) {
    native_log::during(|| run(config, input))
}

#[test]
fn each_failure_logs_one_warning_that_says_why() {
    let ts = r#""@timestamp":"2020-01-01T00:00:00.000Z""#;
    let runaway = format!(r#"{{"m":"{}b"}}"#, "a".repeat(40));
    let cases = [
        (
            json!({"convert": {"n": "float"}}),
            r#"{"n":"abc"}"#.to_owned(),
            r#"convert: Ruby cannot read `n` as float: "abc""#,
        ),
        (
            json!({"convert": {"@timestamp": "float"}}),
            format!("{{{ts}}}"),
            "convert: `@timestamp` is a timestamp in Logstash's event, and float makes a value it does not take",
        ),
        (
            json!({"replace": {"[tags][0]": "x"}}),
            r#"{"tags":["a"]}"#.to_owned(),
            "replace: Logstash's event cannot set `[tags][0]`: nothing can be set under `tags`",
        ),
        (
            json!({"rename": {"a": "%{k}"}}),
            r#"{"a":1,"k":"b["}"#.to_owned(),
            "rename: Logstash's event cannot use the field name: malformed field reference `b[`",
        ),
        (
            json!({"rename": {"@timestamp": "tags"}}),
            format!("{{{ts}}}"),
            "rename: Logstash's event cannot set `tags`: `tags` takes only strings, and `@timestamp` holds a timestamp",
        ),
        (
            json!({"strip": ["l"]}),
            r#"{"l":[" a ",1]}"#.to_owned(),
            "strip: `l` is a list with a member that is no string, which Ruby's strip raises on",
        ),
        (
            json!({"lowercase": ["[tags][0]"]}),
            r#"{"tags":["A"]}"#.to_owned(),
            "lowercase: Logstash's event cannot set `[tags][0]`: nothing can be set under `tags`",
        ),
        (
            json!({"merge": {"[s][x]": "a"}}),
            r#"{"s":"text","a":"v"}"#.to_owned(),
            "merge: Logstash's event cannot set `[s][x]`: the way to it passes through a string, number or boolean",
        ),
        (
            json!({"copy": {"n": "tags"}}),
            r#"{"n":5}"#.to_owned(),
            "copy: Logstash's event cannot set `tags`: `tags` takes only a string or a list of strings",
        ),
        (
            json!({"copy": {"deep": "[b][c]"}}),
            format!(r#"{{"deep":{}1{}}}"#, "[".repeat(126), "]".repeat(126)),
            "copy: cannot set `[b][c]` here: the value would nest the event more than 127 objects and arrays deep",
        ),
        (
            json!({"gsub": ["m", "(a+)+$", ""]}),
            runaway,
            "gsub `m`: the regex ran out of steps (1000000, or 256 a byte of a longer text)",
        ),
        (
            json!({"gsub": ["m", "%{user}", "x"]}),
            r#"{"user":"(","m":"a(b"}"#.to_owned(),
            "gsub `m`: regex `(`: ",
        ),
    ];
    for (config, input, reason) in cases {
        let (out, logged) = run_logged(config.clone(), &input);
        assert!(
            out.contains(r#""_mutate_error""#),
            "{config} on {input}: {out}"
        );
        assert_eq!(logged.len(), 1, "{config} on {input}: {logged:?}");
        assert_eq!(logged[0].0, Level::Warn, "{config}");
        assert!(
            logged[0].1.starts_with(reason),
            "{config} on {input}: logged {:?}, expected it to begin {reason:?}",
            logged[0].1
        );
    }
}

#[test]
fn a_value_ruby_cannot_read_is_shown_cut_short() {
    let long = "x".repeat(500);
    let (_, logged) = run_logged(
        json!({"convert": {"n": "float"}}),
        &format!(r#"{{"n":["1","{long}"]}}"#),
    );
    // The member Ruby could not read, as its exception names it.
    let expected = format!(
        r#"convert: Ruby cannot read a member of `n` as float: "{}… (502 bytes)"#,
        "x".repeat(59)
    );
    assert_eq!(logged, [(Level::Warn, expected)]);
}

#[test]
fn an_event_that_passes_logs_nothing() {
    let config = json!({
        "convert": {"n": "integer"},
        "lowercase": ["tags"],
        "rename": {"a": "[b][c]"},
    });
    let (out, logged) = run_logged(config, r#"{"n":"12","tags":["A"],"a":1}"#);
    assert_eq!(out, r#"{"n":12,"tags":["a"],"b":{"c":1}}"#);
    assert!(logged.is_empty(), "{logged:?}");
}

/// Where Logstash's mutate logs and goes on, without failing the event:
/// a value `convert => boolean` does not know (warn), a list member
/// `gsub` skips (warn), and a `merge` of an object with a non-object
/// (error).
#[test]
fn what_logstash_logs_and_passes_by_is_logged_too() {
    let cases = [
        (
            json!({"convert": {"b": "boolean"}}),
            r#"{"b":["yes","maybe",null]}"#,
            r#"{"b":[true,"maybe",null]}"#,
            (
                Level::Warn,
                r#"convert: `b` holds "maybe", which is no boolean Logstash knows; left as it was"#,
            ),
        ),
        (
            json!({"gsub": ["l", "a", "b"]}),
            r#"{"l":["a",{"k":1}]}"#,
            r#"{"l":["b",{"k":1}]}"#,
            (
                Level::Warn,
                r#"gsub `l`: only strings are replaced; the member {"k":1} is left as it is"#,
            ),
        ),
        (
            json!({"merge": {"d": "o"}}),
            r#"{"d":["x"],"o":{"k":1}}"#,
            r#"{"d":["x"],"o":{"k":1}}"#,
            (
                Level::Error,
                "merge: `o` cannot be merged into `d`: one is an object and the other is not; both are left as they are",
            ),
        ),
    ];
    for (config, input, expected, line) in cases {
        let (out, logged) = run_logged(config, input);
        assert_eq!(out, expected);
        assert_eq!(logged, [(line.0, line.1.to_owned())]);
    }
    let (_, logged) = run_logged(json!({"convert": {"b": "boolean"}}), r#"{"b":["no",1]}"#);
    assert!(logged.is_empty(), "{logged:?}");
    // One line per value `convert_boolean` does not know, as Logstash's.
    let (_, logged) = run_logged(
        json!({"convert": {"b": "boolean"}}),
        r#"{"b":["x",true,"z"]}"#,
    );
    let values: Vec<&str> = (logged.iter())
        .filter_map(|(_, line)| line.split(" holds ").nth(1))
        .filter_map(|rest| rest.split(',').next())
        .collect();
    assert_eq!(values, [r#""x""#, r#""z""#]);
    let (out, logged) = run_logged(
        json!({"convert": {"@timestamp": "boolean"}}),
        r#"{"@timestamp":"2020-01-01T00:00:00.000Z"}"#,
    );
    assert_eq!(out, r#"{"@timestamp":"2020-01-01T00:00:00.000Z"}"#);
    assert_eq!(
        logged,
        [(
            Level::Warn,
            r#"convert: `@timestamp` holds "2020-01-01T00:00:00.000Z", which is no boolean Logstash knows; left as it was"#
                .to_owned()
        )]
    );
}

/// mutate.rb compiles a `%{}` regex at each string member: a list with
/// none never meets a regex that does not compile, and the members before
/// the first string are warned of before one fails.
#[test]
fn gsub_compiles_its_regex_only_for_a_string() {
    let config = json!({"gsub": ["l", "%{u}", "x"]});
    for (input, warnings) in [(r#"{"u":"(","l":[]}"#, 0), (r#"{"u":"(","l":[1,2]}"#, 2)] {
        let (out, logged) = run_logged(config.clone(), input);
        assert_eq!(out, input);
        assert_eq!(logged.len(), warnings, "{logged:?}");
    }
    let (out, logged) = run_logged(config, r#"{"u":"(","l":[1,"a",2]}"#);
    assert!(out.contains("_mutate_error"), "{out}");
    let lines: Vec<&str> = logged.iter().map(|(_, line)| line.as_str()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].ends_with("the member 1 is left as it is"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("gsub `l`: regex `(`: "), "{lines:?}");
}

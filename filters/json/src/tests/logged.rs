//! What json logs where json.rb warns: text that is no JSON ("Error
//! parsing json", unless `skip_on_invalid_json`), a document that is no
//! object with no target (whatever that option says), and a document's
//! `@timestamp` Logstash cannot read.

use super::*;
use wasmstash_sdk::host::{Level, native_log};

fn run_logged(config: Value, input: &str) -> (String, Vec<(Level, String)>) {
    native_log::during(|| run(config, input))
}

#[test]
fn each_failure_json_rb_warns_of_is_logged() {
    let cases = [
        (
            json!({"source": "message"}),
            r#"{"message":"not json"}"#,
            "Error parsing json: the text of `message` is no JSON: expected ident at line 1 column 2: not json",
        ),
        (
            json!({"source": "message"}),
            r#"{"message":{"a":1}}"#,
            "Error parsing json: `message` holds an object, which is no JSON text",
        ),
        (
            json!({"source": "message", "skip_on_invalid_json": true}),
            r#"{"message":"[1,2]"}"#,
            "Parsed JSON object/hash requires a target configuration option: the document in \
             `message` is a list, not an object, which alone can be set at the event's root",
        ),
        (
            json!({"source": "message"}),
            r#"{"message":"{\"@timestamp\":\"foobar\"}"}"#,
            "Unrecognized @timestamp value, setting current time to @timestamp, original in \
             _@timestamp field: \"foobar\"",
        ),
    ];
    for (config, input, expected) in cases {
        let (out, logged) = run_logged(config.clone(), input);
        assert!(out.contains("tags"), "{config} on {input}: {out}");
        assert_eq!(
            logged,
            [(Level::Warn, expected.to_owned())],
            "{config} on {input}"
        );
    }
}

#[test]
fn what_is_skipped_or_set_logs_nothing() {
    for (config, input) in [
        (
            json!({"source": "message", "skip_on_invalid_json": true}),
            r#"{"message":"nope"}"#,
        ),
        (json!({"source": "message"}), r#"{"other":1}"#),
        (json!({"source": "message"}), r#"{"message":"{\"a\":1}"}"#),
        (
            json!({"source": "message", "target": "t"}),
            r#"{"message":"[1]"}"#,
        ),
    ] {
        let (out, logged) = run_logged(config.clone(), input);
        assert!(
            !out.contains("_jsonparsefailure"),
            "{config} on {input}: {out}"
        );
        assert!(logged.is_empty(), "{config} on {input}: {logged:?}");
    }
}

#[test]
fn a_long_text_is_shown_cut_short() {
    let long = format!("x{}", "y".repeat(400));
    let (_, logged) = run_logged(
        json!({"source": "message"}),
        &json!({"message": long}).to_string(),
    );
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0]
            .1
            .ends_with(&format!("{}… (401 bytes)", "y".repeat(254))),
        "{logged:?}"
    );
}

//! What kv logs: where kv.rb warns (a source that is no text, a timeout
//! with the value), and why one of this filter's own limits tagged the
//! event, which Logstash has no limit for.

use super::*;
use wasmstash_sdk::host::{Level, native_log};

fn logged(config: Value, event: Value) -> (Value, Vec<String>) {
    let (out, lines) = native_log::during(|| kv(config, event));
    assert!(
        lines.iter().all(|(level, _)| *level == Level::Warn),
        "{lines:?}"
    );
    (out, lines.into_iter().map(|(_, line)| line).collect())
}

#[test]
fn a_limit_that_tags_the_event_says_which() {
    let cases = [
        (
            json!({"max_keys": 2}),
            "a=1 b=2 c=3",
            "kv: more than max_keys (2) pairs: the rest are left out",
        ),
        (
            json!({"max_value_bytes": 3, "prefix": "p_"}),
            "a=12345 b=2",
            "kv: the value of `p_a` is 5 bytes, over max_value_bytes (3): left out",
        ),
        (
            json!({"recursive": true, "max_depth": 1}),
            "a=b=c=d",
            "kv: pairs nest deeper than max_depth (1): the deepest value is kept as text",
        ),
    ];
    for (config, line, expected) in cases {
        let (out, lines) = logged(config.clone(), json!({"message": line}));
        assert_eq!(out["tags"], json!(["_kv_filter_error"]), "{config}");
        assert_eq!(lines, [expected], "{config}");
    }
}

#[test]
fn a_source_that_is_no_text_is_warned_of_and_passed_by() {
    for (event, shown) in [
        (json!({"message": 5}), "5"),
        (json!({"message": {"a": "b=c"}}), r#"{"a":"b=c"}"#),
    ] {
        let (out, lines) = logged(json!({}), event.clone());
        assert_eq!(out, event);
        assert_eq!(
            lines,
            [format!(
                "kv: `message` holds {shown}, which kv does not parse (only text, or a list of texts)"
            )]
        );
    }
    let (_, lines) = logged(json!({}), json!({"message": null}));
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn a_timeout_names_the_value() {
    let line = format!("a=1{}b=2", " ".repeat(3000));
    let (out, lines) = logged(
        json!({"field_split_pattern": "\\s*;", "timeout_steps": 1000}),
        json!({"message": line}),
    );
    assert_eq!(out["tags"], json!(["_kv_filter_timeout"]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "Timeout reached in KV filter with value `a=1{}… (3006 bytes)`",
            " ".repeat(252)
        )),
        "{lines:?}"
    );
}

//! What grok logs: grok.rb warns of a timeout, naming the pattern, the
//! field and the value, and of an exception its event raised on a
//! capture, which it counts as no match. It logs nothing for an ordinary
//! line that does not match.

use super::*;
use wasmstash_sdk::host::{Level, native_log};

fn run_logged(config: Value, event: Value) -> (Value, Vec<(Level, String)>) {
    native_log::during(|| run(config, event))
}

#[test]
fn a_timeout_is_logged_with_its_pattern_field_value_and_limit() {
    // With the `b` the pattern needs, so that it is tried at all.
    let line = format!("{}bx", "a".repeat(300));
    let (out, logged) = run_logged(
        json!({"match": {"message": ["nope", "^(?:a|a)*b$"]}, "timeout_steps": 10000}),
        json!({"message": line}),
    );
    assert_eq!(out["tags"], json!(["_groktimeout"]));
    let expected = format!(
        "Timeout executing grok '^(?:a|a)*b$' against field 'message' with value '{}… (302 \
         bytes)'! (timeout_steps, 10000 steps)",
        "a".repeat(255)
    );
    assert_eq!(logged, [(Level::Warn, expected)]);
}

#[test]
fn a_capture_the_event_refuses_is_logged_and_counts_as_no_match() {
    let (out, logged) = run_logged(
        json!({"match": {"message": "%{WORD:[message][w]}"}}),
        json!({"message": "hello world"}),
    );
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
    assert_eq!(
        logged,
        [(
            Level::Warn,
            "Grok regexp threw exception on field 'message': Logstash's event cannot set \
             `[message][w]`: the way to it passes through a string, number or boolean; the \
             field counts as unmatched"
                .to_owned()
        )]
    );
    let (_, logged) = run_logged(
        json!({"match": {"message": "%{INT:tags:int}"}}),
        json!({"message": "5", "tags": ["a"]}),
    );
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].1.contains("`tags` takes only strings"),
        "{logged:?}"
    );
}

#[test]
fn lines_that_do_not_match_log_nothing() {
    let (out, logged) = run_logged(
        json!({"match": {"message": "%{COMBINEDAPACHELOG}"}}),
        json!({"message": "not an access line"}),
    );
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
    assert!(logged.is_empty(), "{logged:?}");
}

/// A name captured twice makes a list, a level deeper than the name: at
/// the depth limit that is refused as a set Logstash's event refuses is,
/// whether the event had the field (and the capture went through the
/// event) or not (and grok wrote it itself).
#[test]
fn a_repeated_capture_at_the_depth_limit_counts_as_no_match() {
    for (segments, holds) in [(126, true), (127, false)] {
        let field = "[a]".repeat(segments);
        let config = json!({"match": {"message": format!("%{{WORD:{field}}} %{{WORD:{field}}}")}});
        for event in [
            json!({"message": "x y"}),
            json!({"message": "x y", "a": {}}),
        ] {
            let (out, logged) = run_logged(config.clone(), event.clone());
            let host = wasmstash_sdk::testing::host_refusal(out.to_string().as_bytes());
            assert_eq!(host, None, "{segments}: the host takes the result");
            if holds {
                assert!(logged.is_empty(), "{segments}: {logged:?}");
                assert!(out.to_string().contains(r#"["x","y"]"#), "{segments}");
            } else {
                assert_eq!(out["tags"], json!(["_grokparsefailure"]), "{event}");
                assert_eq!(logged.len(), 1, "{logged:?}");
                assert!(
                    logged[0].1.contains("would nest the event more than 127"),
                    "{logged:?}"
                );
            }
        }
    }
}

//! A module may write an `@timestamp` Logstash cannot hold, or a `tags`
//! that is no list of text. The event leaves the pipeline as Logstash makes
//! an event from such data: the value moved aside and the event tagged, so
//! that the Logstash gem, `run`'s NDJSON and Elasticsearch get an event
//! they can take, and nothing is lost.

mod support;

use serde_json::json;
use support::*;

/// A module answering each one-event batch with one result of `kind`
/// (1: the event replaced, 4: members added) whose payload is `payload`.
fn answering(kind: u8, payload: &str) -> Vec<u8> {
    let bytes: String = payload.bytes().map(|b| format!("\\{b:02x}")).collect();
    let len = payload.len();
    let process = format!(
        r#"(i32.store (i32.const 2048) (i32.const 1))
        (i32.store8 (i32.const 2052) (i32.const {kind}))
        (i32.store (i32.const 2053) (i32.const {len}))
        (memory.copy (i32.const 2057) (i32.const 4096) (i32.const {len}))
        (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const {total}))"#,
        total = 9 + len,
    );
    wat_filter(&process)
        .replacen(
            "(func (export \"wasmstash_abi_version\")",
            &format!(
                "(data (i32.const 4096) \"{bytes}\")\n  (func (export \"wasmstash_abi_version\")"
            ),
            1,
        )
        .into_bytes()
}

fn through(kind: u8, payload: &str) -> serde_json::Value {
    let module = load(&strict_engine(), "writer", &answering(kind, payload), "{}");
    let mut out = as_json(pipeline(module).process(message_events(&["m"])));
    assert_eq!(out.len(), 1);
    out.remove(0)
}

#[test]
fn a_result_logstash_cannot_hold_is_made_as_logstash_makes_one() {
    for (kind, payload, moved) in [
        (1, r#"{"message":"m","@timestamp":12345}"#, json!(12345)),
        (
            1,
            r#"{"message":"m","@timestamp":"yesterday"}"#,
            json!("yesterday"),
        ),
        (4, r#""@timestamp":{"a":1}"#, json!({"a": 1})),
    ] {
        let event = through(kind, payload);
        assert_eq!(event["_@timestamp"], moved, "{event}");
        assert_eq!(event["tags"], json!(["_timestampparsefailure"]), "{event}");
        let now = event["@timestamp"].as_str().unwrap();
        assert!(now.ends_with('Z') && now.len() == 24, "{event}");
        assert_eq!(event["message"], "m");
    }
    let event = through(1, r#"{"message":"m","tags":5}"#);
    assert_eq!(event["tags"], json!(["_tagsparsefailure"]), "{event}");
    assert_eq!(event["_tags"], json!([5]), "{event}");
    // What Logstash holds as it is, is left so.
    let event = through(
        1,
        r#"{"message":"m","@timestamp":"2021-06-30T08:15:00.000Z","tags":["a"]}"#,
    );
    assert_eq!(
        event,
        json!({"message": "m", "@timestamp": "2021-06-30T08:15:00.000Z", "tags": ["a"]})
    );
}

//! A module may write an `@timestamp` Logstash cannot hold, or a `tags`
//! that is no list of text. The event leaves the pipeline as Logstash makes
//! an event from such data: the value moved aside and the event tagged, so
//! that the Logstash gem, `run`'s NDJSON and Elasticsearch get an event
//! they can take, and nothing is lost.

mod support;

use serde_json::json;
use support::*;

fn through(kind: u8, payload: &str) -> serde_json::Value {
    let wat = constant_result_wat(kind, payload.as_bytes());
    let module = load(&strict_engine(), "writer", wat.as_bytes(), "{}");
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

/// The filters after the one that wrote it see the event as Logstash would
/// hold it, not the value Logstash could not: a `%{+yyyy.MM.dd}` prints
/// the day, and `%{@timestamp}` the time that stands in.
#[test]
fn later_filters_see_the_event_as_logstash_holds_it() {
    let engine = strict_engine();
    let wat = constant_result_wat(1, br#"{"message":"m","@timestamp":12}"#);
    let writer = load(&engine, "writer", wat.as_bytes(), "{}");
    let mutate = load(
        &engine,
        "mutate",
        &built_module("mutate"),
        r#"{"add_field":{"day":"%{+yyyy.MM.dd}","ts":"%{@timestamp}"}}"#,
    );
    let mut pipeline = wasmstash::pipeline::Pipeline::new("test", vec![writer, mutate]);
    let out = as_json(pipeline.process(message_events(&["m"])));
    let event = &out[0];
    assert_eq!(event["_@timestamp"], 12, "{event}");
    assert_eq!(event["ts"], event["@timestamp"], "{event}");
    assert_eq!(event["day"].as_str().unwrap().len(), 10, "{event}");
}

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

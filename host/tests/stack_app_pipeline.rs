//! The compose stack's `app` pipeline (`deploy/wasmstash.toml`) over the
//! shapes of application JSON it meets: a flat document of its own, one
//! whose `service` is an object, and one written by Elastic's ecs-logging
//! libraries (dotted keys at the top). Each must come out with the ECS
//! fields the index template maps as keywords holding strings: an object
//! at `service.name` or `log.level` is refused by Elasticsearch, and the
//! event lost to Logstash's dead letter queue.

#[path = "support/binary.rs"]
mod binary;

use binary::*;
use serde_json::{Value, json};

fn through_the_app_pipeline(documents: &[Value]) -> Vec<Value> {
    let config = wasmstash_sdk::crate_dir!().join("../deploy/wasmstash.toml");
    let input: String = (documents.iter())
        .map(|document| format!("{}\n", json!({ "message": document.to_string() })))
        .collect();
    let out = wasmstash(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--pipeline",
            "app",
        ],
        input.as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    events_of(&out.stdout)
}

#[test]
fn application_documents_give_ecs_strings() {
    let events = through_the_app_pipeline(&[
        json!({"level": "ERROR", "service": "checkout", "ts": "2026-12-04T10:00:00Z"}),
        json!({"level": "info", "service": {"name": "cart", "version": "1.2"}}),
        json!({"log.level": "WARN", "service.name": "pay",
               "@timestamp": "2026-12-04T11:00:00.123Z", "message": "paid"}),
    ]);
    let seen: Vec<_> = (events.iter())
        .map(|e| {
            (
                e["service"].clone(),
                e["log"]["level"].clone(),
                e["@timestamp"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                json!({"name": "checkout"}),
                json!("error"),
                json!("2026-12-04T10:00:00.000Z")
            ),
            (
                json!({"name": "cart", "version": "1.2"}),
                json!("info"),
                Value::Null
            ),
            (
                json!({"name": "pay"}),
                json!("warn"),
                json!("2026-12-04T11:00:00.123Z")
            ),
        ]
    );
    // What was not lifted stays under `app`, and nothing was tagged.
    assert_eq!(events[2]["app"]["message"], "paid");
    assert!(events.iter().all(|e| e.get("tags").is_none()), "{events:?}");
}

/// The common logging libraries' JSON: each document's own message is
/// what its template is mined from, not the JSON text around it, and
/// pino's numeric levels count as the level names the panels and the
/// error detector look for.
#[test]
fn each_library_s_message_is_mined_and_numeric_levels_are_named() {
    let events = through_the_app_pipeline(&[
        json!({"level": 30, "time": 1733400000000_i64, "pid": 1, "msg": "request 17 done"}),
        json!({"level": 50, "msg": "request 18 failed"}),
        json!({"log": "GET /cart 200\n", "stream": "stdout", "time": "2026-12-04T10:00:00.1Z"}),
        json!({"event": "user 4 logged in", "level": "info"}),
        json!({"log.level": "ERROR", "message": "cart 9 emptied", "event.dataset": "shop"}),
    ]);
    let seen: Vec<_> = (events.iter())
        .map(|e| {
            (
                e["log"]["level"].clone(),
                e["wasmstash"]["template"]["text"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (json!("info"), json!("request <*> done")),
            (json!("error"), json!("request <*> failed")),
            (Value::Null, json!("GET <*>")),
            (json!("info"), json!("user <*> logged in")),
            (json!("error"), json!("cart <*> emptied")),
        ]
    );
    // The JSON text itself is kept as it came.
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("{\"level\":30")
    );
}

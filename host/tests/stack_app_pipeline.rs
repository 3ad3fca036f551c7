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

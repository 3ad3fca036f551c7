//! The sidecar coalesces concurrent requests of one pipeline into one call
//! (`host/src/serve/workers.rs`). These tests fire many requests at once at
//! the real binary and check what coalescing must never change: each request
//! gets exactly its own events back, in order; a failing event in one
//! request does not touch the others; and a stateful filter sees every event
//! exactly once.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::server::{Server, send_raw, write_config};

fn start(server: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[engine]
call_timeout_ms = 1500

[server]
watch = false
{server}

# chaos is stateful: `[chaos][seen]` is its running count of kept events.
[[pipelines.chaos.filters]]
module = "{dir}/chaos.wasm"
config = {{ drop_on = "DROP", panic_on = "BAD", loop_on = "LOOP" }}

[[pipelines.chaos.filters]]
filter = "mutate"
config = {{ add_tag = ["after"] }}
"#,
        dir = wasmstash::builtins::build_module_dir()
    );
    let path = write_config(dir.path(), &config);
    (Server::start(&path, &[]), dir)
}

/// What a client sends and what it must get back.
enum Call {
    /// One event; its own message comes back, counted.
    Event(String),
    /// One event that makes the filter panic: it comes back tagged, not counted.
    Failing(String),
    /// A batch: kept, dropped, kept.
    Batch([String; 3]),
}

fn call(thread: usize, index: usize) -> Call {
    let id = format!("t{thread}-r{index}");
    match index % 10 {
        3 | 7 => Call::Batch([format!("{id}-a"), format!("{id}-DROP"), format!("{id}-c")]),
        5 => Call::Failing(format!("{id}-BAD")),
        _ => Call::Event(id),
    }
}

/// Sends `call` and checks the answer; returns the `[chaos][seen]` counts of
/// the events that came back kept.
fn check(server: &Server, call: &Call) -> Vec<u64> {
    let seen = |event: &Value| event["chaos"]["seen"].as_u64().expect("a count");
    match call {
        Call::Event(message) => {
            let body = json!({ "message": message }).to_string();
            let answer = server.post("/v1/pipelines/chaos/event", body.as_bytes());
            assert_eq!(answer.status, 200, "{}", answer.text());
            let event = answer.json();
            assert_eq!(event["message"], json!(message), "someone else's event");
            assert_eq!(event["tags"], json!(["after"]));
            vec![seen(&event)]
        }
        Call::Failing(message) => {
            let body = json!({ "message": message }).to_string();
            let answer = server.post("/v1/pipelines/chaos/event", body.as_bytes());
            assert_eq!(answer.status, 200, "{}", answer.text());
            let event = answer.json();
            assert_eq!(event["message"], json!(message), "someone else's event");
            assert_eq!(event["tags"], json!(["_wasmfilter_failure", "after"]));
            assert_eq!(event["chaos"], Value::Null, "a failed event was counted");
            vec![]
        }
        Call::Batch(messages) => {
            let body: String = messages
                .iter()
                .map(|m| json!({ "message": m }).to_string() + "\n")
                .collect();
            let answer = server.post("/v1/pipelines/chaos/batch", body.as_bytes());
            assert_eq!(answer.status, 200, "{}", answer.text());
            let lines: Vec<Value> = answer
                .text()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len(), 3, "{}", answer.text());
            assert_eq!(lines[0]["event"]["message"], json!(messages[0]));
            assert_eq!(lines[1], json!({ "dropped": true }));
            assert_eq!(lines[2]["event"]["message"], json!(messages[2]));
            vec![seen(&lines[0]["event"]), seen(&lines[2]["event"])]
        }
    }
}

/// The count every kept event got must be 1..=n with none repeated or
/// skipped: each event went through the shared stateful stage exactly once.
fn assert_counted_once(mut seen: Vec<u64>) {
    seen.sort_unstable();
    let expected: Vec<u64> = (1..=seen.len() as u64).collect();
    assert_eq!(seen, expected, "an event was counted twice or not at all");
}

#[test]
fn concurrent_requests_each_get_their_own_events_and_each_is_counted_once() {
    let (server, _dir) = start("workers = 2\nqueue = 1000\nqueue_timeout_ms = 60000");
    let server = Arc::new(server);
    let threads: Vec<_> = (0..16)
        .map(|thread| {
            let server = server.clone();
            std::thread::spawn(move || {
                (0..40)
                    .flat_map(|index| check(&server, &call(thread, index)))
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let seen: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a client thread failed"))
        .collect();
    // Per 40 calls: 28 single kept events, 8 batches with two kept each,
    // 4 failing events.
    assert_eq!(seen.len(), 16 * (28 + 2 * 8));
    assert_counted_once(seen);
    Arc::into_inner(server).unwrap().stop();
}

#[test]
fn requests_queued_behind_a_busy_worker_are_run_together_and_answered_apart() {
    // One worker, held by a call that loops until its deadline: everything
    // sent meanwhile queues and is taken in one or a few coalesced calls.
    let (server, _dir) = start("workers = 1\nqueue = 1000\nqueue_timeout_ms = 60000");
    let addr = server.addr;
    let slow = std::thread::spawn(move || {
        let request = b"POST /v1/pipelines/chaos/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 18\r\n\r\n{\"message\":\"LOOP\"}";
        send_raw(addr, request)
    });
    std::thread::sleep(Duration::from_millis(300));
    let server = Arc::new(server);
    let waiting: Vec<_> = (0..30)
        .map(|thread| {
            let server = server.clone();
            std::thread::spawn(move || check(&server, &call(thread, thread % 10)))
        })
        .collect();
    let seen: Vec<u64> = waiting
        .into_iter()
        .flat_map(|t| t.join().expect("a client thread failed"))
        .collect();
    let looped = slow.join().unwrap();
    assert_eq!(
        looped.json()["tags"],
        json!(["_wasmfilter_timeout", "after"])
    );
    assert_counted_once(seen);

    // Nothing waits forever or leaks: the pipeline still answers, and the
    // requests were counted once each.
    let metrics = server.get("/metrics").text();
    let requests: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("wasmstash_requests_total{pipeline=\"chaos\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(requests, 31, "{metrics}");
    let refused: BTreeSet<&str> = metrics
        .lines()
        // The series a pipeline starts with are there at 0.
        .filter(|l| l.starts_with("wasmstash_rejected_total") && !l.ends_with(" 0"))
        .collect();
    assert!(refused.is_empty(), "requests were refused: {refused:?}");
    Arc::into_inner(server).unwrap().stop();
}

//! What `server.max_inflight_body_bytes` counts, on the real binary and a
//! loopback port, read from the gauge it reports
//! (`wasmstash_request_body_bytes_held`) and from the answers: a request
//! is charged for the copies it holds, not only its body's bytes; results
//! held beyond the budget stop workers from starting calls until they are
//! written; and everything is given back once the answers are.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::eventually;
use support::server::{Server, write_config};

const HELD: &str = "wasmstash_request_body_bytes_held";

fn start(config: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), config);
    (Server::start(&path, &[]), dir)
}

/// A POST of `body` to `path`, as bytes to write.
fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one whole answer: its head and its body.
fn read_answer(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut received = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length: usize = (head.lines())
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().unwrap());
            if received.len() >= end + 4 + length {
                return (head, received[end + 4..end + 4 + length].to_vec());
            }
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed before the whole answer");
        received.extend_from_slice(&buf[..n]);
    }
}

/// A batch's events are copies of its lines, each with its own buffer and
/// its place in a list: for short lines, many times the body's bytes. The
/// budget counted the body only, and let the events through uncounted; now
/// a batch whose events cannot fit the whole budget is refused, and one
/// whose events fit is served, and gives all back once answered.
#[test]
fn a_batch_is_charged_for_its_checked_events_not_only_its_body() {
    let (server, _dir) = start(
        r#"
[server]
watch = false
max_body_bytes = 65536
max_inflight_body_bytes = 200000

[[pipelines.app.filters]]
filter = "mutate"
config = { add_tag = ["seen"] }
"#,
    );
    // 60,000 bytes of body, 7,500 events: each takes far more than the
    // eight bytes of its line.
    let body = "{\"m\":1}\n".repeat(7500);
    let refused = server.post("/v1/pipelines/app/batch", body.as_bytes());
    assert_eq!(refused.status, 413, "{}", refused.text());
    let message = refused.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("server.max_inflight_body_bytes"),
        "{message}"
    );
    eventually("the refused batch's share was never given back", || {
        server.metric(HELD) == 0.0
    });
    // Answered by the pipeline's endpoint, and refused for the budget.
    let status = r#"wasmstash_requests_total{pipeline="app",endpoint="batch",status="413"}"#;
    assert_eq!(server.metric(status), 1.0);
    let reason = r#"wasmstash_rejected_total{pipeline="app",reason="over_inflight_budget"}"#;
    assert_eq!(server.metric(reason), 1.0);

    let fewer = "{\"m\":1}\n".repeat(200);
    let served = server.post("/v1/pipelines/app/batch", fewer.as_bytes());
    assert_eq!(served.status, 200, "{}", served.text());
    assert_eq!(served.text().matches(r#""tags":["seen"]"#).count(), 200);
    eventually("the served batch's share was never given back", || {
        server.metric(HELD) == 0.0
    });
    server.stop();
}

/// A batch whose body fits beside another request's, but whose events do
/// not, is refused 503 once its events are made, not as its body arrives:
/// it is counted as a rejection for the spent budget, under its pipeline,
/// as a body refused for it is (under `_before_routing`).
#[test]
fn a_batch_refused_for_the_spent_budget_is_counted_as_rejected() {
    let (server, _dir) = start(
        r#"
[server]
watch = false
max_body_bytes = 120000
max_inflight_body_bytes = 200000
body_read_timeout_ms = 60000

[[pipelines.app.filters]]
filter = "mutate"
config = { add_tag = ["seen"] }
"#,
    );
    // Another client's body, its end withheld: over half the budget held.
    let mut holder = TcpStream::connect(server.addr).unwrap();
    let head = "POST /v1/pipelines/app/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 120000\r\n\r\n";
    holder
        .write_all(format!("{head}{}", "x".repeat(110_000)).as_bytes())
        .unwrap();
    eventually("the server never read the held body", || {
        server.metric(HELD) >= 110_000.0
    });
    // 9,600 bytes of body; its 1,200 events' places in a list alone take
    // over 80 KB, which fits the budget but not beside the held body.
    let body = "{\"m\":1}\n".repeat(1200);
    let refused = server.post("/v1/pipelines/app/batch", body.as_bytes());
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(
        refused.text().contains("server.max_inflight_body_bytes"),
        "{}",
        refused.text()
    );
    let rejected = |pipeline: &str| {
        server.metric(&format!(
            r#"wasmstash_rejected_total{{pipeline="{pipeline}",reason="bodies_held_at_once"}}"#
        ))
    };
    assert_eq!(rejected("app"), 1.0);
    assert_eq!(rejected("_before_routing"), 0.0);
    let status = r#"wasmstash_requests_total{pipeline="app",endpoint="batch",status="503"}"#;
    assert_eq!(server.metric(status), 1.0);

    drop(holder);
    eventually("the held body's share was never given back", || {
        server.metric(HELD) == 0.0
    });
    let served = server.post("/v1/pipelines/app/batch", body.as_bytes());
    assert_eq!(served.status, 200, "{}", served.text());
    server.stop();
}

/// Results cannot be refused once made, so an answer takes its results'
/// share whatever the budget has left; past it, the worker starts no new
/// call until those answers are written, or every request queued would add
/// results of its own beyond the budget. Here the first batch's answer (12
/// MiB of results, in a budget of 4 MiB) is left unread while a second
/// batch waits in the queue: the second is not run, and is refused when its
/// queue time is up. Once the answer is read, it is served.
#[test]
fn no_call_starts_while_answers_are_held_beyond_the_budget() {
    let chaos = format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir());
    let pad = "p".repeat(4000);
    let (server, _dir) = start(&format!(
        r#"
[server]
watch = false
workers = 1
queue = 4
queue_timeout_ms = 10000
max_body_bytes = 1048576
max_inflight_body_bytes = 4194304
write_timeout_ms = 120000

[engine]
call_timeout_ms = 60000

[[pipelines.slow.filters]]
module = {chaos:?}
config = {{ slow_ms = 1 }}

[[pipelines.slow.filters]]
filter = "mutate"
config = {{ add_field = {{ pad = "{pad}" }} }}
"#
    ));
    // 3,000 events at a millisecond each: the worker is busy with them
    // for seconds, time for the second batch to queue.
    let first = "{\"message\":\"m\"}\n".repeat(3000);
    let mut reader = TcpStream::connect(server.addr).unwrap();
    support::small_receive_buffer(&reader);
    reader
        .write_all(&post("/v1/pipelines/slow/batch", &first))
        .unwrap();
    // Its events take over a hundred bytes each (their places in a list
    // alone), where its body took sixteen a line; they are charged as they
    // are made, and the body given back after, so the share is read once
    // two reads agree.
    let mut held_by_first = -1.0;
    eventually("the first batch's events were never charged", || {
        let now = server.metric(HELD);
        let settled = now >= 300_000.0 && now == held_by_first;
        held_by_first = now;
        settled
    });

    let mut second = TcpStream::connect(server.addr).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let small = "{\"message\":\"n\"}\n".repeat(2);
    second
        .write_all(&post("/v1/pipelines/slow/batch", &small))
        .unwrap();
    eventually("the second batch's events were never charged", || {
        server.metric(HELD) >= held_by_first + 200.0
    });
    let events_in = r#"wasmstash_events_total{pipeline="slow",outcome="in"}"#;
    assert_eq!(
        server.metric(events_in),
        0.0,
        "the first batch was done before the second queued: this machine is too slow for the test"
    );

    // The first batch's results pass the budget; unread, they stay. The
    // second batch waits out its queue time without a worker.
    eventually("the first batch's results never passed the budget", || {
        server.metric(HELD) > 4194304.0
    });
    let (head, body) = read_answer(&mut second);
    assert!(head.starts_with("http/1.1 503"), "{head}");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("queue_timeout_ms"), "{body}");
    assert_eq!(server.metric(events_in), 3000.0);

    reader
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let (head, answer) = read_answer(&mut reader);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let answer = String::from_utf8(answer).unwrap();
    assert_eq!(answer.lines().count(), 3000);
    assert!(answer.lines().all(|line| line.contains(&pad)));
    eventually("the first answer's share was never given back", || {
        server.metric(HELD) == 0.0
    });
    let served = server.post("/v1/pipelines/slow/batch", small.as_bytes());
    assert_eq!(served.status, 200, "{}", served.text());
    server.stop();
}

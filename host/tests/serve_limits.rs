//! What `wasmstash serve` holds on a client's behalf stays in proportion to
//! what the client sent, and its errors keep one shape: the memory a chunked
//! body takes, the metric series requests create while pipelines load, the
//! answers axum itself gives to malformed requests, the end of a
//! connection whose body was refused unread, and of a kept one midway
//! through its next request head at shutdown.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::server::{Server, binary, send_raw, write_config};

const ONE_PIPELINE: &str = r#"
[server]
watch = false

[[pipelines.app.filters]]
filter = "mutate"
config = { add_tag = ["seen"] }
"#;

fn start(config: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), config);
    (Server::start(&path, &[]), dir)
}

/// A field of `/proc/<pid>/status`, in kB.
fn status_kb(server: &Server, field: &str) -> u64 {
    let path = format!("/proc/{}/status", server.child.id());
    let status = std::fs::read_to_string(&path).unwrap();
    let line = (status.lines())
        .find(|line| line.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in {path}"));
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

/// A POST of `body` sent as one-byte chunks.
fn one_byte_chunks(path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    request.reserve(body.len() * 6 + 5);
    for &byte in body {
        request.extend_from_slice(b"1\r\n");
        request.push(byte);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

fn assert_json_error(response: &support::server::Response, status: u16) -> String {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{}",
        response.text()
    );
    match &response.json()["error"] {
        Value::String(message) if !message.is_empty() => message.clone(),
        other => panic!("no error message: {other} in {}", response.text()),
    }
}

/// A body is held whole until its handler has answered, under a budget
/// that is meant to bound the memory bodies take. One sent as many tiny
/// chunks must take memory in proportion to its bytes, not to its chunks:
/// kept chunk by chunk, 4 MiB of one-byte chunks took some 150 MB.
#[test]
fn a_body_in_tiny_chunks_takes_memory_in_proportion_to_its_bytes() {
    // Four million chunks take a debug build 30 s or more to read on a
    // slow machine: the body's time is not what this test measures.
    let config =
        ONE_PIPELINE.replacen("[server]\n", "[server]\nbody_read_timeout_ms = 300000\n", 1);
    let (server, _dir) = start(&config);
    // Warm the server's threads and buffers with a small body first. The
    // body goes to a pipeline that does not exist: it is read whole before
    // routing, then answered 404 without being copied again.
    let warm = send_raw(
        server.addr,
        &one_byte_chunks("/v1/pipelines/none/event", &[b'x'; 64 << 10]),
    );
    assert_json_error(&warm, 404);

    // Writing 5 to clear_refs resets the peak RSS to the current one.
    let clear_refs = format!("/proc/{}/clear_refs", server.child.id());
    std::fs::write(&clear_refs, "5").unwrap_or_else(|e| panic!("resetting {clear_refs}: {e}"));
    let before = status_kb(&server, "VmHWM:");
    let payload = vec![b'x'; 4 << 20];
    let response = send_raw(
        server.addr,
        &one_byte_chunks("/v1/pipelines/none/event", &payload),
    );
    assert_json_error(&response, 404);
    let peak = status_kb(&server, "VmHWM:");

    // The body is gathered in one buffer that at most doubles as it grows
    // (and is copied once when it does); allow for the server's own buffers
    // besides.
    let rise = (peak.saturating_sub(before) * 1024) as usize;
    assert!(
        rise < 5 * payload.len(),
        "a {} MiB body in one-byte chunks raised the peak RSS by {} MiB",
        payload.len() >> 20,
        rise >> 20
    );

    // Joined, the pieces are the body as sent.
    let event = br#"{"message":"in pieces"}"#;
    let response = send_raw(
        server.addr,
        &one_byte_chunks("/v1/pipelines/app/event", event),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["message"], "in pieces");
    assert_eq!(response.json()["tags"], serde_json::json!(["seen"]));
    server.stop();
}

/// Requests that arrive before the pipelines are loaded are counted, but
/// not under the pipeline name in their URL: a client could otherwise add
/// one metric series per request, never removed.
#[test]
fn requests_while_pipelines_load_add_no_series_per_name() {
    let dir = tempfile::tempdir().unwrap();
    // Compiled modules are cached; an empty cache makes the load take a
    // while (a couple of seconds for these two), time to send requests during it.
    let cache = dir.path().join("cache");
    let config = write_config(
        dir.path(),
        r#"
[server]
watch = false

[[pipelines.web.filters]]
filter = "grok"
config = { match = { message = "%{COMBINEDAPACHELOG}" } }

[[pipelines.mined.filters]]
filter = "templates"
config = {}
"#,
    );
    let mut child = Command::new(binary())
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .env("WASMSTASH_CACHE_DIR", &cache)
        .env_remove("WASMSTASH_ADMIN_TOKEN")
        .env("RUST_LOG", "wasmstash=error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    (BufReader::new(child.stdout.take().unwrap()))
        .read_line(&mut first_line)
        .unwrap();
    let addr = (first_line.trim())
        .strip_prefix("wasmstash: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
        .parse()
        .unwrap();
    let server = Server { child, addr };

    let mut loading = [0, 0];
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0.. {
        assert!(Instant::now() < deadline, "the pipelines never loaded");
        let endpoint = ["event", "batch"][i % 2];
        let path = format!("/v1/pipelines/junk-{i}/{endpoint}");
        let response = server.post(&path, br#"{"message":"x"}"#);
        if response.status == 404 {
            break;
        }
        let message = assert_json_error(&response, 503);
        assert!(message.contains("loading"), "{message}");
        loading[i % 2] += 1;
    }
    assert!(
        loading[0] > 0 && loading[1] > 0,
        "the pipelines loaded before both endpoints were asked ({loading:?}); \
         the test needs requests during the load"
    );

    let metrics = server.get("/metrics").text();
    let junk: Vec<&str> = (metrics.lines())
        .filter(|line| line.contains("junk-"))
        .collect();
    assert!(
        junk.is_empty(),
        "{} series named by clients, such as {:?}",
        junk.len(),
        &junk[..junk.len().min(3)]
    );
    for (endpoint, count) in ["event", "batch"].iter().zip(loading) {
        let series = format!(
            "wasmstash_requests_total{{pipeline=\"_unknown\",endpoint=\"{endpoint}\",status=\"503\"}} {count}"
        );
        assert!(metrics.contains(&series), "no `{series}` in\n{metrics}");
    }
    server.stop();
}

/// Errors are JSON `{"error": ...}`, with the status that says why, also
/// when axum refuses a request before a handler of ours runs.
#[test]
fn axum_refusals_are_json_errors() {
    let (server, _dir) = start(ONE_PIPELINE);

    // A pipeline name that does not decode to UTF-8: 400, and counted
    // under no client-chosen name.
    let response = server.post("/v1/pipelines/%FF/event", br#"{"message":"x"}"#);
    assert_json_error(&response, 400);
    let metrics = server.get("/metrics").text();
    let series = r#"wasmstash_requests_total{pipeline="_unknown",endpoint="event",status="400"} 1"#;
    assert!(metrics.contains(series), "no `{series}` in\n{metrics}");

    // The live view's login takes a JSON body: without the content type,
    // 415; with the wrong types, 422; not JSON at all, 400.
    let login =
        |headers: &[(&str, &str)], body: &[u8]| server.request("POST", "/ui/login", headers, body);
    let message = assert_json_error(&login(&[], br#"{"token":"x"}"#), 415);
    assert!(message.contains("application/json"), "{message}");
    let json = [("Content-Type", "application/json")];
    let message = assert_json_error(&login(&json, br#"{"token":5}"#), 422);
    assert!(message.contains("token"), "{message}");
    assert_json_error(&login(&json, b"{\"token\":"), 400);

    // Our own answers keep their shape and headers.
    let response = server.post("/v1/pipelines/app/event", b"{not json");
    assert!(assert_json_error(&response, 400).contains("invalid event"));
    let response = server.get("/v1/pipelines/app/event");
    assert_json_error(&response, 405);
    let response = server.get("/healthz");
    assert_eq!((response.status, response.text().as_str()), (200, "ok\n"));
    server.stop();
}

/// Sends `request` on `stream` and reads one answer: its status line and
/// headers, lowercased, and the body its Content-Length names.
fn exchange(stream: &mut std::net::TcpStream, request: &[u8]) -> (String, String) {
    use std::io::{Read, Write};
    stream.write_all(request).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed mid-answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    let length: usize = (head.lines())
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

/// A body refused before it was read to its end cannot leave the
/// connection usable, and the answer must say so: a client that keeps
/// connections (the Logstash gem, the http filter's client) would write its
/// next request on it and lose that request to the close. One read whole
/// keeps its connection.
#[test]
fn a_body_refused_unread_ends_its_connection_and_says_so() {
    use std::io::Read;
    let config = ONE_PIPELINE.replace("watch = false", "watch = false\nmax_body_bytes = 4096");
    let (server, _dir) = start(&config);
    let post = |body: &[u8]| {
        let mut request = format!(
            "POST /v1/pipelines/app/batch HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        request
    };
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    let small = br#"{"message":"a"}"#;
    let (head, body) = exchange(&mut stream, &post(small));
    assert!(head.starts_with("http/1.1 200"), "{head}{body}");
    assert!(!head.contains("connection: close"), "{head}");
    // The same connection serves the next request.
    let (head, _) = exchange(&mut stream, &post(small));
    assert!(head.starts_with("http/1.1 200"), "{head}");

    let (head, body) = exchange(&mut stream, &post(&[b' '; 5000]));
    assert!(head.starts_with("http/1.1 413"), "{head}{body}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(body.contains("server.max_body_bytes"), "{body}");
    let mut rest = Vec::new();
    assert_eq!(
        stream.read_to_end(&mut rest).unwrap(),
        0,
        "the connection stays open"
    );
    server.stop();
}

/// A batch body of newlines alone is 16 million lines in 16 MiB. It was
/// split into a list of them before the line count was checked: 268 MB
/// to refuse it, outside the body budget. Now its lines are counted
/// first, and the refusal takes no memory to speak of.
#[test]
fn a_batch_of_empty_lines_is_refused_before_it_is_split() {
    let (server, _dir) = start(ONE_PIPELINE);
    let clear_refs = format!("/proc/{}/clear_refs", server.child.id());
    std::fs::write(&clear_refs, "5").unwrap_or_else(|e| panic!("resetting {clear_refs}: {e}"));
    let before = status_kb(&server, "VmHWM:");
    let body = vec![b'\n'; 16 << 20];
    let response = server.post("/v1/pipelines/app/batch", &body);
    let message = assert_json_error(&response, 413);
    assert!(
        message.starts_with("16777216 lines in one batch (a blank one too: each line gets a result); the limit is 10000"),
        "{message}"
    );
    let rise = (status_kb(&server, "VmHWM:").saturating_sub(before) * 1024) as usize;
    assert!(
        rise < 3 * body.len(),
        "refusing {} MiB of newlines raised the peak RSS by {} MiB",
        body.len() >> 20,
        rise >> 20
    );
    // Refused for a limit, and counted as such.
    let rejected = r#"wasmstash_rejected_total{pipeline="app",reason="batch_too_large"}"#;
    assert_eq!(server.metric(rejected), 1.0);
    server.stop();
}

/// A batch with no valid event answers its lines' errors at once, without
/// waiting for a worker: with the only worker busy and no queue, it was
/// refused 429, its lines' errors never sent. Its refused lines are
/// counted, as a refused single event is (a 400).
#[test]
fn a_batch_without_events_needs_no_worker() {
    let (server, _dir) = start(
        r#"
[server]
watch = false
workers = 1
queue = 0

[engine]
call_timeout_ms = 3000

[[pipelines.app.filters]]
filter = "mutate"
config = { add_tag = ["seen"] }
"#,
    );
    let body = "\n[{\"message\":\"a\"}]\nnot json\n";
    let response = server.post("/v1/pipelines/app/batch", body.as_bytes());
    assert_eq!(response.status, 200, "{}", response.text());
    let lines: Vec<Value> = (response.text().lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", response.text());
    assert_eq!(lines[0]["error"], "line 1: empty line");
    assert_eq!(
        lines[1]["error"],
        "line 2: a JSON array, not an event: a batch is NDJSON, one JSON object per line"
    );
    assert!(
        lines[2]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 3: invalid event"),
        "{}",
        lines[2]
    );
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(r#"wasmstash_events_total{pipeline="app",outcome="refused"} 3"#),
        "{metrics}"
    );
    server.stop();
}

/// A shutdown closes at once a keep-alive connection that has been served
/// and has begun its next request head: nothing of that request has run.
/// Had hyper counted the connection busy, the drain would wait out the
/// header deadline for it (here 30 s); a connection that had not sent a
/// whole first head did, until the listener closed such ones itself.
#[test]
fn a_shutdown_closes_a_kept_connection_midway_through_its_next_head() {
    use std::io::{Read, Write};
    let config = ONE_PIPELINE.replace(
        "watch = false",
        "watch = false\nheader_read_timeout_ms = 30000",
    );
    let (mut server, _dir) = start(&config);
    let mut kept = std::net::TcpStream::connect(server.addr).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let body = br#"{"message":"a"}"#;
    let mut request = format!(
        "POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let (head, answer) = exchange(&mut kept, &request);
    assert!(head.starts_with("http/1.1 200"), "{head}{answer}");
    assert!(!head.contains("connection: close"), "{head}");
    kept.write_all(b"POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // The served request above shows the server read from this connection;
    // a second connection's answer shows the half head has had time to land.
    assert_eq!(server.post("/v1/pipelines/app/event", body).status, 200);

    let signalled = Instant::now();
    server.signal("TERM");
    let status = support::wait_exit(
        &mut server.child,
        Duration::from_secs(60),
        "serve did not stop after SIGTERM",
    );
    let took = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(10),
        "the shutdown waited {took:?} for a kept connection's unfinished head"
    );
    let mut rest = Vec::new();
    let _ = kept.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}

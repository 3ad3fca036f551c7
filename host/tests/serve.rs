//! `wasmstash serve` as Logstash uses it: the real binary on a loopback port,
//! real modules, real access-log lines.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::server::{
    Response, Server, access_and_chaos_config, send_raw, start_access_and_chaos, write_config,
};
use support::*;

/// A call that keeps the chaos filter busy until its 1.5 s deadline. It
/// is sent again while the worker is busy with something else (a 429 on a
/// server without a queue), so that it holds the worker in the end.
fn looping_call(addr: std::net::SocketAddr) -> std::thread::JoinHandle<support::server::Response> {
    std::thread::spawn(move || {
        let request = b"POST /v1/pipelines/chaos/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 18\r\n\r\n{\"message\":\"LOOP\"}";
        loop {
            let answer = send_raw(addr, request);
            if answer.status != 429 {
                return answer;
            }
        }
    })
}

/// Waits until the pipeline `chaos` (of a server with one worker and no
/// queue) refuses a probe, which shows that the worker is busy; returns the
/// refusal. Until then the probes are served (the worker was free).
fn refused_while_busy(server: &Server, busy: &std::thread::JoinHandle<Response>) -> Response {
    let mut refused = None;
    eventually("the worker was never busy", || {
        assert!(!busy.is_finished(), "the worker was never busy");
        let probe = server.post("/v1/pipelines/chaos/event", br#"{"message":"x"}"#);
        assert!(matches!(probe.status, 200 | 429), "{}", probe.text());
        refused = (probe.status == 429).then_some(probe);
        refused.is_some()
    });
    refused.unwrap()
}

fn ndjson<E: AsRef<[u8]>>(events: &[E]) -> Vec<u8> {
    events
        .iter()
        .flat_map(|e| e.as_ref().iter().copied().chain([b'\n']))
        .collect()
}

fn lines(response: &support::server::Response) -> Vec<Value> {
    response
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn batch_and_event_endpoints_on_the_access_log() {
    let (server, _dir) = start_access_and_chaos("");
    let events: Vec<Vec<u8>> = apache_lines()[..125]
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()).into_text())
        .collect();
    let response = server.post("/v1/pipelines/access/batch", &ndjson(&events));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/x-ndjson")
    );
    let results = lines(&response);
    assert_eq!(results.len(), 125);
    for (result, line) in results.iter().zip(apache_lines()) {
        assert_eq!(result["event"]["message"], line.as_str());
        assert_eq!(result["event"]["event"]["dataset"], "apache.access");
    }

    let response = server.post("/v1/pipelines/access/event", &events[0]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json()["tags"], json!(["access"]));

    // Drops and failures are explicit, in order, and lose nothing.
    let batch = ndjson(&message_events(&["one", "DROP me", "BAD one", "four"]));
    let results = lines(&server.post("/v1/pipelines/chaos/batch", &batch));
    assert_eq!(results[0]["event"]["chaos"]["seen"], 1);
    assert_eq!(results[1], json!({"dropped": true}));
    assert_eq!(results[2]["event"]["tags"], json!(["_wasmfilter_failure"]));
    assert_eq!(results[2]["event"]["message"], "BAD one");
    assert_eq!(results[3]["event"]["message"], "four");
    let dropped = server.post("/v1/pipelines/chaos/event", br#"{"message":"DROP"}"#);
    assert_eq!(dropped.header("x-wasmstash-dropped"), Some("true"));
    assert_eq!(dropped.json(), json!({"wasmstash": {"dropped": true}}));
    server.stop();
}

#[test]
fn bad_requests_get_clear_errors_and_the_server_keeps_serving() {
    let (server, _dir) = start_access_and_chaos("max_body_bytes = 4096\nmax_batch_events = 50");
    let cases: &[(&str, &[u8], u16, &str)] = &[
        (
            "/v1/pipelines/access/event",
            b"{not json",
            400,
            "invalid event",
        ),
        (
            "/v1/pipelines/access/event",
            b"[1,2]",
            400,
            "not a JSON object",
        ),
        (
            "/v1/pipelines/access/event",
            b"{\"message\":\"a\"}\n{\"message\":\"b\"}\n",
            400,
            "this endpoint takes one event: send NDJSON, one event a line, to the pipeline's /batch",
        ),
        (
            "/v1/pipelines/access/event",
            b"{\"message\":\"\xff\"}",
            400,
            "invalid UTF-8",
        ),
        (
            "/v1/pipelines/access/event",
            br#"{"a":1,"a":2}"#,
            400,
            "duplicate key",
        ),
        ("/v1/pipelines/nope/event", b"{}", 404, "no pipeline `nope`"),
        ("/v1/nothing", b"{}", 404, "no such endpoint"),
    ];
    for (path, body, status, message) in cases {
        let response = server.post(path, body);
        assert_eq!(response.status, *status, "{path}: {}", response.text());
        assert!(
            response.json()["error"].as_str().unwrap().contains(message),
            "{}",
            response.text()
        );
    }
    assert_eq!(
        server.post("/v1/pipelines/nope/event", b"{}").json()["pipelines"],
        json!(["access", "chaos"])
    );
    // A name no pipeline can have is not echoed whole.
    let long = format!("/v1/pipelines/{}/event", "a".repeat(7000));
    let response = server.post(&long, b"{}");
    assert_eq!(response.status, 404, "{}", response.text());
    assert!(response.text().len() < 400, "{}", response.text());
    assert!(response.text().contains("…(cut)`"), "{}", response.text());

    let big = vec![b' '; 5000];
    let response = server.post("/v1/pipelines/access/event", &big);
    assert_eq!(response.status, 413, "{}", response.text());
    assert!(
        (response.json()["error"].as_str().unwrap())
            .contains("over 4096 bytes (server.max_body_bytes)"),
        "{}",
        response.text()
    );
    // Refused before any pipeline saw it, and counted all the same.
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(
            r#"wasmstash_rejected_total{pipeline="_before_routing",reason="body_too_large"} 1"#
        ),
        "{metrics}"
    );
    let many = ndjson(&message_events(&["x"; 51]));
    let response = server.post("/v1/pipelines/access/batch", &many);
    assert_eq!(response.status, 413);
    assert!(response.json()["error"].as_str().unwrap().contains(
        "51 lines in one batch (a blank one too: each line gets a result); the limit is 50"
    ));

    // A bad line in a batch fails alone.
    let batch = b"{\"message\":\"a\"}\n{oops\n\xff\xfe\n\n{\"message\":\"b\"}\n";
    let results = lines(&server.post("/v1/pipelines/access/batch", batch));
    assert_eq!(results.len(), 5);
    assert_eq!(results[0]["event"]["message"], "a");
    assert!(
        results[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 2: invalid event")
    );
    assert!(
        results[2]["error"]
            .as_str()
            .unwrap()
            .contains("invalid UTF-8")
    );
    assert_eq!(results[3]["error"], "line 4: empty line");
    assert_eq!(results[4]["event"]["message"], "b");
    // A form feed is no JSON whitespace: its line is an invalid event, not
    // an empty one.
    let results = lines(&server.post("/v1/pipelines/access/batch", b"\x0c\n"));
    assert!(
        results[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 1: invalid event"),
        "{}",
        results[0]
    );

    // Garbage on the socket does not hurt the server either.
    let garbage = send_raw(server.addr, b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(garbage.status, 400);
    assert_eq!(server.get("/healthz").text(), "ok\n");
    server.stop();
}

#[test]
fn metrics_count_requests_events_failures_and_latency() {
    let (server, _dir) = start_access_and_chaos("");
    server.post(
        "/v1/pipelines/chaos/batch",
        &ndjson(&message_events(&["a", "BAD", "DROP"])),
    );
    server.post("/v1/pipelines/access/event", b"[]");
    let metrics = server.get("/metrics");
    // Label values are UTF-8 (filter names are free text), so the type says so.
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = metrics.text();
    for expected in [
        r#"wasmstash_requests_total{pipeline="chaos",endpoint="batch",status="200"} 1"#,
        r#"wasmstash_requests_total{pipeline="access",endpoint="event",status="400"} 1"#,
        r#"wasmstash_events_total{pipeline="chaos",outcome="in"} 3"#,
        r#"wasmstash_events_total{pipeline="chaos",outcome="dropped"} 1"#,
        r#"wasmstash_failures_total{pipeline="chaos",filter="chaos",tag="_wasmfilter_failure",kind="trap"} 1"#,
        // The batch's instance, then BAD's: on the instance `a` had used,
        // and again on a fresh one.
        r#"wasmstash_instance_recycles_total{pipeline="chaos",filter="chaos"} 3"#,
        r#"wasmstash_filter_counter_total{pipeline="chaos",filter="chaos",name="chaos_events"} 1"#,
        r#"wasmstash_filter_duration_seconds_count{pipeline="chaos",filter="chaos"} 1"#,
        // A stateful filter's one instance, reported once for all workers.
        r#"wasmstash_instance_memory_bytes{pipeline="chaos",filter="chaos",worker="shared"}"#,
        "wasmstash_ready 1",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    server.stop();
}

#[test]
fn a_saturated_pipeline_answers_429_at_once() {
    let (server, _dir) = start_access_and_chaos("workers = 1\nqueue = 0");
    let addr = server.addr;
    let slow = looping_call(addr);
    // With no queue, a refusal comes while the worker runs the other call,
    // not after it.
    let refused = refused_while_busy(&server, &slow);
    assert!(!slow.is_finished(), "the refusal waited for the worker");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.header("x-wasmstash-not-run"), Some("1"));
    // A batch refused whole answers none of its lines, so its bad lines are
    // not counted as refused: the client sends them again.
    let batch = server.post("/v1/pipelines/chaos/batch", b"bad\n{\"message\":\"x\"}\n");
    assert_eq!(batch.status, 429, "{}", batch.text());
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(r#"wasmstash_events_total{pipeline="chaos",outcome="refused"} 0"#),
        "{metrics}"
    );
    // The looping event itself comes back, tagged, once its deadline passes.
    let looped = slow.join().unwrap();
    assert_eq!(looped.json()["tags"], json!(["_wasmfilter_timeout"]));
    assert_eq!(
        server
            .post("/v1/pipelines/chaos/event", br#"{"message":"x"}"#)
            .status,
        200
    );
    server.stop();
}

#[test]
fn a_client_that_hangs_up_mid_call_does_not_cost_a_worker() {
    // Three abandoned 1.5 s calls run back to back before the last request
    // gets the worker; a long queue timeout keeps a loaded machine from
    // turning that wait into a 503.
    let (server, _dir) = start_access_and_chaos("workers = 1\nqueue = 4\nqueue_timeout_ms = 60000");
    for _ in 0..3 {
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        use std::io::Write;
        let request = b"POST /v1/pipelines/chaos/event HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n\r\n{\"message\":\"LOOP\"}";
        stream.write_all(request).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(stream); // hang up while the filter loops
    }
    // The single worker comes back after each deadline and serves again.
    let response = server.post("/v1/pipelines/chaos/event", br#"{"message":"after"}"#);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["message"], "after");
    server.stop();
}

#[test]
fn reloads_under_load_fail_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &access_and_chaos_config("watch = true\nwatch_interval_ms = 100"),
    );
    let token = "reload-token-for-tests";
    let server = Server::start(&config, &[("WASMSTASH_ADMIN_TOKEN", token)]);
    let addr = server.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let batch = ndjson(&message_events(&["a", "b", "c", "d"]));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, batch) = (stop.clone(), batch.clone());
            std::thread::spawn(move || {
                let request = [
                    format!("POST /v1/pipelines/access/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", batch.len()).into_bytes(),
                    batch,
                ]
                .concat();
                let (mut ok, mut failed) = (0, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let response = send_raw(addr, &request);
                    if response.status == 200 && response.text().lines().count() == 4 {
                        ok += 1;
                    } else {
                        failed.push((response.status, response.text()));
                    }
                }
                (ok, failed)
            })
        })
        .collect();

    let auth = format!("Bearer {token}");
    for _ in 0..3 {
        assert_eq!(
            server
                .request("POST", "/v1/admin/reload", &[("Authorization", &auth)], b"")
                .status,
            200
        );
        server.signal("HUP");
        std::thread::sleep(Duration::from_millis(150));
    }
    // A change of the file is picked up by the watcher.
    std::fs::write(
        &config,
        access_and_chaos_config("watch = true\nwatch_interval_ms = 100")
            .replace("apache.access", "reloaded"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .post("/v1/pipelines/access/event", br#"{"message":"x"}"#)
        .json()["event"]["dataset"]
        != "reloaded"
    {
        assert!(
            Instant::now() < deadline,
            "the file change was not picked up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A broken config is refused and the running set stays.
    std::fs::write(&config, "[[pipelines.access.filters]]\nfilter = \"nope\"\n").unwrap();
    let rejected = server.request("POST", "/v1/admin/reload", &[("Authorization", &auth)], b"");
    assert_eq!(rejected.status, 422);
    assert!(
        rejected.text().contains("unknown built-in filter `nope`"),
        "{}",
        rejected.text()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server
            .post("/v1/pipelines/access/event", br#"{"message":"x"}"#)
            .json()["event"]["dataset"],
        "reloaded"
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for client in clients {
        let (ok, failed) = client.join().unwrap();
        assert!(
            failed.is_empty(),
            "failed requests during reload: {failed:?}"
        );
        total += ok;
    }
    assert!(total > 20, "only {total} requests ran during the reloads");
    // Rejected by the admin call and, independently, by the file watcher (which
    // may also have caught a file half-written, so at least two). The
    // watcher's poll comes when it comes.
    eventually("the watcher never rejected the broken file", || {
        server.metric(r#"wasmstash_reloads_total{result="rejected"}"#) >= 2.0
    });
    server.stop();
}

#[test]
fn sigterm_saves_filter_state_and_a_restart_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let server_table = format!("workers = 1\nstate_dir = \"{}\"", state.display());
    let config = write_config(dir.path(), &access_and_chaos_config(&server_table));
    let server = Server::start(&config, &[]);
    let results = lines(&server.post(
        "/v1/pipelines/chaos/batch",
        &ndjson(&message_events(&["a", "b", "c"])),
    ));
    assert_eq!(results[2]["event"]["chaos"]["seen"], 3);
    server.stop();
    let saved = std::fs::read(state.join("chaos/chaos.state")).expect("state was saved");
    assert_eq!(saved, 3u64.to_le_bytes());

    let server = Server::start(&config, &[]);
    let event = server
        .post("/v1/pipelines/chaos/event", br#"{"message":"d"}"#)
        .json();
    assert_eq!(event["chaos"]["seen"], 4, "state was not restored: {event}");
    server.stop();
}

#[test]
fn sigterm_finishes_calls_in_flight_before_exiting() {
    let (server, _dir) = start_access_and_chaos("workers = 1\nqueue = 0");
    let addr = server.addr;
    let slow = looping_call(addr);
    refused_while_busy(&server, &slow);
    server.stop(); // SIGTERM while the call runs; waits for a clean exit
    let answer = slow.join().unwrap();
    assert_eq!(
        answer.status,
        200,
        "the call in flight was cut off: {}",
        answer.text()
    );
    assert_eq!(answer.json()["tags"], json!(["_wasmfilter_timeout"]));
    // New connections are refused once it has stopped.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// The exact request Logstash's `http` filter (Manticore client) sends in
/// the recipe of logstash/pipeline/http-filter.conf: the event serialised by
/// a ruby step, `Content-Type: application/json`.
#[test]
fn answers_the_request_logstash_http_filter_sends() {
    let (server, _dir) = start_access_and_chaos("");
    let body = r#"{"@timestamp":"2026-11-25T10:00:00.000Z","@version":"1","message":"83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/ HTTP/1.1\" 200 7697","host":{"name":"web-1"},"tags":["beats_input_codec_plain_applied"],"@metadata":{"beat":"filebeat","input":{"beats":{"host":{"ip":"10.0.0.9"}}}}}"#;
    let request = format!(
        "POST /v1/pipelines/access/event HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nHost: {}\r\nConnection: Keep-Alive\r\nUser-Agent: Manticore 0.9.1\r\nAccept-Encoding: gzip,deflate\r\n\r\n{body}",
        body.len(),
        server.addr
    );
    // Keep-Alive: read exactly one response, framed by Content-Length.
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    use std::io::{Read, Write};
    stream.write_all(request.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let response = loop {
        let n = stream.read(&mut buf).unwrap();
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .expect("the http filter needs a Content-Length or chunked body");
            if raw.len() >= end + 4 + length {
                break (head, raw[end + 4..end + 4 + length].to_vec());
            }
        }
        assert!(n > 0, "connection closed early");
    };
    let (head, body) = response;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    // The filter parses the body only for exactly this media type.
    assert!(
        head.contains("content-type: application/json\r\n")
            || head.ends_with("content-type: application/json")
    );
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        event["tags"],
        json!(["beats_input_codec_plain_applied", "access"])
    );
    assert_eq!(event["@timestamp"], "2026-11-25T10:00:00.000Z");
    assert_eq!(event["event"]["dataset"], "apache.access");
    // The gem sends the event's @metadata along and takes the answer's back
    // (logstash/README.md): the sidecar keeps it as any other member.
    assert_eq!(
        event["@metadata"],
        json!({"beat": "filebeat", "input": {"beats": {"host": {"ip": "10.0.0.9"}}}})
    );
    server.stop();
}

/// The "listening" line goes to stdout, for scripts to find the port; a
/// stdout nobody reads (`wasmstash serve | true`) made that print panic,
/// and the sidecar died with its state locks taken and its port bound.
#[test]
fn a_closed_stdout_does_not_stop_the_sidecar() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &access_and_chaos_config(""));
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = std::process::Command::new(support::server::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .env_remove("WASMSTASH_ADMIN_TOKEN")
        .env("RUST_LOG", "wasmstash=info")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The log says where it listens, as the lost stdout line would have;
    // it is read to its end, so that the log's own writes do not fail.
    let log = std::io::BufReader::new(child.stderr.take().unwrap());
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in log.lines().map_while(Result::ok) {
            let listening = line.split_once("listening on http://");
            if let Some(addr) = listening.and_then(|(_, rest)| rest.split(';').next()) {
                let _ = found.send(addr.parse::<std::net::SocketAddr>().unwrap());
            }
        }
    });
    let addr = address
        .recv_timeout(Duration::from_secs(60))
        .expect("the log names the address");
    let server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.get("/readyz").status != 200 {
        assert!(Instant::now() < deadline, "server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

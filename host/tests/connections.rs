//! The sidecar's connection limits, against the real binary on loopback: a
//! client that never finishes its request headers or body is cut off, past
//! `server.max_connections` a new connection is answered 503 unread (the
//! cap lowered to fit the open-file limit), a client
//! that stops reading its answers is cut off, bodies held at once share one
//! memory budget, while the
//! server keeps answering everyone else; and no open connection holds up a
//! shutdown.

#[path = "support/rlimit.rs"]
mod rlimit;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::eventually;
use support::server::{Server, write_config};
use support::start_tagging;

/// Reads until the server closes the connection (or `limit` passes) and
/// returns what arrived and how long it took.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the connection open past {limit:?}: {e}"),
        }
    }
    (received, started.elapsed())
}

fn assert_serves(server: &Server) {
    let response = server.post("/v1/pipelines/app/event", br#"{"message":"hi"}"#);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["tags"], serde_json::json!(["seen"]));
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let (server, _dir) = start_tagging("header_read_timeout_ms = 300");
    // The server's clock starts once it has the connection, after this one.
    let connecting = Instant::now();
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\nContent-")
        .unwrap();
    // Everyone else is served meanwhile.
    assert_serves(&server);
    read_until_closed(&mut slow, Duration::from_secs(20));
    let waited = connecting.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "closed after {waited:?}, before the deadline"
    );
    assert_serves(&server);
    server.stop();
}

/// Headers in time, then a body that never comes: the client is told 408
/// at the body deadline, and the connection is closed.
#[test]
fn a_client_that_never_finishes_its_body_is_cut_off() {
    let (server, _dir) = start_tagging("body_read_timeout_ms = 300");
    // The pipeline endpoints and the live view's login, which needs no token.
    for path in ["/v1/pipelines/app/event", "/ui/login"] {
        let connecting = Instant::now();
        let mut slow = TcpStream::connect(server.addr).unwrap();
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{");
        slow.write_all(head.as_bytes()).unwrap();
        assert_serves(&server);
        let (received, _) = read_until_closed(&mut slow, Duration::from_secs(20));
        let waited = connecting.elapsed();
        let answer = String::from_utf8_lossy(&received);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("server.body_read_timeout_ms"), "{answer}");
        assert!(
            waited >= Duration::from_millis(300),
            "{path}: answered after {waited:?}, before the deadline"
        );
    }
    assert_serves(&server);
    server.stop();
}

/// A client that sends requests and never reads the answers: once the
/// server's writes have waited `write_timeout_ms` with no byte taken, the
/// connection is closed, instead of holding its place for ever.
#[test]
fn a_client_that_stops_reading_its_answers_is_cut_off() {
    let (server, _dir) = start_tagging("write_timeout_ms = 300");
    // Twenty batches of 1,000 events, each answered with about 1 MB: far
    // more than the sockets' buffers hold.
    let message = "x".repeat(900);
    let body: String = (0..1000)
        .map(|_| format!("{{\"message\":\"{message}\"}}\n"))
        .collect();
    let request = format!(
        "POST /v1/pipelines/app/batch HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut client = TcpStream::connect(server.addr).unwrap();
    // The server stops reading requests while an answer waits, so the last
    // writes may fail once it has closed the connection, or (without the
    // deadline) never finish.
    client
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for _ in 0..20 {
        if client.write_all(request.as_bytes()).is_err() {
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_serves(&server);
    // The server gave up on the connection while nobody read: reading now
    // drains what the buffers held, then finds it closed. Without the
    // deadline the server would go on writing the answers it had, and keep
    // the connection open for its next request.
    let (received, waited) = read_until_closed(&mut client, Duration::from_secs(20));
    let answers = String::from_utf8_lossy(&received)
        .matches("HTTP/1.1 200")
        .count();
    assert!(answers < 20, "all {answers} answers arrived");
    assert!(
        waited < Duration::from_secs(3),
        "the connection stayed open {waited:?} after the client read again"
    );
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(r#"wasmstash_connections_cut_total{reason="write_timeout"} 1"#),
        "{metrics}"
    );
    server.stop();
}

/// What the sidecar cannot read is refused by name: a compressed body, a
/// transfer coding other than chunked, a head over `max_header_bytes`. A
/// byte-order mark before the event is passed over, as `run` does.
#[test]
fn codings_oversized_heads_and_byte_order_marks() {
    let (server, _dir) = start_tagging("max_header_bytes = 16384");
    let event = br#"{"message":"a"}"#;
    let gzip = server.request(
        "POST",
        "/v1/pipelines/app/event",
        &[("Content-Encoding", "gzip")],
        event,
    );
    assert_eq!(gzip.status, 415, "{}", gzip.text());
    assert!(
        gzip.text().contains("Content-Encoding `gzip`"),
        "{}",
        gzip.text()
    );
    let identity = server.request(
        "POST",
        "/v1/pipelines/app/event",
        &[("Content-Encoding", "identity")],
        event,
    );
    assert_eq!(identity.status, 200, "{}", identity.text());
    let chunked = format!(
        "POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        event.len(),
        String::from_utf8_lossy(event)
    );
    let coded = support::server::send_raw(server.addr, chunked.as_bytes());
    assert_eq!(coded.status, 501, "{}", coded.text());
    assert!(
        coded.text().contains("Transfer-Encoding `gzip`"),
        "{}",
        coded.text()
    );
    // A chunk size that is no number: the reason says so, not only that
    // the body could not be read.
    let bad_chunk = "POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    let refused = support::server::send_raw(server.addr, bad_chunk.as_bytes());
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("chunk size"), "{}", refused.text());
    // Just over the limit, which counts the request line and headers
    // (about 100 bytes besides this one).
    let padding = "p".repeat(16_384);
    let big_head = server.request(
        "POST",
        "/v1/pipelines/app/event",
        &[("X-Padding", &padding)],
        event,
    );
    assert_eq!(big_head.status, 431);
    let padding = "p".repeat(16_000);
    let fits = server.request(
        "POST",
        "/v1/pipelines/app/event",
        &[("X-Padding", &padding)],
        event,
    );
    assert_eq!(fits.status, 200, "{}", fits.text());
    // A request without a body has nothing to decode.
    let get = server.request("GET", "/healthz", &[("Content-Encoding", "gzip")], b"");
    assert_eq!(get.status, 200, "{}", get.text());
    let with_mark = [b"\xEF\xBB\xBF".as_slice(), event].concat();
    let marked = server.post("/v1/pipelines/app/event", &with_mark);
    assert_eq!(marked.status, 200, "{}", marked.text());
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(
            r#"wasmstash_rejected_total{pipeline="_before_routing",reason="body_coding"} 2"#
        ),
        "{metrics}"
    );
    server.stop();
}

/// Bodies held at once share `max_inflight_body_bytes`: while one client
/// withholds the end of its body, another whose body would pass the budget
/// is told 503 to come back, and is served once the first is gone.
#[test]
fn request_bodies_held_at_once_share_one_budget() {
    let (server, _dir) = start_tagging(
        "max_body_bytes = 1000\nmax_inflight_body_bytes = 1500\nbody_read_timeout_ms = 60000",
    );
    let mut holder = TcpStream::connect(server.addr).unwrap();
    let head = "POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
    holder
        .write_all(format!("{head}{}", "x".repeat(900)).as_bytes())
        .unwrap();
    eventually("the server never read the held body", || {
        server.metric("wasmstash_request_body_bytes_held") >= 900.0
    });
    let big = format!("{{\"message\":\"{}\"}}", "y".repeat(680));
    let refused = server.post("/v1/pipelines/app/event", big.as_bytes());
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(
        refused.text().contains("max_inflight_body_bytes"),
        "{}",
        refused.text()
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    // A small body still fits beside the held one.
    assert_serves(&server);
    drop(holder);
    let started = Instant::now();
    loop {
        let response = server.post("/v1/pipelines/app/event", big.as_bytes());
        if response.status == 200 {
            break;
        }
        assert_eq!(response.status, 503, "{}", response.text());
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the held body's share was never given back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
}

/// An answer holds its results' share of the budget until it is written:
/// while a client leaves a large answer unread, the answer holds the whole
/// budget and any other body is told 503; once the answer is read, bodies
/// are served again.
#[test]
fn answers_not_yet_written_hold_their_share_of_the_budget() {
    let mib = 1 << 20;
    // 8 MiB of events, which the budget takes with their checked copies;
    // each event gains 12 KB on the way, so the answer, far more than the
    // sockets' buffers take in, passes the budget.
    let event = format!("{{\"message\":\"{}\"}}\n", "z".repeat(4000));
    let body = event.repeat(8 * mib / event.len());
    let budget = 2 * body.len() + mib;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nwatch = false\nmax_body_bytes = {budget}\nmax_inflight_body_bytes = {budget}\nwrite_timeout_ms = 60000\n\n[[pipelines.app.filters]]\nfilter = \"mutate\"\nconfig = {{ add_tag = [\"seen\"], add_field = {{ pad = \"{}\" }} }}\n",
            "p".repeat(12000)
        ),
    );
    let server = Server::start(&config, &[]);
    let mut reader = TcpStream::connect(server.addr).unwrap();
    // A small receive buffer, so that the answer cannot all be taken in by
    // the kernel (loopback's may grow to tens of MiB) while unread.
    support::small_receive_buffer(&reader);
    let head = format!(
        "POST /v1/pipelines/app/batch HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    reader.write_all(head.as_bytes()).unwrap();
    reader.write_all(body.as_bytes()).unwrap();
    // Nothing of the answer is read yet: its share stays taken, and the
    // gauge shows all of it, past the budget.
    eventually("the answer never took its share", || {
        server.metric("wasmstash_request_body_bytes_held") > budget as f64
    });
    // A small body, refused whole, so the client's write is not cut.
    let second = event.repeat(2);
    let refused = server.post("/v1/pipelines/app/batch", second.as_bytes());
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(
        refused.text().contains("answers not yet written"),
        "{}",
        refused.text()
    );
    // Read the whole answer: its share is given back.
    reader
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let complete = |answer: &[u8]| {
        let text = String::from_utf8_lossy(answer);
        let (head, rest) = text.split_once("\r\n\r\n")?;
        let length: usize = (head.lines()).find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length: ")?
                .parse()
                .ok()
        })?;
        (rest.len() >= length).then(|| (head.to_owned(), rest.to_owned()))
    };
    let (head, events_out) = loop {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed before the whole answer");
        answer.extend_from_slice(&buf[..n]);
        // Only the last pieces can complete it: look once the head is in
        // and the length may have been reached.
        if answer.len() > body.len()
            && let Some(done) = complete(&answer)
        {
            break done;
        }
    };
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let events = body.len() / event.len();
    assert_eq!(events_out.matches(r#""tags":["seen"]"#).count(), events);
    eventually("the answer's share was never given back", || {
        server.metric("wasmstash_request_body_bytes_held") == 0.0
    });
    let served = server.post("/v1/pipelines/app/batch", second.as_bytes());
    assert_eq!(served.status, 200, "{}", served.text());
    server.stop();
}

/// Events a worker ran for a client that hung up before its answer are
/// counted as abandoned, and in no other outcome: the filters' counters
/// saw them, the request counters never will.
#[test]
fn events_run_for_a_client_gone_are_counted_as_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    // Three milliseconds an event: the batch below keeps the worker busy
    // for 1.8 s, well past the hang-up. The quick first stage says when the worker has
    // taken the batch: its count is reported before the slow stage starts.
    let chaos = support::server::chaos_path();
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nwatch = false\nworkers = 1\n\n[[pipelines.slow.filters]]\nfilter = \"mutate\"\nconfig = {{ add_tag = [\"taken\"] }}\n\n[[pipelines.slow.filters]]\nmodule = {chaos:?}\nconfig = {{ slow_ms = 3 }}\n"
        ),
    );
    let server = Server::start(&config, &[]);
    let body = "{\"message\":\"m\"}\n".repeat(600);
    let mut client = TcpStream::connect(server.addr).unwrap();
    write!(
        client,
        "POST /v1/pipelines/slow/batch HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // A client gone before the worker took its request withdraws it, and
    // nothing of it runs: on a loaded machine the body's read, or the
    // worker's start, may come late, so the hang-up waits for the take.
    eventually("the worker never took the batch", || {
        server.metric(r#"wasmstash_filter_events_total{pipeline="slow",filter="mutate"}"#) == 600.0
    });
    drop(client);
    let series = |outcome: &str| {
        server.metric(&format!(
            "wasmstash_events_total{{pipeline=\"slow\",outcome=\"{outcome}\"}}"
        ))
    };
    eventually("the abandoned events were never counted", || {
        series("abandoned") == 600.0
    });
    assert_eq!(series("in"), 0.0);
    server.stop();
}

/// A shutdown closes at once a connection that has not sent a whole
/// request head: nothing of it has run. It used to wait out the header
/// deadline for it (here 30 s) while the rest of the drain was done.
#[test]
fn a_shutdown_closes_a_connection_still_sending_its_head() {
    let (server, _dir) = start_tagging("header_read_timeout_ms = 30000");
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A served request on another connection, so this one is accepted too.
    assert_serves(&server);
    let signalled = Instant::now();
    let stopped = server.stop_with_status();
    assert!(stopped.success(), "{stopped:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "the shutdown waited {:?} for the head",
        signalled.elapsed()
    );
    let (received, _) = read_until_closed(&mut slow, Duration::from_secs(5));
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
}

#[test]
fn connections_past_the_cap_are_answered_503_unread_and_counted() {
    let (server, _dir) = start_tagging("max_connections = 2\nheader_read_timeout_ms = 60000");
    // Two connections that send nothing hold both places.
    let first = TcpStream::connect(server.addr).unwrap();
    let second = TcpStream::connect(server.addr).unwrap();
    // Let the server accept both before the third arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(server.addr).unwrap();
    let _ = third.write_all(
        b"POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\ncontent-length: 2\r\n\r\n{}",
    );
    let (received, _) = read_until_closed(&mut third, Duration::from_secs(20));
    let answer = String::from_utf8_lossy(&received);
    // Not run, and marked so: a client may send it again.
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(
        answer.contains("\r\nx-wasmstash-not-run: 1\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nretry-after: 1\r\n"), "{answer}");
    assert!(answer.ends_with("send it again\"}"), "{answer}");
    // A place frees up when a connection closes.
    drop(first);
    let started = Instant::now();
    loop {
        // Until the server has seen `first` close, this one may be refused.
        let response =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.get("/metrics")));
        if let Ok(response) = response
            && response.status == 200
        {
            let text = response.text();
            let refused: u64 = text
                .lines()
                .find_map(|line| {
                    line.strip_prefix(
                        "wasmstash_connections_refused_total{reason=\"max_connections\"} ",
                    )
                })
                .unwrap_or_else(|| panic!("no refused-connections counter in\n{text}"))
                .parse()
                .unwrap();
            assert!(refused >= 1);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no place freed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(second);
    server.stop();
}

/// Under a hard open-file limit too low for `max_connections` (the default
/// 1024, as under the common `ulimit -n` of 1024), the cap is lowered to
/// fit, with a warning: connections past it are answered 503 at once,
/// where `accept` failing on the file limit left them waiting unanswered.
#[test]
fn the_connection_cap_is_lowered_to_fit_the_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[server]\nwatch = false\nheader_read_timeout_ms = 60000\n\n[[pipelines.app.filters]]\nfilter = \"mutate\"\nconfig = {}\n",
    );
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let env = [("RUST_LOG", "wasmstash=warn")];
    // 300 files: 44 connections, with 256 kept for the rest.
    let server = Server::start_tuned(&config, &env, log.into(), |command| {
        rlimit::limit(command, libc::RLIMIT_NOFILE, 300)
    });
    let held: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // Past the turned-away connections' second of grace.
    std::thread::sleep(Duration::from_millis(1500));
    let mut probe = TcpStream::connect(server.addr).unwrap();
    let _ = probe.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let (received, _) = read_until_closed(&mut probe, Duration::from_secs(20));
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    drop(held);
    server.stop();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("server.max_connections = 1024 needs about 1280 open files, but this process may open 300 (")
            && log.contains("serving at most 44 connections"),
        "{log}"
    );
}

/// A live-view stream never ends by itself; SIGTERM must end it rather than
/// wait for it (the drain limit is 20 s, and a supervisor's SIGKILL would
/// lose the state saved after the drain).
#[test]
fn an_open_live_view_stream_does_not_hold_up_shutdown() {
    let (server, _dir) = start_tagging("");
    let mut page = TcpStream::connect(server.addr).unwrap();
    page.write_all(b"GET /ui/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    page.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&received).contains("event: hello") {
        let n = page.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "stream closed before its first event: {}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buf[..n]);
    }
    let started = Instant::now();
    server.stop();
    let stopped = started.elapsed();
    assert!(
        stopped < Duration::from_secs(10),
        "shutdown waited {stopped:?} for the open stream"
    );
    read_until_closed(&mut page, Duration::from_secs(5));
}

/// Each live view stream holds a copy of the digest until its page reads
/// it, so at most 16 are served at once: the next is refused (503, with
/// Retry-After) until one closes.
#[test]
fn the_live_view_serves_at_most_sixteen_streams_at_once() {
    let (server, _dir) = start_tagging("");
    let open_stream = || {
        let mut page = TcpStream::connect(server.addr).unwrap();
        page.write_all(b"GET /ui/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        page.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut head = [0u8; 12];
        page.read_exact(&mut head).unwrap();
        (page, String::from_utf8_lossy(&head).into_owned())
    };
    let pages: Vec<TcpStream> = (0..16)
        .map(|_| {
            let (page, status) = open_stream();
            assert_eq!(status, "HTTP/1.1 200", "{status}");
            page
        })
        .collect();
    let refused = server.get("/ui/events");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.header("Retry-After").is_some());
    assert!(
        refused.text().contains("16 live view streams"),
        "{}",
        refused.text()
    );
    drop(pages);
    eventually("a stream let in once the others closed", || {
        open_stream().1 == "HTTP/1.1 200"
    });
    server.stop();
}

/// The header cut-off also ends idle keep-alive connections, and the
/// Logstash plugin keeps one idle for 4 s: a shorter cut-off is said at
/// start, the default is not.
#[test]
fn a_header_cut_off_shorter_than_the_plugin_s_keep_alive_is_warned_of() {
    let warnings = |server: &str| {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &format!(
                "[server]\nwatch = false\n{server}\n\n[[pipelines.app.filters]]\nfilter = \"mutate\"\n"
            ),
        );
        let log = dir.path().join("serve.log");
        let env = [("RUST_LOG", "wasmstash=warn"), ("NO_COLOR", "1")];
        let file = std::fs::File::create(&log).unwrap();
        Server::start_with_stderr(&config, &env, file.into()).stop();
        std::fs::read_to_string(&log).unwrap()
    };
    let short = warnings("header_read_timeout_ms = 3000");
    assert!(
        short.contains("header_read_timeout_ms = 3000 also closes idle connections"),
        "{short}"
    );
    let default = warnings("");
    assert!(!default.contains("header_read_timeout_ms"), "{default}");
}

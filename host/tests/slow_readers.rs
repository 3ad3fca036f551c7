//! Clients that take their answers slowly. A batch answer is held, and
//! counted against `max_inflight_body_bytes`, until its client has taken
//! it, so a client reading a trickle would keep other requests out: one
//! that reads steadily is served whole, one slower than
//! `min_answer_bytes_per_sec` is cut off, however the kernel's buffers
//! hide its pace.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::server::Server;
use support::start_tagging;
use support::{connect_with_receive_buffer, eventually};

/// A batch of 6,000 events of 2 KB to pipeline `app`, whose answer is
/// some 12 MB; returns the connection to read it from.
fn send_large_batch(server: &Server) -> TcpStream {
    let mut client = TcpStream::connect(server.addr).unwrap();
    write_large_batch(&mut client);
    client
}

fn write_large_batch(client: &mut TcpStream) {
    let message = "x".repeat(2000);
    let body: String = (0..6000)
        .map(|_| format!("{{\"message\":\"{message}\"}}\n"))
        .collect();
    write!(
        client,
        "POST /v1/pipelines/app/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
}

/// What the client received, which must be a 200's answer.
fn answered(received: &[u8]) -> std::borrow::Cow<'_, str> {
    let text = String::from_utf8_lossy(received);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..200.min(text.len())]
    );
    text
}

/// A client that reads its answer steadily, if slowly, is not cut off:
/// the kernel wakes the server's waiting write only once much of the send
/// buffer has drained, which at this pace takes longer than the deadline,
/// but the bytes the client acknowledged in the meantime count as taking
/// the answer.
#[test]
fn a_client_that_reads_slowly_but_steadily_gets_its_whole_answer() {
    let (server, _dir) = start_tagging("write_timeout_ms = 300\nmax_body_bytes = 33554432");
    let mut client = send_large_batch(&server);
    // About 2.5 MB/s: 64 KiB, then a pause.
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => panic!("after {} bytes: {e}", received.len()),
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let text = answered(&received);
    assert_eq!(
        text.matches(r#""tags":["seen"]"#).count(),
        6000,
        "the answer was cut after {} bytes",
        received.len()
    );
    let metrics = server.get("/metrics").text();
    assert!(
        !metrics.contains(r#"wasmstash_connections_cut_total{reason="write_timeout"}"#),
        "{metrics}"
    );
    server.stop();
}

/// One that reads steadily but slower than `min_answer_bytes_per_sec`
/// is cut off once its grace (`write_timeout_ms`) has passed: its answer's
/// memory, counted against `max_inflight_body_bytes`, would otherwise be
/// held for as long as it took, and enough such clients kept every other
/// request out.
#[test]
fn a_client_that_takes_its_answer_too_slowly_is_cut_off() {
    let (server, _dir) = start_tagging(
        "write_timeout_ms = 500\nmin_answer_bytes_per_sec = 4000000\nmax_body_bytes = 33554432",
    );
    let mut client = send_large_batch(&server);
    // About 320 KB/s: 16 KiB, then a pause.
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = vec![0u8; 16 << 10];
    while let Ok(n @ 1..) = client.read(&mut buf) {
        received.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = answered(&received);
    assert!(
        text.matches(r#""tags":["seen"]"#).count() < 6000,
        "the whole answer came, in {:?}",
        started.elapsed()
    );
    eventually("the slow reader counted", || {
        server.metric(r#"wasmstash_connections_cut_total{reason="slow_reader"}"#) == 1.0
    });
    eventually("its answer's memory given back", || {
        server.metric("wasmstash_request_body_bytes_held") == 0.0
    });
    let next = server.post("/v1/pipelines/app/event", br#"{"message":"m"}"#);
    assert_eq!(next.status, 200, "{}", next.text());
    server.stop();
}

/// A trickle (some 8 KB/s, far below the minimum) was cut off only once
/// the kernel had drained a buffer's worth (minutes), every other request
/// 503 meanwhile: the answer measured its pace only as hyper asked for
/// more of it, and the write deadline took any byte as progress. The write
/// that waits on the client now holds it to the minimum too, from the time
/// it fell behind. The client's receive buffer is small, so that it
/// acknowledges as it reads (a large one acknowledges nothing for seconds
/// at a time, and is cut as one that takes nothing).
#[test]
fn a_trickle_reader_is_cut_off_within_the_write_deadline() {
    let (server, _dir) = start_tagging("write_timeout_ms = 1000\nmax_body_bytes = 33554432");
    let mut client = connect_with_receive_buffer(server.addr, 4096);
    write_large_batch(&mut client);
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let slow_reader = r#"wasmstash_connections_cut_total{reason="slow_reader"}"#;
    let mut buf = vec![0u8; 1024];
    while server.metric(slow_reader) == 0.0 && started.elapsed() < Duration::from_secs(60) {
        match client.read(&mut buf) {
            Ok(1..) => std::thread::sleep(Duration::from_millis(125)),
            _ => break,
        }
    }
    let cut_after = started.elapsed();
    assert_eq!(server.metric(slow_reader), 1.0, "not cut in {cut_after:?}");
    assert!(
        cut_after < Duration::from_secs(30),
        "cut after {cut_after:?}"
    );
    let next = server.post("/v1/pipelines/app/event", br#"{"message":"m"}"#);
    assert_eq!(next.status, 200, "{}", next.text());
    server.stop();
}
